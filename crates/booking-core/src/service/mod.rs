//! The booking use cases: what the HTTP API (or any other front end) calls.

use std::{
    convert::Infallible,
    num::NonZeroU16,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, SubsecRound, Utc};
use thiserror::Error;

use crate::{
    admission::{Admission, Unavailable, UsageMap},
    appointment::{Appointment, AppointmentId, Conclusion},
    availability::{Availability, DateRange, ListingPlan},
    catalog::{Service, Slug},
    change::{Change, Feed},
    client::{ClientName, Notes},
    clock::Clock,
    closure::{Closure, ClosureId},
    contact::Contact,
    event::Event,
    history::{Actor, Entry, Reason, Revised},
    hold::{DEFAULT_HOLDS_PER_HOLDER, Hold, HoldQuota, HoldToken},
    idempotency::{DEFAULT_KEY_LIFETIME, Idempotency, IdempotencyKey, Outcome},
    notification::{
        ClaimedNotification, MAX_NOTIFICATIONS_LISTED, Notification, NotificationState, Plan,
        Planned,
    },
    pending::{Pending, WriteResult},
    placement::Placement,
    repository::{
        AppointmentQuery, AppointmentRepository, BookFailure, Booking, CancelFailure, Cancellation,
        Closed, ClosureNotFound, ConcludeFailure, Concluding, Expired, Forgotten, HoldFailure,
        HoldNotFound, HoldRequest, MAX_HISTORIES, RescheduleFailure, Written,
    },
    schedule::{ChoiceError, Schedule, SlotError},
    storage::{StorageError, StorageErrorKind, WriteError},
    stranded::{Stranded, stranded},
    units::Slot,
    webhook::{
        Attempt, ClaimRequest, Claimed, Delivery, Endpoint, EndpointId, EndpointNotFound,
        MAX_DELIVERIES_LISTED, SETTLED_DELIVERIES_KEPT, Secret, Settlement, Subscription,
        TooManyEndpoints,
    },
};

mod calendar;

pub use calendar::{AdoptError, Given};

/// How long a hold lasts unless configured otherwise.
pub const DEFAULT_HOLD_DURATION: Duration = Duration::minutes(5);

/// Where a client wants an appointment, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRequest {
    /// The local date of the start.
    pub date: NaiveDate,
    /// The local start time.
    pub time: NaiveTime,
    /// The resource asked for; any that performs the service when `None`.
    pub resource: Option<Slug>,
    /// The service asked for; one slot when `None`.
    pub service: Option<Slug>,
}

/// A client's request for an appointment, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookRequest {
    /// Who books.
    pub client_name: ClientName,
    /// What they want the business to know.
    pub notes: Option<Notes>,
    /// How to reach them.
    pub contact: Contact,
    /// Where.
    pub slot: SlotRequest,
    /// A hold to convert into the appointment.
    pub hold: Option<HoldToken>,
}

/// Why no placement could be worked out for a request.
#[derive(Debug, Error)]
pub enum PlacementError {
    /// The resource or service does not exist, or do not go together.
    #[error(transparent)]
    Choice(#[from] ChoiceError),
    /// No slot starts at that local date and time.
    #[error(transparent)]
    InvalidSlot(#[from] SlotError),
    /// The slot cannot take a booking now, whatever is stored.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// A client's key for a write and what identifies the request; the service adds the time and
/// how long keys are remembered.
#[derive(Debug, Clone)]
pub struct Retry {
    /// The client's key.
    pub key: IdempotencyKey,
    /// What identifies the request: a repeat must match it.
    pub fingerprint: String,
}

/// Why a move could not be handed to the store.
#[derive(Debug, Error)]
pub enum RescheduleError {
    /// No appointment has the id.
    #[error("appointment not found")]
    NotFound,
    /// The new time names no bookable placement.
    #[error(transparent)]
    Placement(#[from] PlacementError),
    /// The store failed while the appointment was read; nothing changed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The booking service: the schedule's rules over a repository, at the clock's time.
///
/// Writes happen in two steps. First the request is judged against the schedule alone (is it a
/// slot, on a resource that performs the service, not in the past...), which answers at once;
/// then the store writes it, and answers through a [`Pending`]. Every write that commits is
/// handed to the service's [`Feed`], once, after its commit, whether or not the caller still
/// waits for the answer (and a write whose outcome is unknown, as having changed anything).
#[derive(Debug, Clone)]
pub struct BookingService {
    repository: Arc<dyn AppointmentRepository>,
    clock: Arc<dyn Clock>,
    /// The schedule every request is judged by, replaced whole when the calendar changes
    /// (shared by the service's clones).
    schedule: Arc<RwLock<Arc<Schedule>>>,
    /// Set when the store refused a write as made under a replaced calendar (a change this
    /// server has not heard of, its notice lost): the next write reads the calendar first.
    calendar_stale: Arc<AtomicBool>,
    hold_duration: Duration,
    holds_per_holder: Option<NonZeroU16>,
    key_lifetime: Duration,
    feed: Option<Arc<dyn Feed>>,
}

/// A write's answer, as the feed needs it: what a committed write changed; or, when nobody
/// can tell whether it committed, that anything may have changed.
trait Committed {
    fn written(&self) -> Option<(&Change, Option<&Event>)>;
}

/// What a write whose outcome is unknown may have changed.
static UNKNOWN: Change = Change::Everything;

fn unknown<R>(error: &WriteError<R>) -> Option<(&'static Change, Option<&'static Event>)> {
    match error {
        WriteError::Storage(error) if error.kind() == StorageErrorKind::OutcomeUnknown => {
            Some((&UNKNOWN, None))
        }
        _ => None,
    }
}

impl<T, R> Committed for WriteResult<Written<T>, R> {
    fn written(&self) -> Option<(&Change, Option<&Event>)> {
        match self {
            Ok(written) => Some((&written.changed, written.event.as_ref())),
            Err(error) => unknown(error),
        }
    }
}

impl<T, R> Committed for WriteResult<Outcome<Written<T>>, R> {
    fn written(&self) -> Option<(&Change, Option<&Event>)> {
        match self {
            Ok(Outcome::Done(written)) => Some((&written.changed, written.event.as_ref())),
            Ok(Outcome::Replayed(_)) => None,
            Err(error) => unknown(error),
        }
    }
}

impl BookingService {
    /// A service over `repository`, following `schedule`, telling time by `clock`.
    pub fn new(
        repository: Arc<dyn AppointmentRepository>,
        clock: Arc<dyn Clock>,
        schedule: Schedule,
    ) -> Self {
        Self {
            repository,
            clock,
            schedule: Arc::new(RwLock::new(Arc::new(schedule))),
            calendar_stale: Arc::new(AtomicBool::new(false)),
            hold_duration: DEFAULT_HOLD_DURATION,
            holds_per_holder: Some(DEFAULT_HOLDS_PER_HOLDER),
            key_lifetime: DEFAULT_KEY_LIFETIME,
            feed: None,
        }
    }

    /// Idempotency keys are remembered for `lifetime`.
    pub fn with_key_lifetime(mut self, lifetime: Duration) -> Self {
        self.key_lifetime = lifetime;
        self
    }

    /// Holds last `duration`.
    pub fn with_hold_duration(mut self, duration: Duration) -> Self {
        self.hold_duration = duration;
        self
    }

    /// A holder named in [`hold`](Self::hold) may have at most `most` active holds; `None`
    /// lifts the cap.
    pub fn with_holds_per_holder(mut self, most: Option<NonZeroU16>) -> Self {
        self.holds_per_holder = most;
        self
    }

    /// Every committed write is handed to `feed`.
    pub fn with_feed(mut self, feed: Arc<dyn Feed>) -> Self {
        self.feed = Some(feed);
        self
    }

    /// The schedule the service follows now.
    pub fn schedule(&self) -> Arc<Schedule> {
        // A panic while the lock was held cannot leave a half-replaced schedule (the write
        // only swaps one pointer): a poisoned lock still holds a whole one.
        self.schedule.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How long holds last.
    pub fn hold_duration(&self) -> Duration {
        self.hold_duration
    }

    /// How long idempotency keys are remembered.
    pub fn key_lifetime(&self) -> Duration {
        self.key_lifetime
    }

    /// The current time by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn idempotency(&self, retry: Option<Retry>, now: DateTime<Utc>) -> Option<Idempotency> {
        retry.map(|Retry { key, fingerprint }| Idempotency {
            key,
            fingerprint,
            now,
            lifetime: self.key_lifetime,
        })
    }

    /// Hands the write's answer to the feed once it commits.
    fn followed<T: 'static, R: 'static>(&self, pending: Pending<T, R>) -> Pending<T, R>
    where
        WriteResult<T, R>: Committed,
    {
        match &self.feed {
            Some(feed) => {
                let feed = feed.clone();
                pending.then(move |answer| {
                    if let Some((change, event)) = answer.written() {
                        feed.committed(change, event);
                    }
                })
            }
            None => pending,
        }
    }

    /// Marks the calendar stale when the store refuses the write as placed under a replaced
    /// version (`changed` says whether a refusal is that), so that the next write follows the
    /// stored calendar even if this server never hears of the change.
    fn watched<T: 'static, R: 'static>(
        &self,
        pending: Pending<T, R>,
        changed: fn(&R) -> bool,
    ) -> Pending<T, R> {
        let stale = self.calendar_stale.clone();
        pending.then(move |answer| {
            if let Err(WriteError::Refused(refusal)) = answer
                && changed(refusal)
            {
                stale.store(true, Ordering::SeqCst);
            }
        })
    }

    /// Follows the stored calendar if a write found this server's version replaced. A read
    /// that fails leaves it marked, for the next write to try again.
    fn follow_if_stale(&self) {
        if self.calendar_stale.swap(false, Ordering::SeqCst) && self.reload_calendar().is_err() {
            self.calendar_stale.store(true, Ordering::SeqCst);
        }
    }

    /// How long before its start `by` can no longer cancel or move an appointment: the
    /// business's cancellation notice holds everyone but its operators (as the schedule's time
    /// rules do in `book_by`).
    fn change_notice(&self, by: Actor) -> Duration {
        match by {
            Actor::Operator => Duration::zero(),
            Actor::Client | Actor::System => self.schedule().cancel_notice(),
        }
    }

    fn service_of<'s>(
        schedule: &'s Schedule,
        slug: Option<&Slug>,
    ) -> Result<Option<&'s Service>, ChoiceError> {
        slug.map(|slug| schedule.service(slug)).transpose()
    }

    /// Where the request could go, in order of preference, and the rule to judge it by (under
    /// `time`'s rules). With `early_check`, a start that can never be booked (past, too soon, too
    /// far) is refused before the store is asked.
    fn placements(
        &self,
        request: &SlotRequest,
        now: DateTime<Utc>,
        early_check: bool,
        time: TimeRules,
    ) -> Result<(Vec<Placement>, Admission), PlacementError> {
        self.follow_if_stale();
        let schedule = self.schedule();
        let service = Self::service_of(&schedule, request.service.as_ref())?;
        let resources = schedule.candidates(request.resource.as_ref(), service)?;
        let mut placements = Vec::new();
        let mut first_error = None;
        for resource in resources {
            match schedule.place(request.date, request.time, resource, service) {
                Ok(placement) => placements.push(placement),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        let admission = match time {
            TimeRules::Schedule => schedule.admission(now, service),
            TimeRules::FutureOnly => Admission::future_only(now),
        };
        match (placements.first(), first_error) {
            (Some(first), _) if early_check => admission.check_time(first.slot.start())?,
            (Some(_), _) => {}
            (None, Some(error)) => return Err(error.into()),
            (None, None) => return Err(Unavailable::OutsideHours.into()),
        }
        Ok((placements, admission))
    }

    /// Books the request (converting its hold, if it names one), on the first resource that
    /// can take it; with `retry`, at most once per key.
    pub fn book(
        &self,
        request: BookRequest,
        retry: Option<Retry>,
    ) -> Result<Pending<Outcome<Written<Appointment>>, BookFailure>, PlacementError> {
        self.book_by(Actor::Client, request, retry)
    }

    /// Books as [`book`](Self::book) does, on behalf of `by` (the history and the webhooks say
    /// who). An operator, booking for a client on the phone or at the desk, is held to no
    /// minimum notice and no horizon; nobody books the past, a closed time or a full slot.
    pub fn book_by(
        &self,
        by: Actor,
        request: BookRequest,
        retry: Option<Retry>,
    ) -> Result<Pending<Outcome<Written<Appointment>>, BookFailure>, PlacementError> {
        let now = self.clock.now();
        let time = match by {
            Actor::Operator => TimeRules::FutureOnly,
            Actor::Client | Actor::System => TimeRules::Schedule,
        };
        let (candidates, admission) = self.placements(&request.slot, now, true, time)?;
        let booking = Booking {
            id: AppointmentId::random(),
            client_name: request.client_name,
            notes: request.notes,
            contact: request.contact,
            candidates,
            hold: request.hold,
            by,
        };
        let written = self.repository.book(booking, admission, self.idempotency(retry, now));
        Ok(self.followed(self.watched(written, |refusal| {
            matches!(refusal, BookFailure::Unavailable(Unavailable::CalendarChanged))
        })))
    }

    /// Holds the requested placement for the hold duration, for `holder` (who counts against
    /// the holds-per-holder cap; `None`: nobody in particular, uncapped).
    pub fn hold(
        &self,
        request: &SlotRequest,
        holder: Option<&str>,
    ) -> Result<Pending<Written<Hold>, HoldFailure>, PlacementError> {
        let now = self.clock.now();
        let (candidates, admission) = self.placements(request, now, true, TimeRules::Schedule)?;
        let expires_at = (now + self.hold_duration).trunc_subsecs(0);
        let quota = holder
            .zip(self.holds_per_holder)
            .map(|(holder, most)| HoldQuota { holder: holder.to_owned(), most });
        let request = HoldRequest { token: HoldToken::random(), candidates, expires_at, quota };
        Ok(self.followed(self.watched(self.repository.hold(request, admission), |refusal| {
            matches!(refusal, HoldFailure::Unavailable(Unavailable::CalendarChanged))
        })))
    }

    /// Forgets at most `most` idempotency records older than the key lifetime and `most` holds
    /// that have expired (a sweep apart from client writes; see
    /// [`AppointmentRepository::forget_expired`]); answers how many of each.
    pub fn forget_expired(&self, most: u32) -> Pending<Forgotten, Infallible> {
        let now = self.clock.now();
        let expired = Expired {
            keys_made_by: now - self.key_lifetime,
            holds_ended_by: now,
            deliveries_settled_by: now - SETTLED_DELIVERIES_KEPT,
            most,
        };
        self.repository.forget_expired(expired)
    }

    /// Ends a hold early.
    pub fn release_hold(&self, token: HoldToken) -> Pending<Written<Hold>, HoldNotFound> {
        self.followed(self.repository.release_hold(token, self.clock.now()))
    }

    /// Cancels, for its client, an appointment that has not started, recording `reason` in its
    /// history; with `retry`, at most once per key.
    pub fn cancel(
        &self,
        id: AppointmentId,
        reason: Option<Reason>,
        retry: Option<Retry>,
    ) -> Pending<Outcome<Written<Appointment>>, CancelFailure> {
        self.cancel_by(Actor::Client, id, reason, retry)
    }

    /// Cancels as [`cancel`](Self::cancel) does, on behalf of `by` (the history and the
    /// webhooks say who).
    pub fn cancel_by(
        &self,
        by: Actor,
        id: AppointmentId,
        reason: Option<Reason>,
        retry: Option<Retry>,
    ) -> Pending<Outcome<Written<Appointment>>, CancelFailure> {
        let now = self.clock.now();
        let notice = self.change_notice(by);
        let cancellation = Cancellation { id, now, by, reason, notice };
        self.followed(self.repository.cancel(cancellation, self.idempotency(retry, now)))
    }

    /// Records, for the business's staff, how an appointment that has started ended: completed
    /// or a no-show. Final; recording it again changes nothing.
    pub fn conclude(
        &self,
        id: AppointmentId,
        conclusion: Conclusion,
        reason: Option<Reason>,
    ) -> Pending<Written<Appointment>, ConcludeFailure> {
        let concluding =
            Concluding { id, conclusion, now: self.clock.now(), by: Actor::Operator, reason };
        self.followed(self.repository.conclude(concluding))
    }

    /// Moves an appointment, for its client, to the slot at a local date and time on its
    /// resource, or leaves it where it is.
    pub fn reschedule(
        &self,
        id: AppointmentId,
        date: NaiveDate,
        time: NaiveTime,
        retry: Option<Retry>,
    ) -> Result<Pending<Outcome<Written<Appointment>>, RescheduleFailure>, RescheduleError> {
        let to = SlotRequest { date, time, resource: None, service: None };
        self.reschedule_by(Actor::Client, id, to, retry)
    }

    /// Moves as [`reschedule`](Self::reschedule) does, on behalf of `by`, under the same rules,
    /// to `to`: its `resource` and `service` when given (the resource must offer the service),
    /// else the appointment's own. Another service places it on the slots that one takes.
    pub fn reschedule_by(
        &self,
        by: Actor,
        id: AppointmentId,
        to: SlotRequest,
        retry: Option<Retry>,
    ) -> Result<Pending<Outcome<Written<Appointment>>, RescheduleFailure>, RescheduleError> {
        // The resource and service not asked for are the appointment's as the mover saw them:
        // the move keeps them, and the write places it on the slots that service takes there
        // (a move made meanwhile by someone else is overwritten, as any later move would). The
        // write re-checks everything else.
        let current = self.repository.get(id)?.ok_or(RescheduleError::NotFound)?;
        let request = SlotRequest {
            resource: to.resource.or_else(|| Some(current.resource().clone())),
            service: to.service.or_else(|| current.service().cloned()),
            ..to
        };
        // Asking for the slot it holds is a no-op whatever the time rules say, so they are
        // left to the store, which applies them only to a real move.
        let now = self.clock.now();
        let (mut candidates, admission) =
            self.placements(&request, now, false, TimeRules::Schedule)?;
        if candidates.is_empty() {
            return Err(PlacementError::Unavailable(Unavailable::OutsideHours).into());
        }
        let to = candidates.swap_remove(0);
        let admission = admission.with_change_notice(self.change_notice(by));
        let idempotency = self.idempotency(retry, now);
        let written = self.repository.reschedule(id, to, admission, by, idempotency);
        Ok(self.followed(self.watched(written, |refusal| {
            matches!(refusal, RescheduleFailure::Unavailable(Unavailable::CalendarChanged))
        })))
    }

    /// One appointment.
    pub fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        self.repository.get(id)
    }

    /// One appointment, answered when the store has read it (see
    /// [`AppointmentRepository::find`]): what an async caller awaits instead of blocking.
    pub fn find(&self, id: AppointmentId) -> Pending<Option<Appointment>, Infallible> {
        self.repository.find(id)
    }

    /// Every change the appointment went through, oldest first; `None` when there is no such
    /// appointment.
    pub fn history(&self, id: AppointmentId) -> Result<Option<Vec<Entry>>, StorageError> {
        self.repository.history(id)
    }

    /// One appointment with its revision. The history is read first, so the appointment is
    /// never older than its revision says (a change between the reads shows with the revision
    /// before it, and the next read counts it).
    pub fn revised(&self, id: AppointmentId) -> Result<Option<Revised>, StorageError> {
        let entries = self.repository.history(id)?.unwrap_or_default();
        let appointment = self.repository.get(id)?;
        Ok(appointment
            .map(|appointment| Revised { appointment, revision: Entry::revision(&entries) }))
    }

    /// The appointments of `resource` (any status) that start at or after `from`, ordered by
    /// start then id, each once, with its revision; at most `most`. Each revision counts the
    /// changes up to the appointment's last change as listed (a change committed after the
    /// listing read it is counted by the next listing, with it), and an appointment moved
    /// between two pages is listed once.
    pub fn revised_on(
        &self,
        resource: &Slug,
        from: DateTime<Utc>,
        most: usize,
    ) -> Result<Vec<Revised>, StorageError> {
        let mut revised = Vec::new();
        let mut query = AppointmentQuery {
            from: Some(from),
            resource: Some(resource.clone()),
            limit: u32::try_from(MAX_HISTORIES).unwrap_or(u32::MAX),
            ..AppointmentQuery::default()
        };
        let mut seen = std::collections::HashSet::new();
        while revised.len() < most {
            let mut page = self.repository.appointments(&query)?;
            let ids: Vec<AppointmentId> = page.iter().map(Appointment::id).collect();
            let histories = self.repository.histories(&ids)?;
            let full = page.len() == MAX_HISTORIES;
            query.after = page.last().map(|last| (last.slot().start(), last.id()));
            page.retain(|appointment| seen.insert(appointment.id()));
            revised.extend(page.into_iter().take(most - revised.len()).map(|appointment| {
                let entries = histories.get(&appointment.id()).map_or(&[][..], Vec::as_slice);
                let known = entries.iter().take_while(|e| e.at <= appointment.updated_at()).count();
                Revised { revision: Entry::revision(&entries[..known]), appointment }
            }));
            if !full {
                break;
            }
        }
        Ok(revised)
    }

    /// The appointments that keep their places, have not ended, and that this service's
    /// schedule does not describe as they were booked ([`Schedule::strands`]): serving this schedule would
    /// count them in the wrong slots. Read page by page.
    pub fn stranded(&self) -> Result<Vec<Stranded>, StorageError> {
        self.stranded_under(&self.schedule())
    }

    /// The appointments that keep their places, have not ended, and that `schedule` strands or
    /// overbooks, as [`stranded`](Self::stranded) finds them.
    pub fn stranded_under(&self, schedule: &Schedule) -> Result<Vec<Stranded>, StorageError> {
        let now = self.clock.now();
        // An appointment lies inside one opening range of one local day, so one that started
        // two days ago has ended (its cleanup too, but with buffers of more than a day).
        let mut query = AppointmentQuery {
            // Every status: `stranded` keeps those that occupy their places.
            from: Some(now - Duration::days(2)),
            limit: 200,
            ..AppointmentQuery::default()
        };
        let mut found = Vec::new();
        // An appointment moved later between two pages is listed twice: count it once.
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut page = self.repository.appointments(&query)?;
            let full = page.len() == query.limit as usize;
            query.after = page.last().map(|last| (last.slot().start(), last.id()));
            page.retain(|appointment| seen.insert(appointment.id()));
            found.extend(page);
            if !full {
                // All at once: a slot's appointments are counted together against its capacity.
                return Ok(stranded(schedule, &found, now));
            }
        }
    }

    /// Appointments for the operator.
    pub fn appointments(&self, query: &AppointmentQuery) -> Result<Vec<Appointment>, StorageError> {
        self.repository.appointments(query)
    }

    /// Every slot of the range on the chosen resources (all that perform the service when none
    /// is named), each with its usage and whether the service can start there now.
    pub fn availability(
        &self,
        range: DateRange,
        resource: Option<&Slug>,
        service: Option<&Slug>,
    ) -> Result<Availability, AvailabilityError> {
        let plan = self.plan_availability(range, resource, service)?;
        let (usage, closures) = self.read_availability(&plan)?;
        Ok(self.judge(plan, &usage, &closures))
    }

    /// The slots a listing covers, before anything is read.
    pub fn plan_availability(
        &self,
        range: DateRange,
        resource: Option<&Slug>,
        service: Option<&Slug>,
    ) -> Result<ListingPlan, ChoiceError> {
        let schedule = self.schedule();
        let service = Self::service_of(&schedule, service)?;
        let resources = schedule.candidates(resource, service)?;
        Ok(ListingPlan::new(&schedule, range, &resources, service))
    }

    /// What a listing needs from the store: the usage and closures of its span.
    pub fn read_availability(
        &self,
        plan: &ListingPlan,
    ) -> Result<(UsageMap, Vec<Closure>), StorageError> {
        match plan.span() {
            Some((from, to)) => Ok((
                self.repository.usage(plan.single_resource(), from, to, self.clock.now())?,
                self.repository.closures(from, to + self.schedule().slot_length().duration())?,
            )),
            None => Ok((UsageMap::new(), Vec::new())),
        }
    }

    /// Judges every slot of a listing at the current time.
    pub fn judge(&self, plan: ListingPlan, usage: &UsageMap, closures: &[Closure]) -> Availability {
        let admission = self.schedule().admission(self.clock.now(), plan.service());
        plan.judge(&admission, closures, usage)
    }

    /// The usage of these slots of `resource`, now.
    pub fn usage(
        &self,
        resource: &Slug,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<UsageMap, StorageError> {
        self.repository.usage(Some(resource), from, to, self.clock.now())
    }

    /// Closes a resource (or, with none, the business) for a period; the outcome is the closure
    /// and the scheduled appointments inside it, which are left for the operator to move or
    /// cancel.
    pub fn close(
        &self,
        resource: Option<Slug>,
        period: Slot,
        reason: Option<String>,
    ) -> Result<Pending<Written<Closed>, Infallible>, ChoiceError> {
        if let Some(slug) = &resource {
            self.schedule().resource(slug)?;
        }
        let closure = Closure {
            id: ClosureId::random(),
            resource,
            period,
            reason,
            created_at: self.clock.now().trunc_subsecs(0),
        };
        Ok(self.followed(self.repository.add_closure(closure)))
    }

    /// Removes a closure.
    pub fn reopen(&self, id: ClosureId) -> Pending<Written<Closure>, ClosureNotFound> {
        self.followed(self.repository.remove_closure(id, self.clock.now()))
    }

    /// Every closure that overlaps `from..to`.
    pub fn closures(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Closure>, StorageError> {
        self.repository.closures(from, to)
    }

    /// Whether the store can serve requests.
    pub fn check_health(&self) -> Result<(), StorageError> {
        self.repository.check_health()
    }

    /// Whether the store can take a write now (see
    /// [`AppointmentRepository::check_writable`]).
    pub fn check_writable(&self) -> Pending<(), Infallible> {
        self.repository.check_writable(self.clock.now())
    }

    /// Registers a webhook endpoint at `url` (checked by the caller), signed with `secret`.
    pub fn subscribe(
        &self,
        url: String,
        subscription: Subscription,
        secret: Secret,
    ) -> Pending<Endpoint, TooManyEndpoints> {
        let created_at = self.clock.now().trunc_subsecs(0);
        let endpoint = Endpoint { id: EndpointId::random(), url, subscription, secret, created_at };
        self.repository.add_endpoint(endpoint)
    }

    /// Every webhook endpoint, oldest first.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>, StorageError> {
        self.repository.endpoints()
    }

    /// Removes a webhook endpoint with the deliveries queued for it.
    pub fn unsubscribe(&self, id: EndpointId) -> Pending<Endpoint, EndpointNotFound> {
        self.repository.remove_endpoint(id)
    }

    /// An endpoint's newest deliveries, newest first; `None` when there is no such endpoint.
    pub fn deliveries(&self, id: EndpointId) -> Result<Option<Vec<Delivery>>, StorageError> {
        self.repository.deliveries(id, MAX_DELIVERIES_LISTED)
    }

    /// Claims up to `most` due deliveries for one attempt each, for `lease` (see
    /// [`Outbox::claim`](crate::webhook::Outbox::claim)).
    pub fn claim_deliveries(
        &self,
        most: usize,
        lease: Duration,
    ) -> Pending<Vec<Claimed>, Infallible> {
        let now = self.clock.now();
        self.repository.claim(ClaimRequest { now, lease_until: now + lease, most })
    }

    /// Records how the attempt `claimed` went; after a failure, retried `retry_in` from now,
    /// or failed for good without it.
    pub fn settle_delivery(
        &self,
        claimed: &Claimed,
        result: Attempt,
        retry_in: Option<Duration>,
    ) -> Pending<bool, Infallible> {
        let settlement = self.settlement(claimed.delivery, claimed.attempt, result, retry_in);
        self.repository.settle(settlement)
    }

    /// Puts `plan` in force for notifications (`None`: mail is off), as of now (see
    /// [`Notifications::plan_notifications`](crate::notification::Notifications::plan_notifications)).
    pub fn plan_notifications(&self, plan: Option<Plan>) -> Pending<Planned, Infallible> {
        self.repository.plan_notifications(plan, self.clock.now().trunc_subsecs(0))
    }

    /// The newest notifications, newest first, of every state or of `state`.
    pub fn notifications(
        &self,
        state: Option<NotificationState>,
    ) -> Result<Vec<Notification>, StorageError> {
        self.repository.notifications(state, MAX_NOTIFICATIONS_LISTED)
    }

    /// Claims up to `most` due notifications for one attempt each, for `lease`.
    pub fn claim_notifications(
        &self,
        most: usize,
        lease: Duration,
    ) -> Pending<Vec<ClaimedNotification>, Infallible> {
        let now = self.clock.now();
        self.repository.claim_notifications(ClaimRequest { now, lease_until: now + lease, most })
    }

    /// Records how the attempt `claimed` went, as [`settle_delivery`](Self::settle_delivery)
    /// does for a webhook.
    pub fn settle_notification(
        &self,
        claimed: &ClaimedNotification,
        result: Attempt,
        retry_in: Option<Duration>,
    ) -> Pending<bool, Infallible> {
        let settlement = self.settlement(claimed.notification, claimed.attempt, result, retry_in);
        self.repository.settle_notification(settlement)
    }

    /// The end of an attempt, now; after a failure, retried `retry_in` from now (or given up).
    fn settlement<I>(
        &self,
        delivery: I,
        attempt: u32,
        result: Attempt,
        retry_in: Option<Duration>,
    ) -> Settlement<I> {
        let at = self.clock.now().trunc_subsecs(0);
        let retry_at = match result {
            Attempt::Delivered => None,
            // Stores keep whole seconds: rounded up, a retry is never early.
            // A delay past the calendar's end gives up rather than overflow.
            Attempt::Failed { .. } => retry_in.and_then(|delay| {
                let due = at.checked_add_signed(delay)?;
                let whole = due.trunc_subsecs(0);
                if whole < due {
                    whole.checked_add_signed(Duration::seconds(1))
                } else {
                    Some(whole)
                }
            }),
        };
        Settlement { delivery, attempt, result, at, retry_at }
    }
}

/// Why availability could not be listed.
#[derive(Debug, Error)]
pub enum AvailabilityError {
    /// The resource or service does not exist, or do not go together.
    #[error(transparent)]
    Choice(#[from] ChoiceError),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The time rules a request's start is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeRules {
    /// The schedule's (or the service's) minimum notice and horizon: every client's request,
    /// and an operator's move.
    Schedule,
    /// Only that it starts in the future: an operator's booking for a client.
    FutureOnly,
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::{clock::ManualClock, memory::InMemoryRepository};

    /// Remembers what it was fed.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<(Change, Option<&'static str>)>>);

    impl Feed for Recorder {
        fn committed(&self, change: &Change, event: Option<&Event>) {
            self.0.lock().unwrap().push((change.clone(), event.map(Event::name)));
        }
    }

    fn request(time: &str) -> BookRequest {
        BookRequest {
            client_name: ClientName::parse("Ada").unwrap(),
            notes: None,
            contact: Contact::default(),
            slot: SlotRequest {
                date: "2030-01-07".parse().unwrap(),
                time: time.parse().unwrap(),
                resource: None,
                service: None,
            },
            hold: None,
        }
    }

    /// Every committed write reaches the feed once, in the order the writes committed, with the
    /// change it returned; refusals and replays are not fed.
    #[test]
    fn the_feed_hears_each_committed_write_once_in_order() {
        let recorder = Arc::new(Recorder::default());
        let service = BookingService::new(
            Arc::new(InMemoryRepository::new()),
            Arc::new(ManualClock::new("2030-01-01T00:00:00Z".parse().unwrap())),
            Schedule::default(),
        )
        .with_feed(recorder.clone());
        let retry = || Retry {
            key: IdempotencyKey::parse("once").unwrap(),
            fingerprint: "book 10:00".to_owned(),
        };
        let booked = service.book(request("10:00:00"), Some(retry())).unwrap().wait().unwrap();
        let booked = booked.done().unwrap();
        let replayed = service.book(request("10:00:00"), Some(retry())).unwrap().wait().unwrap();
        assert!(replayed.done().is_none());
        assert!(service.book(request("10:00:00"), None).unwrap().wait().is_err(), "full");
        let id = booked.outcome.id();
        let moved = service
            .reschedule(id, "2030-01-07".parse().unwrap(), "11:00:00".parse().unwrap(), None)
            .unwrap()
            .wait()
            .unwrap()
            .done()
            .unwrap();
        let canceled = service.cancel(id, None, None).wait().unwrap().done().unwrap();
        let fed = recorder.0.lock().unwrap().clone();
        assert_eq!(
            fed,
            [
                (booked.changed, Some("appointment.scheduled")),
                (moved.changed, Some("appointment.rescheduled")),
                (canceled.changed, Some("appointment.canceled")),
            ]
        );
    }

    /// An operator books for a client inside the minimum notice and past the horizon, where the
    /// client is refused; not in the past, and not where the slot is full. The history says the
    /// operator booked it.
    #[test]
    fn an_operator_books_past_the_notice_and_horizon_a_client_is_held_to() {
        // Monday 2030-01-07 09:45 UTC: one day's notice, a week's horizon.
        let service = BookingService::new(
            Arc::new(InMemoryRepository::new()),
            Arc::new(ManualClock::new("2030-01-07T09:45:00Z".parse().unwrap())),
            Schedule::default()
                .with_min_notice(Duration::days(1))
                .with_horizon(Some(Duration::days(7))),
        );
        let on = |date: &str, time: &str| {
            let mut booking = request(time);
            booking.slot.date = date.parse().unwrap();
            booking
        };
        let refused = |result: Result<_, PlacementError>| match result {
            Err(PlacementError::Unavailable(why)) => why,
            Err(other) => panic!("refused for another reason: {other:?}"),
            Ok(_) => panic!("booked"),
        };
        assert!(matches!(
            refused(service.book(on("2030-01-07", "10:00:00"), None)),
            Unavailable::TooSoon { .. }
        ));
        assert!(matches!(
            refused(service.book(on("2030-02-04", "10:00:00"), None)),
            Unavailable::BeyondHorizon { .. }
        ));
        for (date, time) in [("2030-01-07", "10:00:00"), ("2030-02-04", "10:00:00")] {
            let booked = service
                .book_by(Actor::Operator, on(date, time), None)
                .unwrap()
                .wait()
                .unwrap()
                .done()
                .unwrap();
            let history = service.history(booked.outcome.id()).unwrap().unwrap();
            assert_eq!(history[0].by, Actor::Operator, "{date} {time}");
        }
        assert!(matches!(
            refused(service.book_by(Actor::Operator, on("2030-01-07", "09:00:00"), None)),
            Unavailable::Past
        ));
        let full = service.book_by(Actor::Operator, on("2030-01-07", "10:00:00"), None).unwrap();
        assert!(matches!(
            full.wait(),
            Err(WriteError::Refused(BookFailure::Unavailable(Unavailable::Full { .. })))
        ));
    }

    /// The feed's listing pages through the store and counts each appointment's changes; it
    /// stops at `most`.
    #[test]
    fn revised_appointments_are_listed_past_a_page_with_their_revisions() {
        let service = BookingService::new(
            Arc::new(InMemoryRepository::new()),
            Arc::new(ManualClock::new("2030-01-01T00:00:00Z".parse().unwrap())),
            Schedule::default(),
        );
        let mut booked = Vec::new();
        let first: NaiveDate = "2030-01-07".parse().unwrap();
        for day in first.iter_days().take(40) {
            for hour in 9..17 {
                let time = NaiveTime::from_hms_opt(hour, 0, 0).unwrap();
                let slot = SlotRequest { date: day, time, resource: None, service: None };
                if let Ok(pending) = service.book(BookRequest { slot, ..request("09:00:00") }, None)
                {
                    booked.push(pending.wait().unwrap().done().unwrap().outcome);
                }
            }
        }
        assert!(booked.len() > MAX_HISTORIES + 10, "{} booked", booked.len());
        let moved = booked[MAX_HISTORIES + 1].id();
        let to = booked[MAX_HISTORIES + 1].slot().start().date_naive();
        service.reschedule(moved, to, "09:30:00".parse().unwrap(), None).unwrap().wait().unwrap();
        service.cancel(moved, None, None).wait().unwrap();

        let resource = service.schedule().resources()[0].slug.clone();
        let listed = service.revised_on(&resource, booked[0].slot().start(), usize::MAX).unwrap();
        assert_eq!(listed.len(), booked.len());
        let revisions: Vec<u32> =
            listed.iter().filter(|r| r.revision > 0).map(|r| r.revision).collect();
        assert_eq!(revisions, [2]);
        assert_eq!(
            listed.iter().find(|r| r.revision == 2).map(|r| r.appointment.id()),
            Some(moved)
        );
        assert_eq!(service.revised_on(&resource, booked[0].slot().start(), 5).unwrap().len(), 5);
        assert_eq!(service.revised(moved).unwrap().map(|r| r.revision), Some(2));
        assert_eq!(service.revised(AppointmentId::random()).unwrap(), None);
    }
}
