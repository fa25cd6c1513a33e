//! Appointments as calendar files (RFC 5545): `GET /appointment/{id}/calendar.ics` for the
//! client, and `GET /feeds/{resource}.ics?token=...`, the feed an operator's calendar (Google,
//! Apple, Outlook) subscribes to.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use booking_core::{
    appointment::{Appointment, Status},
    catalog::Slug,
    history::Revised,
    schedule::Schedule,
};
use chrono::Duration;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{Bookings, appointments::appointment_id};
use crate::{
    config::FeedToken,
    error::{ApiError, Problem},
    ics::{self, Calendar, Event, EventStatus},
    language::Language,
    limits::AdminFailures,
};

/// How far back the feed reaches: a calendar keeps the recent past in view.
const FEED_DAYS_BACK: i64 = 30;
/// The most appointments one feed lists (a bound on its work and its size).
pub const MAX_FEED_EVENTS: usize = 5000;
/// How often subscribers are asked to fetch the feed again.
const FEED_REFRESH: &str = "PT15M";

/// The event of an appointment, titled `summary`, described by `description`.
fn event<'a>(revised: &Revised, summary: &'a str, description: Option<&'a str>) -> Event<'a> {
    let appointment = &revised.appointment;
    Event {
        uid: appointment.id().to_string(),
        sequence: revised.revision,
        created: appointment.created_at(),
        modified: appointment.updated_at(),
        start: appointment.slot().start(),
        end: appointment.slot().end(),
        summary,
        description,
        // A completed or no-show appointment kept its time: confirmed, as it was.
        status: match appointment.status() {
            Status::Scheduled | Status::Completed | Status::NoShow => EventStatus::Confirmed,
            Status::Canceled => EventStatus::Cancelled,
        },
        parties: None,
    }
}

/// What was booked, by name, in `language`: "Haircut with Alice", or "Appointment with Alice".
pub fn booked_what(appointment: &Appointment, schedule: &Schedule, language: Language) -> String {
    let resource = schedule
        .resource(appointment.resource())
        .map_or_else(|_| appointment.resource().to_string(), |r| r.name.clone());
    let service = appointment
        .service()
        .map(|slug| schedule.service(slug).map_or_else(|_| slug.to_string(), |s| s.name.clone()));
    language.booked_what(service.as_deref(), &resource)
}

fn calendar_response(text: String, filename: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("inline; filename=\"{filename}\"")))
        // Names and notes, at a URL holding a token: no shared cache keeps them.
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .body(text)
}

/// An appointment as a calendar file.
#[utoipa::path(
    get, path = "/appointment/{id}/calendar.ics", tag = "appointments",
    params(("id" = String, Path, description = "The appointment's id")),
    responses(
        (status = 200, description = "The appointment as an iCalendar VEVENT, in UTC; its UID stays the same across moves, its SEQUENCE grows with each change, and STATUS is CANCELLED once it is canceled", body = String, content_type = "text/calendar"),
        (status = 404, description = "Appointment not found.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database busy or unreachable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn appointment(
    bookings: web::Data<Bookings>,
    language: web::Data<Language>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = appointment_id(&id)?;
    let revised = bookings
        .run("calendar", move |service| service.revised(id))
        .await?
        .ok_or_else(ApiError::appointment_not_found)?;
    let summary = booked_what(&revised.appointment, &bookings.schedule(), **language);
    let mut calendar = Calendar::new(&[]);
    calendar.event(&event(&revised, &summary, None));
    Ok(calendar_response(calendar.finish(), &format!("appointment-{id}.ics")))
}

/// The feed's token.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The feed token (`BOOKING_FEED_TOKEN`), which only reads feeds.
    pub token: Option<String>,
}

/// A resource's appointments as a calendar to subscribe to.
#[utoipa::path(
    get, path = "/feeds/{resource}.ics", tag = "calendar",
    params(("resource" = String, Path, description = "The resource's slug"), FeedQuery),
    responses(
        (status = 200, description = "The resource's appointments from 30 days back on (canceled ones with STATUS:CANCELLED), with the client's name and notes", body = String, content_type = "text/calendar"),
        (status = 403, description = "Missing or wrong feed token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong tokens from this client", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No feed token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn feed(
    request: HttpRequest,
    bookings: web::Data<Bookings>,
    language: web::Data<Language>,
    feed_token: web::Data<FeedToken>,
    failures: web::Data<AdminFailures>,
    resource: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = &feed_token.0 else {
        return Err(ApiError::feeds_disabled());
    };
    if !query.token.as_deref().is_some_and(|given| token.matches(given)) {
        return Err(match failures.failed(request.peer_addr(), request.headers()) {
            Err(wait) => ApiError::too_many_failed_authentications(wait),
            Ok(()) => ApiError::feed_forbidden(),
        });
    }
    let unknown = || ApiError::route_not_found(request.method().as_str(), request.path());
    let slug: Slug = resource.parse().map_err(|_| unknown())?;
    let resource = bookings.schedule().resource(&slug).map_err(|_| unknown())?.clone();
    let from = bookings.now() - Duration::days(FEED_DAYS_BACK);
    let listed = bookings
        .run_long("feed", move |service| service.revised_on(&slug, from, MAX_FEED_EVENTS))
        .await?;
    let name = ics::text(&resource.name);
    let mut calendar = Calendar::new(&[
        ("NAME", &name),
        ("X-WR-CALNAME", &name),
        ("REFRESH-INTERVAL;VALUE=DURATION", FEED_REFRESH),
        ("X-PUBLISHED-TTL", FEED_REFRESH),
    ]);
    for revised in &listed {
        let appointment = &revised.appointment;
        let summary = match appointment.service() {
            Some(_) => format!(
                "{} ({})",
                appointment.client_name().as_str(),
                booked_what(appointment, &bookings.schedule(), **language)
            ),
            None => appointment.client_name().as_str().to_owned(),
        };
        let description = staff_description(appointment);
        calendar.event(&event(revised, &summary, description.as_deref()));
    }
    Ok(calendar_response(calendar.finish(), &format!("{}.ics", resource.slug)))
}

/// What the staff's calendar says of an appointment: the client's email and phone, when given,
/// then their notes.
fn staff_description(appointment: &Appointment) -> Option<String> {
    let contact = appointment.contact();
    let lines: Vec<String> = [
        contact.email.as_ref().map(|email| format!("Email: {}", email.as_str())),
        contact.phone.as_ref().map(|phone| format!("Phone: {}", phone.as_str())),
        appointment.notes().map(|notes| notes.as_str().to_owned()),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}
