//! Which database errors pass and which are faults, on either backend.
//!
//! PostgreSQL sends a SQLSTATE with every error it raises, the same whatever the server's
//! `lc_messages`: errors are judged by it, never by their words. libpq's own errors, when a
//! connection dies, carry none; Diesel gives them a kind. SQLite sends no SQLSTATE: its one
//! passing state, another connection's lock, is known by SQLite's own (always English) words.

use booking_core::storage::StorageError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// A transaction the database aborted so that others could go on (a serialization failure
/// or a deadlock); trying again may succeed.
#[derive(Debug, thiserror::Error)]
#[error("the database aborted the transaction to break a conflict: {0}")]
struct Conflict(DieselError);

/// A connection libpq found closed, or could not send a query on: it died (a restart, a cut,
/// a terminated backend), whatever the query was; or one whose transaction state Diesel lost
/// track of, which cannot be used again either.
#[derive(Debug, thiserror::Error)]
#[error("the connection to the database was closed: {0}")]
struct Closed(DieselError);

/// Whether `error` is a conflict the database broke by aborting this write.
#[cfg(feature = "postgres")]
pub(crate) fn is_conflict(error: &StorageError) -> bool {
    std::error::Error::source(error).is_some_and(|source| source.is::<Conflict>())
}

/// Whether `error` says its connection is closed or can no longer be used.
#[cfg(feature = "postgres")]
pub(crate) fn is_closed(error: &StorageError) -> bool {
    std::error::Error::source(error).is_some_and(|source| source.is::<Closed>())
}

/// A lost connection, a timeout, a database busy, restarting or short of resources, or a
/// conflict is a passing state (unavailable: try again); anything else is a fault.
pub(crate) fn storage_error(error: DieselError) -> StorageError {
    let DieselError::DatabaseError(kind, info) = &error else {
        return match error {
            DieselError::BrokenTransactionManager => StorageError::unavailable(Closed(error)),
            _ => StorageError::fault(error),
        };
    };
    // Before the SQLSTATE: once libpq finds the connection bad, Diesel gives every error this
    // kind, a deadlock's too, and a write is not retried on a dead connection.
    if matches!(kind, DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand)
    {
        return StorageError::unavailable(Closed(error));
    }
    let Some(code) = info.sqlstate() else {
        // SQLite's (PostgreSQL's errors without a SQLSTATE are libpq's, of the kinds above).
        return if matches!(kind, DatabaseErrorKind::Unknown)
            && crate::sqlite::is_locked(info.message())
        {
            StorageError::unavailable(error)
        } else {
            StorageError::fault(error)
        };
    };
    let class = code.class();
    if CONFLICTS.contains(&code.as_str()) {
        StorageError::unavailable(Conflict(error))
    } else if class.as_str() == CONNECTION_EXCEPTION {
        StorageError::unavailable(Closed(error))
    } else if PASSING_CLASSES.contains(&class.as_str()) || code.as_str() == LOCK_NOT_AVAILABLE {
        StorageError::unavailable(error)
    } else {
        StorageError::fault(error)
    }
}

/// Serialization failure (40001) and deadlock detected (40P01).
const CONFLICTS: [&str; 2] = ["40001", "40P01"];

/// The SQLSTATE class of connection exceptions.
const CONNECTION_EXCEPTION: &str = "08";

/// SQLSTATE classes whose every error passes: insufficient resources, such as a full disk or
/// too many connections (53); operator intervention, such as a shutdown, a database starting
/// up, or a statement canceled by `statement_timeout` (57014); and a system error outside
/// PostgreSQL, such as an I/O error (58).
const PASSING_CLASSES: [&str; 3] = ["53", "57", "58"];

/// A lock not had within `lock_timeout`.
const LOCK_NOT_AVAILABLE: &str = "55P03";
