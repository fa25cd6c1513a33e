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
pub(crate) mod dialect;
mod finds;
mod holds;
mod listen;
mod moves;
mod writer;
mod writes;

use std::{fmt, time::Duration};

use booking_core::{
    change::Change,
    pending::Pending,
    storage::{StorageError, WriteError},
};
use diesel::{
    connection::SimpleConnection,
    pg::PgConnection,
    prelude::*,
    r2d2::{Pool, PooledConnection},
};

pub use self::listen::Listening;
use self::{
    announce::Announcer,
    connection::{Session, SessionSettings, Sessions, migrate, with_defaults},
    writer::Writer,
};
use crate::{
    Migrations, OpenError, StoreOptions,
    database_url::PostgresUrl,
    sql::{Announced, AnyConnection, SqlRepository, Store, TxError, is_closed, is_conflict},
};

/// Pooled connections of PostgreSQL's own, for the batch functions.
type PgPool = Pool<Sessions<PgConnection>>;
/// Pooled connections for the shared SQL.
type SharedPool = Pool<Sessions<AnyConnection>>;
/// The connection the batch functions run on.
type Db = PgConnection;

/// How many times a write PostgreSQL aborted to break a deadlock is tried in all.
const ATTEMPTS: u32 = 4;

/// Reader threads per repository, for point reads in batches.
const READERS: u32 = 2;

/// Appointments in a PostgreSQL database shared by any number of servers: the core's ports
/// over [`PgStore`].
pub type PgRepository = SqlRepository<PgStore>;

/// The PostgreSQL side of [`PgRepository`]: its writer and reader threads, its pool, and what
/// it needs to tell other servers of its changes and hear theirs.
pub struct PgStore {
    /// The threads client writes are queued to.
    writer: Writer,
    /// The threads point reads are queued to.
    readers: Writer,
    pool: SharedPool,
    /// The URL with the connection defaults, for the listening connection.
    url: String,
    /// The notification channel of the servers sharing these tables.
    channel: String,
    /// Marks this repository's announcements, so its own listener can skip them.
    origin: String,
    announcer: Announcer,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").field("pool", &self.pool.state()).finish_non_exhaustive()
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
        let cannot_pool = |source| OpenError::Pool { database: database.clone(), source };
        let shared =
            pool(&full_url, options.pool_size, settings.clone(), options).map_err(cannot_pool)?;
        let writers = pool(&full_url, options.writers, settings.for_purpose("writer"), options)
            .map_err(cannot_pool)?;
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
            pool(
                &full_url,
                READERS,
                SessionSettings { by_key: true, ..settings.for_purpose("reader") },
                options,
            )
            .map_err(cannot_pool)?,
            announcer.clone(),
            options.connection_timeout,
            READERS as usize,
        )
        .map_err(cannot_start)?;
        let store = PgStore {
            writer,
            readers,
            pool: shared,
            url: full_url,
            channel: channel_name,
            origin,
            announcer,
        };
        Ok(SqlRepository::new(store))
    }

    /// Calls `deliver`, on a thread of its own, with every change other servers commit, in
    /// the order each server announced them (and [`Change::Everything`] after a lost
    /// connection, since changes may have been missed), until the returned guard is dropped or
    /// `deliver` returns false.
    pub fn listen(
        &self,
        deliver: impl FnMut(Change) -> bool + Send + 'static,
    ) -> std::io::Result<Listening> {
        let store = self.store();
        listen::spawn(store.url.clone(), store.channel.clone(), store.origin.clone(), deliver)
    }
}

impl PgStore {
    fn connection(&self) -> Result<PooledConnection<Sessions<AnyConnection>>, StorageError> {
        crate::checkout(&self.pool)
    }

    fn write_now<T: Announced, R>(
        &self,
        mut work: impl FnMut(&mut AnyConnection) -> Result<T, TxError<R>>,
    ) -> Result<T, WriteError<R>> {
        self.retrying(|connection| connection.transaction(|connection| work(connection)))
    }

    fn retrying<T: Announced, R>(
        &self,
        mut attempt_once: impl FnMut(&mut AnyConnection) -> Result<T, TxError<R>>,
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

impl Store for PgStore {
    /// Runs `read` on a pooled connection, which the pool drops afterwards if it failed as a
    /// lost connection would. Connections are not tested when checked out, so one that died
    /// while idle (the database restarted, the network was cut) is found out only when used: a
    /// read on one that turns out dead, being safe to repeat, runs again on another, up to the
    /// pool's size, rather than failing a request the database could now answer.
    fn read<T>(
        &self,
        mut read: impl FnMut(&mut AnyConnection) -> Result<T, StorageError>,
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
    fn write<T, R>(
        &self,
        work: impl FnMut(&mut AnyConnection) -> Result<T, TxError<R>> + Send + 'static,
    ) -> Pending<T, R>
    where
        T: Announced + Send + 'static,
        R: Send + 'static,
    {
        Pending::ready(self.write_now(work))
    }
}

/// Marks `session` for the pool to drop if `error` says its connection is closed or can no
/// longer be used, and answers whether it did. A timeout, a lock not had in time or a conflict
/// leaves the connection as good as it was (and its prepared statements with it).
fn drop_if_lost<C>(session: &mut Session<C>, error: &StorageError) -> bool {
    let lost = is_closed(error);
    if lost {
        session.fail();
    }
    lost
}

/// A pool of `size` connections to `url` with `settings`.
fn pool<C>(
    url: &str,
    size: u32,
    settings: SessionSettings,
    options: &StoreOptions,
) -> Result<Pool<Sessions<C>>, diesel::r2d2::PoolError>
where
    C: diesel::r2d2::R2D2Connection + From<PgConnection> + SimpleConnection + 'static,
{
    Pool::builder()
        .max_size(size)
        // Every connection opens at start-up, so a burst of requests does not wait for
        // connections to be set up.
        .min_idle(None)
        .connection_timeout(options.connection_timeout)
        // No query to test each connection as it is handed out: one that fails as a lost
        // connection would is dropped when it comes back (`Session`), and replaced.
        .test_on_check_out(false)
        .connection_customizer(Box::new(settings))
        .build(Sessions::new(url))
}

#[cfg(test)]
mod tests;
