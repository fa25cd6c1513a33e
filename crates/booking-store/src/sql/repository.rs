//! The repository port over SQL: every write is one transaction that locks what it reads
//! (`dialect`), judges with the core's admission rule, and takes places with updates that
//! themselves refuse to pass the capacity. Both backends run this same code.

use booking_core::{
    appointment::{Appointment, AppointmentId, Move},
    availability::{Admission, Unavailable, UsageMap},
    catalog::Slug,
    closure::{Closure, ClosureId},
    hold::{Hold, HoldToken},
    idempotency::{Idempotency, Outcome},
    repository::{
        AppointmentQuery, AppointmentRepository, BookFailure, Booking, CancelFailure,
        ClosureNotFound, HoldNotFound, HoldRequest, RescheduleFailure, Rescheduled, StorageError,
        WriteError,
    },
    schedule::Placement,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    Repository, TxError, dialect, keys,
    places::{self, Own},
    records,
    rows::{AppointmentRow, ClosureRow, seconds},
    schema::{appointments, closures},
    storage_error,
};

impl AppointmentRepository for Repository {
    fn book(
        &self,
        booking: &Booking,
        admission: &Admission,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Appointment>, WriteError<BookFailure>> {
        self.write(|connection| {
            if let Some(stored) = keys::replay(connection, idempotency)? {
                return Ok(Outcome::Replayed(stored));
            }
            dialect::lock_closures(connection, dialect::Access::Shared)?;
            let now = admission.now();
            let admitted = match &booking.hold {
                Some(token) => {
                    let hold = records::hold(connection, token)?
                        .filter(|hold| hold.is_active(now))
                        .ok_or(TxError::Refused(HoldNotFound.into()))?;
                    let placement = booking
                        .candidate_for(&hold)
                        .ok_or(TxError::Refused(BookFailure::HoldMismatch))?;
                    // The hold's places become the appointment's: drop the hold, then check as
                    // for any booking. A refusal rolls the deletion back; a hold someone else
                    // deleted meanwhile was converted or released, and is not there to use.
                    if !records::delete_hold(connection, token)? {
                        return Err(TxError::Refused(HoldNotFound.into()));
                    }
                    places::first_admitted(
                        connection,
                        std::slice::from_ref(placement),
                        admission,
                        Own::Nothing,
                    )?
                }
                None => places::first_admitted(
                    connection,
                    &booking.candidates,
                    admission,
                    Own::Nothing,
                )?,
            };
            let placement = admitted.map_err(|why| TxError::Refused(why.into()))?;
            places::take(connection, &placement.resource, &placement.occupied, placement.capacity)?;
            let appointment = booking.appointment_at(placement, now);
            records::insert_appointment(connection, &appointment)?;
            keys::remember(connection, idempotency, &appointment)?;
            dialect::announce_slots(connection, &placement.resource, &placement.occupied, None)?;
            Ok(Outcome::Done(appointment))
        })
    }

    fn cancel(
        &self,
        id: AppointmentId,
        now: DateTime<Utc>,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Appointment>, WriteError<CancelFailure>> {
        self.write(|connection| {
            if let Some(stored) = keys::replay(connection, idempotency)? {
                return Ok(Outcome::Replayed(stored));
            }
            let mut appointment = records::appointment_for_update(connection, id)?
                .ok_or(TxError::Refused(CancelFailure::NotFound))?;
            appointment.cancel(now).map_err(|refusal| TxError::Refused(refusal.into()))?;
            let row = AppointmentRow::from(&appointment);
            diesel::update(appointments::table.find(&row.id))
                .set((
                    appointments::status.eq(&row.status),
                    appointments::updated_at.eq(row.updated_at),
                ))
                .execute(connection)?;
            let (resource, occupied) = (appointment.resource(), appointment.occupied());
            places::lock(connection, vec![(resource, occupied)])?;
            places::give_back(connection, resource, occupied)?;
            keys::remember(connection, idempotency, &appointment)?;
            dialect::announce_slots(connection, resource, occupied, None)?;
            Ok(Outcome::Done(appointment))
        })
    }

    fn reschedule(
        &self,
        id: AppointmentId,
        to: &Placement,
        admission: &Admission,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Rescheduled>, WriteError<RescheduleFailure>> {
        self.write(|connection| {
            if let Some(stored) = keys::replay(connection, idempotency)? {
                return Ok(Outcome::Replayed(stored));
            }
            dialect::lock_closures(connection, dialect::Access::Shared)?;
            let current = records::appointment_for_update(connection, id)?
                .ok_or(TxError::Refused(RescheduleFailure::NotFound))?;
            let mut appointment = current.clone();
            let change = appointment
                .reschedule(to, admission.now())
                .map_err(|refusal| TxError::Refused(refusal.into()))?;
            let Move::Moved { released } = change else {
                keys::remember(connection, idempotency, &appointment)?;
                return Ok(Outcome::Done(Rescheduled { appointment, released: Vec::new() }));
            };
            // The old and the new places, in one go so the lock order holds across both.
            places::lock(
                connection,
                vec![(current.resource(), current.occupied()), (&to.resource, &to.occupied)],
            )?;
            places::first_admitted(
                connection,
                std::slice::from_ref(to),
                admission,
                Own::Appointment(&current),
            )?
            .map_err(|why| TxError::Refused(why.into()))?;
            // Give back first: the new places may overlap the old ones.
            places::give_back(connection, current.resource(), &released)?;
            places::take(connection, &to.resource, &to.occupied, to.capacity)?;
            records::move_appointment(connection, &appointment)?;
            keys::remember(connection, idempotency, &appointment)?;
            dialect::announce_slots(connection, current.resource(), &released, None)?;
            dialect::announce_slots(connection, &to.resource, &to.occupied, None)?;
            Ok(Outcome::Done(Rescheduled { appointment, released }))
        })
    }

    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        records::appointment(&mut *self.connection()?, id)
    }

    fn appointments(&self, query: &AppointmentQuery) -> Result<Vec<Appointment>, StorageError> {
        records::appointments(&mut *self.connection()?, query)
    }

    fn usage(
        &self,
        resource: Option<&Slug>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<UsageMap, StorageError> {
        places::usage_between(&mut *self.connection()?, resource, from, to, now)
    }

    fn hold(
        &self,
        request: &HoldRequest,
        admission: &Admission,
    ) -> Result<Hold, WriteError<Unavailable>> {
        self.write(|connection| {
            dialect::lock_closures(connection, dialect::Access::Shared)?;
            records::delete_expired_holds(connection, admission.now())?;
            let placement =
                places::first_admitted(connection, &request.candidates, admission, Own::Nothing)?
                    .map_err(TxError::Refused)?;
            let hold = request.hold_at(placement, admission.now());
            records::insert_hold(connection, &hold)?;
            dialect::announce_slots(
                connection,
                &hold.resource,
                &hold.occupied,
                Some(hold.expires_at),
            )?;
            Ok(hold)
        })
    }

    fn release_hold(
        &self,
        token: &HoldToken,
        now: DateTime<Utc>,
    ) -> Result<Hold, WriteError<HoldNotFound>> {
        self.write(|connection| {
            let hold = records::hold(connection, token)?;
            let deleted = records::delete_hold(connection, token)?;
            let hold = hold
                .filter(|hold| deleted && hold.is_active(now))
                .ok_or(TxError::Refused(HoldNotFound))?;
            dialect::announce_slots(connection, &hold.resource, &hold.occupied, None)?;
            Ok(hold)
        })
    }

    fn add_closure(&self, closure: &Closure) -> Result<Vec<Appointment>, StorageError> {
        let added: Result<_, WriteError<std::convert::Infallible>> = self.write(|connection| {
            // Waits for writes in flight to commit, so the list below misses none of them,
            // and holds new ones back until this closure is in place.
            dialect::lock_closures(connection, dialect::Access::Exclusive)?;
            diesel::insert_into(closures::table)
                .values(ClosureRow::from(closure))
                .execute(connection)?;
            let covered = records::covered_by(connection, closure)?;
            dialect::announce_everything(connection)?;
            Ok(covered)
        });
        added.map_err(|error| match error {
            WriteError::Storage(error) => error,
            WriteError::Refused(never) => match never {},
            WriteError::KeyReused => {
                StorageError::fault("a closure was refused for a key it never had")
            }
        })
    }

    fn remove_closure(&self, id: ClosureId) -> Result<Closure, WriteError<ClosureNotFound>> {
        self.write(|connection| {
            dialect::lock_closures(connection, dialect::Access::Exclusive)?;
            let row: ClosureRow = closures::table
                .find(id.to_string())
                .select(ClosureRow::as_select())
                .first(connection)
                .optional()?
                .ok_or(TxError::Refused(ClosureNotFound))?;
            diesel::delete(closures::table.find(&row.id)).execute(connection)?;
            dialect::announce_everything(connection)?;
            Ok(Closure::try_from(row)?)
        })
    }

    fn closures(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Closure>, StorageError> {
        closures::table
            .filter(closures::start_at.lt(seconds(to)).and(closures::end_at.gt(seconds(from))))
            .order((closures::start_at, closures::id))
            .select(ClosureRow::as_select())
            .load(&mut *self.connection()?)
            .map_err(storage_error)?
            .into_iter()
            .map(Closure::try_from)
            .collect()
    }

    fn check_health(&self) -> Result<(), StorageError> {
        diesel::sql_query("SELECT 1")
            .execute(&mut *self.connection()?)
            .map(drop)
            .map_err(storage_error)
    }
}
