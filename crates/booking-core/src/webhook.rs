//! Webhooks: endpoints that subscribe to appointment events, and the outbox of deliveries to
//! them.
//!
//! Every change an appointment's history records queues one delivery per subscribed endpoint in
//! the same transaction as the change (see [`Outbox`]), so there is no event without its change
//! and no change without its event. A worker then claims the due deliveries, sends them, and
//! settles each one: delivered, to be retried at a later time, or failed for good.

use std::{collections::BTreeSet, convert::Infallible, fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use thiserror::Error;
use uuid::Uuid;

use crate::{
    appointment::{Appointment, AppointmentId, AppointmentRecord},
    history::{Actor, Entry, Left, Reason, Transition},
    pending::Pending,
    storage::StorageError,
    units::Slot,
};

/// The most endpoints a business may register: every appointment write queues a delivery for
/// each, in its own transaction.
pub const MAX_ENDPOINTS: usize = 20;

/// The longest endpoint URL accepted, in characters.
pub const MAX_URL_CHARS: usize = 2000;

/// How long a delivered or failed delivery (or a settled notification) stays listed before the
/// sweep forgets it.
pub const SETTLED_DELIVERIES_KEPT: chrono::Duration = chrono::Duration::days(30);

/// The most deliveries one listing shows, newest first.
pub const MAX_DELIVERIES_LISTED: usize = 100;

/// An endpoint's identifier: a random UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointId(Uuid);

/// Text that is not an endpoint id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("'{0}' is not a webhook id; ids are UUIDs such as 67e55044-10b1-426f-9247-bb680e5fe0c8")]
pub struct EndpointIdError(pub String);

impl EndpointId {
    /// A new random id.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The id as a UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl FromStr for EndpointId {
    type Err = EndpointIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::try_parse(text).map(Self).map_err(|_| EndpointIdError(text.to_owned()))
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// An event an endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// `appointment.scheduled`
    Scheduled,
    /// `appointment.rescheduled`
    Rescheduled,
    /// `appointment.canceled`
    Canceled,
    /// `appointment.completed`
    Completed,
    /// `appointment.no_show`
    NoShow,
}

impl EventType {
    /// Every event type, in the order they are documented.
    pub const ALL: [Self; 5] =
        [Self::Scheduled, Self::Rescheduled, Self::Canceled, Self::Completed, Self::NoShow];

    /// The name subscribed to and sent: `appointment.` and the history entry's kind
    /// (`scheduled`, `rescheduled`, `canceled`, `completed` or `no_show`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "appointment.scheduled",
            Self::Rescheduled => "appointment.rescheduled",
            Self::Canceled => "appointment.canceled",
            Self::Completed => "appointment.completed",
            Self::NoShow => "appointment.no_show",
        }
    }

    /// The event a history entry's change is.
    pub fn of(change: Transition) -> Self {
        match change {
            Transition::Scheduled => Self::Scheduled,
            Transition::Rescheduled { .. } => Self::Rescheduled,
            Transition::Canceled => Self::Canceled,
            Transition::Completed => Self::Completed,
            Transition::NoShow => Self::NoShow,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an event type's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown event {0:?}; the events are appointment.scheduled, appointment.rescheduled, \
     appointment.canceled, appointment.completed and appointment.no_show"
)]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|event| event.as_str() == text)
            .ok_or_else(|| UnknownEventType(text.to_owned()))
    }
}

/// Which events an endpoint receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// Every event, including those added in later versions.
    All,
    /// These events only (never none).
    Only(BTreeSet<EventType>),
}

/// A subscription to no event at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("events is empty; leave it out to receive every event, or name at least one")]
pub struct NoEvents;

impl Subscription {
    /// The events `events` names (`None`: every event).
    pub fn new(events: Option<BTreeSet<EventType>>) -> Result<Self, NoEvents> {
        match events {
            None => Ok(Self::All),
            Some(events) if events.is_empty() => Err(NoEvents),
            Some(events) => Ok(Self::Only(events)),
        }
    }

    /// Whether `event` is one of them.
    pub fn includes(&self, event: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Only(events) => events.contains(&event),
        }
    }
}

/// The secret an endpoint's deliveries are signed with (`whsec_` and the base64 of its bytes,
/// as the Standard Webhooks specification writes it). Never shown after it is made, and never
/// in a log: its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret as its text.
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The secret's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its id.
    pub id: EndpointId,
    /// Where deliveries are posted (checked by whoever registers it).
    pub url: String,
    /// What it receives.
    pub subscription: Subscription,
    /// What its deliveries are signed with.
    pub secret: Secret,
    /// When it was registered (whole seconds).
    pub created_at: DateTime<Utc>,
}

/// A delivery's identifier, in the order deliveries were queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(pub i64);

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its first or next attempt.
    Pending,
    /// An attempt got a 2xx answer.
    Delivered,
    /// Every attempt of the retry schedule failed.
    Failed,
}

impl DeliveryState {
    /// The name stored and shown: `pending`, `delivered` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// A stored name that is not a delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown delivery state {0:?}")]
pub struct UnknownDeliveryState(pub String);

impl FromStr for DeliveryState {
    type Err = UnknownDeliveryState;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| UnknownDeliveryState(text.to_owned()))
    }
}

/// One event queued for one endpoint, as its listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// The message's id (the same for every endpoint, and across attempts).
    pub message: MessageId,
    /// The event.
    pub event: EventType,
    /// The appointment it is about.
    pub appointment: AppointmentId,
    /// When the event happened.
    pub event_at: DateTime<Utc>,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// When the next attempt is due; `None` once it is delivered or failed.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A message's id: the history entry it tells of, so the same event keeps the same id for
/// every endpoint and every attempt (receivers use it to drop duplicates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "msg_{}", self.0)
    }
}

/// An event as it is sent: the appointment as the change left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its id.
    pub id: MessageId,
    /// What happened.
    pub event: EventType,
    /// When.
    pub at: DateTime<Utc>,
    /// The appointment as the change left it.
    pub appointment: Appointment,
    /// For a move, the time it had before.
    pub from: Option<Slot>,
    /// For a move, the resource and service it had before (`None` for moves recorded before
    /// stores kept them).
    pub left: Option<Left>,
    /// Who made the change.
    pub by: Actor,
    /// Why, when they said.
    pub reason: Option<Reason>,
}

impl Message {
    /// The message telling of `entry` (numbered `id` in its store), about `appointment` as it
    /// is now: the appointment is shown as the entry left it.
    pub fn of(id: MessageId, entry: &Entry, appointment: &Appointment) -> Self {
        Self {
            id,
            event: EventType::of(entry.change),
            at: entry.at,
            appointment: as_of(appointment, entry),
            from: entry.change.moved_from(),
            left: entry.left.clone(),
            by: entry.by,
            reason: entry.reason.clone(),
        }
    }
}

/// The appointment as `entry`, one of its history's changes, left it: at the entry's time and
/// status, changed last then. What no change alters (its client and notes) is as it is now, and
/// so are its resource, service and slots, which no history keeps (a move may change them: a
/// message sent after a later move to another resource shows the later one): this is how an
/// event is shown, not a state to write back.
fn as_of(appointment: &Appointment, entry: &Entry) -> Appointment {
    let status = entry.change.status();
    Appointment::from(AppointmentRecord {
        id: appointment.id(),
        client_name: appointment.client_name().clone(),
        notes: appointment.notes().cloned(),
        contact: appointment.contact().clone(),
        resource: appointment.resource().clone(),
        service: appointment.service().cloned(),
        slot: entry.slot,
        occupied: appointment.occupied().to_vec(),
        status,
        created_at: appointment.created_at(),
        updated_at: entry.at,
    })
}

/// A delivery claimed for one attempt: nobody else attempts it until the claim's lease ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The delivery.
    pub delivery: DeliveryId,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// The endpoint.
    pub endpoint: EndpointId,
    /// Where to post it.
    pub url: String,
    /// What to sign it with.
    pub secret: Secret,
    /// What to send.
    pub message: Message,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The endpoint took it.
    Delivered,
    /// It did not (it refused it, or did not answer).
    Failed {
        /// What went wrong, in a sentence (for an answer that refused it, which answer).
        error: String,
    },
}

/// The end of one attempt, as the store records it: of a webhook delivery, or (with a
/// `NotificationId`) of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement<I = DeliveryId> {
    /// What was attempted.
    pub delivery: I,
    /// The attempt being settled (a settlement for an attempt that is no longer the latest,
    /// after a lease ran out and another worker took over, changes nothing).
    pub attempt: u32,
    /// How it went.
    pub result: Attempt,
    /// When it ended.
    pub at: DateTime<Utc>,
    /// After a failure, when to try again; `None` gives up (the delivery fails for good).
    pub retry_at: Option<DateTime<Utc>>,
}

/// Where a settlement leaves what was attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The receiver took it: done.
    Done,
    /// Pending again, until this time.
    Retry(DateTime<Utc>),
    /// Failed for good.
    GaveUp,
}

impl<I> Settlement<I> {
    /// Where it leaves what was attempted.
    pub fn settled(&self) -> Settled {
        match (&self.result, self.retry_at) {
            (Attempt::Delivered, _) => Settled::Done,
            (Attempt::Failed { .. }, Some(at)) => Settled::Retry(at),
            (Attempt::Failed { .. }, None) => Settled::GaveUp,
        }
    }

    /// The error kept: the failed attempt's, none once it is done.
    pub fn error(&self) -> Option<&str> {
        match &self.result {
            Attempt::Delivered => None,
            Attempt::Failed { error } => Some(error),
        }
    }

    /// When the next attempt is due, while it is pending.
    pub fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        match self.settled() {
            Settled::Retry(at) => Some(at),
            Settled::Done | Settled::GaveUp => None,
        }
    }

    /// When it was settled for good, if it was.
    pub fn settled_at(&self) -> Option<DateTime<Utc>> {
        self.next_attempt_at().is_none().then_some(self.at)
    }
}

/// What [`Outbox::claim`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRequest {
    /// The time: deliveries due by then are claimed.
    pub now: DateTime<Utc>,
    /// Until when the claimed deliveries are this worker's.
    pub lease_until: DateTime<Utc>,
    /// At most this many.
    pub most: usize,
}

/// A registration past [`MAX_ENDPOINTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{MAX_ENDPOINTS} webhooks are registered, the most allowed; delete one first")]
pub struct TooManyEndpoints;

/// No endpoint has this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("no webhook has this id")]
pub struct EndpointNotFound;

/// Where webhook endpoints and their deliveries are kept. Every store that records appointment
/// history queues, in the transaction that records an entry, one pending delivery of it for
/// each endpoint subscribed to its event, due at once.
pub trait Outbox: Send + Sync + fmt::Debug {
    /// Registers an endpoint, unless [`MAX_ENDPOINTS`] are registered already.
    fn add_endpoint(&self, endpoint: Endpoint) -> Pending<Endpoint, TooManyEndpoints>;

    /// Every endpoint, oldest first.
    fn endpoints(&self) -> Result<Vec<Endpoint>, StorageError>;

    /// Removes an endpoint and every delivery queued for it.
    fn remove_endpoint(&self, id: EndpointId) -> Pending<Endpoint, EndpointNotFound>;

    /// The newest deliveries of an endpoint (at most `most`, newest first); `None` when there is
    /// no such endpoint.
    fn deliveries(
        &self,
        id: EndpointId,
        most: usize,
    ) -> Result<Option<Vec<Delivery>>, StorageError>;

    /// Claims, for one attempt each, pending deliveries that are due by `request.now` and not
    /// claimed by anyone else: only the oldest pending delivery of each endpoint, so each
    /// endpoint receives its events in the order they were queued. A claimed delivery counts
    /// its attempt and is nobody else's until `request.lease_until`; a worker on another server
    /// passes over it without waiting.
    fn claim(&self, request: ClaimRequest) -> Pending<Vec<Claimed>, Infallible>;

    /// Records how an attempt went: delivered, pending again until `retry_at`, or failed. Answers
    /// whether the settlement was recorded (false for an attempt that is no longer the latest).
    fn settle(&self, settlement: Settlement) -> Pending<bool, Infallible>;
}

/// When to try a delivery again after each failed attempt: the delay after the first failure,
/// after the second, and so on; after the last, the delivery fails for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

/// Text that is not a retry schedule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RetryScheduleError {
    /// A delay that is not a number and a unit.
    #[error(
        "{0:?} is not a delay; write a whole number and a unit (s, m, h or d), at most 30 days, \
         optionally repeated as COUNTxDELAY, e.g. 5s,30s,2m,15m,1h,4h,9x8h"
    )]
    Delay(String),
    /// More attempts than are sensible.
    #[error("the schedule has {0} retries; at most 100 are allowed")]
    TooLong(usize),
}

impl RetrySchedule {
    /// The most retries a schedule may have.
    pub const MAX_RETRIES: usize = 100;

    /// The delay before the retry that follows `failed` failed attempts; `None` when the
    /// schedule is over.
    pub fn delay_after(&self, failed: u32) -> Option<Duration> {
        let index = usize::try_from(failed.checked_sub(1)?).ok()?;
        self.0.get(index).copied()
    }

    /// How many attempts a delivery gets in all.
    pub fn attempts(&self) -> usize {
        self.0.len() + 1
    }
}

/// About 5 s, 30 s, 2 min, 15 min, 1 h, 4 h, then every 8 h for 3 days.
impl Default for RetrySchedule {
    fn default() -> Self {
        const MINUTE: u64 = 60;
        const HOUR: u64 = 60 * MINUTE;
        let mut delays: Vec<Duration> = [5, 30, 2 * MINUTE, 15 * MINUTE, HOUR, 4 * HOUR]
            .into_iter()
            .map(Duration::from_secs)
            .collect();
        delays.extend(std::iter::repeat_n(Duration::from_secs(8 * HOUR), 9));
        Self(delays)
    }
}

impl FromStr for RetrySchedule {
    type Err = RetryScheduleError;

    /// Delays separated by commas, each a whole number and a unit (`s`, `m`, `h`, `d`), or
    /// `COUNTxDELAY` for the same delay `COUNT` times: `5s,30s,2m,15m,1h,4h,9x8h`. An empty
    /// text means no retries.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut delays = Vec::new();
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let invalid = || RetryScheduleError::Delay(part.to_owned());
            let (count, delay) = match part.split_once('x') {
                Some((count, delay)) => (count.parse::<usize>().map_err(|_| invalid())?, delay),
                None => (1, part),
            };
            let delay = parse_delay(delay).ok_or_else(invalid)?;
            if count > Self::MAX_RETRIES || delays.len() + count > Self::MAX_RETRIES {
                return Err(RetryScheduleError::TooLong(delays.len().saturating_add(count)));
            }
            delays.extend(std::iter::repeat_n(delay, count));
        }
        Ok(Self(delays))
    }
}

/// `30s`, `2m`, `4h` or `1d`: a positive whole number and a unit, at most 30 days.
pub(crate) fn parse_delay(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let number: u64 = text[..text.len() - unit.len_utf8()].parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    number.checked_mul(seconds).filter(|total| *total <= MAX_DELAY_SECONDS).map(Duration::from_secs)
}

/// The longest delay between two attempts: 30 days.
const MAX_DELAY_SECONDS: u64 = 30 * 86_400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_retries_for_about_three_days() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.delay_after(0), None);
        assert_eq!(schedule.delay_after(1), Some(Duration::from_secs(5)));
        assert_eq!(schedule.delay_after(6), Some(Duration::from_secs(4 * 3600)));
        assert_eq!(schedule.delay_after(15), Some(Duration::from_secs(8 * 3600)));
        assert_eq!(schedule.delay_after(16), None);
        let total: Duration = (1..=15).filter_map(|n| schedule.delay_after(n)).sum();
        assert!(total > Duration::from_secs(3 * 86_400), "{total:?}");
        assert!(total < Duration::from_secs(4 * 86_400), "{total:?}");
        assert_eq!("5s,30s,2m,15m,1h,4h,9x8h".parse(), Ok(schedule));
    }

    #[test]
    fn a_schedule_names_what_it_cannot_read() {
        assert_eq!("".parse::<RetrySchedule>().map(|s| s.attempts()), Ok(1));
        assert_eq!(
            " 1s , 2x1d ".parse::<RetrySchedule>(),
            Ok(RetrySchedule(vec![
                Duration::from_secs(1),
                Duration::from_secs(86_400),
                Duration::from_secs(86_400)
            ]))
        );
        for bad in ["5", "5w", "0s", "xs", "ax5s", "-1s", "5é", "31d", "100000000d"] {
            assert_eq!(
                bad.parse::<RetrySchedule>(),
                Err(RetryScheduleError::Delay(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!("101x1s".parse::<RetrySchedule>(), Err(RetryScheduleError::TooLong(101)));
        assert_eq!("99x1s,2x1s".parse::<RetrySchedule>(), Err(RetryScheduleError::TooLong(101)));
    }

    #[test]
    fn event_types_read_back_what_they_write() {
        for event in EventType::ALL {
            assert_eq!(event.as_str().parse(), Ok(event));
        }
        assert!("appointment.moved".parse::<EventType>().is_err());
        assert_eq!(Subscription::new(Some(BTreeSet::new())), Err(NoEvents));
        let only = Subscription::new(Some([EventType::Canceled].into())).ok();
        assert_eq!(only.as_ref().map(|s| s.includes(EventType::Canceled)), Some(true));
        assert_eq!(only.map(|s| s.includes(EventType::Scheduled)), Some(false));
        assert!(Subscription::All.includes(EventType::Rescheduled));
    }

    #[test]
    fn a_secret_never_shows_in_debug() {
        let secret = Secret::new("whsec_c2VjcmV0".into());
        assert_eq!(format!("{secret:?}"), "Secret(..)");
        assert_eq!(secret.expose(), "whsec_c2VjcmV0");
    }
}
