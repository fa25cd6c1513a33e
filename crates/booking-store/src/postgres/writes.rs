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

use crate::sql::ClientWrites;

use super::{
    PgStore,
    book::{BookWrite, Books},
    cancel::{CancelWrite, Cancels},
    finds::Finds,
    holds::{HoldWrite, Holds, ReleaseWrite, Releases},
    moves::{MoveWrite, Moves},
};

impl ClientWrites for PgStore {
    fn find(&self, id: AppointmentId) -> Pending<Option<Appointment>, std::convert::Infallible> {
        self.readers.submit::<Finds>(id)
    }

    fn book(
        &self,
        booking: Booking,
        admission: Admission,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, BookFailure> {
        self.writer.submit::<Books>(BookWrite { booking, admission, idempotency })
    }

    fn cancel(
        &self,
        cancellation: Cancellation,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, CancelFailure> {
        self.writer.submit::<Cancels>(CancelWrite { cancellation, idempotency })
    }

    fn reschedule(
        &self,
        id: AppointmentId,
        to: Placement,
        admission: Admission,
        by: Actor,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, RescheduleFailure> {
        self.writer.submit::<Moves>(MoveWrite { id, to, admission, by, idempotency })
    }

    fn hold(
        &self,
        request: HoldRequest,
        admission: Admission,
    ) -> Pending<Written<Hold>, HoldFailure> {
        self.writer.submit::<Holds>(HoldWrite { request, admission })
    }

    fn release_hold(
        &self,
        token: HoldToken,
        now: DateTime<Utc>,
    ) -> Pending<Written<Hold>, HoldNotFound> {
        self.writer.submit::<Releases>(ReleaseWrite { token, now })
    }
}
