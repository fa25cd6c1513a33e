//! The SQL both backends share, compiled once: the reads, the business's own writes (closures,
//! webhook endpoints, notification plans, sweeps) and the rows they read and write. It runs on
//! [`AnyConnection`], Diesel's `MultiConnection` over SQLite's and PostgreSQL's connections: a
//! query is written once and built as the SQL of the connection it runs on.
//!
//! What differs lives in one file per backend: the statements and locks that cannot be the
//! same (`sqlite/dialect.rs`, `postgres/dialect.rs`, each one [`Dialect`] value); how reads and
//! the business's writes run (`sqlite/mod.rs`, `postgres/mod.rs`, each one [`Store`]); and the
//! client writes (`sqlite/writes/mod.rs`, `postgres/writes.rs`, each one [`ClientWrites`]).
//! [`SqlRepository`] implements the core's ports once over any `Store`.

mod calendar;
mod connection;
mod dialect;
mod error;
mod keys;
mod notifications;
pub(crate) mod records;
mod repository;
pub(crate) mod rows;
pub(crate) mod schema;
mod store;
mod transaction;
mod usage;
mod webhooks;

#[cfg(feature = "postgres")]
pub(crate) use self::error::{is_closed, is_conflict};
pub(crate) use self::{
    connection::{AnyConnection, MultiBackend},
    dialect::Dialect,
    error::storage_error,
    store::Announced,
    store::{ClientWrites, Store},
    transaction::TxError,
};

/// A repository over SQL: the core's ports (appointments, the webhook outbox, notifications)
/// implemented once for every backend `S` ([`crate::SqliteRepository`],
/// [`crate::PgRepository`]).
#[derive(Debug)]
pub struct SqlRepository<S> {
    store: S,
}

impl<S> SqlRepository<S> {
    pub(crate) fn new(store: S) -> Self {
        Self { store }
    }

    /// The backend under the ports.
    pub(crate) fn store(&self) -> &S {
        &self.store
    }
}
