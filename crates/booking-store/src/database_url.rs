//! Which database to use, as given by `DATABASE_URL`.

use std::{fmt, path::PathBuf, str::FromStr};

use thiserror::Error;

/// A database location. Its `Debug` and `Display` never show credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://` or `postgresql://`, as libpq reads it).
    Postgres(PostgresUrl),
}

/// A PostgreSQL connection URL, which may carry a password: shown without it.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The URL as given, credentials included, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The URL without its password and query (which may also carry one).
impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("postgres", &self.0));
        let rest = rest.split('?').next().unwrap_or_default();
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let authority = match authority.rsplit_once('@') {
            Some((user, host)) => match user.split_once(':') {
                Some((name, _password)) => format!("{name}:***@{host}"),
                None => format!("{user}@{host}"),
            },
            None => authority.to_owned(),
        };
        write!(f, "{scheme}://{authority}/{path}")
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// A `DATABASE_URL` that names no usable database.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DatabaseUrlError {
    /// An in-memory SQLite database would be a different, empty database for every pooled
    /// connection.
    #[error(
        "an in-memory SQLite database cannot be shared by the connection pool; give a file path such as sqlite://appointments.db"
    )]
    InMemory,
    /// No path after the scheme.
    #[error(
        "the SQLite URL names no file; write sqlite://appointments.db or sqlite:///var/lib/booking/appointments.db"
    )]
    MissingPath,
    /// A scheme this build does not serve.
    #[error(
        "unsupported database URL scheme '{0}'; use sqlite://PATH or postgres://USER@HOST/DATABASE"
    )]
    UnsupportedScheme(String),
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    /// Reads `sqlite://relative/path.db`, `sqlite:///absolute/path.db`, `sqlite:path.db` or a
    /// bare file path.
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let path = match url.split_once(':') {
            Some(("postgres" | "postgresql", _)) => {
                return Ok(Self::Postgres(PostgresUrl(url.to_owned())));
            }
            Some(("sqlite", rest)) => rest.strip_prefix("//").unwrap_or(rest),
            Some((scheme, _))
                if scheme.len() > 1
                    && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                return Err(DatabaseUrlError::UnsupportedScheme(scheme.to_owned()));
            }
            // No scheme, or a Windows drive letter: a plain path.
            _ => url,
        };
        if path.is_empty() {
            return Err(DatabaseUrlError::MissingPath);
        }
        if path == ":memory:" || path.contains("mode=memory") {
            return Err(DatabaseUrlError::InMemory);
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => url.fmt(f),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_and_paths() {
        let path = |url: &str| match url.parse::<DatabaseUrl>() {
            Ok(DatabaseUrl::Sqlite(path)) => Ok(path),
            other => Err(other),
        };
        assert_eq!(path("sqlite://appointments.db"), Ok("appointments.db".into()));
        assert_eq!(path("sqlite:///var/lib/b.db"), Ok("/var/lib/b.db".into()));
        assert_eq!(path("sqlite:data/b.db"), Ok("data/b.db".into()));
        assert_eq!(path("/tmp/b.db"), Ok("/tmp/b.db".into()));
        assert_eq!(path("C:\\data\\b.db"), Ok("C:\\data\\b.db".into()));
    }

    #[test]
    fn postgres_urls_keep_their_credentials_out_of_sight() {
        let url = "postgres://booking:s3cret@db.internal:5432/booking?sslmode=require&password=x";
        let parsed: DatabaseUrl = url.parse().unwrap();
        let DatabaseUrl::Postgres(postgres) = &parsed else { panic!("{parsed:?}") };
        assert_eq!(postgres.expose(), url);
        assert_eq!(parsed.to_string(), "postgres://booking:***@db.internal:5432/booking");
        assert!(!format!("{parsed:?}").contains("s3cret"));
        let plain: DatabaseUrl = "postgresql://postgres@127.0.0.1/test".parse().unwrap();
        assert_eq!(plain.to_string(), "postgresql://postgres@127.0.0.1/test");
    }

    #[test]
    fn unusable_urls_say_why() {
        assert_eq!("sqlite://:memory:".parse::<DatabaseUrl>(), Err(DatabaseUrlError::InMemory));
        assert_eq!(":memory:".parse::<DatabaseUrl>(), Err(DatabaseUrlError::InMemory));
        assert_eq!("sqlite://".parse::<DatabaseUrl>(), Err(DatabaseUrlError::MissingPath));
        assert_eq!(
            "mysql://root@localhost/b".parse::<DatabaseUrl>(),
            Err(DatabaseUrlError::UnsupportedScheme("mysql".into()))
        );
    }
}
