//! Support for tests (feature `test-support`).
//!
//! PostgreSQL databases: each test gets a schema of its own in the database
//! `TEST_DATABASE_URL` names, so tests run in parallel and leave nothing behind (feature
//! `postgres`). Tests that need one are marked `#[ignore = "needs PostgreSQL: ..."]`: a plain
//! `cargo test` lists them as ignored, and `cargo test -- --include-ignored` runs them, failing
//! if `TEST_DATABASE_URL` is unset.
//!
//! SQLite: [`SqliteWriteLock`] holds a database file's write lock the way another process
//! writing to it would.
#![expect(clippy::expect_used, reason = "test support: a panic is a failed test")]

use diesel::{Connection, connection::SimpleConnection, sqlite::SqliteConnection};
#[cfg(feature = "postgres")]
use diesel::{RunQueryDsl, pg::PgConnection};

#[cfg(feature = "postgres")]
use crate::{DatabaseUrl, database_url::PostgresUrl};

/// The variable that names the PostgreSQL server tests use.
#[cfg(feature = "postgres")]
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// An empty schema of its own in the test database, dropped with everything in it when this
/// is dropped.
#[cfg(feature = "postgres")]
#[derive(Debug)]
pub struct TestSchema {
    server: String,
    name: String,
    url: PostgresUrl,
}

#[cfg(feature = "postgres")]
impl TestSchema {
    /// A new schema. Panics when `TEST_DATABASE_URL` is unset or the database cannot be
    /// reached: a test that needs PostgreSQL must not pass without it.
    pub fn create() -> Self {
        let server = std::env::var(TEST_DATABASE_URL)
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| {
                panic!(
                    "this test needs PostgreSQL: set {TEST_DATABASE_URL} \
                     (e.g. postgres://postgres@127.0.0.1:5432/test)"
                )
            });
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = PgConnection::establish(&server)
            .expect("TEST_DATABASE_URL is set, but PostgreSQL cannot be reached");
        diesel::sql_query(format!("CREATE SCHEMA {name}"))
            .execute(&mut connection)
            .expect("cannot create a test schema");
        let url = schema_url(&server, &name, "");
        Self { server, name, url }
    }

    /// A URL whose connections work in this schema.
    pub fn url(&self) -> &PostgresUrl {
        &self.url
    }

    /// A URL whose connections work in this schema and have PostgreSQL speak `lc_messages`
    /// (`de_DE.UTF-8`, say): the locale must be installed where the server runs, and the
    /// server started after it was (`.ci/run` does both).
    pub fn url_speaking(&self, lc_messages: &str) -> PostgresUrl {
        schema_url(&self.server, &self.name, &format!("%20-clc_messages%3D{lc_messages}"))
    }

    /// A URL for a new role that may read and write this schema's tables but not change the
    /// schema (the role of a server started with `BOOKING_MIGRATE=false`). Grant after
    /// migrating: it covers the tables that exist then. The role goes when this is dropped.
    pub fn application_role_url(&self) -> PostgresUrl {
        let role = self.role();
        let mut connection = PgConnection::establish(&self.server).expect("cannot connect");
        connection
            .batch_execute(&format!(
                "CREATE ROLE {role} LOGIN; \
                 GRANT USAGE ON SCHEMA {schema} TO {role}; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};",
                schema = self.name
            ))
            .expect("cannot create the application role");
        let (scheme, rest) = self.url.expose().split_once("://").expect("a URL");
        let host = rest.split_once('@').map_or(rest, |(_, host)| host);
        let Ok(DatabaseUrl::Postgres(url)) = format!("{scheme}://{role}@{host}").parse() else {
            panic!("not a postgres:// URL");
        };
        url
    }

    fn role(&self) -> String {
        format!("{}_app", self.name)
    }
}

/// The URL of `server` with connections in `schema`, and `more` server options (URL-encoded,
/// each after `%20`).
#[cfg(feature = "postgres")]
fn schema_url(server: &str, schema: &str, more: &str) -> PostgresUrl {
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}options=-csearch_path%3D{schema}{more}");
    let Ok(DatabaseUrl::Postgres(url)) = url.parse() else {
        panic!("{TEST_DATABASE_URL} is not a postgres:// URL");
    };
    url
}

#[cfg(feature = "postgres")]
impl Drop for TestSchema {
    fn drop(&mut self) {
        if let Ok(mut connection) = PgConnection::establish(&self.server) {
            let _left_behind = diesel::sql_query(format!("DROP SCHEMA {} CASCADE", self.name))
                .execute(&mut connection);
            let _no_role = diesel::sql_query(format!("DROP ROLE IF EXISTS {}", self.role()))
                .execute(&mut connection);
        }
    }
}

/// The write lock of an SQLite database, held (as by another process in the middle of a write)
/// until this is dropped.
pub struct SqliteWriteLock(SqliteConnection);

impl std::fmt::Debug for SqliteWriteLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteWriteLock")
    }
}

impl SqliteWriteLock {
    /// Takes the write lock of the database at `path`.
    pub fn take(path: &std::path::Path) -> Self {
        let path = path.to_str().expect("a test database path is text");
        let mut connection = beside_the_server(path);
        connection.batch_execute("BEGIN IMMEDIATE").expect("cannot take the write lock");
        Self(connection)
    }
}

impl Drop for SqliteWriteLock {
    fn drop(&mut self) {
        let _already_ended = self.0.batch_execute("ROLLBACK");
    }
}

/// Runs `sql` on the SQLite database at `path` from a connection of its own, as an operator
/// (or a fault) acting beside the server would.
pub fn sqlite_batch(path: &std::path::Path, sql: &str) {
    let path = path.to_str().expect("a UTF-8 path");
    beside_the_server(path).batch_execute(sql).expect("the SQL failed");
}

/// A connection to the SQLite database at `path` that waits, as the server's do, while the
/// server's writer or checkpointer holds the write lock for a moment (SQLite's default is not
/// to wait, and to answer "database is locked" at once).
fn beside_the_server(path: &str) -> SqliteConnection {
    let mut connection = SqliteConnection::establish(path).expect("cannot open the database");
    connection.batch_execute("PRAGMA busy_timeout = 10000").expect("cannot set a busy timeout");
    connection
}

/// How many rows `table` of the SQLite database at `path` holds, read from a connection of
/// its own.
pub fn sqlite_rows(path: &std::path::Path, table: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        rows: i64,
    }
    let path = path.to_str().expect("a UTF-8 path");
    let mut connection = SqliteConnection::establish(path).expect("cannot open the database");
    diesel::RunQueryDsl::get_result::<Count>(
        diesel::sql_query(format!("SELECT count(*) AS rows FROM {table}")),
        &mut connection,
    )
    .expect("cannot count the rows")
    .rows
}
