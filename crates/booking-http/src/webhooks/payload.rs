//! What a webhook delivery carries: `{"type", "timestamp", "data"}`, where `data` is the
//! appointment as `GET /appointment/{id}` shows it (as the change left it), with who made the
//! change, why, and where a move came from.

use booking_core::{schedule::Schedule, webhook::Message};
use serde::Serialize;

use crate::routes::{
    history::FromView,
    times::InUtc,
    views::{AppointmentView, utc},
};

/// The JSON body of a delivery.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    /// The event's name, e.g. `appointment.scheduled`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When it happened (RFC 3339, UTC).
    pub timestamp: InUtc,
    /// The appointment, and the change.
    pub data: Data<'a>,
}

/// The appointment as the change left it, and the change.
#[derive(Debug, Serialize)]
pub struct Data<'a> {
    /// The appointment.
    #[serde(flatten)]
    pub appointment: AppointmentView<'a>,
    /// For a move: the time, resource and service it had before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<FromView<'a>>,
    /// Who made the change: `client`, `operator` or `system`.
    pub changed_by: &'static str,
    /// Why, when they said.
    pub reason: Option<&'a str>,
}

impl<'a> Payload<'a> {
    /// The body telling of `message`, its times shown in the schedule's zone.
    pub fn new(message: &'a Message, schedule: &Schedule) -> Self {
        Self {
            kind: message.event.as_str(),
            timestamp: utc(message.at),
            data: Data {
                appointment: AppointmentView::new(&message.appointment, schedule),
                from: message.from.map(|slot| FromView::of(slot, message.left.as_ref(), schedule)),
                changed_by: message.by.as_str(),
                reason: message.reason.as_ref().map(|reason| reason.as_str()),
            },
        }
    }
}
