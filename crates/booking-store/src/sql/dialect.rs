//! What the shared SQL needs said differently on each backend: a few statements (their
//! placeholders, and PostgreSQL's `SKIP LOCKED`) and the locks PostgreSQL's writers take where
//! SQLite's one writer already holds the whole database. Each backend fills one [`Dialect`] in
//! its own `dialect.rs`; a connection answers with its backend's
//! ([`super::AnyConnection::dialect`]).

use diesel::QueryResult;

use super::AnyConnection;

/// One backend's statements and locks. The statements take their bind parameters in the order
/// each field's documentation gives.
#[derive(Debug)]
pub(crate) struct Dialect {
    /// The name of the function giving the position of a substring (1-based, 0 when absent).
    pub text_position: &'static str,
    /// Deletes a batch of idempotency records made at or before 1, at most 2, oldest first.
    pub forget_keys: &'static str,
    /// Deletes a batch of holds that ended at or before 1, at most 2, first ended first.
    pub forget_holds: &'static str,
    /// Deletes a batch of webhook deliveries settled at or before 1, at most 2, first settled
    /// first.
    pub forget_deliveries: &'static str,
    /// The ids of due deliveries (due by 1), at most 2.
    pub due_deliveries: &'static str,
    /// Settles as skipped, at 1 with 2 as the reason, the reminders that became moot.
    pub skip_moot_reminders: &'static str,
    /// The ids of due notifications (due by 1), at most 2.
    pub due_notifications: &'static str,
    /// Forgets at most 2 notifications settled at or before 1, first settled first.
    pub forget_notifications: &'static str,
    /// Locks an idempotency key or a holder until the transaction ends.
    pub lock_key: fn(&mut AnyConnection, &str) -> QueryResult<()>,
    /// Taken by a new notification plan, before it reads what is queued.
    pub lock_notifications: fn(&mut AnyConnection) -> QueryResult<()>,
    /// Taken by adding or removing a closure, alone.
    pub lock_closures: fn(&mut AnyConnection) -> QueryResult<()>,
    /// Taken by a calendar change, alone: the writes that take places take it shared.
    pub lock_calendar: fn(&mut AnyConnection) -> QueryResult<()>,
}
