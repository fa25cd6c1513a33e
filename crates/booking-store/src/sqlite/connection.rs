//! Setting up SQLite connections and the schema.

use std::{
    error::Error,
    time::{Duration, Instant},
};

use diesel::{
    Connection, QueryableByName, RunQueryDsl,
    connection::SimpleConnection,
    r2d2::{self, ConnectionManager, CustomizeConnection, ManageConnection, R2D2Connection},
    sqlite::SqliteConnection,
};
#[cfg(test)]
use diesel_migrations::MigrationHarness;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};

use crate::{Migrations, StoreOptions, migrations::bring_up_to_date, sql::AnyConnection};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// The per-connection settings, applied to every connection when it is opened.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConnectionOptions {
    busy_timeout: Duration,
    durable: bool,
    migrations: Migrations,
}

impl From<&StoreOptions> for ConnectionOptions {
    fn from(options: &StoreOptions) -> Self {
        Self {
            busy_timeout: options.busy_timeout,
            durable: options.durable,
            migrations: options.migrations,
        }
    }
}

impl ConnectionOptions {
    pub(super) fn apply(&self, connection: &mut impl SimpleConnection) -> diesel::QueryResult<()> {
        // Savepoints keep the pages they change in a statement journal: in memory, not in a
        // temporary file written at every change.
        connection.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
             PRAGMA temp_store = MEMORY;",
            self.busy_timeout.as_millis(),
            if self.durable { "FULL" } else { "OFF" }
        ))
    }
}

impl CustomizeConnection<AnyConnection, r2d2::Error> for ConnectionOptions {
    fn on_acquire(&self, connection: &mut AnyConnection) -> Result<(), r2d2::Error> {
        self.apply(connection).map_err(r2d2::Error::QueryError)
    }
}

/// The pool's manager: opens SQLite connections (never guessing the backend from the path, as
/// `AnyConnection::establish` would) and hands them out as the shared SQL's [`AnyConnection`].
#[derive(Debug)]
pub(super) struct Opened(ConnectionManager<SqliteConnection>);

impl Opened {
    pub(super) fn new(path: &str) -> Self {
        Self(ConnectionManager::new(path))
    }
}

impl ManageConnection for Opened {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        self.0.connect().map(AnyConnection::from)
    }

    fn is_valid(&self, connection: &mut AnyConnection) -> Result<(), r2d2::Error> {
        connection.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, connection: &mut AnyConnection) -> bool {
        // As Diesel's own manager: a connection given back by a panicking thread may be
        // mid-transaction.
        std::thread::panicking() || connection.is_broken()
    }
}

/// Opens the file once to put it in WAL mode (a setting the file keeps) and apply (or check)
/// pending migrations; answers how many it applied. While another process does the same,
/// SQLite may answer "locked" without waiting (switching journal modes does not use the busy
/// handler), so this retries until `busy_timeout` has passed.
pub(super) fn prepare(
    path: &str,
    options: &ConnectionOptions,
) -> Result<usize, Box<dyn Error + Send + Sync>> {
    // Opening creates a missing file: a server that may not migrate must not leave an empty
    // database behind a mistyped path.
    if options.migrations == Migrations::Require && !std::path::Path::new(path).is_file() {
        return Err(format!(
            "there is no database at {path}; create it with `booking-http migrate`, or start \
             without BOOKING_MIGRATE=false"
        )
        .into());
    }
    let deadline = Instant::now() + options.busy_timeout.max(Duration::from_secs(1));
    loop {
        let attempt =
            SqliteConnection::establish(path).map_err(Into::into).and_then(|mut connection| {
                options.apply(&mut connection)?;
                connection.batch_execute("PRAGMA journal_mode = WAL;")?;
                migrate(&mut connection, options.migrations)
            });
        match attempt {
            Err(error) if is_locked(&error.to_string()) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

/// Whether SQLite refused because another connection holds a lock.
pub(crate) fn is_locked(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database table is locked")
}

/// Applies (or checks) pending migrations inside one immediate transaction, so that when
/// several processes start on one file, one migrates and the others wait, then find nothing
/// left to do. Foreign keys are off meanwhile, as SQLite's procedure for rebuilding a table
/// asks (dropping a table others refer to would otherwise delete their rows), and, when any
/// migration ran, every one of them is checked before the transaction commits.
fn migrate(
    connection: &mut SqliteConnection,
    mode: Migrations,
) -> Result<usize, Box<dyn Error + Send + Sync>> {
    enum Failure {
        Database(diesel::result::Error),
        Migration(Box<dyn Error + Send + Sync>),
    }
    impl From<diesel::result::Error> for Failure {
        fn from(error: diesel::result::Error) -> Self {
            Self::Database(error)
        }
    }
    // Outside the transaction: SQLite ignores the setting inside one.
    connection.batch_execute("PRAGMA foreign_keys = OFF;")?;
    let migrated = connection
        .immediate_transaction(|connection| {
            let applied =
                bring_up_to_date(connection, MIGRATIONS, mode).map_err(Failure::Migration)?;
            let broken = if applied == 0 { Vec::new() } else { broken_references(connection)? };
            match broken.as_slice() {
                [] => Ok(applied),
                [first, ..] => Err(Failure::Migration(
                    format!(
                        "the migrations left {} rows referring to rows that do not exist (the \
                         first in {first}); nothing was applied",
                        broken.len()
                    )
                    .into(),
                )),
            }
        })
        .map_err(|failure| match failure {
            Failure::Database(error) => error.into(),
            Failure::Migration(error) => error,
        });
    connection.batch_execute("PRAGMA foreign_keys = ON;")?;
    migrated
}

/// The table of each row that refers, by a foreign key, to a row that does not exist.
fn broken_references(connection: &mut SqliteConnection) -> diesel::QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Broken {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table: String,
    }
    diesel::sql_query("PRAGMA foreign_key_check")
        .load::<Broken>(connection)
        .map(|broken| broken.into_iter().map(|row| row.table).collect())
}

#[cfg(test)]
pub(super) fn reapply(
    connection: &mut SqliteConnection,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    migrate(connection, Migrations::Apply).map(drop)
}

/// Applies only the first `count` migrations, to build a database as an earlier release left
/// it.
#[cfg(test)]
pub(super) fn apply_first_migrations(
    connection: &mut SqliteConnection,
    count: usize,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    for _ in 0..count {
        connection.run_next_migration(MIGRATIONS)?;
    }
    Ok(())
}

#[cfg(test)]
pub(super) fn revert_all(
    connection: &mut SqliteConnection,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    // As `migrate` does, so that dropping a table deletes no rows of another.
    connection.batch_execute("PRAGMA foreign_keys = OFF;")?;
    let reverted = connection.revert_all_migrations(MIGRATIONS).map(drop);
    connection.batch_execute("PRAGMA foreign_keys = ON;")?;
    reverted
}
