//! `/admin/resources`: add, read, change and remove the resources clients book.

use actix_web::{
    HttpResponse, HttpResponseBuilder,
    http::{StatusCode, header},
    web,
};
use booking_core::{
    calendar::{Calendar, Edit, EditError, StoredCalendar},
    catalog::{Resource, Slug},
    hours::WeeklyHours,
    units::Capacity,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    apply, body_slug, current, missing_from_written, overrides::OverrideView, path_slug, same_slug,
    versioned, with_resource,
};
use crate::{
    error::{ApiError, Problem},
    routes::Bookings,
};

/// A resource to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRequest {
    /// Its slug, fixed once made: 1-40 lowercase letters, digits and hyphens.
    #[schema(example = "carol")]
    pub slug: String,
    /// Its display name, 1-100 characters.
    #[schema(example = "Carol")]
    pub name: String,
    /// Appointments it takes per slot, 1-10000 (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000, example = 1)]
    pub capacity: Option<u32>,
    /// Its weekly hours, local to the business's zone, written as `BOOKING_OPENING_HOURS` is:
    /// `09:00-17:00` every day, or day groups such as `mon-fri 09:00-12:00,13:00-17:00; sat
    /// 10:00-14:00` (days not named are closed).
    #[schema(example = "mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00")]
    pub hours: String,
}

/// What to change of a resource: any of its members; those left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcePatch {
    /// If given, the path's slug (a slug does not change).
    #[serde(default)]
    pub slug: Option<String>,
    /// Its display name, 1-100 characters.
    #[serde(default)]
    #[schema(example = "Carol")]
    pub name: Option<String>,
    /// Appointments it takes per slot, 1-10000.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000, example = 2)]
    pub capacity: Option<u32>,
    /// Its weekly hours, as for `POST /admin/resources`.
    #[serde(default)]
    #[schema(example = "mon-fri 10:00-16:00")]
    pub hours: Option<String>,
}

/// A resource as the operator manages it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceDetails {
    /// Its slug.
    #[schema(example = "carol")]
    pub slug: String,
    /// Its display name.
    #[schema(example = "Carol")]
    pub name: String,
    /// Appointments it takes per slot.
    #[schema(example = 1)]
    pub capacity: u32,
    /// Its weekly hours, local to the business's zone.
    #[schema(example = "mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00")]
    pub hours: String,
    /// Dates whose hours replace their weekday's, in date order.
    pub overrides: Vec<OverrideView>,
}

/// One resource, and the calendar version it is from.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceAnswer {
    /// The resource.
    pub resource: ResourceDetails,
    /// The version of the calendar this shows (also the `Calendar-Version` header).
    #[schema(example = 4)]
    pub calendar_version: u64,
}

/// Every resource, and the calendar version they are from.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourcesAnswer {
    /// The resources, in the order they are chosen from.
    pub resources: Vec<ResourceDetails>,
    /// The version of the calendar this shows (also the `Calendar-Version` header).
    #[schema(example = 4)]
    pub calendar_version: u64,
}

impl TryFrom<ResourceRequest> for Resource {
    type Error = ApiError;

    fn try_from(body: ResourceRequest) -> Result<Self, ApiError> {
        Ok(Self {
            slug: body_slug("slug", &body.slug)?,
            name: body.name,
            hours: weekly_hours(&body.hours)?,
            capacity: capacity(body.capacity.unwrap_or(1))?,
        })
    }
}

/// A resource patch, read.
#[derive(Debug)]
struct ResourceChange {
    name: Option<String>,
    capacity: Option<Capacity>,
    hours: Option<WeeklyHours>,
}

impl ResourceChange {
    fn read(slug: &Slug, body: ResourcePatch) -> Result<Self, ApiError> {
        same_slug("resource", slug, body.slug.as_deref())?;
        Ok(Self {
            name: body.name,
            capacity: body.capacity.map(capacity).transpose()?,
            hours: body.hours.as_deref().map(weekly_hours).transpose()?,
        })
    }

    /// `resource` with this change.
    fn applied_to(self, resource: &Resource) -> Resource {
        Resource {
            slug: resource.slug.clone(),
            name: self.name.unwrap_or_else(|| resource.name.clone()),
            hours: self.hours.unwrap_or_else(|| resource.hours.clone()),
            capacity: self.capacity.unwrap_or(resource.capacity),
        }
    }
}

fn weekly_hours(text: &str) -> Result<WeeklyHours, ApiError> {
    text.parse().map_err(|e| ApiError::invalid_request(format!("hours: {e}")))
}

fn capacity(n: u32) -> Result<Capacity, ApiError> {
    Capacity::new(n).map_err(|e| ApiError::invalid_request(e.to_string()))
}

impl ResourceDetails {
    fn new(resource: &Resource, calendar: &Calendar) -> Self {
        Self {
            slug: resource.slug.to_string(),
            name: resource.name.clone(),
            capacity: resource.capacity.get(),
            hours: resource.hours.to_string(),
            overrides: OverrideView::of(&resource.slug, calendar),
        }
    }
}

/// The answer showing resource `slug` of `stored`.
fn one(
    mut response: HttpResponseBuilder,
    stored: &StoredCalendar,
    slug: &Slug,
) -> Result<HttpResponse, ApiError> {
    let resource = stored.calendar.resources.iter().find(|r| r.slug == *slug);
    let resource = resource.ok_or_else(|| missing_from_written("resource", slug))?;
    Ok(response.json(ResourceAnswer {
        resource: ResourceDetails::new(resource, &stored.calendar),
        calendar_version: stored.version,
    }))
}

/// List the resources, with their overrides.
#[utoipa::path(
    get, path = "/admin/resources", tag = "admin", operation_id = "admin_list_resources",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ResourcesAnswer,
            headers(("Calendar-Version" = u64, description = "The calendar version shown"))),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(bookings: web::Data<Bookings>) -> HttpResponse {
    let stored = current(&bookings);
    let calendar = &stored.calendar;
    versioned(StatusCode::OK, stored.version).json(ResourcesAnswer {
        resources: calendar.resources.iter().map(|r| ResourceDetails::new(r, calendar)).collect(),
        calendar_version: stored.version,
    })
}

/// Read one resource, with its overrides.
#[utoipa::path(
    get, path = "/admin/resources/{slug}", tag = "admin", operation_id = "admin_get_resource",
    params(("slug" = String, Path, description = "The resource's slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ResourceAnswer,
            headers(("Calendar-Version" = u64, description = "The calendar version shown"))),
        (status = 400, description = "The path's slug is not a slug", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource (`/problems/resource-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    bookings: web::Data<Bookings>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (stored, slug) = with_resource(&bookings, &slug)?;
    one(versioned(StatusCode::OK, stored.version), &stored, &slug)
}

/// Add a resource, last in the order resources are chosen from.
#[utoipa::path(
    post, path = "/admin/resources", tag = "admin", operation_id = "admin_add_resource",
    request_body = ResourceRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added; bookable at once", body = ResourceAnswer,
            headers(
                ("Location" = String, description = "/admin/resources/{slug} of the new resource"),
                ("Calendar-Version" = u64, description = "The calendar version written"),
            )),
        (status = 400, description = "A bad slug, name, capacity or hours (the detail names the member), or hours with no slot", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A resource has this slug (`/problems/resource-exists`), or the calendar changed meanwhile (`/problems/calendar-changed`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add(
    bookings: web::Data<Bookings>,
    body: web::Json<ResourceRequest>,
) -> Result<HttpResponse, ApiError> {
    let resource = Resource::try_from(body.into_inner())?;
    let slug = resource.slug.clone();
    let stored = apply(&bookings, "add_resource", move |_| Ok(Edit::AddResource(resource))).await?;
    let mut response = versioned(StatusCode::CREATED, stored.version);
    response.insert_header((header::LOCATION, format!("/admin/resources/{slug}")));
    one(response, &stored, &slug)
}

/// Change a resource's name, capacity or hours. Refused, changing nothing, when appointments
/// that have not ended would no longer fit: outside the new hours, or more in a slot than the
/// new capacity.
#[utoipa::path(
    patch, path = "/admin/resources/{slug}", tag = "admin", operation_id = "admin_change_resource",
    params(("slug" = String, Path, description = "The resource's slug")),
    request_body = ResourcePatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = ResourceAnswer,
            headers(("Calendar-Version" = u64, description = "The calendar version written"))),
        (status = 400, description = "A bad name, capacity or hours (the detail names the member), another slug in the body, or hours with no slot", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource (`/problems/resource-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Appointments would be stranded or overbooked (`/problems/appointments-stranded`, listed in `stranded`), or the calendar changed meanwhile (`/problems/calendar-changed`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change(
    bookings: web::Data<Bookings>,
    slug: web::Path<String>,
    body: web::Json<ResourcePatch>,
) -> Result<HttpResponse, ApiError> {
    let slug = path_slug(&slug)?;
    let change = ResourceChange::read(&slug, body.into_inner())?;
    let target = slug.clone();
    let stored = apply(&bookings, "change_resource", move |schedule| {
        let resource =
            schedule.resource(&target).map_err(|_| EditError::NoSuchResource(target.clone()))?;
        Ok(Edit::ReplaceResource(change.applied_to(resource)))
    })
    .await?;
    one(versioned(StatusCode::OK, stored.version), &stored, &slug)
}

/// Remove a resource and its overrides. Refused, changing nothing, while a service names it or
/// an appointment of it has not ended.
#[utoipa::path(
    delete, path = "/admin/resources/{slug}", tag = "admin", operation_id = "admin_remove_resource",
    params(("slug" = String, Path, description = "The resource's slug")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed",
            headers(("Calendar-Version" = u64, description = "The calendar version written"))),
        (status = 400, description = "The path's slug is not a slug, or this is the last resource", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such resource (`/problems/resource-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Services name it (`/problems/resource-in-use`), appointments of it have not ended (`/problems/appointments-stranded`, listed in `stranded`), or the calendar changed meanwhile (`/problems/calendar-changed`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove(
    bookings: web::Data<Bookings>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = path_slug(&slug)?;
    let stored =
        apply(&bookings, "remove_resource", move |_| Ok(Edit::RemoveResource(slug))).await?;
    Ok(versioned(StatusCode::NO_CONTENT, stored.version).finish())
}
