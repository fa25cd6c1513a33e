//! The SQLite repository: one database file shared by every connection of the pool and by every
//! process that opens it.
//!
//! Each connection runs in WAL mode (readers never wait for the writer), with a busy timeout and
//! `synchronous = FULL` (an acknowledged write survives a power cut). Writes take the write lock
//! up front (`BEGIN IMMEDIATE`), so a transaction never fails half-way for lack of it, and within
//! one process they queue on a mutex instead of polling SQLite's lock.

mod connection;
mod rows;
mod schema;

use std::{
    path::Path,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use booking_core::{
    appointment::{Appointment, AppointmentId, Move},
    availability::{Admission, BookedCounts, Unavailable},
    repository::{
        AppointmentRepository, CancelFailure, RescheduleFailure, StorageError, WriteError,
    },
    schedule::{Capacity, Slot},
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
    rows::{AppointmentRow, seconds},
    schema::{appointments, slot_usage},
};

type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;

/// Appointments in an SQLite database file.
#[derive(Debug)]
pub struct SqliteRepository {
    pool: SqlitePool,
    /// Serializes this process's writers before they reach SQLite's lock; it guards no data.
    write_gate: Mutex<()>,
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
            .map_err(|source| OpenError::Pool { path: name, source })?;
        Ok(Self { pool, write_gate: Mutex::new(()) })
    }

    fn connection(
        &self,
    ) -> Result<PooledConnection<ConnectionManager<SqliteConnection>>, StorageError> {
        self.pool.get().map_err(StorageError::unavailable)
    }

    /// Runs `work` in one immediate transaction: committed if it returns `Ok`, rolled back
    /// otherwise.
    fn write<T, R>(
        &self,
        work: impl FnOnce(&mut SqliteConnection) -> Result<T, TxError<R>>,
    ) -> Result<T, WriteError<R>> {
        // The gate holds no data, so a panic while it was held leaves nothing to distrust.
        let _gate = self.write_gate.lock().unwrap_or_else(PoisonError::into_inner);
        let mut connection = self.connection()?;
        connection.immediate_transaction(work).map_err(|error| match error {
            TxError::Refused(refusal) => WriteError::Refused(refusal),
            TxError::Storage(error) => WriteError::Storage(error),
        })
    }
}

/// How a write transaction ends early; either way it rolls back.
enum TxError<R> {
    Refused(R),
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
fn storage_error(error: diesel::result::Error) -> StorageError {
    let transient = match &error {
        diesel::result::Error::DatabaseError(_, info) => is_locked(info.message()),
        _ => false,
    };
    if transient { StorageError::unavailable(error) } else { StorageError::fault(error) }
}

fn load(
    connection: &mut SqliteConnection,
    id: AppointmentId,
) -> Result<Option<Appointment>, StorageError> {
    appointments::table
        .find(id.to_string())
        .select(AppointmentRow::as_select())
        .first(connection)
        .optional()
        .map_err(storage_error)?
        .map(Appointment::try_from)
        .transpose()
}

fn booked_at(connection: &mut SqliteConnection, start: DateTime<Utc>) -> Result<u32, StorageError> {
    let booked: Option<i32> = slot_usage::table
        .find(seconds(start))
        .select(slot_usage::booked)
        .first(connection)
        .optional()
        .map_err(storage_error)?;
    Ok(booked.map_or(0, |n| n.unsigned_abs()))
}

/// Applies the admission rule to the count read inside the transaction, then takes a place
/// with an update that itself refuses to pass the capacity.
fn take_place<R: From<Unavailable>>(
    connection: &mut SqliteConnection,
    start: DateTime<Utc>,
    admission: &Admission,
) -> Result<(), TxError<R>> {
    let refuse = |why: Unavailable| TxError::Refused(R::from(why));
    admission.check(start, booked_at(connection, start)?).map_err(refuse)?;
    diesel::insert_into(slot_usage::table)
        .values((slot_usage::start_at.eq(seconds(start)), slot_usage::booked.eq(0)))
        .on_conflict_do_nothing()
        .execute(connection)?;
    let capacity = capacity_sql(admission.capacity());
    let taken = diesel::update(
        slot_usage::table.find(seconds(start)).filter(slot_usage::booked.lt(capacity)),
    )
    .set(slot_usage::booked.eq(slot_usage::booked + 1))
    .execute(connection)?;
    if taken == 1 {
        Ok(())
    } else {
        Err(refuse(Unavailable::Full { capacity: admission.capacity() }))
    }
}

fn give_back_place(
    connection: &mut SqliteConnection,
    start: DateTime<Utc>,
) -> Result<(), diesel::result::Error> {
    diesel::update(slot_usage::table.find(seconds(start)))
        .set(slot_usage::booked.eq(slot_usage::booked - 1))
        .execute(connection)
        .map(drop)
}

fn capacity_sql(capacity: Capacity) -> i32 {
    // Capacity::MAX is 10 000, far inside i32.
    i32::try_from(capacity.get()).unwrap_or(i32::MAX)
}

impl AppointmentRepository for SqliteRepository {
    fn book(
        &self,
        appointment: &Appointment,
        admission: &Admission,
    ) -> Result<(), WriteError<Unavailable>> {
        self.write(|connection| {
            take_place(connection, appointment.slot().start(), admission)?;
            diesel::insert_into(appointments::table)
                .values(AppointmentRow::from(appointment))
                .execute(connection)?;
            Ok(())
        })
    }

    fn cancel(
        &self,
        id: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<Appointment, WriteError<CancelFailure>> {
        self.write(|connection| {
            let mut appointment =
                load(connection, id)?.ok_or(TxError::Refused(CancelFailure::NotFound))?;
            appointment.cancel(now).map_err(|refusal| TxError::Refused(refusal.into()))?;
            let row = AppointmentRow::from(&appointment);
            diesel::update(appointments::table.find(&row.id))
                .set((
                    appointments::status.eq(&row.status),
                    appointments::updated_at.eq(row.updated_at),
                ))
                .execute(connection)?;
            give_back_place(connection, appointment.slot().start())?;
            Ok(appointment)
        })
    }

    fn reschedule(
        &self,
        id: AppointmentId,
        to: Slot,
        admission: &Admission,
    ) -> Result<Appointment, WriteError<RescheduleFailure>> {
        self.write(|connection| {
            let mut appointment =
                load(connection, id)?.ok_or(TxError::Refused(RescheduleFailure::NotFound))?;
            let change = appointment
                .reschedule(to, admission.now())
                .map_err(|refusal| TxError::Refused(refusal.into()))?;
            if let Move::Moved { from } = change {
                take_place(connection, to.start(), admission)?;
                give_back_place(connection, from.start())?;
                let row = AppointmentRow::from(&appointment);
                diesel::update(appointments::table.find(&row.id))
                    .set((
                        appointments::start_at.eq(row.start_at),
                        appointments::end_at.eq(row.end_at),
                        appointments::updated_at.eq(row.updated_at),
                    ))
                    .execute(connection)?;
            }
            Ok(appointment)
        })
    }

    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        load(&mut *self.connection()?, id)
    }

    fn booked_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BookedCounts, StorageError> {
        let rows: Vec<(i64, i32)> = slot_usage::table
            .filter(slot_usage::start_at.between(seconds(from), seconds(to)))
            .filter(slot_usage::booked.gt(0))
            .select((slot_usage::start_at, slot_usage::booked))
            .load(&mut self.connection()?)
            .map_err(storage_error)?;
        rows.into_iter()
            .map(|(start, booked)| {
                let start = DateTime::from_timestamp(start, 0).ok_or_else(|| {
                    StorageError::fault(format!("slot start {start} out of range"))
                })?;
                Ok((start, booked.unsigned_abs()))
            })
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
