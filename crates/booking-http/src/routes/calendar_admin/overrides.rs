//! `/admin/resources/{slug}/overrides`: one date's hours of a resource, replacing its
//! weekday's (an extra opening on a closed day, shorter hours, or none).

use actix_web::{HttpResponse, http::StatusCode, web};
use booking_core::{
    calendar::{Calendar, Edit, Override},
    catalog::Slug,
    hours::DayHours,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{apply, missing_from_written, path_slug, versioned, with_resource};
use crate::{
    error::{ApiError, Problem},
    routes::{Bookings, fields, times::LocalDate},
};

/// A date's hours.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// The ranges that day, local to the business's zone (`11:00-12:00,14:00-16:00`), or
    /// `closed`.
    #[schema(example = "11:00-12:00")]
    pub hours: String,
}

/// A date whose hours replace its weekday's.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideView {
    /// The local date.
    #[schema(value_type = String, format = Date, example = "2030-01-12")]
    pub date: LocalDate,
    /// Its hours: ranges, or `closed`.
    #[schema(example = "11:00-12:00")]
    pub hours: String,
}

/// A resource's overrides, and the calendar version they are from.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverridesAnswer {
    /// The resource.
    #[schema(example = "alice")]
    pub resource: String,
    /// Its overrides, in date order.
    pub overrides: Vec<OverrideView>,
    /// The version of the calendar this shows (also the `Calendar-Version` header).
    #[schema(example = 4)]
    pub calendar_version: u64,
}

/// An override that was set, and the calendar version that holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideAnswer {
    /// The resource.
    #[schema(example = "alice")]
    pub resource: String,
    /// The local date.
    #[schema(value_type = String, format = Date, example = "2030-01-12")]
    pub date: LocalDate,
    /// Its hours: ranges, or `closed`.
    #[schema(example = "11:00-12:00")]
    pub hours: String,
    /// The version of the calendar written (also the `Calendar-Version` header).
    #[schema(example = 5)]
    pub calendar_version: u64,
}

impl OverrideView {
    /// The overrides of `resource` in `calendar`, in date order.
    pub(super) fn of(resource: &Slug, calendar: &Calendar) -> Vec<Self> {
        let mut found: Vec<&Override> =
            calendar.overrides.iter().filter(|o| o.resource == *resource).collect();
        found.sort_by_key(|o| o.date);
        found
            .into_iter()
            .map(|o| Self { date: LocalDate(o.date), hours: o.hours.to_string() })
            .collect()
    }
}

/// The resource and date a path names.
fn resource_and_date(path: &(String, String)) -> Result<(Slug, chrono::NaiveDate), ApiError> {
    Ok((path_slug(&path.0)?, fields::date("date", &path.1)?))
}

/// List a resource's overrides.
#[utoipa::path(
    get, path = "/admin/resources/{slug}/overrides", tag = "admin", operation_id = "admin_list_overrides",
    params(("slug" = String, Path, description = "The resource's slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = OverridesAnswer,
            headers(("Calendar-Version" = u64, description = "The calendar version shown"))),
        (status = 400, description = "The path's slug is not a slug", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource (`/problems/resource-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    bookings: web::Data<Bookings>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (stored, slug) = with_resource(&bookings, &slug)?;
    Ok(versioned(StatusCode::OK, stored.version).json(OverridesAnswer {
        resource: slug.to_string(),
        overrides: OverrideView::of(&slug, &stored.calendar),
        calendar_version: stored.version,
    }))
}

/// Set one date's hours of a resource, replacing its weekday's (and any override of that date).
/// Refused, changing nothing, when appointments that have not ended would fall outside them.
#[utoipa::path(
    put, path = "/admin/resources/{slug}/overrides/{date}", tag = "admin", operation_id = "admin_set_override",
    params(
        ("slug" = String, Path, description = "The resource's slug"),
        ("date" = String, Path, format = Date, description = "The local date, YYYY-MM-DD"),
    ),
    request_body = OverrideRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Set; its slots are bookable at once", body = OverrideAnswer,
            headers(("Calendar-Version" = u64, description = "The calendar version written"))),
        (status = 400, description = "A bad slug, date or hours", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource (`/problems/resource-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Appointments would be stranded (`/problems/appointments-stranded`, listed in `stranded`), or the calendar changed meanwhile (`/problems/calendar-changed`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set(
    bookings: web::Data<Bookings>,
    path: web::Path<(String, String)>,
    body: web::Json<OverrideRequest>,
) -> Result<HttpResponse, ApiError> {
    let (resource, date) = resource_and_date(&path)?;
    let hours: DayHours =
        body.hours.parse().map_err(|e| ApiError::invalid_request(format!("hours: {e}")))?;
    let change = Override { resource: resource.clone(), date, hours };
    let stored = apply(&bookings, "set_override", move |_| Ok(Edit::SetOverride(change))).await?;
    let set = stored.calendar.overrides.iter().find(|o| o.resource == resource && o.date == date);
    let set = set.ok_or_else(|| missing_from_written("override of", &resource))?;
    Ok(versioned(StatusCode::OK, stored.version).json(OverrideAnswer {
        resource: resource.to_string(),
        date: LocalDate(date),
        hours: set.hours.to_string(),
        calendar_version: stored.version,
    }))
}

/// Remove one date's override: the date has its weekday's hours again. Refused, changing
/// nothing, when appointments that have not ended would fall outside them.
#[utoipa::path(
    delete, path = "/admin/resources/{slug}/overrides/{date}", tag = "admin", operation_id = "admin_remove_override",
    params(
        ("slug" = String, Path, description = "The resource's slug"),
        ("date" = String, Path, format = Date, description = "The local date, YYYY-MM-DD"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed",
            headers(("Calendar-Version" = u64, description = "The calendar version written"))),
        (status = 400, description = "A bad slug or date", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such override (`/problems/override-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Appointments would be stranded (`/problems/appointments-stranded`, listed in `stranded`), or the calendar changed meanwhile (`/problems/calendar-changed`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove(
    bookings: web::Data<Bookings>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (resource, date) = resource_and_date(&path)?;
    let stored =
        apply(&bookings, "remove_override", move |_| Ok(Edit::RemoveOverride { resource, date }))
            .await?;
    Ok(versioned(StatusCode::NO_CONTENT, stored.version).finish())
}
