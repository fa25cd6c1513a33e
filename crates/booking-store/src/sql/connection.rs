//! The connection the shared SQL runs on: SQLite's or PostgreSQL's, chosen when it is opened.

#[cfg(feature = "postgres")]
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

use super::Dialect;

/// A connection to either backend, for the SQL both share (Diesel's `MultiConnection`: each
/// query is built for the backend of the connection it runs on).
#[cfg(feature = "postgres")]
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// A connection to an SQLite file.
    Sqlite(SqliteConnection),
    /// A connection to a PostgreSQL database.
    Postgres(PgConnection),
}

/// A connection to either backend, for the SQL both share (Diesel's `MultiConnection`: each
/// query is built for the backend of the connection it runs on). This build has no PostgreSQL.
#[cfg(not(feature = "postgres"))]
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// A connection to an SQLite file.
    Sqlite(SqliteConnection),
}

impl AnyConnection {
    /// The statements and locks of this connection's backend.
    pub(crate) fn dialect(&self) -> &'static Dialect {
        match self {
            Self::Sqlite(_) => &crate::sqlite::dialect::DIALECT,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => &crate::postgres::dialect::DIALECT,
        }
    }

    /// The SQLite connection, for SQLite's own statements (SQLite's store opens no other kind).
    pub(crate) fn sqlite(&mut self) -> diesel::QueryResult<&mut SqliteConnection> {
        match self {
            Self::Sqlite(connection) => Ok(connection),
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Err(diesel::result::Error::QueryBuilderError(
                "an SQLite statement was sent to a PostgreSQL connection".into(),
            )),
        }
    }
}

impl From<SqliteConnection> for AnyConnection {
    fn from(connection: SqliteConnection) -> Self {
        Self::Sqlite(connection)
    }
}

#[cfg(feature = "postgres")]
impl From<PgConnection> for AnyConnection {
    fn from(connection: PgConnection) -> Self {
        Self::Postgres(connection)
    }
}
