//! The service describing itself: welcome, liveness, readiness and the OpenAPI document.

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, http::header::ContentType, web};
use booking_core::storage::WriteError;
use serde::Serialize;
use utoipa::ToSchema;

use super::Bookings;
use crate::{
    error::{ApiError, Problem},
    openapi::OpenApiJson,
};

/// What the service is and where to start.
#[derive(Debug, Serialize, ToSchema)]
pub struct Welcome {
    /// The service's name.
    #[schema(example = "booking-service")]
    pub name: &'static str,
    /// Its version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    /// The business's time zone.
    pub time_zone: String,
    /// Length of each slot in minutes.
    pub slot_minutes: u16,
    /// Where to go next.
    pub links: Links,
}

/// Starting points.
#[derive(Debug, Serialize, ToSchema)]
pub struct Links {
    /// Book an appointment.
    pub schedule: &'static str,
    /// List free slots.
    pub availability: &'static str,
    /// Follow free slots as they change.
    pub availability_stream: &'static str,
    /// What can be booked, and with whom.
    pub resources: &'static str,
    /// What can be booked.
    pub services: &'static str,
    /// The OpenAPI document.
    pub openapi: &'static str,
    /// The API reference, for people.
    pub docs: &'static str,
    /// Liveness.
    pub health: &'static str,
    /// Readiness.
    pub ready: &'static str,
    /// Keep a slot for a few minutes while booking.
    pub holds: &'static str,
    /// The operator's API (bearer token): appointments.
    pub admin: &'static str,
    /// Metrics, in the Prometheus text format.
    pub metrics: &'static str,
}

/// A health check's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Welcome.
#[utoipa::path(get, path = "/", tag = "service", responses((status = 200, body = Welcome)))]
pub async fn index(bookings: web::Data<Bookings>) -> HttpResponse {
    let schedule = bookings.schedule();
    HttpResponse::Ok().json(Welcome {
        name: "booking-service",
        version: env!("CARGO_PKG_VERSION"),
        time_zone: schedule.time_zone().name().to_owned(),
        slot_minutes: schedule.slot_length().minutes(),
        links: Links {
            schedule: "/schedule",
            availability: "/availability?date=YYYY-MM-DD",
            availability_stream: "/availability/stream?date=YYYY-MM-DD",
            resources: "/resources",
            services: "/services",
            openapi: "/openapi.json",
            docs: "/docs",
            health: "/healthz",
            ready: "/readyz",
            holds: "/holds",
            admin: "/admin/appointments",
            metrics: "/metrics",
        },
    })
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database answers and takes a write (a server whose disk is full, or whose
/// database went read-only, leaves the load balancer's rotation).
#[utoipa::path(
    get, path = "/readyz", tag = "service",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "The database does not answer, or cannot take a write", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(
    bookings: web::Data<Bookings>,
    readiness: web::Data<Readiness>,
) -> Result<HttpResponse, ApiError> {
    // Callers queue here, so that one probe runs at a time, and a success serves for a while.
    let mut passed = readiness.passed.lock().await;
    if passed.is_some_and(|at| at.elapsed() < Readiness::FRESH) {
        return Ok(HttpResponse::Ok().json(Health { status: "ready" }));
    }
    let probe = bookings
        .run("check_health", |service| {
            service.check_health().map(|()| service.check_writable()).map_err(ApiError::not_ready)
        })
        .await?;
    probe.await.map_err(|error| match error {
        WriteError::Storage(error) => ApiError::not_ready(error),
        other => ApiError::from(other),
    })?;
    *passed = Some(Instant::now());
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
}

/// The last readiness probe that passed. Each probe commits a write, and load balancers may ask
/// every second from several places: probes run one at a time, and a pass is trusted for
/// a second, so asking more often costs no more writes.
#[derive(Debug, Default)]
pub struct Readiness {
    passed: tokio::sync::Mutex<Option<Instant>>,
}

impl Readiness {
    /// How long a passed probe stands for the next ones.
    const FRESH: Duration = Duration::from_secs(1);
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi(document: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::json()).body(document.0.clone())
}
