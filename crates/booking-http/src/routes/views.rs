//! What the API sends back: appointments and slots as JSON, in the business's local time and as
//! RFC 3339 instants.

use booking_core::{appointment::Appointment, schedule::Schedule, units::Slot};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// An appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentView {
    /// The appointment's id (a random UUID).
    #[schema(format = Uuid, example = "67e55044-10b1-426f-9247-bb680e5fe0c8")]
    pub id: String,
    /// The client's name.
    #[schema(example = "José Ñúñez")]
    pub client_name: String,
    /// The resource booked (`default` when the business has a single one).
    #[schema(example = "alice")]
    pub resource: String,
    /// The service booked, if any.
    #[schema(example = "haircut")]
    pub service: Option<String>,
    /// Local date of the start, in the business's time zone.
    #[schema(format = Date, example = "2030-01-07")]
    pub date: String,
    /// Local start time, HH:MM.
    #[schema(example = "09:30")]
    pub time: String,
    /// Start instant, RFC 3339 with the business's UTC offset.
    #[schema(format = DateTime, example = "2030-01-07T09:30:00+00:00")]
    pub start: String,
    /// End instant, RFC 3339 with the business's UTC offset.
    #[schema(format = DateTime, example = "2030-01-07T10:00:00+00:00")]
    pub end: String,
    /// `scheduled` or `canceled`.
    #[schema(example = "scheduled")]
    pub status: &'static str,
    /// The client's notes.
    pub notes: Option<String>,
    /// When it was booked (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When it last changed (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The local and absolute times of a slot, as the API writes them.
#[derive(Debug)]
pub(crate) struct SlotTimes {
    pub date: String,
    pub time: String,
    pub start: String,
    pub end: String,
}

impl SlotTimes {
    pub(crate) fn of(slot: Slot, schedule: &Schedule) -> Self {
        let zone = schedule.time_zone();
        let local = schedule.local(slot.start());
        let instant =
            |at: DateTime<Utc>| at.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::Secs, false);
        Self {
            date: local.format("%Y-%m-%d").to_string(),
            time: local.format("%H:%M").to_string(),
            start: instant(slot.start()),
            end: instant(slot.end()),
        }
    }
}

/// An instant as RFC 3339 in UTC.
pub(crate) fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl AppointmentView {
    /// An appointment, its times shown in the schedule's zone.
    pub fn new(appointment: &Appointment, schedule: &Schedule) -> Self {
        let SlotTimes { date, time, start, end } = SlotTimes::of(appointment.slot(), schedule);
        Self {
            id: appointment.id().to_string(),
            client_name: appointment.client_name().to_string(),
            resource: appointment.resource().to_string(),
            service: appointment.service().map(ToString::to_string),
            date,
            time,
            start,
            end,
            status: appointment.status().as_str(),
            notes: appointment.notes().map(|notes| notes.as_str().to_owned()),
            created_at: utc(appointment.created_at()),
            updated_at: utc(appointment.updated_at()),
        }
    }
}

/// A successful change to an appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentChanged {
    /// What happened, in a sentence.
    #[schema(example = "Appointment canceled successfully.")]
    pub message: &'static str,
    /// The appointment as it is now.
    pub appointment: AppointmentView,
}
