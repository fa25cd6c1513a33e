//! The storage port: what the booking service needs from wherever appointments are kept.
//!
//! Every write is one atomic step: whatever it checks (free places in a slot, the appointment's
//! state) is checked inside the same transaction as the write, so the rules hold when several
//! processes share one database. A write answers with a [`Pending`] (a store with a writer
//! thread answers later, once the transaction holding the write has ended) whose value, on
//! success, is a [`Written`]: the outcome, what it changed for availability, and the domain
//! event.

use std::{collections::HashMap, convert::Infallible, fmt, num::NonZeroU16};

use chrono::{DateTime, Duration, SubsecRound, Utc};

use crate::{
    admission::{Admission, Unavailable, UsageMap},
    appointment::{
        Appointment, AppointmentId, CancelRefusal, ConcludeRefusal, Conclusion, RescheduleRefusal,
        Status,
    },
    calendar::{CalendarChange, CalendarFailure, StoredCalendar},
    catalog::Slug,
    change::Change,
    client::{ClientName, Notes},
    closure::{Closure, ClosureId},
    contact::Contact,
    event::{Event, EventKind},
    history::{Actor, Entry, Left, Reason},
    hold::{Hold, HoldQuota, HoldToken},
    idempotency::{Idempotency, Outcome},
    notification::Notifications,
    pending::Pending,
    placement::Placement,
    storage::StorageError,
    webhook::Outbox,
};

/// The most ids one [`AppointmentRepository::histories`] call takes (a bound on its query).
pub const MAX_HISTORIES: usize = 200;

/// Where appointments, holds and closures are kept, with the outbox their changes queue webhook
/// deliveries and notifications in (in the same transaction, so they are one store).
pub trait AppointmentRepository:
    Outbox + Notifications + Calendars + Send + Sync + fmt::Debug
{
    /// Books the first of `booking.candidates` that `admission` admits, given the closures and
    /// usage of its slots; or, with a hold, converts the hold (which must be for one of the
    /// candidates) into the appointment.
    ///
    /// With `idempotency`, a key already used for the same request replays the appointment as
    /// that request left it instead, a key used for another request is refused, and a
    /// successful write remembers its key in the same transaction (see [`Idempotency`]); so do
    /// `cancel` and `reschedule`.
    fn book(
        &self,
        booking: Booking,
        admission: Admission,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, BookFailure>;

    /// Cancels an appointment (see [`Appointment::cancel`]) and gives its places back.
    fn cancel(
        &self,
        cancellation: Cancellation,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, CancelFailure>;

    /// Moves an appointment to `to` (see [`Appointment::reschedule`]) if `admission` admits it
    /// there, counting its own places as free; otherwise nothing changes. A move to the slot it
    /// holds changes nothing and succeeds.
    fn reschedule(
        &self,
        id: AppointmentId,
        to: Placement,
        admission: Admission,
        by: Actor,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, RescheduleFailure>;

    /// Records how an appointment that has started ended (see [`Appointment::conclude`]). It
    /// keeps its places, so no availability changes; recording the conclusion it already has
    /// changes nothing and succeeds.
    fn conclude(&self, concluding: Concluding) -> Pending<Written<Appointment>, ConcludeFailure>;

    /// One appointment, whatever its status.
    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError>;

    /// One appointment, as [`get`](Self::get) reads it, answered when it is read: a store that
    /// reads in batches (PostgreSQL) answers later, from its readers; by default the store reads
    /// it now. A failed read answers [`WriteError::Storage`](crate::storage::WriteError).
    fn find(&self, id: AppointmentId) -> Pending<Option<Appointment>, Infallible> {
        Pending::ready(self.get(id).map_err(crate::storage::WriteError::Storage))
    }

    /// Every change the appointment `id` went through, in the order they were made (each
    /// write records its change in its own transaction); `None` when there is no such
    /// appointment.
    fn history(&self, id: AppointmentId) -> Result<Option<Vec<Entry>>, StorageError>;

    /// The histories of the appointments `ids` (as [`history`](Self::history) tells each),
    /// for those that have entries; at most [`MAX_HISTORIES`] ids at a time.
    fn histories(
        &self,
        ids: &[AppointmentId],
    ) -> Result<HashMap<AppointmentId, Vec<Entry>>, StorageError>;

    /// Appointments matching `query`, ordered by start then id.
    fn appointments(&self, query: &AppointmentQuery) -> Result<Vec<Appointment>, StorageError>;

    /// The usage of every slot (of `resource`, or of every resource) starting from `from` to
    /// `to`, both included: the appointments that keep their places (all but canceled ones), and
    /// holds still active at `now`.
    fn usage(
        &self,
        resource: Option<&Slug>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<UsageMap, StorageError>;

    /// Holds the first of `candidates` that `admission` admits until `expires_at`, unless the
    /// request's holder already has as many active holds as its quota allows (counted in the
    /// same transaction, so the quota holds across servers).
    fn hold(
        &self,
        request: HoldRequest,
        admission: Admission,
    ) -> Pending<Written<Hold>, HoldFailure>;

    /// Ends a hold before it expires. An expired or unknown token is refused.
    fn release_hold(
        &self,
        token: HoldToken,
        now: DateTime<Utc>,
    ) -> Pending<Written<Hold>, HoldNotFound>;

    /// Adds a closure; its outcome names the scheduled appointments it covers, which stay as
    /// they are.
    fn add_closure(&self, closure: Closure) -> Pending<Written<Closed>, Infallible>;

    /// Removes a closure.
    fn remove_closure(
        &self,
        id: ClosureId,
        now: DateTime<Utc>,
    ) -> Pending<Written<Closure>, ClosureNotFound>;

    /// Closures that overlap `from..to`, ordered by start.
    fn closures(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Closure>, StorageError>;

    /// Whether the store can serve requests now.
    fn check_health(&self) -> Result<(), StorageError>;

    /// Whether the store can take a write now: commits, like any write, one that changes
    /// nothing clients see. A store that can read but not write (a full disk, a read-only
    /// database) answers with a storage error.
    fn check_writable(&self, now: DateTime<Utc>) -> Pending<(), Infallible>;

    /// Forgets what `expired` names (oldest first, at most `expired.most` of each kind),
    /// passing over anything a write in flight holds, and answers how much it forgot. Meant for
    /// a sweep apart from client writes: no client write deletes another key's record or
    /// another client's hold, so unrelated writes never wait on each other's rows.
    fn forget_expired(&self, expired: Expired) -> Pending<Forgotten, Infallible>;
}

/// Where the calendar is kept. Every store keeps it beside the appointments, so that a change
/// is checked against them, and every write against it, in one transaction.
pub trait Calendars: Send + Sync + fmt::Debug {
    /// The stored calendar, if one was ever stored.
    fn calendar(&self) -> Result<Option<StoredCalendar>, StorageError>;

    /// Stores the calendar of `change.schedule` as version `change.after + 1`, in one
    /// transaction that first checks that the stored version is still `change.after` (0: none
    /// is stored) and that the new calendar strands or overbooks no appointment that has not
    /// ended at `change.now` ([`stranded`](crate::stranded::stranded)). From its commit on, the
    /// store refuses every placement made under an older version
    /// ([`Unavailable::CalendarChanged`]).
    fn store_calendar(
        &self,
        change: CalendarChange,
    ) -> Pending<Written<StoredCalendar>, CalendarFailure>;
}

/// A committed write: what it did, what it changed for availability, and what happened. What
/// follows a write (availability streams; later history, webhooks, metrics) follows from this
/// one value, so nobody works out twice what a write changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written<T> {
    /// What the write did, for its caller.
    pub outcome: T,
    /// The slots whose usage it changed (or that anything may have changed).
    pub changed: Change,
    /// What happened; `None` when nothing did (a move to the slot it already held).
    pub event: Option<Event>,
}

/// How each write reports itself: every store builds its `Written` with these, so what a write
/// changed and what happened are worked out in one place.
impl Written<Appointment> {
    /// A booking by `by`: its places changed.
    pub fn scheduled(appointment: Appointment, by: Actor) -> Self {
        let event =
            Event::new(appointment.created_at(), EventKind::Scheduled(appointment.clone()), by);
        Self::of_places(appointment, event)
    }

    /// A cancellation as `cancellation` asked for it: the places it gave back changed.
    pub fn canceled(appointment: Appointment, cancellation: &Cancellation) -> Self {
        let event = Event::new(
            appointment.updated_at(),
            EventKind::Canceled(appointment.clone()),
            cancellation.by,
        )
        .because(cancellation.reason.clone());
        Self::of_places(appointment, event)
    }

    /// A conclusion as `concluding` asked for it: no place changed, since the appointment
    /// keeps them.
    pub fn concluded(appointment: Appointment, concluding: &Concluding) -> Self {
        let event = Event::new(
            appointment.updated_at(),
            EventKind::Concluded {
                appointment: appointment.clone(),
                conclusion: concluding.conclusion,
            },
            concluding.by,
        )
        .because(concluding.reason.clone());
        Self { outcome: appointment, changed: Change::Nothing, event: Some(event) }
    }

    /// A write that took or gave back every place of `appointment`.
    fn of_places(appointment: Appointment, event: Event) -> Self {
        Self {
            changed: Change::slots(appointment.resource(), appointment.occupied().to_vec(), None),
            event: Some(event),
            outcome: appointment,
        }
    }

    /// A move from where `before` was. On the same resource, the places it left and the places
    /// it took changed, but not those it kept (a move by one slot overlaps itself). To another
    /// resource, the slots of two resources changed, which one [`Change`] cannot name: every
    /// listing reads again (such moves are rare, and asked for by hand).
    pub fn rescheduled(before: &Appointment, appointment: Appointment, by: Actor) -> Self {
        let (left, taken) = (before.occupied(), appointment.occupied());
        let touched = left
            .iter()
            .filter(|s| !taken.contains(s))
            .chain(taken.iter().filter(|s| !left.contains(s)));
        let changed = if before.resource() == appointment.resource() {
            Change::slots(appointment.resource(), touched.copied().collect::<Vec<_>>(), None)
        } else {
            Change::Everything
        };
        Self {
            changed,
            event: Some(Event::new(
                appointment.updated_at(),
                EventKind::Rescheduled {
                    appointment: appointment.clone(),
                    from: before.slot(),
                    left: Left::of(before),
                },
                by,
            )),
            outcome: appointment,
        }
    }

    /// A move to the slot it already held: nothing changed.
    pub fn unchanged(appointment: Appointment) -> Self {
        Self { outcome: appointment, changed: Change::Nothing, event: None }
    }
}

impl Written<Hold> {
    /// A hold: its places changed now, and change again when it expires.
    pub fn hold_taken(hold: Hold) -> Self {
        Self {
            changed: Change::slots(&hold.resource, hold.occupied.clone(), Some(hold.expires_at)),
            event: Some(Event::new(
                hold.created_at,
                EventKind::HoldTaken(hold.clone()),
                Actor::Client,
            )),
            outcome: hold,
        }
    }

    /// A hold released at `now`: its places changed.
    pub fn hold_released(hold: Hold, now: DateTime<Utc>) -> Self {
        Self {
            changed: Change::slots(&hold.resource, hold.occupied.clone(), None),
            event: Some(Event::new(
                now.trunc_subsecs(0),
                EventKind::HoldReleased(hold.clone()),
                Actor::Client,
            )),
            outcome: hold,
        }
    }
}

/// A closure that was added, and the scheduled appointments inside it (left as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The closure.
    pub closure: Closure,
    /// The scheduled appointments it covers, ordered by start then id.
    pub covered: Vec<Appointment>,
}

impl Written<Closed> {
    /// A new closure, with the scheduled appointments it covers: any listing may change.
    pub fn closure_added(closure: Closure, covered: Vec<Appointment>) -> Self {
        Self {
            changed: Change::Everything,
            event: Some(Event::new(
                closure.created_at,
                EventKind::ClosureAdded(closure.clone()),
                Actor::Operator,
            )),
            outcome: Closed { closure, covered },
        }
    }
}

impl Written<Closure> {
    /// A closure removed at `now`: any listing may change.
    pub fn closure_removed(closure: Closure, now: DateTime<Utc>) -> Self {
        Self {
            changed: Change::Everything,
            event: Some(Event::new(
                now.trunc_subsecs(0),
                EventKind::ClosureRemoved(closure.clone()),
                Actor::Operator,
            )),
            outcome: closure,
        }
    }
}

impl CalendarChange {
    /// The calendar stored, as the write reports it: every listing may change.
    pub fn written(&self) -> Written<StoredCalendar> {
        Written {
            outcome: StoredCalendar { version: self.after + 1, calendar: self.schedule.calendar() },
            changed: Change::Everything,
            event: None,
        }
    }
}

/// A booking to make.
#[derive(Debug, Clone)]
pub struct Booking {
    /// The new appointment's id.
    pub id: AppointmentId,
    /// Who books.
    pub client_name: ClientName,
    /// Their notes.
    pub notes: Option<Notes>,
    /// How to reach them.
    pub contact: Contact,
    /// Where it may go, in order of preference.
    pub candidates: Vec<Placement>,
    /// A hold to convert instead of taking new places.
    pub hold: Option<HoldToken>,
    /// Who books: the client, or staff on their behalf.
    pub by: Actor,
}

/// A cancellation to make.
#[derive(Debug, Clone)]
pub struct Cancellation {
    /// The appointment to cancel.
    pub id: AppointmentId,
    /// When (the refusal of a started appointment is judged at this time).
    pub now: DateTime<Utc>,
    /// Who cancels.
    pub by: Actor,
    /// Why, when they said.
    pub reason: Option<Reason>,
    /// How long before its start the appointment can no longer be canceled: the business's
    /// cancellation notice for a client, zero for an operator.
    pub notice: Duration,
}

/// How an appointment that started ended, to record.
#[derive(Debug, Clone)]
pub struct Concluding {
    /// The appointment.
    pub id: AppointmentId,
    /// How it ended.
    pub conclusion: Conclusion,
    /// When it is recorded (an appointment that has not started by then is refused).
    pub now: DateTime<Utc>,
    /// Who records it.
    pub by: Actor,
    /// Why, or any remark, when they gave one.
    pub reason: Option<Reason>,
}

impl Booking {
    /// The appointment this booking makes at `placement`.
    pub fn appointment_at(&self, placement: &Placement, now: DateTime<Utc>) -> Appointment {
        let (name, notes, contact) =
            (self.client_name.clone(), self.notes.clone(), self.contact.clone());
        Appointment::schedule(self.id, name, notes, contact, placement, now)
    }

    /// The candidate a hold is for, if any.
    pub fn candidate_for(&self, hold: &Hold) -> Option<&Placement> {
        self.candidates.iter().find(|c| hold.is_for(c))
    }
}

/// A hold to make.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    /// The hold's token.
    pub token: HoldToken,
    /// Where it may go, in order of preference.
    pub candidates: Vec<Placement>,
    /// When it stops counting (whole seconds, as stores keep it).
    pub expires_at: DateTime<Utc>,
    /// Who asks, and how many holds they may have; `None`: no cap.
    pub quota: Option<HoldQuota>,
}

impl HoldRequest {
    /// The hold this request makes at `placement`, made at `now`.
    pub fn hold_at(&self, placement: &Placement, now: DateTime<Utc>) -> Hold {
        Hold::of(self.token.clone(), placement, now.trunc_subsecs(0), self.expires_at)
    }
}

/// Which appointments to list, and where to continue.
#[derive(Debug, Clone, Default)]
pub struct AppointmentQuery {
    /// Starting at or after.
    pub from: Option<DateTime<Utc>>,
    /// Starting before.
    pub to: Option<DateTime<Utc>>,
    /// With this status.
    pub status: Option<Status>,
    /// On this resource.
    pub resource: Option<Slug>,
    /// Whose client name contains this text, ignoring the case of ASCII letters.
    pub client: Option<String>,
    /// After this (start, id) in the listing order.
    pub after: Option<(DateTime<Utc>, AppointmentId)>,
    /// At most this many.
    pub limit: u32,
}

impl AppointmentQuery {
    /// Whether `appointment` belongs in the listing.
    pub fn matches(&self, appointment: &Appointment) -> bool {
        let start = appointment.slot().start();
        self.from.is_none_or(|from| start >= from)
            && self.to.is_none_or(|to| start < to)
            && self.status.is_none_or(|s| appointment.status() == s)
            && self.resource.as_ref().is_none_or(|r| appointment.resource() == r)
            && self.client.as_ref().is_none_or(|c| {
                appointment
                    .client_name()
                    .as_str()
                    .to_ascii_lowercase()
                    .contains(&c.to_ascii_lowercase())
            })
            && self.after.is_none_or(|after| (start, appointment.id()) > after)
    }
}

/// Why a booking was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookFailure {
    /// No candidate can be booked: why the first could not.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The hold is unknown, expired or already used.
    #[error(transparent)]
    HoldNotFound(#[from] HoldNotFound),
    /// The hold is for another slot, resource or service.
    #[error("the hold is for another slot, resource or service")]
    HoldMismatch,
}

/// What a sweep forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    /// Idempotency records made at or before this.
    pub keys_made_by: DateTime<Utc>,
    /// Holds that stopped counting at or before this.
    pub holds_ended_by: DateTime<Utc>,
    /// Webhook deliveries delivered or failed, and notifications settled, at or before this.
    pub deliveries_settled_by: DateTime<Utc>,
    /// The most of each kind to forget at once.
    pub most: u32,
}

/// What a sweep forgot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// Idempotency records.
    pub keys: u64,
    /// Holds.
    pub holds: u64,
    /// Settled webhook deliveries.
    pub deliveries: u64,
    /// Settled notifications.
    pub notifications: u64,
}

/// Why a hold was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldFailure {
    /// No candidate can be held: why the first could not.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The holder already has its quota of active holds.
    #[error("this client already holds {most} slots, the most allowed at once")]
    TooMany {
        /// The quota.
        most: NonZeroU16,
        /// When the first of the holder's holds expires.
        frees_at: DateTime<Utc>,
    },
}

/// No active hold has the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no active hold has this token; it may have expired or been used")]
pub struct HoldNotFound;

/// No closure has the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no closure has this id")]
pub struct ClosureNotFound;

/// Why an appointment was not canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CancelFailure {
    /// No appointment has the id.
    #[error("appointment not found")]
    NotFound,
    /// The appointment's state forbids it.
    #[error(transparent)]
    Refused(#[from] CancelRefusal),
}

/// Why an appointment's end was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConcludeFailure {
    /// No appointment has the id.
    #[error("appointment not found")]
    NotFound,
    /// The appointment's state forbids it.
    #[error(transparent)]
    Refused(#[from] ConcludeRefusal),
}

/// Why an appointment was not moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RescheduleFailure {
    /// No appointment has the id.
    #[error("appointment not found")]
    NotFound,
    /// The appointment's state forbids it.
    #[error(transparent)]
    Refused(#[from] RescheduleRefusal),
    /// The new slot cannot take it.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}
