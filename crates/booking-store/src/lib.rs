//! Diesel repositories for the booking service. SQLite, embedded and bundled, is the default
//! store; migrations are compiled in and applied when a store is opened.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod database_url;
pub mod sqlite;

pub use database_url::{DatabaseUrl, DatabaseUrlError};
pub use sqlite::{BackupError, SqliteOptions, SqliteRepository};
