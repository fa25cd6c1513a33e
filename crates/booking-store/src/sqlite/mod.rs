//! The SQLite repository: one database file shared by every connection of the pool and by every
//! process that opens it.
//!
//! Each connection runs in WAL mode (readers never wait for the writer), with a busy timeout and
//! `synchronous = FULL` (an acknowledged write survives a power cut). Reads use the pool, on the
//! caller's thread: a point read takes tens of microseconds. Writes go to one thread that owns
//! the write connection (`writer`): it takes the write lock up front (`BEGIN IMMEDIATE`, so a
//! transaction never fails half-way for lack of it) and commits the writes that queued together
//! in one transaction, with one fsync.

mod checkpoint;
mod connection;
pub(crate) mod dialect;
mod statements;
mod writer;
mod writes;

use std::path::Path;

use booking_core::{pending::Pending, storage::StorageError};
use diesel::{
    connection::SimpleConnection,
    prelude::*,
    r2d2::{Pool, PooledConnection},
};
use thiserror::Error;

pub(crate) use self::connection::is_locked;
use self::{
    checkpoint::Checkpointer,
    connection::{ConnectionOptions, Opened, prepare},
    writer::Writer,
};
use crate::{
    Migrations, OpenError, StoreOptions,
    sql::{Announced, AnyConnection, SqlRepository, Store, TxError, storage_error},
};

type SqlitePool = Pool<Opened>;

/// Appointments in an SQLite database file: the core's ports over [`SqliteStore`].
pub type SqliteRepository = SqlRepository<SqliteStore>;

/// The SQLite side of [`SqliteRepository`]: the pool its reads use and the thread that owns
/// the write connection.
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The thread that owns the write connection (see `writer`).
    writer: Writer,
}

/// Why a backup was not written.
#[derive(Debug, Error)]
pub enum BackupError {
    /// The target exists (or is not a usable path); backups never overwrite.
    #[error("{0} already exists or is not a usable path; choose a new file")]
    Exists(String),
    /// There is no database file to back up.
    #[error("there is no SQLite database at {0}; check DATABASE_URL")]
    Missing(String),
    /// The database failed.
    #[error("the backup failed")]
    Storage(#[source] StorageError),
    /// The copy was written but could not be synced to disk.
    #[error("the copy could not be synced to disk")]
    Sync(#[source] std::io::Error),
}

impl SqliteRepository {
    /// Opens (creating if needed) the database at `path` and applies pending migrations. Several
    /// processes may open the same file at once: one migrates, the others wait for it.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Self, OpenError> {
        let name = path.display().to_string();
        let database = format!("the SQLite database {name}");
        let connection_options = ConnectionOptions::from(options);
        prepare(&name, &connection_options)
            .map_err(|source| OpenError::Prepare { database: database.clone(), source })?;
        let pool = Pool::builder()
            .max_size(options.pool_size)
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            // A local file does not go away like a server: testing every checkout would add a
            // query to every read. A connection that fails is dropped by the pool anyway.
            .test_on_check_out(false)
            .connection_customizer(Box::new(connection_options))
            .build(Opened::new(&name))
            .map_err(|source| OpenError::Pool { database: database.clone(), source })?;
        let cannot_open = |error: std::io::Error| OpenError::Prepare {
            database: database.clone(),
            source: error.into(),
        };
        let connect = move || {
            let mut connection = SqliteConnection::establish(&name)
                .map_err(|error| diesel::result::Error::QueryBuilderError(error.into()))?;
            connection_options.apply(&mut connection)?;
            // The writer checkpoints between transactions, not inside a commit (see `writer`).
            connection.batch_execute("PRAGMA wal_autocheckpoint = 0")?;
            Ok(connection)
        };
        let checkpoints =
            Checkpointer::start(connect().map_err(std::io::Error::other).map_err(cannot_open)?)
                .map_err(cannot_open)?;
        let writer = Writer::start(Box::new(connect), checkpoints, options.busy_timeout)
            .map_err(cannot_open)?;
        Ok(SqlRepository::new(SqliteStore { pool, writer }))
    }

    /// Runs SQLite's `PRAGMA integrity_check`; a fault unless the database is intact.
    pub fn check_integrity(&self) -> Result<(), StorageError> {
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut *self.store().connection()?)
            .map_err(storage_error)?;
        match rows.as_slice() {
            [only] if only.integrity_check == "ok" => Ok(()),
            problems => Err(StorageError::fault(format!(
                "integrity check: {}",
                problems.iter().map(|c| c.integrity_check.as_str()).collect::<Vec<_>>().join("; ")
            ))),
        }
    }

    /// Applies the pending migrations to the database at `path` (creating it if needed), and
    /// answers how many there were; nothing else is opened.
    pub fn migrate(path: &Path, options: &StoreOptions) -> Result<usize, OpenError> {
        let name = path.display().to_string();
        let options = StoreOptions { migrations: Migrations::Apply, ..*options };
        prepare(&name, &ConnectionOptions::from(&options)).map_err(|source| OpenError::Prepare {
            database: format!("the SQLite database {name}"),
            source,
        })
    }

    /// Writes a consistent copy of the database at `path` to `target`, which must not exist
    /// yet, while servers keep reading and writing it (SQLite's `VACUUM INTO`: one read
    /// transaction, so the copy holds every write committed before it began and none after),
    /// and syncs the copy to disk. The database must exist; it is neither created nor migrated,
    /// so a mistyped path fails instead of backing up an empty database.
    pub fn backup(path: &Path, target: &Path, options: &StoreOptions) -> Result<(), BackupError> {
        if !path.is_file() {
            return Err(BackupError::Missing(path.display().to_string()));
        }
        let unusable = || BackupError::Exists(target.display().to_string());
        if target.exists() {
            return Err(unusable());
        }
        let target_text = target.to_str().ok_or_else(unusable)?;
        let name = path.display().to_string();
        let failed = |error: diesel::result::Error| BackupError::Storage(storage_error(error));
        let mut connection = SqliteConnection::establish(&name)
            .map_err(|error| BackupError::Storage(StorageError::unavailable(error)))?;
        ConnectionOptions::from(options).apply(&mut connection).map_err(failed)?;
        diesel::sql_query("VACUUM INTO ?")
            .bind::<diesel::sql_types::Text, _>(target_text)
            .execute(&mut connection)
            .map_err(failed)?;
        // SQLite does not sync what VACUUM INTO writes: a backup that a power cut can lose is
        // not one. The directory is synced too, so that the new file's name survives.
        let sync = |path: &Path| std::fs::File::open(path).and_then(|file| file.sync_all());
        sync(target)
            .and_then(|()| {
                sync(
                    target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")),
                )
            })
            .map_err(BackupError::Sync)
    }
}

impl SqliteStore {
    fn connection(&self) -> Result<PooledConnection<Opened>, StorageError> {
        crate::checkout(&self.pool)
    }
}

impl Store for SqliteStore {
    /// Runs `read` on a pooled connection, once: a local file is not lost like a server.
    fn read<T>(
        &self,
        mut read: impl FnMut(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        read(&mut *self.connection()?)
    }

    /// Queues `work` for the writer: committed with its neighbours if it returns `Ok`, its
    /// savepoint rolled back otherwise; answered only once its transaction has ended.
    fn write<T, R>(
        &self,
        work: impl FnMut(&mut AnyConnection) -> Result<T, TxError<R>> + Send + 'static,
    ) -> Pending<T, R>
    where
        T: Announced + Send + 'static,
        R: Send + 'static,
    {
        self.writer.submit(work)
    }

    /// Whether writes can be taken: the writer thread is running.
    fn ready(&self) -> Result<(), StorageError> {
        if self.writer.is_running() {
            Ok(())
        } else {
            Err(StorageError::fault("the writer thread has stopped; restart the server"))
        }
    }
}

#[cfg(test)]
mod tests;
