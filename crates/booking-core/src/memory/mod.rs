//! An [`AppointmentRepository`] kept in memory: for tests, demos and embedding where nothing
//! needs to outlive the process. Like every store it keeps expired idempotency records and
//! holds until [`BookingService::forget_expired`](crate::service::BookingService::forget_expired)
//! sweeps them: call that now and then.

mod notifications;
mod outbox;

use std::{
    collections::{BTreeMap, HashMap},
    convert::Infallible,
    sync::{Mutex, MutexGuard},
};

use chrono::{DateTime, Utc};

use crate::{
    admission::{Admission, Unavailable, Usage, UsageMap},
    appointment::{Appointment, AppointmentId, Move, Status},
    calendar::{CalendarChange, CalendarFailure, StoredCalendar, placed_under},
    catalog::Slug,
    closure::{Closure, ClosureId},
    event::Event,
    history::{Actor, Entry},
    hold::{Hold, HoldToken},
    idempotency::{Idempotency, IdempotencyKey, Operation, Outcome, Remembered, Replay},
    pending::{Pending, WriteResult},
    placement::Placement,
    repository::{
        AppointmentQuery, AppointmentRepository, BookFailure, Booking, Calendars, CancelFailure,
        Cancellation, Closed, ClosureNotFound, ConcludeFailure, Concluding, Expired, Forgotten,
        HoldFailure, HoldNotFound, HoldRequest, RescheduleFailure, Written,
    },
    storage::{StorageError, WriteError},
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
    /// Who holds each hold that has a holder.
    holders: HashMap<HoldToken, String>,
    closures: BTreeMap<ClosureId, Closure>,
    keys: HashMap<IdempotencyKey, Remembered>,
    history: HashMap<AppointmentId, Vec<Entry>>,
    calendar: Option<StoredCalendar>,
    outbox: outbox::Queue,
    mail: notifications::Mail,
}

impl State {
    /// The first outcome for a key seen with the same request; a key seen with another request
    /// is refused.
    fn replay<R>(
        &mut self,
        operation: Operation,
        idempotency: Option<&Idempotency>,
    ) -> Result<Option<Appointment>, WriteError<R>> {
        let Some(idempotency) = idempotency else { return Ok(None) };
        let Some(remembered) = self.keys.get(&idempotency.key) else { return Ok(None) };
        match idempotency.replay(operation, remembered.clone()) {
            Replay::Same(appointment) => Ok(Some(appointment)),
            Replay::Other => Err(WriteError::KeyReused),
            Replay::Forgotten => Ok(None),
        }
    }

    fn remember(
        &mut self,
        operation: Operation,
        idempotency: Option<Idempotency>,
        appointment: &Appointment,
    ) {
        if let Some(idempotency) = idempotency {
            let remembered = Remembered {
                operation,
                fingerprint: idempotency.fingerprint,
                appointment: appointment.clone(),
                created_at: idempotency.now,
            };
            self.keys.insert(idempotency.key, remembered);
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

    /// Records what `written` did to its appointment, if anything, and queues its webhook
    /// deliveries and notifications: the writes call it as they commit, under the same lock.
    fn record<T>(&mut self, written: &Written<T>) {
        if let Some((id, entry)) = written.event.as_ref().and_then(Event::entry) {
            let message = self.outbox.fan_out(id, &entry);
            let history = self.history.entry(id).or_default();
            history.push(entry.clone());
            let revision = Entry::revision(history);
            let reachable = self.appointments.get(&id).is_some_and(|a| a.contact().email.is_some());
            self.mail.queue(id, message, &entry, revision, reachable);
        }
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
        placed_under(candidates, self.calendar.as_ref().map_or(0, |c| c.version))?;
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

impl Calendars for InMemoryRepository {
    fn calendar(&self) -> Result<Option<StoredCalendar>, StorageError> {
        Ok(self.state()?.calendar.clone())
    }

    fn store_calendar(
        &self,
        change: CalendarChange,
    ) -> Pending<Written<StoredCalendar>, CalendarFailure> {
        Pending::ready((|| {
            let mut state = self.state()?;
            let current = state.calendar.as_ref().map_or(0, |c| c.version);
            if current != change.after {
                return Err(WriteError::Refused(CalendarFailure::Stale { current }));
            }
            let stranded = crate::stranded::stranded(
                &change.schedule,
                state.appointments.values(),
                change.now,
            );
            if !stranded.is_empty() {
                return Err(WriteError::Refused(CalendarFailure::Strands(stranded)));
            }
            let written = change.written();
            state.calendar = Some(written.outcome.clone());
            Ok(written)
        })())
    }
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

impl InMemoryRepository {
    fn book_now(
        &self,
        booking: Booking,
        admission: Admission,
        idempotency: Option<Idempotency>,
    ) -> WriteResult<Outcome<Written<Appointment>>, BookFailure> {
        let mut state = self.state()?;
        if let Some(appointment) = state.replay(Operation::Book, idempotency.as_ref())? {
            return Ok(Outcome::Replayed(appointment));
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
                        &admission,
                        Own::Hold(token),
                    ),
                    Some(token),
                )
            }
            None => (state.first_admitted(&booking.candidates, &admission, Own::Nothing), None),
        };
        let placement = placement.map_err(|why| refused(why.into()))?;
        let appointment = booking.appointment_at(placement, now);
        if let Some(token) = own {
            state.holds.remove(token);
            state.holders.remove(token);
        }
        state.take_places(&placement.resource, &placement.occupied);
        state.appointments.insert(appointment.id(), appointment.clone());
        state.remember(Operation::Book, idempotency, &appointment);
        let written = Written::scheduled(appointment, booking.by);
        state.record(&written);
        Ok(Outcome::Done(written))
    }

    fn cancel_now(
        &self,
        cancellation: Cancellation,
        idempotency: Option<Idempotency>,
    ) -> WriteResult<Outcome<Written<Appointment>>, CancelFailure> {
        let Cancellation { id, now, .. } = cancellation;
        let mut state = self.state()?;
        if let Some(appointment) = state.replay(Operation::Cancel, idempotency.as_ref())? {
            return Ok(Outcome::Replayed(appointment));
        }
        let mut appointment = state
            .appointments
            .get(&id)
            .cloned()
            .ok_or(WriteError::Refused(CancelFailure::NotFound))?;
        appointment
            .cancel(now, cancellation.notice)
            .map_err(|refusal| WriteError::Refused(refusal.into()))?;
        state.give_back_places(&appointment.resource().clone(), appointment.occupied());
        state.appointments.insert(id, appointment.clone());
        state.remember(Operation::Cancel, idempotency, &appointment);
        let written = Written::canceled(appointment, &cancellation);
        state.record(&written);
        Ok(Outcome::Done(written))
    }

    fn conclude_now(
        &self,
        concluding: Concluding,
    ) -> WriteResult<Written<Appointment>, ConcludeFailure> {
        let mut state = self.state()?;
        let mut appointment = state
            .appointments
            .get(&concluding.id)
            .cloned()
            .ok_or(WriteError::Refused(ConcludeFailure::NotFound))?;
        let changed = appointment
            .conclude(concluding.conclusion, concluding.now)
            .map_err(|refusal| WriteError::Refused(refusal.into()))?;
        if !changed {
            return Ok(Written::unchanged(appointment));
        }
        state.appointments.insert(concluding.id, appointment.clone());
        let written = Written::concluded(appointment, &concluding);
        state.record(&written);
        Ok(written)
    }

    fn reschedule_now(
        &self,
        id: AppointmentId,
        to: Placement,
        admission: Admission,
        by: Actor,
        idempotency: Option<Idempotency>,
    ) -> WriteResult<Outcome<Written<Appointment>>, RescheduleFailure> {
        let mut state = self.state()?;
        if let Some(appointment) = state.replay(Operation::Reschedule, idempotency.as_ref())? {
            return Ok(Outcome::Replayed(appointment));
        }
        let refused = |failure: RescheduleFailure| WriteError::Refused(failure);
        let current =
            state.appointments.get(&id).cloned().ok_or(refused(RescheduleFailure::NotFound))?;
        let mut appointment = current.clone();
        let written = match appointment
            .reschedule(&to, admission.now(), admission.change_notice())
            .map_err(|r| refused(r.into()))?
        {
            Move::Unchanged => Written::unchanged(appointment),
            Move::Moved { released } => {
                state
                    .first_admitted(
                        std::slice::from_ref(&to),
                        &admission,
                        Own::Appointment(&current),
                    )
                    .map_err(|why| refused(why.into()))?;
                state.give_back_places(current.resource(), &released);
                state.take_places(&to.resource, &to.occupied);
                state.appointments.insert(id, appointment.clone());
                Written::rescheduled(&current, appointment, by)
            }
        };
        state.remember(Operation::Reschedule, idempotency, &written.outcome);
        state.record(&written);
        Ok(Outcome::Done(written))
    }

    fn hold_now(
        &self,
        request: HoldRequest,
        admission: Admission,
    ) -> WriteResult<Written<Hold>, HoldFailure> {
        let mut state = self.state()?;
        let state = &mut *state;
        let now = admission.now();
        if let Some(quota) = &request.quota {
            let theirs: Vec<DateTime<Utc>> = state
                .holders
                .iter()
                .filter(|(_, holder)| **holder == quota.holder)
                .filter_map(|(token, _)| state.holds.get(token))
                .filter(|hold| hold.is_active(now))
                .map(|hold| hold.expires_at)
                .collect();
            if theirs.len() >= usize::from(quota.most.get())
                && let Some(frees_at) = theirs.into_iter().min()
            {
                return Err(WriteError::Refused(HoldFailure::TooMany {
                    most: quota.most,
                    frees_at,
                }));
            }
        }
        let placement = state
            .first_admitted(&request.candidates, &admission, Own::Nothing)
            .map_err(|why| WriteError::Refused(why.into()))?;
        let hold = request.hold_at(placement, now);
        state.holds.insert(hold.token.clone(), hold.clone());
        if let Some(quota) = request.quota {
            state.holders.insert(hold.token.clone(), quota.holder);
        }
        Ok(Written::hold_taken(hold))
    }

    fn release_now(
        &self,
        token: HoldToken,
        now: DateTime<Utc>,
    ) -> WriteResult<Written<Hold>, HoldNotFound> {
        let mut state = self.state()?;
        state.holders.remove(&token);
        match state.holds.remove(&token) {
            Some(hold) if hold.is_active(now) => Ok(Written::hold_released(hold, now)),
            _ => Err(WriteError::Refused(HoldNotFound)),
        }
    }

    fn close_now(&self, closure: Closure) -> WriteResult<Written<Closed>, Infallible> {
        let mut state = self.state()?;
        state.closures.insert(closure.id, closure.clone());
        let mut covered: Vec<Appointment> = state
            .appointments
            .values()
            .filter(|a| a.status() == Status::Scheduled && closure.blocks(a.resource(), a.slot()))
            .cloned()
            .collect();
        covered.sort_by_key(|a| (a.slot().start(), a.id()));
        Ok(Written::closure_added(closure, covered))
    }

    fn reopen_now(
        &self,
        id: ClosureId,
        now: DateTime<Utc>,
    ) -> WriteResult<Written<Closure>, ClosureNotFound> {
        let closure =
            self.state()?.closures.remove(&id).ok_or(WriteError::Refused(ClosureNotFound))?;
        Ok(Written::closure_removed(closure, now))
    }
}

/// Every write happens on the caller's thread; its answer is ready when the call returns.
impl AppointmentRepository for InMemoryRepository {
    fn book(
        &self,
        booking: Booking,
        admission: Admission,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, BookFailure> {
        Pending::ready(self.book_now(booking, admission, idempotency))
    }

    fn cancel(
        &self,
        cancellation: Cancellation,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, CancelFailure> {
        Pending::ready(self.cancel_now(cancellation, idempotency))
    }

    fn reschedule(
        &self,
        id: AppointmentId,
        to: Placement,
        admission: Admission,
        by: Actor,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, RescheduleFailure> {
        Pending::ready(self.reschedule_now(id, to, admission, by, idempotency))
    }

    fn conclude(&self, concluding: Concluding) -> Pending<Written<Appointment>, ConcludeFailure> {
        Pending::ready(self.conclude_now(concluding))
    }

    fn hold(
        &self,
        request: HoldRequest,
        admission: Admission,
    ) -> Pending<Written<Hold>, HoldFailure> {
        Pending::ready(self.hold_now(request, admission))
    }

    fn release_hold(
        &self,
        token: HoldToken,
        now: DateTime<Utc>,
    ) -> Pending<Written<Hold>, HoldNotFound> {
        Pending::ready(self.release_now(token, now))
    }

    fn add_closure(&self, closure: Closure) -> Pending<Written<Closed>, Infallible> {
        Pending::ready(self.close_now(closure))
    }

    fn remove_closure(
        &self,
        id: ClosureId,
        now: DateTime<Utc>,
    ) -> Pending<Written<Closure>, ClosureNotFound> {
        Pending::ready(self.reopen_now(id, now))
    }

    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        Ok(self.state()?.appointments.get(&id).cloned())
    }

    fn histories(
        &self,
        ids: &[AppointmentId],
    ) -> Result<HashMap<AppointmentId, Vec<Entry>>, StorageError> {
        let state = self.state()?;
        Ok(ids
            .iter()
            .filter_map(|id| state.history.get(id).map(|entries| (*id, entries.clone())))
            .collect())
    }

    fn history(&self, id: AppointmentId) -> Result<Option<Vec<Entry>>, StorageError> {
        let state = self.state()?;
        Ok(state
            .appointments
            .contains_key(&id)
            .then(|| state.history.get(&id).cloned().unwrap_or_default()))
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

    fn check_writable(&self, _now: DateTime<Utc>) -> Pending<(), Infallible> {
        Pending::ready(self.state().map(drop).map_err(WriteError::Storage))
    }

    fn forget_expired(&self, expired: Expired) -> Pending<Forgotten, Infallible> {
        let most = usize::try_from(expired.most).unwrap_or(usize::MAX);
        let forgotten = self.state().map_err(WriteError::Storage).map(|mut state| {
            let state = &mut *state;
            let mut keys: Vec<(DateTime<Utc>, IdempotencyKey)> = state
                .keys
                .iter()
                .filter(|(_, remembered)| remembered.created_at <= expired.keys_made_by)
                .map(|(key, remembered)| (remembered.created_at, key.clone()))
                .collect();
            keys.sort_by_key(|(made, _)| *made);
            keys.truncate(most);
            for (_, key) in &keys {
                state.keys.remove(key);
            }
            let mut holds: Vec<(DateTime<Utc>, HoldToken)> = state
                .holds
                .values()
                .filter(|hold| hold.expires_at <= expired.holds_ended_by)
                .map(|hold| (hold.expires_at, hold.token.clone()))
                .collect();
            holds.sort_by_key(|(ended, _)| *ended);
            holds.truncate(most);
            for (_, token) in &holds {
                state.holds.remove(token);
                state.holders.remove(token);
            }
            let deliveries = state.outbox.forget_settled(expired.deliveries_settled_by, most);
            let notifications = state.mail.forget_settled(expired.deliveries_settled_by, most);
            Forgotten {
                keys: keys.len() as u64,
                holds: holds.len() as u64,
                deliveries,
                notifications,
            }
        });
        Pending::ready(forgotten)
    }
}

#[cfg(test)]
mod tests {
    crate::repository_contract_tests!(Box::new(super::InMemoryRepository::new()));
    crate::repository_property_tests!(
        cases = 150,
        (std::sync::Arc::new(super::InMemoryRepository::new()), Box::new(()))
    );
}
