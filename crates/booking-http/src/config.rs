//! The server's configuration: a plain value, built from flags and environment variables by
//! [`Cli`](crate::cli::Cli) or directly by tests and embedders.

use std::net::{Ipv4Addr, SocketAddr};

use booking_core::schedule::Schedule;
use booking_store::{DatabaseUrl, SqliteOptions};

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen; port 0 picks a free port.
    pub address: SocketAddr,
    /// Where appointments are kept.
    pub database: DatabaseUrl,
    /// How the store uses its database.
    pub store: SqliteOptions,
    /// The business's schedule.
    pub schedule: Schedule,
    /// HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, 5000)),
            database: DatabaseUrl::Sqlite("appointments.db".into()),
            store: SqliteOptions::default(),
            schedule: Schedule::default(),
            workers: None,
        }
    }
}
