//! The PostgreSQL repository: several servers, in several processes or on several machines,
//! share one database.
//!
//! Client writes (bookings, cancels, moves, holds and releases) go to a few writer threads
//! (`writer`) that send what has queued as batches: one call of one function per kind of write,
//! which decides and writes the whole batch in the database, in one round trip and one commit
//! (`batch`, and the migration `*_writes_in_batches`). The business's own writes (closures,
//! webhook endpoints, sweeps) run on the caller's thread, each in a transaction of its own on a
//! pooled connection. Every write runs under READ COMMITTED and locks what its decision rests on
//! before reading it, in one order (`dialect`); a write PostgreSQL aborts to break a deadlock is
//! retried from the start.
//!
//! Every committed write then announces what it changed (its `Change`) on a notification
//! channel (`announce`: after the commit, not inside the write); [`PgRepository::listen`]
//! hears other servers'.

/// Makes `$call` (a struct of a function call's binds, borrowed for `'a`, whose `QueryFragment`
/// writes the call) a query of rows read by name, with a static query id: every connection
/// prepares the call once, then only binds and runs it.
macro_rules! function_call {
    ($call:ident) => {
        impl diesel::query_builder::QueryId for $call<'_> {
            type QueryId = $call<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl diesel::query_builder::Query for $call<'_> {
            type SqlType = diesel::sql_types::Untyped;
        }

        impl<Conn> diesel::RunQueryDsl<Conn> for $call<'_> {}
    };
}

#[macro_use]
mod batch;

mod announce;
mod book;
mod cancel;
mod channel;
mod connection;
mod dialect;
mod finds;
mod holds;
mod listen;
mod moves;
mod writer;
mod writes;
// The SQL both backends share, compiled here against PostgreSQL's connection and `dialect`.
#[path = "../sql/keys.rs"]
mod keys;
#[path = "../sql/notifications.rs"]
mod notifications;
#[path = "../sql/records.rs"]
mod records;
#[path = "../sql/repository.rs"]
mod repository;
#[path = "../sql/rows.rs"]
mod rows;
#[path = "../sql/schema.rs"]
mod schema;
#[path = "../sql/transaction.rs"]
mod transaction;
#[path = "../sql/usage.rs"]
mod usage;
#[path = "../sql/webhooks.rs"]
mod webhooks;

use std::{fmt, time::Duration};

use booking_core::{
    change::Change,
    idempotency::Outcome,
    notification::{ClaimedNotification, Planned},
    pending::Pending,
    repository::{Forgotten, Written},
    storage::{StorageError, WriteError},
    webhook::{Claimed, Endpoint},
};
use diesel::{
    pg::PgConnection,
    prelude::*,
    r2d2::{ConnectionManager, Pool, PooledConnection},
    result::{DatabaseErrorKind, Error as DieselError},
};

pub use self::listen::Listening;
use self::{
    announce::Announcer,
    connection::{Session, SessionSettings, Sessions, migrate, with_defaults},
    transaction::TxError,
    writer::Writer,
};
use crate::{Migrations, OpenError, StoreOptions, database_url::PostgresUrl};

type PgPool = Pool<Sessions>;
/// The connection type the shared SQL runs on.
type Db = PgConnection;
/// The backend whose types the shared SQL's rows are checked against.
#[expect(
    dead_code,
    reason = "named only by the rows' derived type checks, which rustc counts as unused"
)]
type Backend = diesel::pg::Pg;
/// The repository the shared SQL implements the port for.
type Repository = PgRepository;

/// How many times a write PostgreSQL aborted to break a deadlock is tried in all.
const ATTEMPTS: u32 = 4;

/// Reader threads per repository, for point reads in batches.
const READERS: u32 = 2;

/// Appointments in a PostgreSQL database shared by any number of servers.
pub struct PgRepository {
    /// The threads client writes are queued to.
    writer: Writer,
    /// The threads point reads are queued to.
    readers: Writer,
    pool: PgPool,
    /// The URL with the connection defaults, for the listening connection.
    url: String,
    /// The notification channel of the servers sharing these tables.
    channel: String,
    /// Marks this repository's announcements, so its own listener can skip them.
    origin: String,
    announcer: Announcer,
}

impl fmt::Debug for PgRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgRepository").field("pool", &self.pool.state()).finish_non_exhaustive()
    }
}

impl PgRepository {
    /// Applies the pending migrations to the database at `url` (one server at a time), and
    /// answers how many there were; nothing else is opened.
    pub fn migrate(url: &PostgresUrl, options: &StoreOptions) -> Result<usize, OpenError> {
        migrate(&with_defaults(url.expose(), options), Migrations::Apply)
            .map(|(_schema, applied)| applied)
            .map_err(|source| OpenError::Prepare {
                database: format!("the PostgreSQL database {url}"),
                source,
            })
    }

    /// Connects, applies pending migrations (one server at a time) and opens the pool.
    pub fn open(url: &PostgresUrl, options: &StoreOptions) -> Result<Self, OpenError> {
        let database = format!("the PostgreSQL database {url}");
        let full_url = with_defaults(url.expose(), options);
        let (schema, _applied) = migrate(&full_url, options.migrations)
            .map_err(|source| OpenError::Prepare { database: database.clone(), source })?;
        let (channel_name, origin) = (channel::name(&schema), channel::new_origin());
        let settings = SessionSettings {
            statement_timeout: options.statement_timeout,
            channel: channel_name.clone(),
            origin: origin.clone(),
            purpose: (!connection::sets(&full_url, "application_name")).then_some("pool"),
            by_key: false,
        };
        let pool_of = |size: u32, settings: SessionSettings| {
            Pool::builder()
                .max_size(size)
                // Every connection opens at start-up, so a burst of requests does not wait for
                // connections to be set up.
                .min_idle(None)
                .connection_timeout(options.connection_timeout)
                // No query to test each connection as it is handed out: one that fails as a
                // lost connection would is dropped when it comes back (`Session`), and replaced.
                .test_on_check_out(false)
                .connection_customizer(Box::new(settings))
                .build(Sessions(ConnectionManager::new(&full_url)))
                .map_err(|source| OpenError::Pool { database: database.clone(), source })
        };
        let pool = pool_of(options.pool_size, settings.clone())?;
        let writers = pool_of(options.writers, settings.for_purpose("writer"))?;
        let cannot_start = |source: std::io::Error| OpenError::Prepare {
            database: database.clone(),
            source: source.into(),
        };
        let announcer = Announcer::spawn(full_url.clone(), settings.for_purpose("announcer"))
            .map_err(cannot_start)?;
        let writer = Writer::start(
            "pg-writer",
            "booking_store_write_queue_depth",
            writers,
            announcer.clone(),
            options.connection_timeout,
            options.writers as usize,
        )
        .map_err(cannot_start)?;
        let readers = Writer::start(
            "pg-reader",
            "booking_store_read_queue_depth",
            pool_of(READERS, SessionSettings { by_key: true, ..settings.for_purpose("reader") })?,
            announcer.clone(),
            options.connection_timeout,
            READERS as usize,
        )
        .map_err(cannot_start)?;
        Ok(Self { writer, readers, pool, url: full_url, channel: channel_name, origin, announcer })
    }

    /// Calls `deliver`, on a thread of its own, with every change other servers commit, in
    /// the order each server announced them (and [`Change::Everything`] after a lost
    /// connection, since changes may have been missed), until the returned guard is dropped or
    /// `deliver` returns false.
    pub fn listen(
        &self,
        deliver: impl FnMut(Change) -> bool + Send + 'static,
    ) -> std::io::Result<Listening> {
        listen::spawn(self.url.clone(), self.channel.clone(), self.origin.clone(), deliver)
    }

    fn connection(&self) -> Result<PooledConnection<Sessions>, StorageError> {
        crate::checkout(&self.pool)
    }

    /// Runs `read` on a pooled connection, which the pool drops afterwards if it failed as a
    /// lost connection would. Connections are not tested when checked out, so one that died
    /// while idle (the database restarted, the network was cut) is found out only when used: a
    /// read on one that turns out dead, being safe to repeat, runs again on another, up to the
    /// pool's size, rather than failing a request the database could now answer.
    fn read<T>(
        &self,
        mut read: impl FnMut(&mut Db) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut tries = self.pool.max_size();
        loop {
            let mut session = self.connection()?;
            let answer = read(&mut session);
            if let Err(error) = &answer
                && drop_if_lost(&mut session, error)
                && tries > 0
            {
                tries -= 1;
                continue;
            }
            return answer;
        }
    }

    /// Whether writes can be taken: the writers are running.
    fn ready(&self) -> Result<(), StorageError> {
        self.writer.ready()
    }

    /// Runs `work` (one of the business's own writes) now, on the caller's thread, in a
    /// transaction of its own; a refusal or failure rolls it back. Retried from the start when PostgreSQL aborted it to break a
    /// deadlock. The answer is ready when this returns.
    fn write<T: Announced, R>(
        &self,
        work: impl FnMut(&mut Db) -> Result<T, TxError<R>>,
    ) -> Pending<T, R> {
        Pending::ready(self.write_now(work))
    }

    fn write_now<T: Announced, R>(
        &self,
        mut work: impl FnMut(&mut Db) -> Result<T, TxError<R>>,
    ) -> Result<T, WriteError<R>> {
        self.retrying(|connection| connection.transaction(|connection| work(connection)))
    }

    fn retrying<T: Announced, R>(
        &self,
        mut attempt_once: impl FnMut(&mut Db) -> Result<T, TxError<R>>,
    ) -> Result<T, WriteError<R>> {
        let mut connection = self.connection().map_err(WriteError::Storage)?;
        let mut attempt = 1;
        loop {
            match attempt_once(&mut connection) {
                Ok(value) => {
                    if let Some(change) = value.changed() {
                        self.announcer.announce(change);
                    }
                    return Ok(value);
                }
                Err(TxError(WriteError::Storage(error)))
                    if is_conflict(&error) && attempt < ATTEMPTS =>
                {
                    tracing::debug!(attempt, "write aborted by a deadlock or conflict; retrying");
                    std::thread::sleep(Duration::from_millis(5 * u64::from(attempt)));
                    attempt += 1;
                }
                Err(TxError(error)) => {
                    if let WriteError::Storage(error) = &error
                        && drop_if_lost(&mut connection, error)
                    {
                        // A connection lost with the commit in flight may have committed the
                        // write: whether or not, listeners reload.
                        self.announcer.announce(&Change::Everything);
                    }
                    return Err(error);
                }
            }
        }
    }
}

/// Marks `session` for the pool to drop if `error` says its connection is closed or can no
/// longer be used, and answers whether it did. A timeout, a lock not had in time or a conflict
/// leaves the connection as good as it was (and its prepared statements with it).
fn drop_if_lost(session: &mut Session, error: &StorageError) -> bool {
    let lost = is_closed(error);
    if lost {
        session.fail();
    }
    lost
}

/// What a committed write announces to the other servers.
trait Announced {
    fn changed(&self) -> Option<&Change>;
}

impl<T> Announced for Written<T> {
    fn changed(&self) -> Option<&Change> {
        Some(&self.changed)
    }
}

impl<T> Announced for Outcome<Written<T>> {
    fn changed(&self) -> Option<&Change> {
        match self {
            // A replay changed nothing: the first answer was announced when it was written.
            Outcome::Replayed(_) => None,
            Outcome::Done(written) => written.changed(),
        }
    }
}

/// The sweep forgets what stopped counting already; the readiness check changes no slot; the
/// outbox's own writes (webhooks and notifications) change none either (what a change queues
/// is written, and announced, with the change).
macro_rules! announces_nothing {
    ($($written:ty),*) => {
        $(impl Announced for $written {
            fn changed(&self) -> Option<&Change> {
                None
            }
        })*
    };
}

announces_nothing!(
    (),
    bool,
    Endpoint,
    Vec<Claimed>,
    Vec<ClaimedNotification>,
    Planned,
    Forgotten,
    Option<booking_core::appointment::Appointment>
);

/// A transaction PostgreSQL aborted so that others could go on; trying again may succeed.
#[derive(Debug, thiserror::Error)]
#[error("the database aborted the transaction to break a conflict: {0}")]
struct Conflict(DieselError);

fn is_conflict(error: &StorageError) -> bool {
    std::error::Error::source(error).is_some_and(|source| source.is::<Conflict>())
}

/// A connection libpq found closed, or could not send a query on: it died (a restart, a cut,
/// a terminated backend), whatever the query was; or one whose transaction state Diesel lost
/// track of, which cannot be used again either.
#[derive(Debug, thiserror::Error)]
#[error("the connection to the database was closed: {0}")]
struct Closed(DieselError);

fn is_closed(error: &StorageError) -> bool {
    std::error::Error::source(error).is_some_and(|source| source.is::<Closed>())
}

/// A lost connection, a timeout, a database restarting or short of resources, or a conflict is
/// a passing state; anything else is a fault. Judged by the SQLSTATE PostgreSQL sends with
/// every error (the same whatever the server's `lc_messages`), or, for the errors libpq
/// itself raises when a connection dies, by Diesel's kind: never by the message's words.
fn storage_error(error: DieselError) -> StorageError {
    use diesel::pg::sql_state;
    let DieselError::DatabaseError(kind, info) = &error else {
        return match error {
            DieselError::BrokenTransactionManager => StorageError::unavailable(Closed(error)),
            _ => StorageError::fault(error),
        };
    };
    let code = info.sqlstate();
    let class = code.as_ref().map(|code| code.class());
    let in_class = |classes: &[&str]| class.is_some_and(|class| classes.contains(&class.as_str()));
    if matches!(code, Some(sql_state::T_R_SERIALIZATION_FAILURE | sql_state::T_R_DEADLOCK_DETECTED))
    {
        StorageError::unavailable(Conflict(error))
    } else if matches!(
        kind,
        DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
    ) || in_class(&[CONNECTION_EXCEPTION])
    {
        StorageError::unavailable(Closed(error))
    } else if in_class(&PASSING_CLASSES) || code == Some(sql_state::LOCK_NOT_AVAILABLE) {
        StorageError::unavailable(error)
    } else {
        StorageError::fault(error)
    }
}

/// The SQLSTATE class of connection exceptions.
const CONNECTION_EXCEPTION: &str = "08";

/// SQLSTATE classes whose every error passes: insufficient resources, such as a full disk or
/// too many connections (53); operator intervention, such as a shutdown, a database starting
/// up, or a statement canceled by `statement_timeout` (57014); and a system error outside
/// PostgreSQL, such as an I/O error (58). Beside them, 55P03: a lock not had within
/// `lock_timeout`.
const PASSING_CLASSES: [&str; 3] = ["53", "57", "58"];

#[cfg(test)]
mod tests;
