//! The booking use cases: what the HTTP API (or any other front end) calls.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, SubsecRound, Utc};
use thiserror::Error;

use crate::{
    appointment::{Appointment, AppointmentId, RescheduleRefusal},
    availability::{Admission, Availability, DateRange, ListingPlan, Unavailable, UsageMap},
    catalog::{Service, Slug},
    client::{ClientName, Notes},
    clock::Clock,
    closure::{Closure, ClosureId},
    hold::{Hold, HoldToken},
    idempotency::{DEFAULT_KEY_LIFETIME, Idempotency, IdempotencyKey, Outcome, Render},
    repository::{
        AppointmentQuery, AppointmentRepository, BookFailure, Booking, CancelFailure,
        ClosureNotFound, HoldNotFound, HoldRequest, RescheduleFailure, Rescheduled, StorageError,
        WriteError,
    },
    schedule::{ChoiceError, Placement, Schedule, Slot, SlotError},
};

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

/// A client's key for a write and what the write must store under it; the service adds the
/// time and how long keys are remembered.
#[derive(Clone, Copy)]
pub struct Retry<'a> {
    /// The client's key.
    pub key: &'a IdempotencyKey,
    /// What identifies the request.
    pub fingerprint: &'a str,
    /// Renders the answer to store.
    pub render: Render<'a>,
}

impl std::fmt::Debug for Retry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Retry(..)")
    }
}

/// Why a booking was not made.
#[derive(Debug, Error)]
pub enum BookError {
    /// The request names no bookable placement.
    #[error(transparent)]
    Placement(#[from] PlacementError),
    /// The store refused it.
    #[error(transparent)]
    Refused(#[from] BookFailure),
    /// The idempotency key was used for a different request.
    #[error("the idempotency key was used for a different request")]
    KeyReused,
    /// The store failed; nothing was booked.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a hold was not made.
#[derive(Debug, Error)]
pub enum HoldError {
    /// The request names no bookable placement.
    #[error(transparent)]
    Placement(#[from] PlacementError),
    /// The store failed; nothing was held.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why an appointment was not canceled.
pub type CancelError = WriteError<CancelFailure>;

/// Why an appointment was not moved.
#[derive(Debug, Error)]
pub enum RescheduleError {
    /// No appointment has the id.
    #[error("appointment not found")]
    NotFound,
    /// The new time names no bookable placement.
    #[error(transparent)]
    Placement(#[from] PlacementError),
    /// The appointment's state forbids it.
    #[error(transparent)]
    Refused(#[from] RescheduleRefusal),
    /// The idempotency key was used for a different request.
    #[error("the idempotency key was used for a different request")]
    KeyReused,
    /// The store failed; nothing changed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a closure was not made.
#[derive(Debug, Error)]
pub enum ClosureError {
    /// The resource does not exist.
    #[error(transparent)]
    Choice(#[from] ChoiceError),
    /// The store failed; nothing was closed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl<T> From<WriteError<T>> for RescheduleError
where
    RescheduleFailure: From<T>,
{
    fn from(error: WriteError<T>) -> Self {
        match error {
            WriteError::Refused(failure) => match RescheduleFailure::from(failure) {
                RescheduleFailure::NotFound => Self::NotFound,
                RescheduleFailure::Refused(refusal) => Self::Refused(refusal),
                RescheduleFailure::Unavailable(why) => Self::Placement(why.into()),
            },
            WriteError::KeyReused => Self::KeyReused,
            WriteError::Storage(error) => Self::Storage(error),
        }
    }
}

/// The booking service: the schedule's rules over a repository, at the clock's time.
#[derive(Debug, Clone)]
pub struct BookingService {
    repository: Arc<dyn AppointmentRepository>,
    clock: Arc<dyn Clock>,
    schedule: Schedule,
    hold_duration: Duration,
    key_lifetime: Duration,
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
            schedule,
            hold_duration: DEFAULT_HOLD_DURATION,
            key_lifetime: DEFAULT_KEY_LIFETIME,
        }
    }

    /// Idempotency keys are remembered for `lifetime`.
    pub fn with_key_lifetime(mut self, lifetime: Duration) -> Self {
        self.key_lifetime = lifetime;
        self
    }

    fn idempotency<'a>(
        &self,
        retry: Option<Retry<'a>>,
        now: DateTime<Utc>,
    ) -> Option<Idempotency<'a>> {
        retry.map(|retry| Idempotency {
            key: retry.key,
            fingerprint: retry.fingerprint,
            now,
            lifetime: self.key_lifetime,
            render: retry.render,
        })
    }

    /// Holds last `duration`.
    pub fn with_hold_duration(mut self, duration: Duration) -> Self {
        self.hold_duration = duration;
        self
    }

    /// The schedule the service follows.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// How long holds last.
    pub fn hold_duration(&self) -> Duration {
        self.hold_duration
    }

    /// The current time by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn service_of(&self, slug: Option<&Slug>) -> Result<Option<&Service>, ChoiceError> {
        slug.map(|slug| self.schedule.service(slug)).transpose()
    }

    /// Where the request could go, in order of preference, and the rule to judge it by. With
    /// `early_check`, a start that can never be booked (past, too soon, too far) is refused
    /// before the store is asked.
    fn placements(
        &self,
        request: &SlotRequest,
        now: DateTime<Utc>,
        early_check: bool,
    ) -> Result<(Vec<Placement>, Admission), PlacementError> {
        let service = self.service_of(request.service.as_ref())?;
        let resources = self.schedule.candidates(request.resource.as_ref(), service)?;
        let mut placements = Vec::new();
        let mut first_error = None;
        for resource in resources {
            match self.schedule.place(request.date, request.time, resource, service) {
                Ok(placement) => placements.push(placement),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        let admission = self.schedule.admission(now, service);
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
        retry: Option<Retry<'_>>,
    ) -> Result<Outcome<Appointment>, BookError> {
        let now = self.clock.now();
        let (candidates, admission) = self.placements(&request.slot, now, true)?;
        let booking = Booking {
            id: AppointmentId::random(),
            client_name: request.client_name,
            notes: request.notes,
            candidates,
            hold: request.hold,
        };
        self.repository.book(&booking, &admission, self.idempotency(retry, now)).map_err(|error| {
            match error {
                WriteError::Refused(failure) => BookError::Refused(failure),
                WriteError::KeyReused => BookError::KeyReused,
                WriteError::Storage(error) => BookError::Storage(error),
            }
        })
    }

    /// Holds the requested placement for the hold duration.
    pub fn hold(&self, request: &SlotRequest) -> Result<Hold, HoldError> {
        let now = self.clock.now();
        let (candidates, admission) = self.placements(request, now, true)?;
        let expires_at = (now + self.hold_duration).trunc_subsecs(0);
        let request = HoldRequest { token: HoldToken::random(), candidates, expires_at };
        self.repository.hold(&request, &admission).map_err(|error| match error {
            WriteError::Refused(why) => HoldError::Placement(why.into()),
            // Holds carry no idempotency key, so a store that answers this is broken.
            WriteError::KeyReused => {
                HoldError::Storage(StorageError::fault("a hold was refused for a key it never had"))
            }
            WriteError::Storage(error) => HoldError::Storage(error),
        })
    }

    /// Ends a hold early.
    pub fn release_hold(&self, token: &HoldToken) -> Result<Hold, WriteError<HoldNotFound>> {
        self.repository.release_hold(token, self.clock.now())
    }

    /// Cancels an appointment that has not started; with `retry`, at most once per key.
    pub fn cancel(
        &self,
        id: AppointmentId,
        retry: Option<Retry<'_>>,
    ) -> Result<Outcome<Appointment>, CancelError> {
        let now = self.clock.now();
        self.repository.cancel(id, now, self.idempotency(retry, now))
    }

    /// Moves an appointment to the slot at a local date and time on its resource, or leaves
    /// it where it is.
    pub fn reschedule(
        &self,
        id: AppointmentId,
        date: NaiveDate,
        time: NaiveTime,
        retry: Option<Retry<'_>>,
    ) -> Result<Outcome<Rescheduled>, RescheduleError> {
        // An appointment's resource and service never change, so reading them before the
        // write is safe; the write re-checks everything else.
        let current = self.repository.get(id)?.ok_or(RescheduleError::NotFound)?;
        let request = SlotRequest {
            date,
            time,
            resource: Some(current.resource().clone()),
            service: current.service().cloned(),
        };
        // Asking for the slot it holds is a no-op whatever the time rules say, so they are
        // left to the store, which applies them only to a real move.
        let now = self.clock.now();
        let (candidates, admission) = self.placements(&request, now, false)?;
        let to =
            candidates.first().ok_or(PlacementError::Unavailable(Unavailable::OutsideHours))?;
        Ok(self.repository.reschedule(id, to, &admission, self.idempotency(retry, now))?)
    }

    /// One appointment.
    pub fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        self.repository.get(id)
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
        let service = self.service_of(service)?;
        let resources = self.schedule.candidates(resource, service)?;
        Ok(ListingPlan::new(&self.schedule, range, &resources, service))
    }

    /// What a listing needs from the store: the usage and closures of its span.
    pub fn read_availability(
        &self,
        plan: &ListingPlan,
    ) -> Result<(UsageMap, Vec<Closure>), StorageError> {
        match plan.span() {
            Some((from, to)) => Ok((
                self.repository.usage(plan.single_resource(), from, to, self.clock.now())?,
                self.repository.closures(from, to + self.schedule.slot_length().duration())?,
            )),
            None => Ok((UsageMap::new(), Vec::new())),
        }
    }

    /// Judges every slot of a listing at the current time.
    pub fn judge(&self, plan: ListingPlan, usage: &UsageMap, closures: &[Closure]) -> Availability {
        let admission = self.schedule.admission(self.clock.now(), plan.service());
        plan.judge(&admission, closures, usage)
    }

    /// The usage of every slot from `from` to `to`, both included, now.
    pub fn usage(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<UsageMap, StorageError> {
        self.repository.usage(None, from, to, self.clock.now())
    }

    /// Closes a resource (or, with none, the business) for a period; returns the closure and
    /// the scheduled appointments inside it, which are left for the operator to move or cancel.
    pub fn close(
        &self,
        resource: Option<Slug>,
        period: Slot,
        reason: Option<String>,
    ) -> Result<(Closure, Vec<Appointment>), ClosureError> {
        if let Some(slug) = &resource {
            self.schedule.resource(slug)?;
        }
        let closure = Closure {
            id: ClosureId::random(),
            resource,
            period,
            reason,
            created_at: self.clock.now(),
        };
        let covered = self.repository.add_closure(&closure)?;
        Ok((closure, covered))
    }

    /// Removes a closure.
    pub fn reopen(&self, id: ClosureId) -> Result<Closure, WriteError<ClosureNotFound>> {
        self.repository.remove_closure(id)
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
