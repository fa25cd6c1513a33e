//! How a store uses its database: one set of settings for both backends, each using the ones
//! that apply to it.

use std::time::Duration;

use crate::Migrations;

/// How the store uses its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections kept open (SQLite: for reads; its writes share one more).
    pub pool_size: u32,
    /// PostgreSQL: connections that send client writes in batches (each a thread of its own).
    pub writers: u32,
    /// How long a request waits for a free (or new) connection before the store reports itself
    /// unavailable. With PostgreSQL this also bounds connecting (`connect_timeout`).
    pub connection_timeout: Duration,
    /// SQLite: how long a writer from another process waits for the write lock.
    pub busy_timeout: Duration,
    /// PostgreSQL: the longest one statement may run, waiting for locks included, before the
    /// database cancels it and the request gets a 503.
    pub statement_timeout: Duration,
    /// SQLite: whether a commit waits for the disk (`synchronous = FULL`). Only bulk loads that
    /// can be redone from scratch, such as benchmark fixtures, turn this off.
    pub durable: bool,
    /// Whether opening applies pending migrations, or only requires that none are.
    pub migrations: Migrations,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            writers: 2,
            connection_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            durable: true,
            migrations: Migrations::Apply,
        }
    }
}
