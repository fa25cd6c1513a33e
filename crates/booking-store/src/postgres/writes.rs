//! PostgreSQL's client writes (bookings, cancels, moves, holds and their releases): each is
//! queued to the writers (`writer`), which send what has queued to the database in batches,
//! one call of one function per kind of write (`book`, `cancel`, `moves`, `holds`); and point
//! reads, queued the same way to readers of their own (`finds`).

use booking_core::{
    admission::Admission,
    appointment::{Appointment, AppointmentId},
    history::Actor,
    hold::{Hold, HoldToken},
    idempotency::{Idempotency, Outcome},
    pending::Pending,
    placement::Placement,
    repository::{
        BookFailure, Booking, CancelFailure, Cancellation, HoldFailure, HoldNotFound, HoldRequest,
        RescheduleFailure, Written,
    },
};
use chrono::{DateTime, Utc};

use super::{
    PgRepository,
    book::{BookWrite, Books},
    cancel::{CancelWrite, Cancels},
    finds::Finds,
    holds::{HoldWrite, Holds, ReleaseWrite, Releases},
    moves::{MoveWrite, Moves},
};

pub(super) fn find(
    repository: &PgRepository,
    id: AppointmentId,
) -> Pending<Option<Appointment>, std::convert::Infallible> {
    repository.readers.submit::<Finds>(id)
}

pub(super) fn book(
    repository: &PgRepository,
    booking: Booking,
    admission: Admission,
    idempotency: Option<Idempotency>,
) -> Pending<Outcome<Written<Appointment>>, BookFailure> {
    repository.writer.submit::<Books>(BookWrite { booking, admission, idempotency })
}

pub(super) fn cancel(
    repository: &PgRepository,
    cancellation: Cancellation,
    idempotency: Option<Idempotency>,
) -> Pending<Outcome<Written<Appointment>>, CancelFailure> {
    repository.writer.submit::<Cancels>(CancelWrite { cancellation, idempotency })
}

pub(super) fn reschedule(
    repository: &PgRepository,
    id: AppointmentId,
    to: Placement,
    admission: Admission,
    by: Actor,
    idempotency: Option<Idempotency>,
) -> Pending<Outcome<Written<Appointment>>, RescheduleFailure> {
    repository.writer.submit::<Moves>(MoveWrite { id, to, admission, by, idempotency })
}

pub(super) fn hold(
    repository: &PgRepository,
    request: HoldRequest,
    admission: Admission,
) -> Pending<Written<Hold>, HoldFailure> {
    repository.writer.submit::<Holds>(HoldWrite { request, admission })
}

pub(super) fn release_hold(
    repository: &PgRepository,
    token: HoldToken,
    now: DateTime<Utc>,
) -> Pending<Written<Hold>, HoldNotFound> {
    repository.writer.submit::<Releases>(ReleaseWrite { token, now })
}
