//! The storage port: what the booking service needs from wherever appointments are kept.
//!
//! Every write method is one atomic step: whatever it checks (free places in a slot, the
//! appointment's state) is checked inside the same transaction as the write, so the rules hold
//! when several processes share one database.

use std::{error::Error, fmt};

use chrono::{DateTime, Utc};

use crate::{
    appointment::{Appointment, AppointmentId, CancelRefusal, RescheduleRefusal},
    availability::{Admission, BookedCounts, Unavailable},
    schedule::Slot,
};

/// Where appointments are kept.
pub trait AppointmentRepository: Send + Sync + fmt::Debug {
    /// Stores a new scheduled appointment if `admission` admits its slot, given the appointments
    /// already scheduled there.
    fn book(
        &self,
        appointment: &Appointment,
        admission: &Admission,
    ) -> Result<(), WriteError<Unavailable>>;

    /// Cancels an appointment (see [`Appointment::cancel`]) and gives its place back.
    fn cancel(
        &self,
        id: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<Appointment, WriteError<CancelFailure>>;

    /// Moves an appointment to `to` (see [`Appointment::reschedule`]) if `admission` admits it
    /// there; otherwise nothing changes.
    fn reschedule(
        &self,
        id: AppointmentId,
        to: Slot,
        admission: &Admission,
    ) -> Result<Appointment, WriteError<RescheduleFailure>>;

    /// One appointment, whatever its status.
    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError>;

    /// How many scheduled appointments start at each instant from `from` to `to`, both included.
    /// Instants with none may be left out.
    fn booked_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BookedCounts, StorageError>;

    /// Whether the store can serve requests now.
    fn check_health(&self) -> Result<(), StorageError>;
}

/// A write that did not happen: the rules refused it, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<R> {
    /// The domain said no; nothing was written.
    #[error(transparent)]
    Refused(R),
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
