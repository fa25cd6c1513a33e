//! The operator's API for the calendar under `/admin/`: resources, services, and the dated
//! overrides of a resource's hours. Each write is one edit, stored as the calendar's next
//! version once the store has checked it against the appointments; every answer names the
//! version it shows (`Calendar-Version`, and `calendar_version` in a body).

pub mod overrides;
pub mod resources;
pub mod services;

use actix_web::{HttpResponse, HttpResponseBuilder, http::StatusCode};
use booking_core::{
    calendar::{Edit, EditError, StoredCalendar},
    catalog::Slug,
    schedule::Schedule,
};

use super::Bookings;
use crate::error::ApiError;

/// The response header naming the calendar version an answer shows.
pub const VERSION_HEADER: &str = "Calendar-Version";

/// The calendar as the service follows it now, with its version.
fn current(bookings: &Bookings) -> StoredCalendar {
    let schedule = bookings.schedule();
    StoredCalendar { version: schedule.version(), calendar: schedule.calendar() }
}

/// The calendar followed now and the resource the path names, which it must have.
fn with_resource(bookings: &Bookings, path: &str) -> Result<(StoredCalendar, Slug), ApiError> {
    let slug = path_slug(path)?;
    let stored = current(bookings);
    if !stored.calendar.resources.iter().any(|r| r.slug == slug) {
        return Err(EditError::NoSuchResource(slug).into());
    }
    Ok((stored, slug))
}

/// Applies the edit `edit` makes of the schedule followed now, as the calendar's next
/// version: one call to the service, whose answer is awaited. Answers the calendar stored.
async fn apply(
    bookings: &Bookings,
    operation: &'static str,
    edit: impl FnOnce(&Schedule) -> Result<Edit, ApiError> + Send + 'static,
) -> Result<StoredCalendar, ApiError> {
    let pending = bookings.run(operation, move |service| service.edit_calendar_with(edit)).await?;
    match pending.await {
        Ok(written) => Ok(written.outcome),
        // The appointments it would strand are shown in the zone they were booked in.
        Err(error) => Err(ApiError::calendar_refused(error, bookings.schedule().time_zone())),
    }
}

/// A response with `status` naming calendar `version`.
fn versioned(status: StatusCode, version: u64) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response.insert_header((VERSION_HEADER, version.to_string()));
    response
}

/// A slug the path names.
fn path_slug(text: &str) -> Result<Slug, ApiError> {
    text.parse::<Slug>().map_err(|e| ApiError::invalid_request(format!("the path's slug: {e}")))
}

/// A slug in the body's `field`.
fn body_slug(field: &str, text: &str) -> Result<Slug, ApiError> {
    text.parse::<Slug>().map_err(|e| ApiError::invalid_request(format!("{field}: {e}")))
}

/// Refuses a body `slug` other than the path's: a slug does not change.
fn same_slug(kind: &str, path: &Slug, body: Option<&str>) -> Result<(), ApiError> {
    match body {
        Some(slug) if slug != path.as_str() => Err(ApiError::invalid_request(format!(
            "slug: the body names '{slug}' but the path '{path}'; a slug cannot change: leave \
             it out, or POST /admin/{kind}s a new {kind} and DELETE this one"
        ))),
        _ => Ok(()),
    }
}

/// What a written calendar lacks though the write put it there: a bug, not the client's.
fn missing_from_written(what: &str, slug: &Slug) -> ApiError {
    ApiError::internal(format!("the calendar written lacks the {what} '{slug}' it wrote"))
}

/// Reads `Option<Option<T>>` so that a member left out (`None`) differs from `null`
/// (`Some(None)`): a PATCH keeps what is left out and clears what is null.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
