//! Which database to use, as given by `DATABASE_URL`.

use std::{fmt, path::PathBuf, str::FromStr};

use thiserror::Error;

/// A database location. Its `Debug` and `Display` never show credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite database file.
    Sqlite(PathBuf),
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
    #[error("unsupported database URL scheme '{0}'; use sqlite://PATH")]
    UnsupportedScheme(String),
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    /// Reads `sqlite://relative/path.db`, `sqlite:///absolute/path.db`, `sqlite:path.db` or a
    /// bare file path.
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let path = match url.split_once(':') {
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
        let path = |url: &str| url.parse::<DatabaseUrl>().map(|DatabaseUrl::Sqlite(p)| p);
        assert_eq!(path("sqlite://appointments.db"), Ok("appointments.db".into()));
        assert_eq!(path("sqlite:///var/lib/b.db"), Ok("/var/lib/b.db".into()));
        assert_eq!(path("sqlite:data/b.db"), Ok("data/b.db".into()));
        assert_eq!(path("/tmp/b.db"), Ok("/tmp/b.db".into()));
        assert_eq!(path("C:\\data\\b.db"), Ok("C:\\data\\b.db".into()));
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
