//! An appointment's history, for the operator: `GET /admin/appointments/{id}/history`.

use actix_web::{HttpResponse, web};
use booking_core::{
    appointment::AppointmentId,
    catalog::Slug,
    history::{Entry, Left},
    schedule::Schedule,
    units::Slot,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    Bookings,
    appointments::appointment_id,
    times::{InUtc, Zoned},
    views::{SlotTimes, utc},
};
use crate::error::{ApiError, Problem};

/// Every change an appointment went through, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView<'a> {
    /// The appointment's id.
    #[schema(value_type = String, format = Uuid)]
    pub appointment_id: Uuid,
    /// Its changes, in the order they were made. Appointments booked before the service kept
    /// history have none for what happened to them earlier.
    pub entries: Vec<EntryView<'a>>,
}

/// One change.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView<'a> {
    /// When it was made (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub at: InUtc,
    /// `scheduled`, `rescheduled`, `canceled`, `completed` or `no_show`.
    #[schema(example = "rescheduled")]
    pub change: &'static str,
    /// Who made it: `client` (the public API), `operator` (the admin API) or `system`.
    #[schema(example = "client")]
    pub actor: &'static str,
    /// Why, when they said (the `reason` of a cancel or of a conclusion).
    pub reason: Option<&'a str>,
    /// The appointment's time once the change was made.
    pub slot: PeriodView,
    /// For a move, where it left from.
    pub from: Option<FromView<'a>>,
}

/// Where a move left from: the time, and the resource and service the appointment had.
#[derive(Debug, Serialize, ToSchema)]
pub struct FromView<'a> {
    /// Start.
    #[schema(value_type = String, format = DateTime, example = "2030-01-07T09:30:00+00:00")]
    pub start: Zoned,
    /// End.
    #[schema(value_type = String, format = DateTime, example = "2030-01-07T10:00:00+00:00")]
    pub end: Zoned,
    /// The resource it was on; absent for moves recorded before this was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "alice")]
    pub resource: Option<&'a str>,
    /// The service it was for (`null` for none); absent for moves recorded before this was
    /// kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "haircut")]
    pub service: Option<Option<&'a str>>,
}

impl<'a> FromView<'a> {
    /// Where a move left from: `from`, its time, and `left`, its resource and service when
    /// they were recorded.
    pub(crate) fn of(from: Slot, left: Option<&'a Left>, schedule: &Schedule) -> Self {
        let times = SlotTimes::of(from, schedule);
        Self {
            start: times.start,
            end: times.end,
            resource: left.map(|left| left.resource.as_str()),
            service: left.map(|left| left.service.as_ref().map(Slug::as_str)),
        }
    }
}

/// A period, as RFC 3339 instants with the business's UTC offset.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodView {
    /// Start.
    #[schema(value_type = String, format = DateTime, example = "2030-01-07T09:30:00+00:00")]
    pub start: Zoned,
    /// End.
    #[schema(value_type = String, format = DateTime, example = "2030-01-07T10:00:00+00:00")]
    pub end: Zoned,
}

impl PeriodView {
    pub(crate) fn of(slot: Slot, schedule: &Schedule) -> Self {
        let times = SlotTimes::of(slot, schedule);
        Self { start: times.start, end: times.end }
    }
}

impl<'a> HistoryView<'a> {
    fn new(id: AppointmentId, entries: &'a [Entry], schedule: &Schedule) -> Self {
        let entries = entries
            .iter()
            .map(|entry| EntryView {
                at: utc(entry.at),
                change: entry.change.as_str(),
                actor: entry.by.as_str(),
                reason: entry.reason.as_ref().map(|reason| reason.as_str()),
                slot: PeriodView::of(entry.slot, schedule),
                from: entry
                    .change
                    .moved_from()
                    .map(|from| FromView::of(from, entry.left.as_ref(), schedule)),
            })
            .collect();
        Self { appointment_id: id.as_uuid(), entries }
    }
}

/// An appointment's history.
#[utoipa::path(
    get, path = "/admin/appointments/{id}/history", tag = "admin",
    params(("id" = String, Path, description = "The appointment's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = HistoryView),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Appointment not found.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn history(
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = appointment_id(&id)?;
    let entries = bookings
        .run("history", move |service| service.history(id))
        .await?
        .ok_or_else(ApiError::appointment_not_found)?;
    Ok(HttpResponse::Ok().json(HistoryView::new(id, &entries, &bookings.schedule())))
}
