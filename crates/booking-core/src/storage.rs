//! How a store fails: a [`StorageError`] (of the store itself, never of the request) and a
//! [`WriteError`], why a write did not happen.

use std::{error::Error, fmt};

/// Why a write did not happen: the rules refused it, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<R> {
    /// The domain said no; nothing was written.
    #[error(transparent)]
    Refused(R),
    /// The idempotency key was used before for a different request; nothing was written.
    #[error("the idempotency key was used for a different request")]
    KeyReused,
    /// The store failed (see [`StorageErrorKind`] for whether anything was written).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a storage failure means for the request, and whether it is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageErrorKind {
    /// The store is busy or unreachable for now (no free connection, database down or locked,
    /// a write that waited too long in the queue); nothing was written.
    Unavailable,
    /// The write may or may not have been made (its commit failed, or the store stopped before
    /// answering): retrying it safely needs its idempotency key.
    OutcomeUnknown,
    /// Anything else: a bug, corrupt data, a full disk; nothing was written.
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

    /// A write whose outcome cannot be known (its commit failed).
    pub fn outcome_unknown(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self { kind: StorageErrorKind::OutcomeUnknown, source: source.into() }
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
            StorageErrorKind::OutcomeUnknown => {
                f.write_str("the store could not confirm whether the write was made")
            }
            StorageErrorKind::Fault => f.write_str("the store failed"),
        }
    }
}

impl Error for StorageError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}
