//! The repository port over SQL: every write is one transaction that locks what it reads
//! (`dialect`), judges with the core's admission rule, and takes places with updates that
//! themselves refuse to pass the capacity. Both backends run this same code; each write answers
//! with the core's `Written`, which says what it changed and what happened (and which
//! PostgreSQL's repository announces to the other servers once the write has committed).

use std::{collections::HashMap, convert::Infallible};

use booking_core::{
    admission::{Admission, UsageMap},
    appointment::{Appointment, AppointmentId, Move},
    catalog::Slug,
    closure::{Closure, ClosureId},
    history::{Actor, Entry},
    hold::{Hold, HoldToken},
    idempotency::{Idempotency, Operation, Outcome},
    pending::Pending,
    placement::Placement,
    repository::{
        AppointmentQuery, AppointmentRepository, BookFailure, Booking, CancelFailure, Cancellation,
        Closed, ClosureNotFound, Expired, Forgotten, HoldFailure, HoldNotFound, HoldRequest,
        RescheduleFailure, Written,
    },
    storage::StorageError,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::statements::SetStatus;

use super::{
    Repository, TxError, dialect, keys,
    places::{self, Own},
    records,
    rows::{AppointmentRow, ClosureRow, closures_of, seconds},
    schema::{closures, readiness},
    storage_error,
};

impl AppointmentRepository for Repository {
    fn book(
        &self,
        booking: Booking,
        admission: Admission,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, BookFailure> {
        if idempotency.is_none()
            && let Some(answer) = dialect::book_at_once(self, &booking, &admission)
        {
            return Pending::ready(answer.map(Outcome::Done));
        }
        self.write(move |connection| {
            if let Some(appointment) =
                keys::replay(connection, Operation::Book, idempotency.as_ref())?
            {
                return Ok(Outcome::Replayed(appointment));
            }
            dialect::lock_closures(connection, dialect::Access::Shared)?;
            let now = admission.now();
            let admitted = match &booking.hold {
                Some(token) => {
                    let placement = records::held_candidate(connection, &booking, token, now)?;
                    // The hold's places become the appointment's: drop the hold, then check as
                    // for any booking. A refusal rolls the deletion back; a hold someone else
                    // deleted meanwhile was converted or released, and is not there to use.
                    if !records::delete_hold(connection, token)? {
                        return Err(TxError::Refused(HoldNotFound.into()));
                    }
                    places::first_admitted(
                        connection,
                        std::slice::from_ref(placement),
                        &admission,
                        Own::Nothing,
                    )?
                }
                None => places::first_admitted(
                    connection,
                    &booking.candidates,
                    &admission,
                    Own::Nothing,
                )?,
            };
            let placement = admitted.map_err(|why| TxError::Refused(why.into()))?;
            places::take(connection, &placement.resource, &placement.occupied, placement.capacity)?;
            let appointment = booking.appointment_at(placement, now);
            records::insert_appointment(connection, &appointment)?;
            keys::remember(connection, Operation::Book, idempotency.as_ref(), &appointment)?;
            let written = Written::scheduled(appointment, booking.by);
            records::record(connection, &written)?;
            Ok(Outcome::Done(written))
        })
    }

    fn cancel(
        &self,
        cancellation: Cancellation,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, CancelFailure> {
        if idempotency.is_none()
            && let Some(answer) = dialect::cancel_at_once(self, &cancellation)
        {
            return Pending::ready(answer.map(Outcome::Done));
        }
        self.write(move |connection| {
            let Cancellation { id, now, .. } = cancellation;
            if let Some(appointment) =
                keys::replay(connection, Operation::Cancel, idempotency.as_ref())?
            {
                return Ok(Outcome::Replayed(appointment));
            }
            let mut appointment = records::appointment_for_update(connection, id)?
                .ok_or(TxError::Refused(CancelFailure::NotFound))?;
            appointment.cancel(now).map_err(|refusal| TxError::Refused(refusal.into()))?;
            let row = AppointmentRow::from(&appointment);
            SetStatus { id: &row.id, status: &row.status, updated_at: row.updated_at }
                .execute(connection)?;
            let (resource, occupied) = (appointment.resource(), appointment.occupied());
            places::lock(connection, vec![(resource, occupied)])?;
            places::give_back(connection, resource, occupied)?;
            keys::remember(connection, Operation::Cancel, idempotency.as_ref(), &appointment)?;
            let written = Written::canceled(appointment, &cancellation);
            records::record(connection, &written)?;
            Ok(Outcome::Done(written))
        })
    }

    fn reschedule(
        &self,
        id: AppointmentId,
        to: Placement,
        admission: Admission,
        by: Actor,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, RescheduleFailure> {
        self.write(move |connection| {
            if let Some(appointment) =
                keys::replay(connection, Operation::Reschedule, idempotency.as_ref())?
            {
                return Ok(Outcome::Replayed(appointment));
            }
            dialect::lock_closures(connection, dialect::Access::Shared)?;
            let current = records::appointment_for_update(connection, id)?
                .ok_or(TxError::Refused(RescheduleFailure::NotFound))?;
            let mut appointment = current.clone();
            let change = appointment
                .reschedule(&to, admission.now())
                .map_err(|refusal| TxError::Refused(refusal.into()))?;
            let written = match change {
                Move::Unchanged => Written::unchanged(appointment),
                Move::Moved { released } => {
                    // The old and the new places, in one go so the lock order holds across both.
                    places::lock(
                        connection,
                        vec![
                            (current.resource(), current.occupied()),
                            (&to.resource, &to.occupied),
                        ],
                    )?;
                    places::first_admitted(
                        connection,
                        std::slice::from_ref(&to),
                        &admission,
                        Own::Appointment(&current),
                    )?
                    .map_err(|why| TxError::Refused(why.into()))?;
                    // Give back first: the new places may overlap the old ones.
                    places::give_back(connection, current.resource(), &released)?;
                    places::take(connection, &to.resource, &to.occupied, to.capacity)?;
                    records::move_appointment(connection, &appointment)?;
                    Written::rescheduled(&current, appointment, by)
                }
            };
            records::record(connection, &written)?;
            keys::remember(
                connection,
                Operation::Reschedule,
                idempotency.as_ref(),
                &written.outcome,
            )?;
            Ok(Outcome::Done(written))
        })
    }

    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        self.read(|connection| records::appointment(connection, id))
    }

    fn histories(
        &self,
        ids: &[AppointmentId],
    ) -> Result<HashMap<AppointmentId, Vec<Entry>>, StorageError> {
        self.read(|connection| records::histories(connection, ids))
    }

    fn history(&self, id: AppointmentId) -> Result<Option<Vec<Entry>>, StorageError> {
        self.read(|connection| records::history(connection, id))
    }

    fn appointments(&self, query: &AppointmentQuery) -> Result<Vec<Appointment>, StorageError> {
        self.read(|connection| records::appointments(connection, query))
    }

    fn usage(
        &self,
        resource: Option<&Slug>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<UsageMap, StorageError> {
        self.read(|connection| places::usage_between(connection, resource, from, to, now))
    }

    fn hold(
        &self,
        request: HoldRequest,
        admission: Admission,
    ) -> Pending<Written<Hold>, HoldFailure> {
        self.write(move |connection| {
            let holder = request.quota.as_ref().map(|quota| quota.holder.as_str());
            if let Some(holder) = holder {
                // Two holds by one holder on two servers take turns, so neither counts short.
                dialect::lock_key(connection, &format!("holder {holder}"))?;
            }
            dialect::lock_closures(connection, dialect::Access::Shared)?;
            if let Some(quota) = &request.quota {
                let (active, first) =
                    records::holds_of(connection, &quota.holder, admission.now())?;
                if active >= u64::from(quota.most.get())
                    && let Some(frees_at) = first
                {
                    return Err(TxError::Refused(HoldFailure::TooMany {
                        most: quota.most,
                        frees_at,
                    }));
                }
            }
            let placement =
                places::first_admitted(connection, &request.candidates, &admission, Own::Nothing)?
                    .map_err(|why| TxError::Refused(why.into()))?;
            let hold = request.hold_at(placement, admission.now());
            records::insert_hold(connection, &hold, holder)?;
            let written = Written::hold_taken(hold);
            Ok(written)
        })
    }

    fn release_hold(
        &self,
        token: HoldToken,
        now: DateTime<Utc>,
    ) -> Pending<Written<Hold>, HoldNotFound> {
        self.write(move |connection| {
            // An expired hold is refused untouched: it is the sweep's to delete.
            let hold = records::hold(connection, &token)?
                .filter(|hold| hold.is_active(now))
                .ok_or(TxError::Refused(HoldNotFound))?;
            if !records::delete_hold(connection, &token)? {
                return Err(TxError::Refused(HoldNotFound));
            }
            let written = Written::hold_released(hold, now);
            Ok(written)
        })
    }

    fn add_closure(&self, closure: Closure) -> Pending<Written<Closed>, Infallible> {
        self.write(move |connection| {
            // Waits for writes in flight to commit, so the list below misses none of them,
            // and holds new ones back until this closure is in place.
            dialect::lock_closures(connection, dialect::Access::Exclusive)?;
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
        self.write(move |connection| {
            dialect::lock_closures(connection, dialect::Access::Exclusive)?;
            let row: ClosureRow = closures::table
                .find(id.to_string())
                .select(ClosureRow::as_select())
                .get_result(connection)
                .optional()?
                .ok_or(TxError::Refused(ClosureNotFound))?;
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
        self.read(|connection| {
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
        self.ready()?;
        self.read(|connection| {
            diesel::sql_query("SELECT 1").execute(connection).map(drop).map_err(storage_error)
        })
    }

    fn forget_expired(&self, expired: Expired) -> Pending<Forgotten, Infallible> {
        self.write(move |connection| {
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
        self.write(move |connection| {
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
