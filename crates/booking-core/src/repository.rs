//! The storage port: what the booking service needs from wherever appointments are kept.
//!
//! Every write method is one atomic step: whatever it checks (free places in a slot, the
//! appointment's state) is checked inside the same transaction as the write, so the rules hold
//! when several processes share one database.

use std::{error::Error, fmt};

use chrono::{DateTime, SubsecRound, Utc};

use crate::{
    appointment::{Appointment, AppointmentId, CancelRefusal, RescheduleRefusal, Status},
    availability::{Admission, Unavailable, UsageMap},
    catalog::Slug,
    client::{ClientName, Notes},
    closure::{Closure, ClosureId},
    hold::{Hold, HoldToken},
    idempotency::{Idempotency, Outcome},
    schedule::Placement,
};

/// Where appointments, holds and closures are kept.
pub trait AppointmentRepository: Send + Sync + fmt::Debug {
    /// Books the first of `booking.candidates` that `admission` admits, given the closures and
    /// usage of its slots; or, with a hold, converts the hold (which must be for one of the
    /// candidates) into the appointment.
    ///
    /// With `idempotency`, a key already used for the same request replays its stored answer
    /// instead, a key used for another request is refused, and a successful write stores its
    /// answer in the same transaction (see [`Idempotency`]); so do `cancel` and `reschedule`.
    fn book(
        &self,
        booking: &Booking,
        admission: &Admission,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Appointment>, WriteError<BookFailure>>;

    /// Cancels an appointment (see [`Appointment::cancel`]) and gives its places back.
    fn cancel(
        &self,
        id: AppointmentId,
        now: DateTime<Utc>,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Appointment>, WriteError<CancelFailure>>;

    /// Moves an appointment to `to` (see [`Appointment::reschedule`]) if `admission` admits it
    /// there, counting its own places as free; otherwise nothing changes.
    fn reschedule(
        &self,
        id: AppointmentId,
        to: &Placement,
        admission: &Admission,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Rescheduled>, WriteError<RescheduleFailure>>;

    /// One appointment, whatever its status.
    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError>;

    /// Appointments matching `query`, ordered by start then id.
    fn appointments(&self, query: &AppointmentQuery) -> Result<Vec<Appointment>, StorageError>;

    /// The usage of every slot (of `resource`, or of every resource) starting from `from` to
    /// `to`, both included: scheduled appointments, and holds still active at `now`.
    fn usage(
        &self,
        resource: Option<&Slug>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<UsageMap, StorageError>;

    /// Holds the first of `candidates` that `admission` admits until `expires_at`.
    fn hold(
        &self,
        request: &HoldRequest,
        admission: &Admission,
    ) -> Result<Hold, WriteError<Unavailable>>;

    /// Ends a hold before it expires. An expired or unknown token is refused.
    fn release_hold(
        &self,
        token: &HoldToken,
        now: DateTime<Utc>,
    ) -> Result<Hold, WriteError<HoldNotFound>>;

    /// Adds a closure; returns the scheduled appointments it covers, which stay as they are.
    fn add_closure(&self, closure: &Closure) -> Result<Vec<Appointment>, StorageError>;

    /// Removes a closure.
    fn remove_closure(&self, id: ClosureId) -> Result<Closure, WriteError<ClosureNotFound>>;

    /// Closures that overlap `from..to`, ordered by start.
    fn closures(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Closure>, StorageError>;

    /// Whether the store can serve requests now.
    fn check_health(&self) -> Result<(), StorageError>;
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
    /// Where it may go, in order of preference.
    pub candidates: Vec<Placement>,
    /// A hold to convert instead of taking new places.
    pub hold: Option<HoldToken>,
}

impl Booking {
    /// The appointment this booking makes at `placement`.
    pub fn appointment_at(&self, placement: &Placement, now: DateTime<Utc>) -> Appointment {
        Appointment::schedule(self.id, self.client_name.clone(), self.notes.clone(), placement, now)
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
}

impl HoldRequest {
    /// The hold this request makes at `placement`, made at `now`.
    pub fn hold_at(&self, placement: &Placement, now: DateTime<Utc>) -> Hold {
        Hold::of(self.token.clone(), placement, now.trunc_subsecs(0), self.expires_at)
    }
}

/// A reschedule that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rescheduled {
    /// The appointment as it is now.
    pub appointment: Appointment,
    /// The starts of the slots it gave back (none when it did not move).
    pub released: Vec<DateTime<Utc>>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
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

/// No active hold has the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no active hold has this token; it may have expired or been used")]
pub struct HoldNotFound;

/// No closure has the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no closure has this id")]
pub struct ClosureNotFound;

/// A write that did not happen: the rules refused it, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<R> {
    /// The domain said no; nothing was written.
    #[error(transparent)]
    Refused(R),
    /// The idempotency key was used before for a different request; nothing was written.
    #[error("the idempotency key was used for a different request")]
    KeyReused,
    /// The store could not do it; nothing was written.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

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

/// Why an appointment was not moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
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

/// Whether a storage failure is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageErrorKind {
    /// The store is busy or unreachable for now (no free connection, database down or locked).
    Unavailable,
    /// Anything else: a bug, corrupt data, a full disk.
    Fault,
}

/// A failure of the store itself, never of the request.
#[derive(Debug)]
pub struct StorageError {
    kind: StorageErrorKind,
    source: Box<dyn Error + Send + Sync>,
}

impl StorageError {
    /// A failure that may pass if retried later.
    pub fn unavailable(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self { kind: StorageErrorKind::Unavailable, source: source.into() }
    }

    /// A failure that will not pass by itself.
    pub fn fault(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self { kind: StorageErrorKind::Fault, source: source.into() }
    }

    /// Which kind of failure this is.
    pub fn kind(&self) -> StorageErrorKind {
        self.kind
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            StorageErrorKind::Unavailable => f.write_str("the store is unavailable"),
            StorageErrorKind::Fault => f.write_str("the store failed"),
        }
    }
}

impl Error for StorageError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}
