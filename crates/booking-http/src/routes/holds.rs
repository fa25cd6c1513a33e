//! Holds: a slot kept for a few minutes while a client finishes booking.

use actix_web::{HttpRequest, HttpResponse, web};
use booking_core::{hold::HoldToken, repository::HoldNotFound};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    Bookings, fields,
    times::{InUtc, LocalDate, LocalTime, Zoned},
    views::{SlotTimes, utc},
};
use crate::{
    error::{ApiError, Problem},
    limits::Clients,
};

/// A request to hold a slot.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HoldRequest {
    /// Local date, YYYY-MM-DD.
    #[schema(format = Date, example = "2030-01-07")]
    pub date: String,
    /// Local start time, HH:MM (24-hour).
    #[schema(example = "09:30")]
    pub time: String,
    /// The resource; without one, the first that performs the service and is free.
    #[serde(default)]
    pub resource: Option<String>,
    /// The service; without one, a single slot.
    #[serde(default)]
    pub service: Option<String>,
}

/// A hold that was made.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldView<'a> {
    /// Always "Time slot held."
    pub message: &'static str,
    /// The secret to send as `hold` with POST /schedule, or to DELETE /holds/{token}.
    #[schema(example = "3f2c9a7d1b6e4f0a8c5d2e7f9a1b3c4d")]
    pub token: &'a str,
    /// When the hold stops counting (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: InUtc,
    /// The resource held.
    pub resource: &'a str,
    /// The service it is for.
    pub service: Option<&'a str>,
    /// Local date.
    #[schema(value_type = String, format = Date)]
    pub date: LocalDate,
    /// Local start time.
    #[schema(value_type = String)]
    pub time: LocalTime,
    /// Start instant (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub start: Zoned,
    /// End instant (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub end: Zoned,
}

/// Hold a slot for a few minutes.
#[utoipa::path(
    post, path = "/holds", tag = "holds",
    request_body = HoldRequest,
    responses(
        (status = 201, description = "Held; the slot counts as taken for everyone else until `expires_at`", body = HoldView),
        (status = 400, description = "Bad date/time, unknown resource or service, or a time that cannot be booked", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Time slot is not available.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many holds (`too-many-holds`: the client already has `BOOKING_MAX_HOLDS_PER_CLIENT` active holds; `Retry-After` says when the first expires) or too many writes (`too-many-requests`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database busy or unreachable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    request: HttpRequest,
    bookings: web::Data<Bookings>,
    clients: web::Data<Clients>,
    body: web::Json<HoldRequest>,
) -> Result<HttpResponse, ApiError> {
    // The client counts against the holds cap by the address the rate limit counts it by.
    let holder = clients.client_of(request.peer_addr(), request.headers()).map(Clients::name);
    let request = fields::slot_request(
        &body.date,
        &body.time,
        body.resource.as_deref(),
        body.service.as_deref(),
    )?;
    let pending =
        bookings.queue("hold", move |service| service.hold(&request, holder.as_deref())).await?;
    let hold = pending.await.map_err(|e| ApiError::hold_failure(e, bookings.now()))?.outcome;
    let SlotTimes { date, time, start, end } = SlotTimes::of(hold.slot, &bookings.schedule());
    Ok(HttpResponse::Created().json(HoldView {
        message: "Time slot held.",
        token: hold.token.as_str(),
        expires_at: utc(hold.expires_at),
        resource: hold.resource.as_str(),
        service: hold.service.as_ref().map(|service| service.as_str()),
        date,
        time,
        start,
        end,
    }))
}

/// Release a hold before it expires.
#[utoipa::path(
    delete, path = "/holds/{token}", tag = "holds",
    params(("token" = String, Path, description = "The hold's token")),
    responses(
        (status = 204, description = "Released; the slot is free again"),
        (status = 404, description = "Hold not found or expired.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database busy or unreachable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn release(
    bookings: web::Data<Bookings>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token: HoldToken = token.parse().map_err(|_| ApiError::from(HoldNotFound))?;
    let pending = bookings
        .queue("release_hold", move |service| Ok::<_, ApiError>(service.release_hold(token)))
        .await?;
    pending.await?;
    Ok(HttpResponse::NoContent().finish())
}
