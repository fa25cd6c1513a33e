//! What the business offers: its resources and services, as the calendar followed now has
//! them (the operator changes them under `/admin/`, see `calendar_admin`).

use actix_web::{HttpResponse, web};

use super::Bookings;
use serde::Serialize;
use utoipa::ToSchema;

/// A resource clients can book.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceView {
    /// Its slug, for `resource` fields and filters.
    #[schema(example = "alice")]
    pub slug: String,
    /// Its display name.
    #[schema(example = "Alice")]
    pub name: String,
    /// Its weekly opening hours, local to the business's zone.
    #[schema(example = "mon-fri 09:00-12:00,13:00-17:00")]
    pub opening_hours: String,
    /// Appointments it takes per slot.
    pub capacity: u32,
}

/// A service clients can book.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    /// Its slug, for `service` fields and filters.
    #[schema(example = "haircut")]
    pub slug: String,
    /// Its display name.
    #[schema(example = "Haircut")]
    pub name: String,
    /// Its length in minutes.
    pub minutes: u32,
    /// The resources that perform it, in the order they are chosen from.
    pub resources: Vec<String>,
}

/// The resources.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resources {
    /// Every resource, in the order they are chosen from.
    pub resources: Vec<ResourceView>,
}

/// The services.
#[derive(Debug, Serialize, ToSchema)]
pub struct Services {
    /// Every service.
    pub services: Vec<ServiceView>,
}

/// List the resources.
#[utoipa::path(get, path = "/resources", tag = "catalog", responses((status = 200, body = Resources)))]
pub async fn resources(bookings: web::Data<Bookings>) -> HttpResponse {
    let resources = bookings
        .schedule()
        .resources()
        .iter()
        .map(|r| ResourceView {
            slug: r.slug.to_string(),
            name: r.name.clone(),
            opening_hours: r.hours.to_string(),
            capacity: r.capacity.get(),
        })
        .collect();
    HttpResponse::Ok().json(Resources { resources })
}

/// List the services.
#[utoipa::path(get, path = "/services", tag = "catalog", responses((status = 200, body = Services)))]
pub async fn services(bookings: web::Data<Bookings>) -> HttpResponse {
    // One schedule for the whole answer: the calendar may change meanwhile.
    let schedule = bookings.schedule();
    let slot = u32::from(schedule.slot_length().minutes());
    let services = schedule
        .services()
        .iter()
        .map(|s| ServiceView {
            slug: s.slug.to_string(),
            name: s.name.clone(),
            minutes: u32::from(s.slots.get()) * slot,
            resources: s.resources.iter().map(ToString::to_string).collect(),
        })
        .collect();
    HttpResponse::Ok().json(Services { services })
}
