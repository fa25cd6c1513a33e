//! Domain values as table rows, and back. Rows read back go through the same validation as
//! requests, so corrupt data is reported as a fault instead of being served.

use booking_core::{
    appointment::{Appointment, AppointmentRecord, Status},
    catalog::Slug,
    client::{ClientName, Notes},
    closure::Closure,
    contact::{Contact, Email, Phone},
    history::{Entry, Left, Reason, Transition},
    hold::Hold,
    storage::StorageError,
    units::Slot,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{appointment_history, appointments, closures, holds};

/// Instants are stored as whole seconds since the epoch; the core keeps whole seconds.
pub(crate) fn seconds(instant: DateTime<Utc>) -> i64 {
    instant.timestamp()
}

pub(crate) fn instant(seconds: i64) -> Result<DateTime<Utc>, StorageError> {
    DateTime::from_timestamp(seconds, 0).ok_or_else(|| corrupt("instant", seconds))
}

/// The starts of an appointment's slots as stored: whole seconds, comma-separated, in order.
pub(crate) fn starts_text(starts: &[DateTime<Utc>]) -> String {
    let mut text = String::with_capacity(starts.len() * 11);
    for (n, start) in starts.iter().enumerate() {
        if n > 0 {
            text.push(',');
        }
        text.push_str(&seconds(*start).to_string());
    }
    text
}

/// The starts `starts_text` wrote, in order; never none.
pub(crate) fn starts_of(text: &str) -> Result<Vec<DateTime<Utc>>, StorageError> {
    let mut starts = text
        .split(',')
        .map(|start| start.parse().map_err(|_| corrupt("slots", text)).and_then(instant))
        .collect::<Result<Vec<_>, _>>()?;
    starts.sort_unstable();
    Ok(starts)
}

/// Closure rows as loaded, back into closures.
pub(crate) fn closures_of(
    rows: QueryResult<Vec<ClosureRow>>,
) -> Result<Vec<Closure>, StorageError> {
    rows.map_err(super::storage_error)?.into_iter().map(Closure::try_from).collect()
}

pub(crate) fn corrupt(what: &str, value: impl std::fmt::Display) -> StorageError {
    StorageError::fault(format!("stored {what} is invalid: {value}"))
}

pub(crate) fn slug(text: &str) -> Result<Slug, StorageError> {
    text.parse().map_err(|_| corrupt("slug", text))
}

fn slot(start: i64, end: i64) -> Result<Slot, StorageError> {
    Slot::new(instant(start)?, instant(end)?)
        .ok_or_else(|| corrupt("period", format!("{start}..{end}")))
}

#[derive(Debug, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = appointments, check_for_backend(super::MultiBackend))]
pub(crate) struct AppointmentRow {
    pub id: String,
    pub client_name: String,
    pub notes: Option<String>,
    pub start_at: i64,
    pub end_at: i64,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub resource: String,
    pub service: Option<String>,
    /// The starts of every slot it takes (see [`starts_text`]).
    pub occupied: String,
    pub email: Option<String>,
    pub phone: Option<String>,
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
            resource: appointment.resource().to_string(),
            service: appointment.service().map(ToString::to_string),
            occupied: starts_text(appointment.occupied()),
            email: appointment.contact().email.as_ref().map(|e| e.as_str().to_owned()),
            phone: appointment.contact().phone.as_ref().map(|p| p.as_str().to_owned()),
        }
    }
}

impl AppointmentRow {
    /// The appointment this row describes.
    pub(crate) fn into_appointment(self) -> Result<Appointment, StorageError> {
        let status: Status = self.status.parse().map_err(|_| corrupt("status", &self.status))?;
        Ok(Appointment::from(AppointmentRecord {
            id: self.id.parse().map_err(|_| corrupt("appointment id", &self.id))?,
            client_name: ClientName::parse(&self.client_name)
                .map_err(|e| corrupt("client name", e))?,
            notes: self
                .notes
                .as_deref()
                .map(Notes::parse)
                .transpose()
                .map_err(|e| corrupt("notes", e))?
                .flatten(),
            contact: Contact {
                email: self
                    .email
                    .as_deref()
                    .map(Email::parse)
                    .transpose()
                    .map_err(|e| corrupt("email", e))?
                    .flatten(),
                phone: self
                    .phone
                    .as_deref()
                    .map(Phone::parse)
                    .transpose()
                    .map_err(|e| corrupt("phone", e))?
                    .flatten(),
            },
            resource: slug(&self.resource)?,
            service: self.service.as_deref().map(slug).transpose()?,
            slot: slot(self.start_at, self.end_at)?,
            occupied: starts_of(&self.occupied)?,
            status,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
        }))
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = holds, check_for_backend(super::MultiBackend))]
pub(crate) struct HoldRow {
    pub token: String,
    pub resource: String,
    pub service: Option<String>,
    pub start_at: i64,
    pub end_at: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub holder: Option<String>,
}

impl HoldRow {
    /// The hold this row and its slots describe.
    pub(crate) fn into_hold(self, occupied: &[i64]) -> Result<Hold, StorageError> {
        Ok(Hold {
            token: self.token.parse().map_err(|_| corrupt("hold token", "(hidden)"))?,
            resource: slug(&self.resource)?,
            service: self.service.as_deref().map(slug).transpose()?,
            slot: slot(self.start_at, self.end_at)?,
            occupied: occupied.iter().map(|s| instant(*s)).collect::<Result<_, _>>()?,
            created_at: instant(self.created_at)?,
            expires_at: instant(self.expires_at)?,
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = closures, check_for_backend(super::MultiBackend))]
pub(crate) struct ClosureRow {
    pub id: String,
    pub resource: Option<String>,
    pub start_at: i64,
    pub end_at: i64,
    pub reason: Option<String>,
    pub created_at: i64,
}

impl From<&Closure> for ClosureRow {
    fn from(closure: &Closure) -> Self {
        Self {
            id: closure.id.to_string(),
            resource: closure.resource.as_ref().map(ToString::to_string),
            start_at: seconds(closure.period.start()),
            end_at: seconds(closure.period.end()),
            reason: closure.reason.clone(),
            created_at: seconds(closure.created_at),
        }
    }
}

impl TryFrom<ClosureRow> for Closure {
    type Error = StorageError;

    fn try_from(row: ClosureRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: row.id.parse().map_err(|_| corrupt("closure id", &row.id))?,
            resource: row.resource.as_deref().map(slug).transpose()?,
            period: slot(row.start_at, row.end_at)?,
            reason: row.reason,
            created_at: instant(row.created_at)?,
        })
    }
}

/// A history entry as read back.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = appointment_history, check_for_backend(super::MultiBackend))]
pub(crate) struct HistoryRow {
    pub made_at: i64,
    pub kind: String,
    pub start_at: i64,
    pub end_at: i64,
    pub from_start_at: Option<i64>,
    pub from_end_at: Option<i64>,
    pub actor: String,
    pub reason: Option<String>,
    pub from_resource: Option<String>,
    pub from_service: Option<String>,
}

impl TryFrom<HistoryRow> for Entry {
    type Error = StorageError;

    fn try_from(row: HistoryRow) -> Result<Self, StorageError> {
        let change = match (row.kind.as_str(), row.from_start_at.zip(row.from_end_at)) {
            ("scheduled", None) => Transition::Scheduled,
            ("rescheduled", Some((start, end))) => {
                Transition::Rescheduled { from: slot(start, end)? }
            }
            ("canceled", None) => Transition::Canceled,
            ("completed", None) => Transition::Completed,
            ("no_show", None) => Transition::NoShow,
            _ => return Err(corrupt("history entry kind", &row.kind)),
        };
        Ok(Self {
            at: instant(row.made_at)?,
            change,
            slot: slot(row.start_at, row.end_at)?,
            by: row.actor.parse().map_err(|e| corrupt("actor", e))?,
            reason: row
                .reason
                .as_deref()
                .map(Reason::parse)
                .transpose()
                .map_err(|e| corrupt("reason", e))?
                .flatten(),
            left: row
                .from_resource
                .map(|resource| -> Result<Left, StorageError> {
                    let slug = |text: &str| text.parse::<Slug>().map_err(|e| corrupt("slug", e));
                    Ok(Left {
                        resource: slug(&resource)?,
                        service: row.from_service.as_deref().map(slug).transpose()?,
                    })
                })
                .transpose()?,
        })
    }
}
