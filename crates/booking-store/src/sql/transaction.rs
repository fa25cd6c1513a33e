//! How a write transaction ends early; either way it rolls back.

use booking_core::storage::{StorageError, WriteError};

use super::storage_error;

/// The answer of a write that did not happen (refused, its key used for another request, or
/// the database failed), which the database's errors convert into with `?`: the core's
/// [`WriteError`] cannot know them.
pub(crate) struct TxError<R>(pub(crate) WriteError<R>);

impl<R> TxError<R> {
    /// The request was refused; nothing it did is kept.
    pub(crate) fn refused(refusal: R) -> Self {
        Self(WriteError::Refused(refusal))
    }
}

impl<R> From<WriteError<R>> for TxError<R> {
    fn from(error: WriteError<R>) -> Self {
        Self(error)
    }
}

impl<R> From<diesel::result::Error> for TxError<R> {
    fn from(error: diesel::result::Error) -> Self {
        Self(WriteError::Storage(storage_error(error)))
    }
}

impl<R> From<StorageError> for TxError<R> {
    fn from(error: StorageError) -> Self {
        Self(WriteError::Storage(error))
    }
}
