//! An [`AppointmentRepository`] kept in memory: for tests, demos and embedding where nothing
//! needs to outlive the process.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Mutex, MutexGuard},
};

use chrono::{DateTime, Utc};

use crate::{
    appointment::{Appointment, AppointmentId, Move, Status},
    availability::{Admission, Unavailable, Usage, UsageMap},
    catalog::Slug,
    closure::{Closure, ClosureId},
    hold::{Hold, HoldToken},
    idempotency::{Idempotency, IdempotencyKey, Outcome, StoredResponse},
    repository::{
        AppointmentQuery, AppointmentRepository, BookFailure, Booking, CancelFailure,
        ClosureNotFound, HoldNotFound, HoldRequest, RescheduleFailure, Rescheduled, StorageError,
        WriteError,
    },
    schedule::Placement,
};

/// Appointments, holds and closures behind one lock; every method is atomic because it holds
/// the lock from its checks to its writes, and changes nothing until every check has passed.
#[derive(Debug, Default)]
pub struct InMemoryRepository {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    appointments: HashMap<AppointmentId, Appointment>,
    booked: BTreeMap<(Slug, DateTime<Utc>), u32>,
    holds: HashMap<HoldToken, Hold>,
    closures: BTreeMap<ClosureId, Closure>,
    keys: HashMap<IdempotencyKey, RememberedKey>,
}

#[derive(Debug)]
struct RememberedKey {
    fingerprint: String,
    response: StoredResponse,
    created_at: DateTime<Utc>,
}

impl State {
    /// The stored answer for a key seen with the same request; a key seen with another request
    /// is refused.
    fn replay<R>(
        &mut self,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Option<StoredResponse>, WriteError<R>> {
        let Some(idempotency) = idempotency else { return Ok(None) };
        let oldest = idempotency.oldest_remembered();
        self.keys.retain(|_, remembered| remembered.created_at > oldest);
        match self.keys.get(idempotency.key) {
            Some(remembered) if remembered.fingerprint == idempotency.fingerprint => {
                Ok(Some(remembered.response.clone()))
            }
            Some(_) => Err(WriteError::KeyReused),
            None => Ok(None),
        }
    }

    fn remember(&mut self, idempotency: Option<Idempotency<'_>>, appointment: &Appointment) {
        if let Some(idempotency) = idempotency {
            let remembered = RememberedKey {
                fingerprint: idempotency.fingerprint.to_owned(),
                response: (idempotency.render)(appointment),
                created_at: idempotency.now,
            };
            self.keys.insert(idempotency.key.clone(), remembered);
        }
    }

    /// Usage of the slots `placement` takes, leaving out `own` places (an appointment's own
    /// slots when it moves, or the hold being converted).
    fn usage_for(&self, placement: &Placement, now: DateTime<Utc>, own: Own<'_>) -> UsageMap {
        let mut usage = UsageMap::new();
        for start in &placement.occupied {
            let key = (placement.resource.clone(), *start);
            let booked = self.booked.get(&key).copied().unwrap_or(0);
            let held = self
                .holds
                .values()
                .filter(|h| h.is_active(now) && !matches!(own, Own::Hold(t) if *t == h.token))
                .filter(|h| h.resource == placement.resource && h.occupied.contains(start))
                .count();
            let own_booked = match own {
                Own::Appointment(appointment) => u32::from(
                    appointment.resource() == &placement.resource
                        && appointment.occupied().contains(start),
                ),
                _ => 0,
            };
            usage.insert(
                key,
                Usage {
                    booked: booked - own_booked,
                    held: u32::try_from(held).unwrap_or(u32::MAX),
                },
            );
        }
        usage
    }

    fn closures(&self) -> Vec<Closure> {
        self.closures.values().cloned().collect()
    }

    fn take_places(&mut self, resource: &Slug, starts: &[DateTime<Utc>]) {
        for start in starts {
            *self.booked.entry((resource.clone(), *start)).or_default() += 1;
        }
    }

    fn give_back_places(&mut self, resource: &Slug, starts: &[DateTime<Utc>]) {
        for start in starts {
            let key = (resource.clone(), *start);
            if let Some(count) = self.booked.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    self.booked.remove(&key);
                }
            }
        }
    }

    /// The first candidate `admission` admits, or why the first could not be.
    fn first_admitted<'a>(
        &self,
        candidates: &'a [Placement],
        admission: &Admission,
        own: Own<'_>,
    ) -> Result<&'a Placement, Unavailable> {
        let closures = self.closures();
        let mut first_refusal = None;
        for candidate in candidates {
            let usage = self.usage_for(candidate, admission.now(), own);
            match admission.check(candidate, &closures, &usage) {
                Ok(()) => return Ok(candidate),
                Err(why) => {
                    first_refusal.get_or_insert(why);
                }
            }
        }
        Err(first_refusal.unwrap_or(Unavailable::OutsideHours))
    }
}

/// Places that belong to the request itself and so do not count against it.
#[derive(Clone, Copy)]
enum Own<'a> {
    Nothing,
    Appointment(&'a Appointment),
    Hold(&'a HoldToken),
}

impl InMemoryRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, StorageError> {
        // Every method finishes its checks before it changes anything, so a panic while the lock
        // was held cannot have left a half-done change; still, refuse to guess.
        self.state.lock().map_err(|_| StorageError::fault("the in-memory store's lock is poisoned"))
    }
}

impl AppointmentRepository for InMemoryRepository {
    fn book(
        &self,
        booking: &Booking,
        admission: &Admission,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Appointment>, WriteError<BookFailure>> {
        let mut state = self.state()?;
        if let Some(stored) = state.replay(idempotency)? {
            return Ok(Outcome::Replayed(stored));
        }
        let now = admission.now();
        let refused = |failure: BookFailure| WriteError::Refused(failure);
        let (placement, own) = match &booking.hold {
            Some(token) => {
                let hold = state
                    .holds
                    .get(token)
                    .filter(|h| h.is_active(now))
                    .ok_or(refused(HoldNotFound.into()))?;
                let placement =
                    booking.candidate_for(hold).ok_or(refused(BookFailure::HoldMismatch))?;
                (
                    state.first_admitted(
                        std::slice::from_ref(placement),
                        admission,
                        Own::Hold(token),
                    ),
                    Some(token),
                )
            }
            None => (state.first_admitted(&booking.candidates, admission, Own::Nothing), None),
        };
        let placement = placement.map_err(|why| refused(why.into()))?;
        let appointment = booking.appointment_at(placement, now);
        if let Some(token) = own {
            state.holds.remove(token);
        }
        state.take_places(&placement.resource, &placement.occupied);
        state.appointments.insert(appointment.id(), appointment.clone());
        state.remember(idempotency, &appointment);
        Ok(Outcome::Done(appointment))
    }

    fn cancel(
        &self,
        id: AppointmentId,
        now: DateTime<Utc>,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Appointment>, WriteError<CancelFailure>> {
        let mut state = self.state()?;
        if let Some(stored) = state.replay(idempotency)? {
            return Ok(Outcome::Replayed(stored));
        }
        let mut appointment = state
            .appointments
            .get(&id)
            .cloned()
            .ok_or(WriteError::Refused(CancelFailure::NotFound))?;
        appointment.cancel(now).map_err(|refusal| WriteError::Refused(refusal.into()))?;
        state.give_back_places(&appointment.resource().clone(), appointment.occupied());
        state.appointments.insert(id, appointment.clone());
        state.remember(idempotency, &appointment);
        Ok(Outcome::Done(appointment))
    }

    fn reschedule(
        &self,
        id: AppointmentId,
        to: &Placement,
        admission: &Admission,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Rescheduled>, WriteError<RescheduleFailure>> {
        let mut state = self.state()?;
        if let Some(stored) = state.replay(idempotency)? {
            return Ok(Outcome::Replayed(stored));
        }
        let refused = |failure: RescheduleFailure| WriteError::Refused(failure);
        let current =
            state.appointments.get(&id).cloned().ok_or(refused(RescheduleFailure::NotFound))?;
        let mut appointment = current.clone();
        let released = match appointment
            .reschedule(to, admission.now())
            .map_err(|r| refused(r.into()))?
        {
            Move::Unchanged => Vec::new(),
            Move::Moved { released } => {
                state
                    .first_admitted(std::slice::from_ref(to), admission, Own::Appointment(&current))
                    .map_err(|why| refused(why.into()))?;
                state.give_back_places(current.resource(), &released);
                state.take_places(&to.resource, &to.occupied);
                state.appointments.insert(id, appointment.clone());
                released
            }
        };
        state.remember(idempotency, &appointment);
        Ok(Outcome::Done(Rescheduled { appointment, released }))
    }

    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        Ok(self.state()?.appointments.get(&id).cloned())
    }

    fn appointments(&self, query: &AppointmentQuery) -> Result<Vec<Appointment>, StorageError> {
        let state = self.state()?;
        let mut found: Vec<Appointment> =
            state.appointments.values().filter(|a| query.matches(a)).cloned().collect();
        found.sort_by_key(|a| (a.slot().start(), a.id()));
        found.truncate(query.limit as usize);
        Ok(found)
    }

    fn usage(
        &self,
        resource: Option<&Slug>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<UsageMap, StorageError> {
        let state = self.state()?;
        let wanted = |slug: &Slug| resource.is_none_or(|r| r == slug);
        let mut usage = UsageMap::new();
        for ((resource, start), booked) in &state.booked {
            if (from..=to).contains(start) && wanted(resource) {
                usage.entry((resource.clone(), *start)).or_default().booked = *booked;
            }
        }
        for hold in state.holds.values().filter(|h| h.is_active(now) && wanted(&h.resource)) {
            for start in hold.occupied.iter().filter(|s| (from..=to).contains(*s)) {
                usage.entry((hold.resource.clone(), *start)).or_default().held += 1;
            }
        }
        Ok(usage)
    }

    fn hold(
        &self,
        request: &HoldRequest,
        admission: &Admission,
    ) -> Result<Hold, WriteError<Unavailable>> {
        let mut state = self.state()?;
        let now = admission.now();
        state.holds.retain(|_, hold| hold.is_active(now));
        let placement = state
            .first_admitted(&request.candidates, admission, Own::Nothing)
            .map_err(WriteError::Refused)?;
        let hold = request.hold_at(placement, now);
        state.holds.insert(hold.token.clone(), hold.clone());
        Ok(hold)
    }

    fn release_hold(
        &self,
        token: &HoldToken,
        now: DateTime<Utc>,
    ) -> Result<Hold, WriteError<HoldNotFound>> {
        let mut state = self.state()?;
        match state.holds.remove(token) {
            Some(hold) if hold.is_active(now) => Ok(hold),
            _ => Err(WriteError::Refused(HoldNotFound)),
        }
    }

    fn add_closure(&self, closure: &Closure) -> Result<Vec<Appointment>, StorageError> {
        let mut state = self.state()?;
        state.closures.insert(closure.id, closure.clone());
        let mut covered: Vec<Appointment> = state
            .appointments
            .values()
            .filter(|a| a.status() == Status::Scheduled && closure.blocks(a.resource(), a.slot()))
            .cloned()
            .collect();
        covered.sort_by_key(|a| (a.slot().start(), a.id()));
        Ok(covered)
    }

    fn remove_closure(&self, id: ClosureId) -> Result<Closure, WriteError<ClosureNotFound>> {
        self.state()?.closures.remove(&id).ok_or(WriteError::Refused(ClosureNotFound))
    }

    fn closures(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Closure>, StorageError> {
        let state = self.state()?;
        let mut found: Vec<Closure> = state
            .closures
            .values()
            .filter(|c| c.period.start() < to && from < c.period.end())
            .cloned()
            .collect();
        found.sort_by_key(|c| (c.period.start(), c.id));
        Ok(found)
    }

    fn check_health(&self) -> Result<(), StorageError> {
        self.state().map(drop)
    }
}

#[cfg(test)]
mod tests {
    crate::repository_contract_tests!(Box::new(super::InMemoryRepository::new()));
}
