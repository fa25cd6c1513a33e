//! How a write transaction ends early; either way it rolls back.

use booking_core::storage::StorageError;

use super::storage_error;

pub(super) enum TxError<R> {
    /// The request was refused; nothing it did is kept.
    Refused(R),
    /// The idempotency key was used before for another request.
    KeyReused,
    /// The database failed.
    Storage(StorageError),
}

impl<R> From<diesel::result::Error> for TxError<R> {
    fn from(error: diesel::result::Error) -> Self {
        Self::Storage(storage_error(error))
    }
}

impl<R> From<StorageError> for TxError<R> {
    fn from(error: StorageError) -> Self {
        Self::Storage(error)
    }
}
