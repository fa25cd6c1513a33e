//! SQLite's client writes (bookings, cancels, moves, holds and their releases): each is a
//! closure the writer thread runs in a savepoint of its batch's transaction (`writer`), which
//! holds the database's one write lock, so each judges with the core's admission rule on counts
//! nothing else can change before it writes.

mod keys;
pub(super) mod places;
mod records;

use booking_core::{
    admission::Admission,
    appointment::{Appointment, AppointmentId, Move},
    history::Actor,
    hold::{Hold, HoldToken},
    idempotency::{Idempotency, Operation, Outcome},
    pending::Pending,
    placement::Placement,
    repository::{
        AppointmentRepository, BookFailure, Booking, CancelFailure, Cancellation, HoldFailure,
        HoldNotFound, HoldRequest, RescheduleFailure, Written,
    },
    storage::WriteError,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use self::places::Own;
use super::statements::SetStatus;
use super::{Db, SqliteRepository, TxError, rows, schema, storage_error};

/// One appointment, read now: a point read in SQLite takes microseconds, on the caller's thread.
pub(super) fn find(
    repository: &SqliteRepository,
    id: AppointmentId,
) -> Pending<Option<Appointment>, std::convert::Infallible> {
    Pending::ready(repository.get(id).map_err(WriteError::Storage))
}

/// Books the first candidate the admission rule admits (or the one the booking's hold is for).
pub(super) fn book(
    repository: &SqliteRepository,
    booking: Booking,
    admission: Admission,
    idempotency: Option<Idempotency>,
) -> Pending<Outcome<Written<Appointment>>, BookFailure> {
    repository.write(move |connection| {
        if let Some(appointment) = keys::replay(connection, Operation::Book, idempotency.as_ref())?
        {
            return Ok(Outcome::Replayed(appointment));
        }
        let now = admission.now();
        let candidates = match &booking.hold {
            Some(token) => {
                let placement = records::held_candidate(connection, &booking, token, now)?;
                // The hold's places become the appointment's: drop the hold, then check as for
                // any booking. A refusal rolls the deletion back.
                if !records::delete_hold(connection, token)? {
                    return Err(TxError::refused(HoldNotFound.into()));
                }
                std::slice::from_ref(placement)
            }
            None => booking.candidates.as_slice(),
        };
        let placement = places::first_admitted(connection, candidates, &admission, Own::Nothing)?
            .map_err(|why| TxError::refused(why.into()))?;
        places::take(connection, &placement.resource, &placement.occupied, placement.capacity)?;
        let appointment = booking.appointment_at(placement, now);
        records::insert_appointment(connection, &appointment)?;
        keys::remember(connection, Operation::Book, idempotency.as_ref(), &appointment)?;
        let written = Written::scheduled(appointment, booking.by);
        records::record(connection, &written)?;
        Ok(Outcome::Done(written))
    })
}

/// Cancels a scheduled appointment that has not started, and gives back its places.
pub(super) fn cancel(
    repository: &SqliteRepository,
    cancellation: Cancellation,
    idempotency: Option<Idempotency>,
) -> Pending<Outcome<Written<Appointment>>, CancelFailure> {
    repository.write(move |connection| {
        if let Some(appointment) =
            keys::replay(connection, Operation::Cancel, idempotency.as_ref())?
        {
            return Ok(Outcome::Replayed(appointment));
        }
        let mut appointment = super::records::appointment(connection, cancellation.id)?
            .ok_or(TxError::refused(CancelFailure::NotFound))?;
        appointment.cancel(cancellation.now).map_err(|refusal| TxError::refused(refusal.into()))?;
        let row = rows::AppointmentRow::from(&appointment);
        SetStatus { id: &row.id, status: &row.status, updated_at: row.updated_at }
            .execute(connection)?;
        places::give_back(connection, appointment.resource(), appointment.occupied())?;
        keys::remember(connection, Operation::Cancel, idempotency.as_ref(), &appointment)?;
        let written = Written::canceled(appointment, &cancellation);
        records::record(connection, &written)?;
        Ok(Outcome::Done(written))
    })
}

/// Moves an appointment to `to`, if the admission rule admits it there (its own places not
/// counting against it).
pub(super) fn reschedule(
    repository: &SqliteRepository,
    id: AppointmentId,
    to: Placement,
    admission: Admission,
    by: Actor,
    idempotency: Option<Idempotency>,
) -> Pending<Outcome<Written<Appointment>>, RescheduleFailure> {
    repository.write(move |connection| {
        if let Some(appointment) =
            keys::replay(connection, Operation::Reschedule, idempotency.as_ref())?
        {
            return Ok(Outcome::Replayed(appointment));
        }
        let current = super::records::appointment(connection, id)?
            .ok_or(TxError::refused(RescheduleFailure::NotFound))?;
        let mut appointment = current.clone();
        let change = appointment
            .reschedule(&to, admission.now())
            .map_err(|refusal| TxError::refused(refusal.into()))?;
        let written = match change {
            Move::Unchanged => Written::unchanged(appointment),
            Move::Moved { released } => {
                places::first_admitted(
                    connection,
                    std::slice::from_ref(&to),
                    &admission,
                    Own::Appointment(&current),
                )?
                .map_err(|why| TxError::refused(why.into()))?;
                // Give back first: the new places may overlap the old ones.
                places::give_back(connection, current.resource(), &released)?;
                places::take(connection, &to.resource, &to.occupied, to.capacity)?;
                records::move_appointment(connection, &appointment)?;
                Written::rescheduled(&current, appointment, by)
            }
        };
        records::record(connection, &written)?;
        keys::remember(connection, Operation::Reschedule, idempotency.as_ref(), &written.outcome)?;
        Ok(Outcome::Done(written))
    })
}

/// Holds the first candidate the admission rule admits, within the holder's cap.
pub(super) fn hold(
    repository: &SqliteRepository,
    request: HoldRequest,
    admission: Admission,
) -> Pending<Written<Hold>, HoldFailure> {
    repository.write(move |connection| {
        let holder = request.quota.as_ref().map(|quota| quota.holder.as_str());
        if let Some(quota) = &request.quota {
            let (active, first) = records::holds_of(connection, &quota.holder, admission.now())?;
            if active >= u64::from(quota.most.get())
                && let Some(frees_at) = first
            {
                return Err(TxError::refused(HoldFailure::TooMany { most: quota.most, frees_at }));
            }
        }
        let placement =
            places::first_admitted(connection, &request.candidates, &admission, Own::Nothing)?
                .map_err(|why| TxError::refused(why.into()))?;
        let hold = request.hold_at(placement, admission.now());
        records::insert_hold(connection, &hold, holder)?;
        Ok(Written::hold_taken(hold))
    })
}

/// Releases an active hold; an expired one is refused untouched (it is the sweep's to delete).
pub(super) fn release_hold(
    repository: &SqliteRepository,
    token: HoldToken,
    now: DateTime<Utc>,
) -> Pending<Written<Hold>, HoldNotFound> {
    repository.write(move |connection| {
        let hold = records::hold(connection, &token)?
            .filter(|hold| hold.is_active(now))
            .ok_or(TxError::refused(HoldNotFound))?;
        if !records::delete_hold(connection, &token)? {
            return Err(TxError::refused(HoldNotFound));
        }
        Ok(Written::hold_released(hold, now))
    })
}
