//! What opening a store does with the schema: apply what is pending, or (for roles without the
//! right to change the schema) only check that nothing is.

use std::error::Error;

use diesel::backend::Backend;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use thiserror::Error;

/// What opening a store does with the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Migrations {
    /// Applies pending migrations (the default).
    #[default]
    Apply,
    /// Applies none, and refuses a database whose schema lacks some of this build's
    /// migrations (apply them first with `booking-http migrate`).
    Require,
}

/// The database's schema is behind this build.
#[derive(Debug, Error)]
#[error(
    "the database's schema lacks {count} of this server's migrations (from {first} on); apply \
     them with `booking-http migrate` as a role that may change the schema, or start without \
     BOOKING_MIGRATE=false"
)]
pub struct SchemaBehind {
    /// How many migrations are pending.
    pub count: usize,
    /// The first of them.
    pub first: String,
}

/// Applies or checks `migrations` as `mode` says; answers how many were applied.
pub(crate) fn bring_up_to_date<DB: Backend>(
    connection: &mut impl MigrationHarness<DB>,
    migrations: EmbeddedMigrations,
    mode: Migrations,
) -> Result<usize, Box<dyn Error + Send + Sync>> {
    match mode {
        Migrations::Apply => Ok(connection.run_pending_migrations(migrations)?.len()),
        Migrations::Require => match connection.pending_migrations(migrations)?.as_slice() {
            [] => Ok(0),
            pending @ [first, ..] => {
                Err(SchemaBehind { count: pending.len(), first: first.name().to_string() }.into())
            }
        },
    }
}

/// Fails with [`SchemaBehind`] unless every migration of `migrations` is among `applied` (the
/// versions a database recorded).
#[cfg(feature = "postgres")]
pub(crate) fn require_applied(
    applied: Vec<String>,
    migrations: EmbeddedMigrations,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let all = diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&migrations)?;
    let pending: Vec<_> = all
        .iter()
        .filter(|migration| !applied.contains(&migration.name().version().to_string()))
        .collect();
    match pending.as_slice() {
        [] => Ok(()),
        [first, ..] => {
            Err(SchemaBehind { count: pending.len(), first: first.name().to_string() }.into())
        }
    }
}
