//! The appointment port over SQL. Reads and the business's own writes (closures, sweeps, the
//! readiness check) are the same SQL on both backends, here; client writes (bookings, cancels,
//! moves, holds and releases) and point reads are each backend's own ([`Store`]): SQLite's
//! writer thread runs them as closures in one transaction, PostgreSQL's writers send them in
//! batches to functions that decide them in the database. Every write answers with the core's
//! `Written`, which says what it changed and what happened (and which PostgreSQL's store
//! announces to the other servers once the write has committed).

use std::{collections::HashMap, convert::Infallible};

use booking_core::{
    admission::{Admission, UsageMap},
    appointment::{Appointment, AppointmentId, Status},
    catalog::Slug,
    closure::{Closure, ClosureId},
    history::{Actor, Entry},
    hold::{Hold, HoldToken},
    idempotency::{Idempotency, Outcome},
    pending::Pending,
    placement::Placement,
    repository::{
        AppointmentQuery, AppointmentRepository, BookFailure, Booking, CancelFailure, Cancellation,
        Closed, ClosureNotFound, ConcludeFailure, Concluding, Expired, Forgotten, HoldFailure,
        HoldNotFound, HoldRequest, RescheduleFailure, Written,
    },
    storage::StorageError,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    SqlRepository, Store, TxError, keys, records,
    rows::{ClosureRow, closures_of, seconds},
    schema::{appointments, closures, readiness},
    storage_error, usage,
};

impl<S: Store> AppointmentRepository for SqlRepository<S> {
    fn book(
        &self,
        booking: Booking,
        admission: Admission,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, BookFailure> {
        self.store.book(booking, admission, idempotency)
    }

    fn cancel(
        &self,
        cancellation: Cancellation,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, CancelFailure> {
        self.store.cancel(cancellation, idempotency)
    }

    fn reschedule(
        &self,
        id: AppointmentId,
        to: Placement,
        admission: Admission,
        by: Actor,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, RescheduleFailure> {
        self.store.reschedule(id, to, admission, by, idempotency)
    }

    /// The same SQL on both backends, in Rust, as a business write: it is rare, and changes
    /// one row and no place. The database decides: the update changes only an appointment
    /// still scheduled whose start has come, and a trigger keeps every other status final.
    fn conclude(&self, concluding: Concluding) -> Pending<Written<Appointment>, ConcludeFailure> {
        self.store.write(move |connection| {
            let now = seconds(concluding.now);
            let status = concluding.conclusion.status();
            let updated = diesel::update(appointments::table.find(concluding.id.to_string()))
                .filter(appointments::status.eq(Status::Scheduled.as_str()))
                .filter(appointments::start_at.le(now))
                .set((appointments::status.eq(status.as_str()), appointments::updated_at.eq(now)))
                .execute(connection)?;
            let mut appointment = records::appointment(connection, concluding.id)?
                .ok_or(TxError::refused(ConcludeFailure::NotFound))?;
            if updated == 1 {
                let written = Written::concluded(appointment, &concluding);
                records::record(connection, &written)?;
                return Ok(written);
            }
            // Nothing changed: the domain's rule, on the row as it now is, says why (a final
            // status cannot turn back, so it cannot have become concludable since).
            match appointment.conclude(concluding.conclusion, concluding.now) {
                Ok(false) => Ok(Written::unchanged(appointment)),
                Err(refusal) => Err(TxError::refused(refusal.into())),
                Ok(true) => Err(StorageError::fault(format!(
                    "appointment {} was not concluded though its row allows it",
                    concluding.id
                ))
                .into()),
            }
        })
    }

    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        self.store.read(|connection| records::appointment(connection, id))
    }

    fn find(&self, id: AppointmentId) -> Pending<Option<Appointment>, Infallible> {
        self.store.find(id)
    }

    fn histories(
        &self,
        ids: &[AppointmentId],
    ) -> Result<HashMap<AppointmentId, Vec<Entry>>, StorageError> {
        self.store.read(|connection| records::histories(connection, ids))
    }

    fn history(&self, id: AppointmentId) -> Result<Option<Vec<Entry>>, StorageError> {
        self.store.read(|connection| records::history(connection, id))
    }

    fn appointments(&self, query: &AppointmentQuery) -> Result<Vec<Appointment>, StorageError> {
        self.store.read(|connection| records::appointments(connection, query))
    }

    fn usage(
        &self,
        resource: Option<&Slug>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<UsageMap, StorageError> {
        self.store.read(|connection| usage::usage_between(connection, resource, from, to, now))
    }

    fn hold(
        &self,
        request: HoldRequest,
        admission: Admission,
    ) -> Pending<Written<Hold>, HoldFailure> {
        self.store.hold(request, admission)
    }

    fn release_hold(
        &self,
        token: HoldToken,
        now: DateTime<Utc>,
    ) -> Pending<Written<Hold>, HoldNotFound> {
        self.store.release_hold(token, now)
    }

    fn add_closure(&self, closure: Closure) -> Pending<Written<Closed>, Infallible> {
        self.store.write(move |connection| {
            // Waits for writes in flight to commit, so the list below misses none of them,
            // and holds new ones back until this closure is in place.
            (connection.dialect().lock_closures)(connection)?;
            diesel::insert_into(closures::table)
                .values(ClosureRow::from(&closure))
                .execute(connection)?;
            let covered = records::covered_by(connection, &closure)?;
            let written = Written::closure_added(closure.clone(), covered);
            Ok(written)
        })
    }

    fn remove_closure(
        &self,
        id: ClosureId,
        now: DateTime<Utc>,
    ) -> Pending<Written<Closure>, ClosureNotFound> {
        self.store.write(move |connection| {
            (connection.dialect().lock_closures)(connection)?;
            let row: ClosureRow = closures::table
                .find(id.to_string())
                .select(ClosureRow::as_select())
                .get_result(connection)
                .optional()?
                .ok_or(TxError::refused(ClosureNotFound))?;
            diesel::delete(closures::table.find(&row.id)).execute(connection)?;
            let written = Written::closure_removed(Closure::try_from(row)?, now);
            Ok(written)
        })
    }

    fn closures(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Closure>, StorageError> {
        self.store.read(|connection| {
            closures_of(
                closures::table
                    .filter(
                        closures::start_at.lt(seconds(to)).and(closures::end_at.gt(seconds(from))),
                    )
                    .order((closures::start_at, closures::id))
                    .select(ClosureRow::as_select())
                    .load(connection),
            )
        })
    }

    fn check_health(&self) -> Result<(), StorageError> {
        self.store.ready()?;
        self.store.read(|connection| {
            diesel::sql_query("SELECT 1").execute(connection).map(drop).map_err(storage_error)
        })
    }

    fn forget_expired(&self, expired: Expired) -> Pending<Forgotten, Infallible> {
        self.store.write(move |connection| {
            let keys = keys::forget(connection, expired.keys_made_by, expired.most)?;
            let holds = records::forget_holds(connection, expired.holds_ended_by, expired.most)?;
            let deliveries = super::webhooks::forget_settled(
                connection,
                expired.deliveries_settled_by,
                expired.most,
            )?;
            let notifications = super::notifications::forget_settled(
                connection,
                expired.deliveries_settled_by,
                expired.most,
            )?;
            Ok(Forgotten { keys, holds, deliveries, notifications })
        })
    }

    fn check_writable(&self, now: DateTime<Utc>) -> Pending<(), Infallible> {
        self.store.write(move |connection| {
            let updated = diesel::update(readiness::table)
                .set(readiness::checked_at.eq(seconds(now)))
                .execute(connection)?;
            // With no row, nothing would be written, and a full disk would pass.
            match updated {
                1 => Ok(()),
                _ => Err(StorageError::fault(
                    "the readiness table has lost its row; restore the schema (booking-http migrate cannot add it back)",
                )
                .into()),
            }
        })
    }
}
