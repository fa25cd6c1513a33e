//! Appointments as table rows, and back.

use booking_core::{
    appointment::{Appointment, Status},
    client::{ClientName, Notes},
    repository::StorageError,
    schedule::Slot,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::appointments;

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = appointments, check_for_backend(diesel::sqlite::Sqlite))]
pub(super) struct AppointmentRow {
    pub id: String,
    pub client_name: String,
    pub notes: Option<String>,
    pub start_at: i64,
    pub end_at: i64,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Instants are stored as whole seconds since the epoch; the core keeps whole seconds.
pub(super) fn seconds(instant: DateTime<Utc>) -> i64 {
    instant.timestamp()
}

impl From<&Appointment> for AppointmentRow {
    fn from(appointment: &Appointment) -> Self {
        Self {
            id: appointment.id().to_string(),
            client_name: appointment.client_name().as_str().to_owned(),
            notes: appointment.notes().map(|notes| notes.as_str().to_owned()),
            start_at: seconds(appointment.slot().start()),
            end_at: seconds(appointment.slot().end()),
            status: appointment.status().as_str().to_owned(),
            created_at: seconds(appointment.created_at()),
            updated_at: seconds(appointment.updated_at()),
        }
    }
}

impl TryFrom<AppointmentRow> for Appointment {
    type Error = StorageError;

    /// Reads a row back through the same validation as a request, so corrupt data is reported
    /// as a fault instead of being served.
    fn try_from(row: AppointmentRow) -> Result<Self, Self::Error> {
        let corrupt =
            |what: String| StorageError::fault(format!("appointment row {}: {what}", row.id));
        let instant = |secs: i64| {
            DateTime::from_timestamp(secs, 0)
                .ok_or_else(|| corrupt(format!("instant {secs} out of range")))
        };
        let id = row.id.parse().map_err(|e| corrupt(format!("{e}")))?;
        let client_name =
            ClientName::parse(&row.client_name).map_err(|e| corrupt(e.to_string()))?;
        let notes = match &row.notes {
            Some(notes) => Notes::parse(notes).map_err(|e| corrupt(e.to_string()))?,
            None => None,
        };
        let slot = Slot::new(instant(row.start_at)?, instant(row.end_at)?)
            .ok_or_else(|| corrupt("slot ends before it starts".to_owned()))?;
        let status: Status = row.status.parse().map_err(|e| corrupt(format!("{e}")))?;
        Ok(Appointment::restore(
            id,
            client_name,
            notes,
            slot,
            status,
            instant(row.created_at)?,
            instant(row.updated_at)?,
        ))
    }
}
