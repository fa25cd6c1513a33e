//! The SQLite repository: one database file shared by every connection of the pool and by every
//! process that opens it.
//!
//! Each connection runs in WAL mode (readers never wait for the writer), with a busy timeout and
//! `synchronous = FULL` (an acknowledged write survives a power cut). Reads use the pool; writes
//! use one dedicated connection, take the write lock up front (`BEGIN IMMEDIATE`, so a
//! transaction never fails half-way for lack of it), and share transactions and their fsync
//! when they arrive together (`group_commit`).

mod connection;
mod group_commit;
mod keys;
mod places;
mod records;
mod rows;
mod schema;

use std::{path::Path, time::Duration};

use booking_core::{
    appointment::{Appointment, AppointmentId, Move},
    availability::{Admission, Unavailable, UsageMap},
    closure::{Closure, ClosureId},
    hold::{Hold, HoldToken},
    idempotency::{Idempotency, Outcome},
    repository::{
        AppointmentQuery, AppointmentRepository, BookFailure, Booking, CancelFailure,
        ClosureNotFound, HoldNotFound, HoldRequest, RescheduleFailure, Rescheduled, StorageError,
        WriteError,
    },
    schedule::Placement,
};
use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    r2d2::{ConnectionManager, Pool, PooledConnection},
};
use thiserror::Error;

pub use self::connection::SqliteOptions;
use self::{
    connection::{ConnectionOptions, is_locked, prepare},
    group_commit::GroupCommit,
    places::Own,
    rows::{AppointmentRow, ClosureRow, seconds},
    schema::{appointments, closures},
};

type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;

/// Appointments in an SQLite database file.
#[derive(Debug)]
pub struct SqliteRepository {
    pool: SqlitePool,
    /// The write connection, shared by concurrent writers (see `group_commit`).
    writer: GroupCommit,
}

/// Why a database could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The file could not be opened, set up or migrated.
    #[error("cannot open the SQLite database {path}")]
    Prepare {
        /// The database file.
        path: String,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The pool could not be built.
    #[error("cannot open a connection pool to {path}")]
    Pool {
        /// The database file.
        path: String,
        /// What went wrong.
        source: diesel::r2d2::PoolError,
    },
}

/// Why a backup was not written.
#[derive(Debug, Error)]
pub enum BackupError {
    /// The target exists (or is not a usable path); backups never overwrite.
    #[error("{0} already exists or is not a usable path; choose a new file")]
    Exists(String),
    /// The database failed.
    #[error("the backup failed")]
    Storage(#[source] StorageError),
}

impl SqliteRepository {
    /// Opens (creating if needed) the database at `path` and applies pending migrations. Several
    /// processes may open the same file at once: one migrates, the others wait for it.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<Self, OpenError> {
        let name = path.display().to_string();
        let connection_options = ConnectionOptions::from(&options);
        prepare(&name, &connection_options)
            .map_err(|source| OpenError::Prepare { path: name.clone(), source })?;
        let pool = Pool::builder()
            .max_size(options.pool_size)
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            .connection_customizer(Box::new(connection_options))
            .build(ConnectionManager::new(&name))
            .map_err(|source| OpenError::Pool { path: name.clone(), source })?;
        let mut write_connection = SqliteConnection::establish(&name)
            .map_err(|error| OpenError::Prepare { path: name.clone(), source: error.into() })?;
        connection_options
            .apply(&mut write_connection)
            .map_err(|error| OpenError::Prepare { path: name.clone(), source: error.into() })?;
        Ok(Self { pool, writer: GroupCommit::new(write_connection) })
    }

    /// Runs SQLite's `PRAGMA integrity_check`; a fault unless the database is intact.
    pub fn check_integrity(&self) -> Result<(), StorageError> {
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut *self.connection()?)
            .map_err(storage_error)?;
        match rows.as_slice() {
            [only] if only.integrity_check == "ok" => Ok(()),
            problems => Err(StorageError::fault(format!(
                "integrity check: {}",
                problems.iter().map(|c| c.integrity_check.as_str()).collect::<Vec<_>>().join("; ")
            ))),
        }
    }

    /// Writes a consistent copy of the live database to `target`, which must not exist yet,
    /// while others keep reading and writing (SQLite's `VACUUM INTO`: one read transaction, so
    /// the copy holds every write committed before it began and none after).
    pub fn backup_to(&self, target: &Path) -> Result<(), BackupError> {
        let unusable = || BackupError::Exists(target.display().to_string());
        if target.exists() {
            return Err(unusable());
        }
        let target_text = target.to_str().ok_or_else(unusable)?;
        diesel::sql_query("VACUUM INTO ?")
            .bind::<diesel::sql_types::Text, _>(target_text)
            .execute(&mut *self.connection().map_err(BackupError::Storage)?)
            .map(drop)
            .map_err(|error| BackupError::Storage(storage_error(error)))
    }

    fn connection(
        &self,
    ) -> Result<PooledConnection<ConnectionManager<SqliteConnection>>, StorageError> {
        self.pool.get().map_err(StorageError::unavailable)
    }

    /// Runs `work` in the shared write transaction: committed with its neighbours if it returns
    /// `Ok`, its savepoint rolled back otherwise; answered only after the commit.
    fn write<T, R>(
        &self,
        work: impl FnOnce(&mut SqliteConnection) -> Result<T, TxError<R>>,
    ) -> Result<T, WriteError<R>> {
        self.writer.write(work)
    }
}

/// How a write transaction ends early; either way it rolls back.
pub(super) enum TxError<R> {
    Refused(R),
    KeyReused,
    Storage(StorageError),
}

impl<R> From<diesel::result::Error> for TxError<R> {
    fn from(error: diesel::result::Error) -> Self {
        Self::Storage(storage_error(error))
    }
}

impl<R> From<StorageError> for TxError<R> {
    fn from(error: StorageError) -> Self {
        Self::Storage(error)
    }
}

/// A busy or locked database is a passing state; anything else is a fault.
pub(super) fn storage_error(error: diesel::result::Error) -> StorageError {
    let transient = match &error {
        diesel::result::Error::DatabaseError(_, info) => is_locked(info.message()),
        _ => false,
    };
    if transient { StorageError::unavailable(error) } else { StorageError::fault(error) }
}

impl AppointmentRepository for SqliteRepository {
    fn book(
        &self,
        booking: &Booking,
        admission: &Admission,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Appointment>, WriteError<BookFailure>> {
        self.write(|connection| {
            if let Some(stored) = keys::replay(connection, idempotency)? {
                return Ok(Outcome::Replayed(stored));
            }
            let now = admission.now();
            let admitted = match &booking.hold {
                Some(token) => {
                    let hold = records::hold(connection, token)?
                        .filter(|hold| hold.is_active(now))
                        .ok_or(TxError::Refused(HoldNotFound.into()))?;
                    let placement = booking
                        .candidate_for(&hold)
                        .ok_or(TxError::Refused(BookFailure::HoldMismatch))?;
                    // The hold's places become the appointment's: drop the hold, then check as
                    // for any booking. A refusal rolls the deletion back.
                    records::delete_hold(connection, token)?;
                    places::first_admitted(
                        connection,
                        std::slice::from_ref(placement),
                        admission,
                        Own::Nothing,
                    )?
                }
                None => places::first_admitted(
                    connection,
                    &booking.candidates,
                    admission,
                    Own::Nothing,
                )?,
            };
            let placement = admitted.map_err(|why| TxError::Refused(why.into()))?;
            places::take(connection, &placement.resource, &placement.occupied, placement.capacity)?;
            let appointment = booking.appointment_at(placement, now);
            records::insert_appointment(connection, &appointment)?;
            keys::remember(connection, idempotency, &appointment)?;
            Ok(Outcome::Done(appointment))
        })
    }

    fn cancel(
        &self,
        id: AppointmentId,
        now: DateTime<Utc>,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Appointment>, WriteError<CancelFailure>> {
        self.write(|connection| {
            if let Some(stored) = keys::replay(connection, idempotency)? {
                return Ok(Outcome::Replayed(stored));
            }
            let mut appointment = records::appointment(connection, id)?
                .ok_or(TxError::Refused(CancelFailure::NotFound))?;
            appointment.cancel(now).map_err(|refusal| TxError::Refused(refusal.into()))?;
            let row = AppointmentRow::from(&appointment);
            diesel::update(appointments::table.find(&row.id))
                .set((
                    appointments::status.eq(&row.status),
                    appointments::updated_at.eq(row.updated_at),
                ))
                .execute(connection)?;
            places::give_back(connection, appointment.resource(), appointment.occupied())?;
            keys::remember(connection, idempotency, &appointment)?;
            Ok(Outcome::Done(appointment))
        })
    }

    fn reschedule(
        &self,
        id: AppointmentId,
        to: &Placement,
        admission: &Admission,
        idempotency: Option<Idempotency<'_>>,
    ) -> Result<Outcome<Rescheduled>, WriteError<RescheduleFailure>> {
        self.write(|connection| {
            if let Some(stored) = keys::replay(connection, idempotency)? {
                return Ok(Outcome::Replayed(stored));
            }
            let current = records::appointment(connection, id)?
                .ok_or(TxError::Refused(RescheduleFailure::NotFound))?;
            let mut appointment = current.clone();
            let change = appointment
                .reschedule(to, admission.now())
                .map_err(|refusal| TxError::Refused(refusal.into()))?;
            let Move::Moved { released } = change else {
                keys::remember(connection, idempotency, &appointment)?;
                return Ok(Outcome::Done(Rescheduled { appointment, released: Vec::new() }));
            };
            places::first_admitted(
                connection,
                std::slice::from_ref(to),
                admission,
                Own::Appointment(&current),
            )?
            .map_err(|why| TxError::Refused(why.into()))?;
            // Give back first: the new places may overlap the old ones.
            places::give_back(connection, current.resource(), &released)?;
            places::take(connection, &to.resource, &to.occupied, to.capacity)?;
            records::move_appointment(connection, &appointment)?;
            keys::remember(connection, idempotency, &appointment)?;
            Ok(Outcome::Done(Rescheduled { appointment, released }))
        })
    }

    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        records::appointment(&mut *self.connection()?, id)
    }

    fn appointments(&self, query: &AppointmentQuery) -> Result<Vec<Appointment>, StorageError> {
        records::appointments(&mut *self.connection()?, query)
    }

    fn usage(
        &self,
        resource: Option<&booking_core::catalog::Slug>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<UsageMap, StorageError> {
        places::usage_between(&mut *self.connection()?, resource, from, to, now)
    }

    fn hold(
        &self,
        request: &HoldRequest,
        admission: &Admission,
    ) -> Result<Hold, WriteError<Unavailable>> {
        self.write(|connection| {
            records::delete_expired_holds(connection, admission.now())?;
            let placement =
                places::first_admitted(connection, &request.candidates, admission, Own::Nothing)?
                    .map_err(TxError::Refused)?;
            let hold = request.hold_at(placement, admission.now());
            records::insert_hold(connection, &hold)?;
            Ok(hold)
        })
    }

    fn release_hold(
        &self,
        token: &HoldToken,
        now: DateTime<Utc>,
    ) -> Result<Hold, WriteError<HoldNotFound>> {
        self.write(|connection| {
            let hold = records::hold(connection, token)?;
            records::delete_hold(connection, token)?;
            hold.filter(|hold| hold.is_active(now)).ok_or(TxError::Refused(HoldNotFound))
        })
    }

    fn add_closure(&self, closure: &Closure) -> Result<Vec<Appointment>, StorageError> {
        let added: Result<_, WriteError<std::convert::Infallible>> = self.write(|connection| {
            diesel::insert_into(closures::table)
                .values(ClosureRow::from(closure))
                .execute(connection)?;
            Ok(records::covered_by(connection, closure)?)
        });
        added.map_err(|error| match error {
            WriteError::Storage(error) => error,
            WriteError::Refused(never) => match never {},
            WriteError::KeyReused => {
                StorageError::fault("a closure was refused for a key it never had")
            }
        })
    }

    fn remove_closure(&self, id: ClosureId) -> Result<Closure, WriteError<ClosureNotFound>> {
        self.write(|connection| {
            let row: ClosureRow = closures::table
                .find(id.to_string())
                .select(ClosureRow::as_select())
                .first(connection)
                .optional()?
                .ok_or(TxError::Refused(ClosureNotFound))?;
            diesel::delete(closures::table.find(&row.id)).execute(connection)?;
            Ok(Closure::try_from(row)?)
        })
    }

    fn closures(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Closure>, StorageError> {
        closures::table
            .filter(closures::start_at.lt(seconds(to)).and(closures::end_at.gt(seconds(from))))
            .order((closures::start_at, closures::id))
            .select(ClosureRow::as_select())
            .load(&mut self.connection()?)
            .map_err(storage_error)?
            .into_iter()
            .map(Closure::try_from)
            .collect()
    }

    fn check_health(&self) -> Result<(), StorageError> {
        diesel::sql_query("SELECT 1")
            .execute(&mut self.connection()?)
            .map(drop)
            .map_err(storage_error)
    }
}

/// How long to wait for a free connection before answering "unavailable".
pub(crate) const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests;
