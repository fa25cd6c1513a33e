//! Diesel repositories for the booking service: SQLite, embedded and bundled, is the default
//! store; PostgreSQL lets several servers share one database. Both run the same SQL for reads
//! and the business's own writes ([`SqlRepository`], compiled once over either connection),
//! and each decides client writes its own way; their migrations are compiled in and applied
//! when a store is opened. PostgreSQL is the default-on feature `postgres`; without it the
//! crate builds neither libpq nor OpenSSL.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod database_url;
mod migrations;
mod options;
#[cfg(feature = "postgres")]
pub mod postgres;
mod sql;
pub mod sqlite;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

use thiserror::Error;

pub use database_url::{DatabaseUrl, DatabaseUrlError, PostgresUrl};
pub use migrations::{Migrations, SchemaBehind};
pub use options::StoreOptions;
#[cfg(feature = "postgres")]
pub use postgres::PgRepository;
pub use sql::SqlRepository;
pub use sqlite::{BackupError, SqliteRepository};

/// Applies the pending migrations to `database` and answers how many there were (the
/// `migrate` command: for deployments whose servers run as roles that may not change the
/// schema).
pub fn migrate(database: &DatabaseUrl, options: &StoreOptions) -> Result<usize, OpenError> {
    match database {
        DatabaseUrl::Sqlite(path) => SqliteRepository::migrate(path, options),
        #[cfg(feature = "postgres")]
        DatabaseUrl::Postgres(url) => PgRepository::migrate(url, options),
        #[cfg(not(feature = "postgres"))]
        DatabaseUrl::Postgres(url) => Err(OpenError::Prepare {
            database: url.to_string(),
            source: "this build has no PostgreSQL support (cargo feature `postgres`)".into(),
        }),
    }
}

/// Checks a connection out of `pool`; the wait feeds the `booking_store_pool_wait_seconds`
/// histogram (docs/operations.md).
fn checkout<M: diesel::r2d2::ManageConnection>(
    pool: &diesel::r2d2::Pool<M>,
) -> Result<diesel::r2d2::PooledConnection<M>, booking_core::storage::StorageError> {
    let started = std::time::Instant::now();
    let connection = pool.get().map_err(booking_core::storage::StorageError::unavailable);
    metrics::histogram!("booking_store_pool_wait_seconds").record(started.elapsed().as_secs_f64());
    connection
}

/// Why a database could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The database could not be reached, set up or migrated.
    #[error("cannot open {database}")]
    Prepare {
        /// Which database, described without credentials.
        database: String,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The connection pool could not be built.
    #[error("cannot open a connection pool to {database}")]
    Pool {
        /// Which database, described without credentials.
        database: String,
        /// What went wrong.
        source: diesel::r2d2::PoolError,
    },
}
