//! Booking, canceling, moving and reading appointments: the original service's endpoints.

use actix_web::{
    HttpRequest, HttpResponse, HttpResponseBuilder,
    http::{StatusCode, header},
    web,
};
use booking_core::{
    appointment::{Appointment, AppointmentId},
    catalog::Slug,
    client::{ClientName, Notes},
    contact::{Contact, Email, Phone},
    history::{Actor, Reason},
    hold::HoldToken,
    idempotency::{IdempotencyKey, Outcome},
    repository::{HoldNotFound, Written},
    schedule::Schedule,
    service::{BookRequest, Retry, SlotRequest},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    Bookings, body, fields,
    views::{AppointmentChanged, AppointmentView},
};
use crate::error::{ApiError, Problem};

/// A request for an appointment.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ScheduleRequest {
    /// The client's name: letters of any script, spaces, apostrophes, hyphens, periods and commas; 1-100 characters.
    #[schema(example = "José Ñúñez")]
    pub client_name: String,
    /// Local date in the business's time zone, YYYY-MM-DD.
    #[schema(format = Date, example = "2030-01-07")]
    pub date: String,
    /// Local start time, HH:MM (24-hour), on a slot boundary inside opening hours.
    #[schema(example = "09:30")]
    pub time: String,
    /// Optional notes for the business, at most 1000 characters.
    #[serde(default)]
    #[schema(example = "First visit")]
    pub notes: Option<String>,
    /// The resource to book (GET /resources); without one, the first that performs the service
    /// and is free for its whole length.
    #[serde(default)]
    #[schema(example = "alice")]
    pub resource: Option<String>,
    /// The service to book (GET /services); without one, a single slot.
    #[serde(default)]
    #[schema(example = "haircut")]
    pub service: Option<String>,
    /// A hold token from POST /holds for this date, time, resource and service: the hold
    /// becomes the appointment.
    #[serde(default)]
    pub hold: Option<String>,
    /// The client's email address (as browsers check an email field), at most 254 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "ada@example.com")]
    pub email: Option<String>,
    /// The client's phone number in E.164: + and the country code, then the number; spaces,
    /// hyphens, dots and parentheses between digits are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "+44 20 7946 0958")]
    pub phone: Option<String>,
}

impl TryFrom<ScheduleRequest> for BookRequest {
    type Error = ApiError;

    fn try_from(body: ScheduleRequest) -> Result<Self, ApiError> {
        Ok(Self {
            slot: fields::slot_request(
                &body.date,
                &body.time,
                body.resource.as_deref(),
                body.service.as_deref(),
            )?,
            client_name: ClientName::parse(&body.client_name)?,
            notes: body.notes.as_deref().map(Notes::parse).transpose()?.flatten(),
            contact: Contact {
                email: body.email.as_deref().map(Email::parse).transpose()?.flatten(),
                phone: body.phone.as_deref().map(Phone::parse).transpose()?.flatten(),
            },
            hold: body
                .hold
                .as_deref()
                .map(|token| token.parse::<HoldToken>().map_err(|_| ApiError::from(HoldNotFound)))
                .transpose()?,
        })
    }
}

/// A request to move an appointment.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RescheduleRequest {
    /// New local date, YYYY-MM-DD.
    #[schema(format = Date, example = "2030-01-08")]
    pub date: String,
    /// New local start time, HH:MM (24-hour).
    #[schema(example = "10:00")]
    pub time: String,
    /// Another resource to move to (GET /resources), which must offer the service; without
    /// one, the appointment stays on its resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "bob")]
    pub resource: Option<String>,
    /// Another service (GET /services): the appointment then takes the time that service
    /// needs; without one, it keeps its service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "colouring")]
    pub service: Option<String>,
}

/// A booking that was made.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scheduled<'a> {
    /// Always "Appointment scheduled successfully."
    #[schema(example = "Appointment scheduled successfully.")]
    pub message: &'static str,
    /// The new appointment's id.
    #[schema(value_type = String, format = Uuid)]
    pub appointment_id: uuid::Uuid,
    /// The new appointment.
    pub appointment: AppointmentView<'a>,
}

pub(super) fn appointment_id(text: &str) -> Result<AppointmentId, ApiError> {
    // Text that is not an id names no appointment.
    text.parse().map_err(|_| ApiError::appointment_not_found())
}

/// Book a slot.
#[utoipa::path(
    post, path = "/schedule", tag = "appointments",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat with the same key and body returns the first answer (with Idempotent-Replayed: true) without doing the work again; keys are remembered for 24 hours")),
    request_body = ScheduleRequest,
    responses(
        (status = 201, description = "Booked", body = Scheduled,
            headers(("Location" = String, description = "/appointment/{id} of the new appointment"))),
        (status = 400, description = "Bad date/time format, name, notes, email or phone; unknown resource or service; a time in the past, too soon, too far ahead, outside opening hours, off a slot boundary or skipped by a DST change", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Hold not found or expired.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Time slot is not available. (reason full, held or closed), or the hold is for another slot", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key reused for a different request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database busy or unreachable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn schedule(
    request: HttpRequest,
    bookings: web::Data<Bookings>,
    body: web::Json<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    schedule_by(Actor::Client, request, bookings, body).await
}

/// Books as `POST /schedule` does, on behalf of `by` (see `BookingService::book_by`).
pub(super) async fn schedule_by(
    by: Actor,
    request: HttpRequest,
    bookings: web::Data<Bookings>,
    body: web::Json<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let retry = retry_key(&request, &*body)?;
    let book = BookRequest::try_from(body.into_inner())?;
    let pending = bookings.queue("book", move |service| service.book_by(by, book, retry)).await?;
    Ok(scheduled(pending.await?, &bookings.schedule()))
}

/// The answer to a booking: the same for the first request and for a replay of it, but for
/// `Idempotent-Replayed`.
fn scheduled(outcome: Outcome<Written<Appointment>>, schedule: &Schedule) -> HttpResponse {
    let (appointment, mut response) = answer(outcome, StatusCode::CREATED);
    let id = appointment.id();
    response.insert_header((header::LOCATION, format!("/appointment/{id}"))).json(Scheduled {
        message: "Appointment scheduled successfully.",
        appointment_id: id.as_uuid(),
        appointment: AppointmentView::new(&appointment, schedule),
    })
}

/// The answer to a change of an appointment, first or replayed.
pub(super) fn changed(
    message: &'static str,
    outcome: Outcome<Written<Appointment>>,
    schedule: &Schedule,
) -> HttpResponse {
    let (appointment, mut response) = answer(outcome, StatusCode::OK);
    response.json(AppointmentChanged {
        message,
        appointment: AppointmentView::new(&appointment, schedule),
    })
}

/// The appointment a keyed write's answer shows (as the write left it, whether it was done now
/// or replayed), and a response that says which.
fn answer(
    outcome: Outcome<Written<Appointment>>,
    status: StatusCode,
) -> (Appointment, HttpResponseBuilder) {
    let mut response = HttpResponse::build(status);
    let appointment = match outcome {
        Outcome::Done(written) => written.outcome,
        Outcome::Replayed(appointment) => {
            response.insert_header(("Idempotent-Replayed", "true"));
            appointment
        }
    };
    (appointment, response)
}

/// The `Idempotency-Key` of a request, with what identifies the request; a request without one
/// is not keyed.
fn retry_key(request: &HttpRequest, body: &impl Serialize) -> Result<Option<Retry>, ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else { return Ok(None) };
    let key =
        value.to_str().ok().and_then(|text| IdempotencyKey::parse(text).ok()).ok_or_else(|| {
            ApiError::invalid_request(
                "Idempotency-Key must be 1-255 visible ASCII characters, such as a UUID",
            )
        })?;
    // The canonical body (fields in a fixed order), so that spacing does not matter.
    let body = serde_json::to_string(body).unwrap_or_default();
    Ok(Some(Retry { key, fingerprint: format!("{} {}\n{body}", request.method(), request.path()) }))
}

/// Why a client cancels; the body may be left out, as the original service's clients do.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct CancelRequest {
    /// Why, in the client's words (1-500 characters; line breaks and tabs allowed), kept in
    /// the appointment's history.
    #[serde(default)]
    #[schema(example = "Feeling ill")]
    pub reason: Option<String>,
}

/// Cancel an appointment.
#[utoipa::path(
    post, path = "/cancel/{id}", tag = "appointments",
    params(("id" = String, Path, description = "The appointment's id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat with the same key and body returns the first answer (with Idempotent-Replayed: true) without doing the work again; keys are remembered for 24 hours")),
    request_body(content = Option<CancelRequest>, description = "Optional: no body cancels without a reason", content_type = "application/json"),
    responses(
        (status = 200, description = "Appointment canceled successfully.", body = AppointmentChanged),
        (status = 400, description = "Appointment is already canceled, or has already started; a body that is not the expected JSON; a reason too long or with control characters", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Appointment not found.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too late to cancel this appointment. (it starts within the business's cancellation notice); or the business recorded it completed or a no-show", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key reused for a different request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database busy or unreachable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel(
    request: HttpRequest,
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    cancel_by(Actor::Client, request, bookings, id, body).await
}

/// A cancel by `by`: the client's (`POST /cancel/{id}`) or an operator's.
pub(super) async fn cancel_by(
    by: Actor,
    request: HttpRequest,
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: Option<CancelRequest> = body::optional_json(&request, &body)?;
    // A cancel without a body keeps the fingerprint it always had.
    let retry = match &body {
        Some(body) => retry_key(&request, body)?,
        None => retry_key(&request, &())?,
    };
    let reason = body.and_then(|body| body.reason);
    let reason = reason.as_deref().map(Reason::parse).transpose()?.flatten();
    let id = appointment_id(&id)?;
    let pending = bookings
        .queue("cancel", move |service| Ok::<_, ApiError>(service.cancel_by(by, id, reason, retry)))
        .await?;
    Ok(changed("Appointment canceled successfully.", pending.await?, &bookings.schedule()))
}

/// Move an appointment to another slot.
#[utoipa::path(
    post, path = "/reschedule/{id}", tag = "appointments",
    params(("id" = String, Path, description = "The appointment's id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat with the same key and body returns the first answer (with Idempotent-Replayed: true) without doing the work again; keys are remembered for 24 hours")),
    request_body = RescheduleRequest,
    responses(
        (status = 200, description = "Appointment rescheduled successfully. (also when the slot is the one it holds)", body = AppointmentChanged),
        (status = 400, description = "Bad format; canceled or started appointment; a new time in the past, too soon, too far ahead or not a slot; an unknown resource or service, or a resource that does not offer the service", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Appointment not found.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "New time slot is not available; or Too late to reschedule this appointment. (it starts within the business's cancellation notice); or the business recorded it completed or a no-show", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key reused for a different request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database busy or unreachable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reschedule(
    request: HttpRequest,
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
    body: web::Json<RescheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    reschedule_by(Actor::Client, request, bookings, id, body).await
}

/// A move by `by`: the client's (`POST /reschedule/{id}`) or an operator's.
pub(super) async fn reschedule_by(
    by: Actor,
    request: HttpRequest,
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
    body: web::Json<RescheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let retry = retry_key(&request, &*body)?;
    let date = fields::date("date", &body.date)?;
    let time = fields::time("time", &body.time)?;
    let to = SlotRequest {
        date,
        time,
        resource: body.resource.as_deref().map(str::parse::<Slug>).transpose()?,
        service: body.service.as_deref().map(str::parse::<Slug>).transpose()?,
    };
    let id = appointment_id(&id)?;
    let pending =
        bookings.run("reschedule", move |service| service.reschedule_by(by, id, to, retry)).await?;
    Ok(changed("Appointment rescheduled successfully.", pending.await?, &bookings.schedule()))
}

/// Read an appointment.
#[utoipa::path(
    get, path = "/appointment/{id}", tag = "appointments",
    params(("id" = String, Path, description = "The appointment's id")),
    responses(
        (status = 200, description = "The appointment", body = AppointmentView),
        (status = 404, description = "Appointment not found.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database busy or unreachable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = appointment_id(&id)?;
    let found = bookings.queue("get", move |service| Ok::<_, ApiError>(service.find(id))).await?;
    let appointment = found.await?.ok_or_else(ApiError::appointment_not_found)?;
    Ok(HttpResponse::Ok().json(AppointmentView::new(&appointment, &bookings.schedule())))
}
