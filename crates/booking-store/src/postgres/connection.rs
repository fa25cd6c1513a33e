//! Setting up PostgreSQL connections and the schema.

use std::{
    error::Error,
    marker::PhantomData,
    ops::{Deref, DerefMut},
    time::Duration,
};

use diesel::{
    connection::SimpleConnection,
    pg::PgConnection,
    prelude::*,
    r2d2::{self, ConnectionManager, CustomizeConnection, ManageConnection, R2D2Connection},
    sql_types::Integer,
};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};

use super::{
    channel,
    dialect::{LOCK_NAMESPACE, MIGRATIONS_LOCK},
};
use crate::{
    Migrations, StoreOptions,
    migrations::{bring_up_to_date, require_applied},
};

pub(super) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// How long a starting server waits for another one's migrations.
const MIGRATION_WAIT: Duration = Duration::from_secs(60);

/// The URL to connect with: the given one, plus a connect timeout and TCP settings that turn a
/// vanished database into an error within seconds, unless the URL sets them itself; and, to a
/// database on this machine's loopback address, no TLS unless the URL asks for it (libpq's
/// default, `sslmode=prefer`, would encrypt traffic that never leaves the kernel, at a cost
/// measured in docs/performance.md).
pub(super) fn with_defaults(url: &str, options: &StoreOptions) -> String {
    let connect = options.connection_timeout.as_secs().max(2);
    // Unacknowledged data (a query sent to a database that vanished) fails after this.
    let unacknowledged = (options.statement_timeout + Duration::from_secs(5)).as_millis();
    let defaults = [
        ("connect_timeout", connect.to_string()),
        ("keepalives_idle", "30".to_owned()),
        ("keepalives_interval", "10".to_owned()),
        ("keepalives_count", "3".to_owned()),
        ("tcp_user_timeout", unacknowledged.to_string()),
    ];
    let local = on_loopback(url).then(|| ("sslmode", "disable".to_owned()));
    let mut url = url.to_owned();
    for (name, value) in defaults.into_iter().chain(local) {
        if !sets(&url, name) {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("{name}={value}"));
        }
    }
    url
}

/// Whether `url` names a server on a loopback address (`localhost`, `127.0.0.0/8`, `::1`), as
/// its host or its `host` parameter; a Unix socket (libpq uses no TLS on one) and every other
/// host are not.
fn on_loopback(url: &str) -> bool {
    let (rest, query) = url.split_once('?').unwrap_or((url, ""));
    let parameter = query.split('&').find_map(|pair| pair.strip_prefix("host="));
    let authority = rest.split_once("://").map_or(rest, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or_default();
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match parameter {
        Some(host) => host,
        None if host_and_port.starts_with('[') => {
            host_and_port[1..].split(']').next().unwrap_or_default()
        }
        None => host_and_port.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

/// Whether `url` sets the connection parameter `name` in its query.
pub(super) fn sets(url: &str, name: &str) -> bool {
    let query = url.split_once('?').map(|(_, query)| query).unwrap_or_default();
    query.split('&').filter_map(|pair| pair.split('=').next()).any(|given| given == name)
}

/// Settings applied to every pooled connection when it is opened.
#[derive(Debug, Clone)]
pub(super) struct SessionSettings {
    pub statement_timeout: Duration,
    pub channel: String,
    pub origin: String,
    /// What the connections are for, as their `application_name` says (`booking writer
    /// ORIGIN`), so that `pg_stat_activity` tells a server's connections apart; `None` when the
    /// URL names the application itself.
    pub purpose: Option<&'static str>,
    /// Whether the connection runs only queries that find every row by its key (the readers'),
    /// planned so ([`PLANNED_BY_KEY`]).
    pub by_key: bool,
}

/// How a connection that runs only key lookups plans them, as the batch functions plan theirs
/// (their migration says why): once, for arrays of any length, never scanning or hashing a
/// table whose index serves, never compiled.
const PLANNED_BY_KEY: &str = "SET plan_cache_mode = force_generic_plan; \
     SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off; \
     SET jit = off";

impl SessionSettings {
    /// These settings for connections used for `purpose`, unless the URL names them.
    pub(super) fn for_purpose(&self, purpose: &'static str) -> Self {
        Self { purpose: self.purpose.and(Some(purpose)), ..self.clone() }
    }
}

impl SessionSettings {
    pub(super) fn apply(&self, connection: &mut impl SimpleConnection) -> QueryResult<()> {
        let timeout = self.statement_timeout.as_millis();
        // A writer that stalls mid-transaction (a paused process) holds locks; the database
        // ends its session rather than let every other writer of those slots wait on it.
        connection.batch_execute(&format!(
            "SET statement_timeout = {timeout}; \
             SET idle_in_transaction_session_timeout = {idle}; \
             SET {channel_setting} = '{channel}'; \
             SET {origin_setting} = '{origin}';",
            idle = timeout.max(1000) * 2,
            channel_setting = channel::CHANNEL_SETTING,
            channel = self.channel.replace('\'', "''"),
            origin_setting = channel::ORIGIN_SETTING,
            origin = self.origin,
        ))?;
        if let Some(purpose) = self.purpose {
            connection.batch_execute(&format!(
                "SET application_name = 'booking {purpose} {origin}'",
                origin = self.origin
            ))?;
        }
        if self.by_key {
            connection.batch_execute(PLANNED_BY_KEY)?;
        }
        Ok(())
    }
}

impl<C: SimpleConnection + Send + 'static> CustomizeConnection<Session<C>, r2d2::Error>
    for SessionSettings
{
    fn on_acquire(&self, session: &mut Session<C>) -> Result<(), r2d2::Error> {
        self.apply(&mut session.connection).map_err(r2d2::Error::QueryError)
    }
}

/// A pooled connection (`C`: PostgreSQL's own, for the batch functions, or the shared SQL's
/// [`AnyConnection`](crate::sql::AnyConnection)), and whether it failed with what may be a
/// lost connection: the pool drops a failed one when it comes back, instead of testing every
/// connection with a query each time it is handed out (a round trip on every request).
pub(super) struct Session<C> {
    connection: C,
    failed: bool,
}

impl<C> Session<C> {
    /// Marks the connection for the pool to drop: it failed as a lost connection would.
    pub(super) fn fail(&mut self) {
        self.failed = true;
    }
}

impl<C> Deref for Session<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.connection
    }
}

impl<C> DerefMut for Session<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.connection
    }
}

/// Opens [`Session`]s for a pool: a PostgreSQL connection, as `C`.
#[derive(Debug)]
pub(super) struct Sessions<C> {
    manager: ConnectionManager<PgConnection>,
    connection: PhantomData<fn() -> C>,
}

impl<C> Sessions<C> {
    pub(super) fn new(url: &str) -> Self {
        Self { manager: ConnectionManager::new(url), connection: PhantomData }
    }
}

impl<C> ManageConnection for Sessions<C>
where
    C: R2D2Connection + From<PgConnection> + 'static,
{
    type Connection = Session<C>;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Session<C>, r2d2::Error> {
        Ok(Session { connection: self.manager.connect()?.into(), failed: false })
    }

    fn is_valid(&self, session: &mut Session<C>) -> Result<(), r2d2::Error> {
        session.connection.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, session: &mut Session<C>) -> bool {
        // As Diesel's own manager: a connection given back by a panicking thread may be
        // mid-transaction.
        std::thread::panicking() || session.failed || session.connection.is_broken()
    }
}

/// Applies (or, with [`Migrations::Require`], checks) pending migrations under a session
/// advisory lock: when several servers start at once, one migrates and the others wait for it,
/// then find nothing left to do. Answers the schema the tables are in, and how many migrations
/// were applied.
pub(super) fn migrate(
    url: &str,
    mode: Migrations,
) -> Result<(String, usize), Box<dyn Error + Send + Sync>> {
    let mut connection = PgConnection::establish(url)?;
    connection.batch_execute(&format!("SET lock_timeout = {};", MIGRATION_WAIT.as_millis()))?;
    diesel::sql_query("SELECT pg_advisory_lock($1, $2)")
        .bind::<Integer, _>(LOCK_NAMESPACE)
        .bind::<Integer, _>(MIGRATIONS_LOCK)
        .execute(&mut connection)?;
    // The lock ends with the session, whatever happens here.
    let applied = match mode {
        Migrations::Apply => bring_up_to_date(&mut connection, MIGRATIONS, mode)?,
        // Diesel's own check first creates its table if missing, which a role without the
        // right to change the schema may not do, even when the table exists.
        Migrations::Require => {
            require_applied(applied_versions(&mut connection)?, MIGRATIONS)?;
            0
        }
    };
    let schema = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("current_schema()"))
        .get_result(&mut connection)?;
    Ok((schema, applied))
}

/// The versions recorded in Diesel's migrations table, read without creating it.
fn applied_versions(
    connection: &mut PgConnection,
) -> Result<Vec<String>, Box<dyn Error + Send + Sync>> {
    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let exists: Option<String> =
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
            "to_regclass('__diesel_schema_migrations')::text",
        ))
        .get_result(connection)?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    Ok(diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
        .load::<Applied>(connection)?
        .into_iter()
        .map(|applied| applied.version)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_gain_timeouts_they_do_not_set() {
        let options = StoreOptions::default();
        let url = with_defaults("postgres://u@h/db", &options);
        assert!(url.starts_with("postgres://u@h/db?connect_timeout=5&"), "{url}");
        assert!(url.contains("keepalives_idle=30"), "{url}");
        assert!(url.contains("tcp_user_timeout=10000"), "{url}");
        let url = with_defaults("postgres://u@h/db?connect_timeout=1&sslmode=require", &options);
        assert!(url.starts_with("postgres://u@h/db?connect_timeout=1&sslmode=require&"), "{url}");
        assert_eq!(url.matches("connect_timeout").count(), 1, "{url}");
        assert!(!url.contains("sslmode=disable"), "{url}");
    }

    #[test]
    fn a_loopback_server_gets_no_tls_unless_asked() {
        let options = StoreOptions::default();
        for local in [
            "postgres://u:p@127.0.0.1:5432/db",
            "postgres://u@localhost/db",
            "postgresql://u@[::1]:5433/db",
            "postgres://u@127.0.0.2/db?application_name=x",
            "postgres:///db?host=127.0.0.1",
        ] {
            let url = with_defaults(local, &options);
            assert!(url.contains("sslmode=disable"), "{url}");
        }
        for remote in [
            "postgres://u@db.example.com/db",
            "postgres://u@10.0.0.5:5432/db",
            "postgres://u@[2001:db8::1]/db",
            "postgres://u@127.0.0.1/db?sslmode=require",
            "postgres:///db?host=/var/run/postgresql",
            "postgres://u@localhost.example.com/db",
        ] {
            let url = with_defaults(remote, &options);
            assert!(!url.contains("sslmode=disable"), "{url}");
        }
    }
}
