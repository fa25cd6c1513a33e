//! `/admin/services`: add, read, change and remove what clients book, how long it takes and
//! who performs it. Lengths are given in minutes, whole slots of the business's slot length.

use std::num::NonZeroU16;

use actix_web::{
    HttpResponse, HttpResponseBuilder,
    http::{StatusCode, header},
    web,
};
use booking_core::{
    calendar::{Edit, EditError, StoredCalendar},
    catalog::{MAX_HORIZON_DAYS, MAX_NOTICE_MINUTES, Service, Slug},
    units::{SlotLength, SlotsError},
};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    apply, body_slug, current, missing_from_written, path_slug, present, same_slug, versioned,
};
use crate::{
    error::{ApiError, Problem},
    routes::Bookings,
};

/// A service to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRequest {
    /// Its slug, fixed once made: 1-40 lowercase letters, digits and hyphens.
    #[schema(example = "beard-trim")]
    pub slug: String,
    /// Its display name, 1-100 characters.
    #[schema(example = "Beard trim")]
    pub name: String,
    /// Its length: a whole number of slots, in minutes.
    #[schema(example = 30)]
    pub minutes: u32,
    /// Preparation before it, blocking the resource: whole slots, in minutes (default 0).
    #[serde(default)]
    #[schema(example = 0)]
    pub buffer_before_minutes: u32,
    /// Cleanup after it, blocking the resource: whole slots, in minutes (default 0).
    #[serde(default)]
    #[schema(example = 0)]
    pub buffer_after_minutes: u32,
    /// Its own minimum notice (0-525600), instead of the business's.
    #[serde(default)]
    #[schema(maximum = 525_600)]
    pub min_notice_minutes: Option<u32>,
    /// Its own booking horizon (1-3650), instead of the business's.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub horizon_days: Option<u16>,
    /// The slugs of the resources that perform it, in the order they are chosen from (at least
    /// one).
    #[schema(example = json!(["alice"]))]
    pub resources: Vec<String>,
}

/// What to change of a service: any of its members; those left out stay as they are, and
/// `null` removes its own notice or horizon.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePatch {
    /// If given, the path's slug (a slug does not change).
    #[serde(default)]
    pub slug: Option<String>,
    /// Its display name, 1-100 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// Its length: a whole number of slots, in minutes.
    #[serde(default)]
    #[schema(example = 60)]
    pub minutes: Option<u32>,
    /// Preparation before it: whole slots, in minutes.
    #[serde(default)]
    pub buffer_before_minutes: Option<u32>,
    /// Cleanup after it: whole slots, in minutes.
    #[serde(default)]
    pub buffer_after_minutes: Option<u32>,
    /// Its own minimum notice (0-525600); `null` for the business's.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, maximum = 525_600)]
    pub min_notice_minutes: Option<Option<u32>>,
    /// Its own booking horizon (1-3650); `null` for the business's.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u16>, minimum = 1, maximum = 3650)]
    pub horizon_days: Option<Option<u16>>,
    /// The slugs of the resources that perform it, in order (at least one).
    #[serde(default)]
    pub resources: Option<Vec<String>>,
}

/// A service as the operator manages it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceDetails {
    /// Its slug.
    #[schema(example = "beard-trim")]
    pub slug: String,
    /// Its display name.
    #[schema(example = "Beard trim")]
    pub name: String,
    /// Its length in minutes.
    #[schema(example = 30)]
    pub minutes: u32,
    /// Preparation before it, in minutes.
    #[schema(example = 0)]
    pub buffer_before_minutes: u32,
    /// Cleanup after it, in minutes.
    #[schema(example = 0)]
    pub buffer_after_minutes: u32,
    /// Its own minimum notice, or null for the business's.
    pub min_notice_minutes: Option<i64>,
    /// Its own booking horizon, or null for the business's.
    pub horizon_days: Option<i64>,
    /// The resources that perform it, in the order they are chosen from.
    #[schema(example = json!(["alice"]))]
    pub resources: Vec<String>,
}

/// One service, and the calendar version it is from.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAnswer {
    /// The service.
    pub service: ServiceDetails,
    /// The version of the calendar this shows (also the `Calendar-Version` header).
    #[schema(example = 4)]
    pub calendar_version: u64,
}

/// Every service, and the calendar version they are from.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServicesAnswer {
    /// The services.
    pub services: Vec<ServiceDetails>,
    /// The version of the calendar this shows (also the `Calendar-Version` header).
    #[schema(example = 4)]
    pub calendar_version: u64,
}

impl ServiceRequest {
    /// The service, its lengths counted in slots of `slot`.
    fn service(self, slot: SlotLength) -> Result<Service, ApiError> {
        Ok(Service {
            slug: body_slug("slug", &self.slug)?,
            name: self.name,
            slots: length(self.minutes, slot)?,
            resources: performers(&self.resources)?,
            buffer_before: slots("buffer_before_minutes", self.buffer_before_minutes, slot)?,
            buffer_after: slots("buffer_after_minutes", self.buffer_after_minutes, slot)?,
            min_notice: self.min_notice_minutes.map(notice).transpose()?,
            horizon: self.horizon_days.map(horizon).transpose()?,
        })
    }
}

/// A service patch, read.
#[derive(Debug)]
struct ServiceChange {
    name: Option<String>,
    slots: Option<NonZeroU16>,
    buffer_before: Option<u16>,
    buffer_after: Option<u16>,
    min_notice: Option<Option<Duration>>,
    horizon: Option<Option<Duration>>,
    resources: Option<Vec<Slug>>,
}

impl ServiceChange {
    fn read(slug: &Slug, body: ServicePatch, slot: SlotLength) -> Result<Self, ApiError> {
        same_slug("service", slug, body.slug.as_deref())?;
        Ok(Self {
            name: body.name,
            slots: body.minutes.map(|m| length(m, slot)).transpose()?,
            buffer_before: body
                .buffer_before_minutes
                .map(|m| slots("buffer_before_minutes", m, slot))
                .transpose()?,
            buffer_after: body
                .buffer_after_minutes
                .map(|m| slots("buffer_after_minutes", m, slot))
                .transpose()?,
            min_notice: body.min_notice_minutes.map(|n| n.map(notice).transpose()).transpose()?,
            horizon: body.horizon_days.map(|n| n.map(horizon).transpose()).transpose()?,
            resources: body.resources.as_deref().map(performers).transpose()?,
        })
    }

    /// `service` with this change.
    fn applied_to(self, service: &Service) -> Service {
        Service {
            slug: service.slug.clone(),
            name: self.name.unwrap_or_else(|| service.name.clone()),
            slots: self.slots.unwrap_or(service.slots),
            resources: self.resources.unwrap_or_else(|| service.resources.clone()),
            buffer_before: self.buffer_before.unwrap_or(service.buffer_before),
            buffer_after: self.buffer_after.unwrap_or(service.buffer_after),
            min_notice: self.min_notice.unwrap_or(service.min_notice),
            horizon: self.horizon.unwrap_or(service.horizon),
        }
    }
}

/// `minutes` in slots of `slot`, refused with what `field` must be.
fn slots(field: &str, minutes: u32, slot: SlotLength) -> Result<u16, ApiError> {
    slot.slots_in(minutes).map_err(|e| {
        let minutes_per_slot = slot.minutes();
        ApiError::invalid_request(match e {
            SlotsError::NotWhole { .. } => format!(
                "{field}: {e}; give a multiple of {minutes_per_slot} (the business's slot length)"
            ),
            SlotsError::TooLong { .. } => format!("{field}: {e}"),
        })
    })
}

fn length(minutes: u32, slot: SlotLength) -> Result<NonZeroU16, ApiError> {
    NonZeroU16::new(slots("minutes", minutes, slot)?).ok_or_else(|| {
        ApiError::invalid_request(format!(
            "minutes: a service takes at least one slot ({} minutes)",
            slot.minutes()
        ))
    })
}

fn notice(minutes: u32) -> Result<Duration, ApiError> {
    if minutes > MAX_NOTICE_MINUTES {
        return Err(ApiError::invalid_request(format!(
            "min_notice_minutes: {minutes} is more than {MAX_NOTICE_MINUTES} (a year)"
        )));
    }
    Ok(Duration::minutes(i64::from(minutes)))
}

fn horizon(days: u16) -> Result<Duration, ApiError> {
    if !(1..=MAX_HORIZON_DAYS).contains(&days) {
        return Err(ApiError::invalid_request(format!(
            "horizon_days: must be between 1 and {MAX_HORIZON_DAYS}, got {days}"
        )));
    }
    Ok(Duration::days(i64::from(days)))
}

/// The resources a service names, each once.
fn performers(slugs: &[String]) -> Result<Vec<Slug>, ApiError> {
    let mut read: Vec<Slug> = Vec::with_capacity(slugs.len());
    for text in slugs {
        let slug = body_slug("resources", text)?;
        if read.contains(&slug) {
            return Err(ApiError::invalid_request(format!(
                "resources: '{slug}' is named twice; name each resource once"
            )));
        }
        read.push(slug);
    }
    Ok(read)
}

impl ServiceDetails {
    fn new(service: &Service, slot: SlotLength) -> Self {
        let minutes = |slots: u16| u32::from(slots) * u32::from(slot.minutes());
        Self {
            slug: service.slug.to_string(),
            name: service.name.clone(),
            minutes: minutes(service.slots.get()),
            buffer_before_minutes: minutes(service.buffer_before),
            buffer_after_minutes: minutes(service.buffer_after),
            min_notice_minutes: service.min_notice.map(|d| d.num_minutes()),
            horizon_days: service.horizon.map(|d| d.num_days()),
            resources: service.resources.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The answer showing service `slug` of `stored`.
fn one(
    mut response: HttpResponseBuilder,
    stored: &StoredCalendar,
    slug: &Slug,
) -> Result<HttpResponse, ApiError> {
    let service = stored.calendar.services.iter().find(|s| s.slug == *slug);
    let service = service.ok_or_else(|| missing_from_written("service", slug))?;
    Ok(response.json(ServiceAnswer {
        service: ServiceDetails::new(service, stored.calendar.slot_length),
        calendar_version: stored.version,
    }))
}

/// List the services, with their buffers and own notice and horizon.
#[utoipa::path(
    get, path = "/admin/services", tag = "admin", operation_id = "admin_list_services",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ServicesAnswer,
            headers(("Calendar-Version" = u64, description = "The calendar version shown"))),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(bookings: web::Data<Bookings>) -> HttpResponse {
    let stored = current(&bookings);
    let slot = stored.calendar.slot_length;
    versioned(StatusCode::OK, stored.version).json(ServicesAnswer {
        services: stored.calendar.services.iter().map(|s| ServiceDetails::new(s, slot)).collect(),
        calendar_version: stored.version,
    })
}

/// Read one service.
#[utoipa::path(
    get, path = "/admin/services/{slug}", tag = "admin", operation_id = "admin_get_service",
    params(("slug" = String, Path, description = "The service's slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ServiceAnswer,
            headers(("Calendar-Version" = u64, description = "The calendar version shown"))),
        (status = 400, description = "The path's slug is not a slug", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service (`/problems/service-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    bookings: web::Data<Bookings>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = path_slug(&slug)?;
    let stored = current(&bookings);
    if !stored.calendar.services.iter().any(|s| s.slug == slug) {
        return Err(EditError::NoSuchService(slug).into());
    }
    one(versioned(StatusCode::OK, stored.version), &stored, &slug)
}

/// Add a service.
#[utoipa::path(
    post, path = "/admin/services", tag = "admin", operation_id = "admin_add_service",
    request_body = ServiceRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added; bookable at once", body = ServiceAnswer,
            headers(
                ("Location" = String, description = "/admin/services/{slug} of the new service"),
                ("Calendar-Version" = u64, description = "The calendar version written"),
            )),
        (status = 400, description = "A bad member (the detail names it): minutes or buffers not whole slots, an unknown resource (`/problems/unknown-resource`), no resource", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A service has this slug (`/problems/service-exists`), or the calendar changed meanwhile (`/problems/calendar-changed`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add(
    bookings: web::Data<Bookings>,
    body: web::Json<ServiceRequest>,
) -> Result<HttpResponse, ApiError> {
    let service = body.into_inner().service(bookings.schedule().slot_length())?;
    let slug = service.slug.clone();
    let stored = apply(&bookings, "add_service", move |_| Ok(Edit::AddService(service))).await?;
    let mut response = versioned(StatusCode::CREATED, stored.version);
    response.insert_header((header::LOCATION, format!("/admin/services/{slug}")));
    one(response, &stored, &slug)
}

/// Change a service. Refused, changing nothing, when appointments of it that have not ended
/// would no longer fit: a longer length or buffers, or a resource that no longer performs it.
#[utoipa::path(
    patch, path = "/admin/services/{slug}", tag = "admin", operation_id = "admin_change_service",
    params(("slug" = String, Path, description = "The service's slug")),
    request_body = ServicePatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = ServiceAnswer,
            headers(("Calendar-Version" = u64, description = "The calendar version written"))),
        (status = 400, description = "A bad member (the detail names it), another slug in the body, an unknown resource (`/problems/unknown-resource`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service (`/problems/service-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Appointments would be stranded (`/problems/appointments-stranded`, listed in `stranded`), or the calendar changed meanwhile (`/problems/calendar-changed`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change(
    bookings: web::Data<Bookings>,
    slug: web::Path<String>,
    body: web::Json<ServicePatch>,
) -> Result<HttpResponse, ApiError> {
    let slug = path_slug(&slug)?;
    let change = ServiceChange::read(&slug, body.into_inner(), bookings.schedule().slot_length())?;
    let target = slug.clone();
    let stored = apply(&bookings, "change_service", move |schedule| {
        let service =
            schedule.service(&target).map_err(|_| EditError::NoSuchService(target.clone()))?;
        Ok(Edit::ReplaceService(change.applied_to(service)))
    })
    .await?;
    one(versioned(StatusCode::OK, stored.version), &stored, &slug)
}

/// Remove a service. Refused, changing nothing, while an appointment of it has not ended.
#[utoipa::path(
    delete, path = "/admin/services/{slug}", tag = "admin", operation_id = "admin_remove_service",
    params(("slug" = String, Path, description = "The service's slug")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed",
            headers(("Calendar-Version" = u64, description = "The calendar version written"))),
        (status = 400, description = "The path's slug is not a slug", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service (`/problems/service-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Appointments of it have not ended (`/problems/appointments-stranded`, listed in `stranded`), or the calendar changed meanwhile (`/problems/calendar-changed`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove(
    bookings: web::Data<Bookings>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = path_slug(&slug)?;
    let stored = apply(&bookings, "remove_service", move |_| Ok(Edit::RemoveService(slug))).await?;
    Ok(versioned(StatusCode::NO_CONTENT, stored.version).finish())
}
