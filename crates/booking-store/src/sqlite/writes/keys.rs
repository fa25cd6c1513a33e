//! Idempotency records: what a keyed write remembers (its operation, the request's fingerprint
//! and the appointment as the write left it), read and written inside the write's own
//! transaction.

use booking_core::{
    appointment::Appointment,
    idempotency::{Idempotency, Operation, Remembered, Replay},
    storage::{StorageError, WriteError},
};
use diesel::prelude::*;

use crate::sql::{
    TxError,
    rows::{AppointmentRow, instant, seconds},
    schema::idempotency_records,
};

/// One record as stored: the key's columns, then the appointment's.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_records, check_for_backend(diesel::sqlite::Sqlite))]
struct RecordRow {
    key: String,
    operation: String,
    fingerprint: String,
    created_at: i64,
    appointment_id: String,
    client_name: String,
    notes: Option<String>,
    resource: String,
    service: Option<String>,
    start_at: i64,
    end_at: i64,
    /// The starts of the appointment's slots, in seconds, comma-separated.
    occupied: String,
    status: String,
    booked_at: i64,
    changed_at: i64,
    email: Option<String>,
    phone: Option<String>,
}

impl RecordRow {
    fn new(operation: Operation, idempotency: &Idempotency, appointment: &Appointment) -> Self {
        let row = AppointmentRow::from(appointment);
        Self {
            key: idempotency.key.as_str().to_owned(),
            operation: operation.as_str().to_owned(),
            fingerprint: idempotency.fingerprint.clone(),
            created_at: seconds(idempotency.now),
            appointment_id: row.id,
            client_name: row.client_name,
            notes: row.notes,
            resource: row.resource,
            service: row.service,
            start_at: row.start_at,
            end_at: row.end_at,
            occupied: row.occupied,
            status: row.status,
            booked_at: row.created_at,
            changed_at: row.updated_at,
            email: row.email,
            phone: row.phone,
        }
    }

    /// The record, through the same validation as every appointment read back.
    fn into_remembered(self) -> Result<Remembered, StorageError> {
        let operation = self.operation.parse().map_err(|_| {
            StorageError::fault(format!("stored operation is invalid: {}", self.operation))
        })?;
        let appointment = AppointmentRow {
            id: self.appointment_id,
            client_name: self.client_name,
            notes: self.notes,
            start_at: self.start_at,
            end_at: self.end_at,
            status: self.status,
            created_at: self.booked_at,
            updated_at: self.changed_at,
            resource: self.resource,
            service: self.service,
            occupied: self.occupied,
            email: self.email,
            phone: self.phone,
        }
        .into_appointment()?;
        Ok(Remembered {
            operation,
            fingerprint: self.fingerprint,
            appointment,
            created_at: instant(self.created_at)?,
        })
    }
}

/// The appointment a key's first request left, if this is a repeat of it; a key used for
/// another request is refused, and a record past its lifetime is forgotten (this key's only:
/// other keys' records are the sweep's, so unrelated writes never touch each other's rows).
/// Writes run one at a time, so a concurrent request with the same key comes after this one's
/// transaction and replays its outcome.
pub(super) fn replay<R>(
    connection: &mut SqliteConnection,
    operation: Operation,
    idempotency: Option<&Idempotency>,
) -> Result<Option<Appointment>, TxError<R>> {
    let Some(idempotency) = idempotency else { return Ok(None) };
    let Some(row) = idempotency_records::table
        .find(idempotency.key.as_str())
        .select(RecordRow::as_select())
        .get_result(connection)
        .optional()?
    else {
        return Ok(None);
    };
    match idempotency.replay(operation, row.into_remembered()?) {
        Replay::Same(appointment) => Ok(Some(appointment)),
        Replay::Other => Err(WriteError::KeyReused.into()),
        Replay::Forgotten => {
            diesel::delete(idempotency_records::table.find(idempotency.key.as_str()))
                .execute(connection)?;
            Ok(None)
        }
    }
}

/// Remembers a keyed write that succeeded, with the appointment as it left it.
pub(super) fn remember(
    connection: &mut SqliteConnection,
    operation: Operation,
    idempotency: Option<&Idempotency>,
    appointment: &Appointment,
) -> QueryResult<()> {
    let Some(idempotency) = idempotency else { return Ok(()) };
    diesel::insert_into(idempotency_records::table)
        .values(RecordRow::new(operation, idempotency, appointment))
        .execute(connection)
        .map(drop)
}
