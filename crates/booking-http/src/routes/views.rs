//! What the API sends back: appointments and slots as JSON, in the business's local time and as
//! RFC 3339 instants.

use booking_core::{appointment::Appointment, schedule::Schedule, units::Slot};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::times::{InUtc, LocalDate, LocalTime, Zoned};

/// An appointment, borrowed from the domain value it shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentView<'a> {
    /// The appointment's id (a random UUID).
    #[schema(value_type = String, format = Uuid, example = "67e55044-10b1-426f-9247-bb680e5fe0c8")]
    pub id: Uuid,
    /// The client's name.
    #[schema(example = "José Ñúñez")]
    pub client_name: &'a str,
    /// The resource booked (`default` when the business has a single one).
    #[schema(example = "alice")]
    pub resource: &'a str,
    /// The service booked, if any.
    #[schema(example = "haircut")]
    pub service: Option<&'a str>,
    /// Local date of the start, in the business's time zone.
    #[schema(value_type = String, format = Date, example = "2030-01-07")]
    pub date: LocalDate,
    /// Local start time, HH:MM.
    #[schema(value_type = String, example = "09:30")]
    pub time: LocalTime,
    /// Start instant, RFC 3339 with the business's UTC offset.
    #[schema(value_type = String, format = DateTime, example = "2030-01-07T09:30:00+00:00")]
    pub start: Zoned,
    /// End instant, RFC 3339 with the business's UTC offset.
    #[schema(value_type = String, format = DateTime, example = "2030-01-07T10:00:00+00:00")]
    pub end: Zoned,
    /// `scheduled`; `canceled`; or, as the business recorded once it started, `completed` or
    /// `no_show`. All but `scheduled` are final.
    #[schema(example = "scheduled")]
    pub status: &'static str,
    /// The client's notes.
    pub notes: Option<&'a str>,
    /// The client's email address, if they gave one.
    #[schema(example = "ada@example.com")]
    pub email: Option<&'a str>,
    /// The client's phone number (E.164), if they gave one.
    #[schema(example = "+442079460958")]
    pub phone: Option<&'a str>,
    /// When it was booked (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: InUtc,
    /// When it last changed (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: InUtc,
}

/// The local and absolute times of a slot, as the API writes them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotTimes {
    pub date: LocalDate,
    pub time: LocalTime,
    pub start: Zoned,
    pub end: Zoned,
}

impl SlotTimes {
    pub(crate) fn of(slot: Slot, schedule: &Schedule) -> Self {
        let zone = schedule.time_zone();
        let start = slot.start().with_timezone(&zone).fixed_offset();
        Self {
            date: LocalDate(start.date_naive()),
            time: LocalTime(start.time()),
            start: Zoned(start),
            // The end may fall on the other side of a daylight-saving change.
            end: Zoned(slot.end().with_timezone(&zone).fixed_offset()),
        }
    }
}

/// An instant as RFC 3339 in UTC.
pub(crate) fn utc(at: DateTime<Utc>) -> InUtc {
    InUtc(at)
}

impl<'a> AppointmentView<'a> {
    /// An appointment, its times shown in the schedule's zone.
    pub fn new(appointment: &'a Appointment, schedule: &Schedule) -> Self {
        let SlotTimes { date, time, start, end } = SlotTimes::of(appointment.slot(), schedule);
        Self {
            id: appointment.id().as_uuid(),
            client_name: appointment.client_name().as_str(),
            resource: appointment.resource().as_str(),
            service: appointment.service().map(|service| service.as_str()),
            date,
            time,
            start,
            end,
            status: appointment.status().as_str(),
            notes: appointment.notes().map(|notes| notes.as_str()),
            email: appointment.contact().email.as_ref().map(|email| email.as_str()),
            phone: appointment.contact().phone.as_ref().map(|phone| phone.as_str()),
            created_at: utc(appointment.created_at()),
            updated_at: utc(appointment.updated_at()),
        }
    }
}

/// A successful change to an appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentChanged<'a> {
    /// What happened, in a sentence.
    #[schema(example = "Appointment canceled successfully.")]
    pub message: &'static str,
    /// The appointment as it is now.
    pub appointment: AppointmentView<'a>,
}
