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
        BookFailure, Booking, CancelFailure, Cancellation, HoldFailure, HoldNotFound, HoldRequest,
        RescheduleFailure, Written,
    },
    storage::WriteError,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use self::places::Own;
use super::{SqliteStore, statements::SetStatus};
use crate::sql::{
    ClientWrites, Store, TxError,
    records::{appointment, record},
    rows, storage_error,
};

/// Queues `work` for the writer, on SQLite's own connection (see `statements`).
fn write<T, R>(
    store: &SqliteStore,
    work: impl FnOnce(&mut SqliteConnection) -> Result<T, TxError<R>> + Send + 'static,
) -> Pending<T, R>
where
    T: Send + 'static,
    R: Send + 'static,
{
    store.writer.submit(move |connection| work(connection.sqlite()?))
}

impl ClientWrites for SqliteStore {
    /// One appointment, read now: a point read in SQLite takes microseconds, on the caller's thread
    /// (on SQLite's own connection: the shared SQL's would build the query's text each time).
    fn find(&self, id: AppointmentId) -> Pending<Option<Appointment>, std::convert::Infallible> {
        let read =
            self.read(|connection| appointment(connection.sqlite().map_err(storage_error)?, id));
        Pending::ready(read.map_err(WriteError::Storage))
    }

    /// Books the first candidate the admission rule admits (or the one the booking's hold is for).
    fn book(
        &self,
        booking: Booking,
        admission: Admission,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, BookFailure> {
        write(self, move |connection| {
            if let Some(appointment) =
                keys::replay(connection, Operation::Book, idempotency.as_ref())?
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
            let placement =
                places::first_admitted(connection, candidates, &admission, Own::Nothing)?
                    .map_err(|why| TxError::refused(why.into()))?;
            places::take(connection, &placement.resource, &placement.occupied, placement.capacity)?;
            let appointment = booking.appointment_at(placement, now);
            records::insert_appointment(connection, &appointment)?;
            keys::remember(connection, Operation::Book, idempotency.as_ref(), &appointment)?;
            let written = Written::scheduled(appointment, booking.by);
            record(connection, &written)?;
            Ok(Outcome::Done(written))
        })
    }

    /// Cancels a scheduled appointment that has not started, and gives back its places.
    fn cancel(
        &self,
        cancellation: Cancellation,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, CancelFailure> {
        write(self, move |connection| {
            if let Some(appointment) =
                keys::replay(connection, Operation::Cancel, idempotency.as_ref())?
            {
                return Ok(Outcome::Replayed(appointment));
            }
            let mut appointment = appointment(connection, cancellation.id)?
                .ok_or(TxError::refused(CancelFailure::NotFound))?;
            appointment
                .cancel(cancellation.now, cancellation.notice)
                .map_err(|refusal| TxError::refused(refusal.into()))?;
            let row = rows::AppointmentRow::from(&appointment);
            SetStatus { id: &row.id, status: &row.status, updated_at: row.updated_at }
                .execute(connection)?;
            places::give_back(connection, appointment.resource(), appointment.occupied())?;
            keys::remember(connection, Operation::Cancel, idempotency.as_ref(), &appointment)?;
            let written = Written::canceled(appointment, &cancellation);
            record(connection, &written)?;
            Ok(Outcome::Done(written))
        })
    }

    /// Moves an appointment to `to`, if the admission rule admits it there (its own places not
    /// counting against it).
    fn reschedule(
        &self,
        id: AppointmentId,
        to: Placement,
        admission: Admission,
        by: Actor,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, RescheduleFailure> {
        write(self, move |connection| {
            if let Some(appointment) =
                keys::replay(connection, Operation::Reschedule, idempotency.as_ref())?
            {
                return Ok(Outcome::Replayed(appointment));
            }
            let current = appointment(connection, id)?
                .ok_or(TxError::refused(RescheduleFailure::NotFound))?;
            let mut appointment = current.clone();
            let change = appointment
                .reschedule(&to, admission.now(), admission.change_notice())
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
            record(connection, &written)?;
            keys::remember(
                connection,
                Operation::Reschedule,
                idempotency.as_ref(),
                &written.outcome,
            )?;
            Ok(Outcome::Done(written))
        })
    }

    /// Holds the first candidate the admission rule admits, within the holder's cap.
    fn hold(
        &self,
        request: HoldRequest,
        admission: Admission,
    ) -> Pending<Written<Hold>, HoldFailure> {
        write(self, move |connection| {
            let holder = request.quota.as_ref().map(|quota| quota.holder.as_str());
            if let Some(quota) = &request.quota {
                let (active, first) =
                    records::holds_of(connection, &quota.holder, admission.now())?;
                if active >= u64::from(quota.most.get())
                    && let Some(frees_at) = first
                {
                    return Err(TxError::refused(HoldFailure::TooMany {
                        most: quota.most,
                        frees_at,
                    }));
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
    fn release_hold(
        &self,
        token: HoldToken,
        now: DateTime<Utc>,
    ) -> Pending<Written<Hold>, HoldNotFound> {
        write(self, move |connection| {
            let hold = records::hold(connection, &token)?
                .filter(|hold| hold.is_active(now))
                .ok_or(TxError::refused(HoldNotFound))?;
            if !records::delete_hold(connection, &token)? {
                return Err(TxError::refused(HoldNotFound));
            }
            Ok(Written::hold_released(hold, now))
        })
    }
}
