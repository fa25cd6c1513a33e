//! The operator's API under `/admin/`: every appointment, and closures. Every request needs
//! `Authorization: Bearer <BOOKING_ADMIN_TOKEN>`.

use actix_web::{
    Error, HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use booking_core::{
    appointment::{AppointmentId, Conclusion, Status},
    catalog::Slug,
    closure::{Closure, ClosureId},
    history::{Actor, Reason},
    idempotency::Outcome,
    repository::AppointmentQuery,
    service::BookingService,
    units::Slot,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    Bookings,
    appointments::{self, CancelRequest, RescheduleRequest, ScheduleRequest, Scheduled},
    body, fields,
    times::{InUtc, Zoned},
    views::{AppointmentChanged, AppointmentView, utc},
};
use crate::{
    config::BearerToken,
    error::{ApiError, Problem},
    limits::AdminFailures,
};

/// Lets a request through only with the configured bearer token.
pub async fn require_token(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let token =
        request.app_data::<web::Data<Option<BearerToken>>>().and_then(|t| t.as_ref().clone());
    let refusal = match token {
        None => ApiError::admin_disabled(),
        Some(token) if super::bearer(request.headers()).is_some_and(|t| token.matches(t)) => {
            return next.call(request).await.map(ServiceResponse::map_into_left_body);
        }
        Some(_) => match request
            .app_data::<web::Data<AdminFailures>>()
            .map(|f| f.failed(request.peer_addr(), request.headers()))
        {
            Some(Err(wait)) => ApiError::too_many_failed_authentications(wait),
            _ => ApiError::unauthorized("admin token (BOOKING_ADMIN_TOKEN)"),
        },
    };
    Ok(request.error_response(refusal).map_into_right_body())
}

/// Which appointments to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppointmentsQuery {
    /// First local date, YYYY-MM-DD.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last local date, YYYY-MM-DD (included).
    #[param(format = Date)]
    pub to: Option<String>,
    /// `scheduled`, `canceled`, `completed` or `no_show`.
    pub status: Option<String>,
    /// Only this resource.
    pub resource: Option<String>,
    /// Client names containing this text (ASCII letters case-insensitively).
    pub client: Option<String>,
    /// Where to continue: the `next` link of the previous page carries it.
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A page of appointments.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentsPage<'a> {
    /// Appointments, ordered by start then id.
    pub appointments: Vec<AppointmentView<'a>>,
    /// The next page, or null on the last one.
    pub next: Option<String>,
}

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// A part of a client name to look for. Names have no control characters, so a filter with
/// one matches nothing, and is refused (PostgreSQL could not even take a NUL).
fn client_filter(text: String) -> Result<String, ApiError> {
    match text.chars().position(char::is_control) {
        Some(at) => Err(ApiError::invalid_request(format!(
            "client has a control character at position {}; client names have none",
            at + 1
        ))),
        None => Ok(text),
    }
}

impl AppointmentsQuery {
    fn to_query(&self, service: &BookingService) -> Result<AppointmentQuery, ApiError> {
        let schedule = service.schedule();
        let day_start = |field: &str, text: &str, after: bool| -> Result<DateTime<Utc>, ApiError> {
            let date = fields::date(field, text)?;
            let date = if after { date.succ_opt().unwrap_or(NaiveDate::MAX) } else { date };
            Ok(schedule.start_of_day(date))
        };
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::invalid_request(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        Ok(AppointmentQuery {
            from: self.from.as_deref().map(|d| day_start("from", d, false)).transpose()?,
            to: self.to.as_deref().map(|d| day_start("to", d, true)).transpose()?,
            status: self
                .status
                .as_deref()
                .map(|s| {
                    s.parse::<Status>().map_err(|_| {
                        ApiError::invalid_request(
                            "status must be scheduled, canceled, completed or no_show",
                        )
                    })
                })
                .transpose()?,
            resource: self.resource.as_deref().map(str::parse::<Slug>).transpose()?,
            client: self.client.clone().filter(|c| !c.is_empty()).map(client_filter).transpose()?,
            after: self.cursor.as_deref().map(parse_cursor).transpose()?,
            limit,
        })
    }

    /// This query's URL continuing after `last`.
    fn next_link(&self, last: &AppointmentView, start: DateTime<Utc>) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let fields = [
            ("from", &self.from),
            ("to", &self.to),
            ("status", &self.status),
            ("resource", &self.resource),
            ("client", &self.client),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                pairs.push((name, value.clone()));
            }
        }
        pairs.push(("cursor", format!("{}_{}", start.timestamp(), last.id)));
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        format!("/admin/appointments?{}", query.join("&"))
    }
}

fn parse_cursor(text: &str) -> Result<(DateTime<Utc>, AppointmentId), ApiError> {
    let bad =
        || ApiError::invalid_request("cursor is not one this server gave; follow the `next` link");
    let (seconds, id) = text.split_once('_').ok_or_else(bad)?;
    let start =
        seconds.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0)).ok_or_else(bad)?;
    Ok((start, id.parse().map_err(|_| bad())?))
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// List appointments for the operator.
#[utoipa::path(
    get, path = "/admin/appointments", tag = "admin",
    params(AppointmentsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = AppointmentsPage),
        (status = 400, description = "Bad filter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn appointments(
    bookings: web::Data<Bookings>,
    query: web::Query<AppointmentsQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.to_query(&bookings)?;
    let limit = filter.limit as usize;
    let found = bookings
        .run_long("admin_appointments", move |service| service.appointments(&filter))
        .await?;
    let views: Vec<AppointmentView> =
        found.iter().map(|a| AppointmentView::new(a, &bookings.schedule())).collect();
    let next = match (found.last(), views.last()) {
        (Some(last), Some(view)) if found.len() == limit => {
            Some(query.next_link(view, last.slot().start()))
        }
        _ => None,
    };
    Ok(HttpResponse::Ok().json(AppointmentsPage { appointments: views, next }))
}

/// A closure to make. `from` and `to` are local to the business's zone: dates (`YYYY-MM-DD`,
/// whole days, `to` included) or date-times (`YYYY-MM-DDTHH:MM`, `to` excluded).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClosureRequest {
    /// The resource to close; without one, the whole business.
    #[serde(default)]
    pub resource: Option<String>,
    /// Start: `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`.
    #[schema(example = "2030-12-24")]
    pub from: String,
    /// End: `YYYY-MM-DD` (included) or `YYYY-MM-DDTHH:MM` (excluded).
    #[schema(example = "2030-12-26")]
    pub to: String,
    /// Why (at most 500 characters). Clients whose booking it refuses are told it: write it for
    /// them ("Staff training"), and keep private notes out.
    #[serde(default)]
    #[schema(example = "Holidays")]
    pub reason: Option<String>,
}

/// A closure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClosureView<'a> {
    /// Its id.
    #[schema(format = Uuid)]
    pub id: String,
    /// The resource closed, or null for the whole business.
    pub resource: Option<&'a str>,
    /// Start (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub from: Zoned,
    /// End, excluded (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub to: Zoned,
    /// Why.
    pub reason: Option<&'a str>,
    /// When it was made (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: InUtc,
}

/// A closure that was made, with the appointments it covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClosureCreated<'a> {
    /// The closure.
    pub closure: ClosureView<'a>,
    /// Scheduled appointments inside it: left as they are, for the operator to move or cancel.
    pub affected_appointments: Vec<AppointmentView<'a>>,
}

/// Every closure.
#[derive(Debug, Serialize, ToSchema)]
pub struct Closures<'a> {
    /// Ordered by start.
    pub closures: Vec<ClosureView<'a>>,
}

impl<'a> ClosureView<'a> {
    fn new(closure: &'a Closure, service: &BookingService) -> Self {
        let zone = service.schedule().time_zone();
        let local = |at: DateTime<Utc>| Zoned(at.with_timezone(&zone).fixed_offset());
        Self {
            id: closure.id.to_string(),
            resource: closure.resource.as_ref().map(|resource| resource.as_str()),
            from: local(closure.period.start()),
            to: local(closure.period.end()),
            reason: closure.reason.as_deref(),
            created_at: utc(closure.created_at),
        }
    }
}

/// A local boundary: a date (its start, or with `end` the next day's start) or a date-time.
fn boundary(
    field: &str,
    text: &str,
    end: bool,
    service: &BookingService,
) -> Result<DateTime<Utc>, ApiError> {
    let schedule = service.schedule();
    if text.len() == 10 {
        let date = fields::date(field, text)?;
        let date = if end { date.succ_opt().unwrap_or(NaiveDate::MAX) } else { date };
        return Ok(schedule.start_of_day(date));
    }
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").map_err(|_| {
        ApiError::invalid_format(format!(
            "{field} must be YYYY-MM-DD or YYYY-MM-DDTHH:MM, got {text:?}"
        ))
    })?;
    schedule.instant_of(local).ok_or_else(|| {
        ApiError::invalid_format(format!(
            "{field} {text} does not exist in {}",
            schedule.time_zone()
        ))
    })
}

/// Close a resource, or the business, for a period.
#[utoipa::path(
    post, path = "/admin/closures", tag = "admin",
    request_body = ClosureRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Closed; lists the appointments inside, which are left as they are", body = ClosureCreated),
        (status = 400, description = "Bad dates, end before start, unknown resource, reason too long", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn close(
    bookings: web::Data<Bookings>,
    body: web::Json<ClosureRequest>,
) -> Result<HttpResponse, ApiError> {
    let from = boundary("from", &body.from, false, &bookings)?;
    let to = boundary("to", &body.to, true, &bookings)?;
    let period = Slot::new(from, to)
        .ok_or_else(|| ApiError::invalid_request("'to' must be after 'from'"))?;
    let resource = body.resource.as_deref().map(str::parse::<Slug>).transpose()?;
    // The rules of a cancel's reason: at most 500 characters, no control characters but line
    // breaks and tabs (a NUL would not even be stored by PostgreSQL).
    let reason = body
        .reason
        .as_deref()
        .map(Reason::parse)
        .transpose()
        .map_err(|e| ApiError::invalid_request(e.to_string()))?
        .flatten()
        .map(|reason| reason.as_str().to_owned());
    let pending =
        bookings.run("close", move |service| service.close(resource, period, reason)).await?;
    let closed = pending.await?.outcome;
    Ok(HttpResponse::Created().json(ClosureCreated {
        closure: ClosureView::new(&closed.closure, &bookings),
        affected_appointments: closed
            .covered
            .iter()
            .map(|a| AppointmentView::new(a, &bookings.schedule()))
            .collect(),
    }))
}

/// List closures.
#[utoipa::path(
    get, path = "/admin/closures", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Closures),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn closures(bookings: web::Data<Bookings>) -> Result<HttpResponse, ApiError> {
    let found = bookings
        .run_long("closures", |service| {
            service.closures(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Closures {
        closures: found.iter().map(|c| ClosureView::new(c, &bookings)).collect(),
    }))
}

/// Book for a client (on the phone, at the desk): as `POST /schedule`, recorded as the
/// operator's, and held to no minimum notice and no horizon. Never in the past, at a closed time
/// or in a full slot.
#[utoipa::path(
    post, path = "/admin/appointments", tag = "admin", operation_id = "operator_book",
    params(("Idempotency-Key" = Option<String>, Header, description = "As for POST /schedule")),
    request_body = ScheduleRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Booked", body = Scheduled,
            headers(("Location" = String, description = "/appointment/{id} of the new appointment"))),
        (status = 400, description = "As for POST /schedule, but for the minimum notice and the horizon, which do not apply", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Hold not found or expired.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Time slot is not available. (reason full, held or closed), or the hold is for another slot", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key reused for a different request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn book(
    request: actix_web::HttpRequest,
    bookings: web::Data<Bookings>,
    body: web::Json<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    appointments::schedule_by(Actor::Operator, request, bookings, body).await
}

/// Cancel an appointment for the business: as `POST /cancel/{id}`, recorded as the operator's.
#[utoipa::path(
    post, path = "/admin/appointments/{id}/cancel", tag = "admin", operation_id = "operator_cancel",
    params(("id" = String, Path, description = "The appointment's id"), ("Idempotency-Key" = Option<String>, Header, description = "As for POST /cancel/{id}")),
    request_body(content = Option<CancelRequest>, description = "Optional: the reason, which the client's notification and the history show", content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Appointment canceled successfully.", body = AppointmentChanged),
        (status = 400, description = "Already canceled or started; a bad reason", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Appointment not found.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The appointment is already completed, or marked a no-show", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key reused for a different request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel(
    request: actix_web::HttpRequest,
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    appointments::cancel_by(Actor::Operator, request, bookings, id, body).await
}

/// Move an appointment for the business: as `POST /reschedule/{id}` (the same rules), recorded
/// as the operator's.
#[utoipa::path(
    post, path = "/admin/appointments/{id}/move", tag = "admin", operation_id = "operator_move",
    params(("id" = String, Path, description = "The appointment's id"), ("Idempotency-Key" = Option<String>, Header, description = "As for POST /reschedule/{id}")),
    request_body = RescheduleRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Appointment rescheduled successfully.", body = AppointmentChanged),
        (status = 400, description = "As for POST /reschedule/{id}", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Appointment not found.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "New time slot is not available. (or: the appointment is already completed, or marked a no-show)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key reused for a different request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn move_appointment(
    request: actix_web::HttpRequest,
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
    body: web::Json<RescheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    appointments::reschedule_by(Actor::Operator, request, bookings, id, body).await
}

/// What the operator adds when recording how an appointment ended; the body may be left out.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ConclusionRequest {
    /// A remark (1-500 characters; line breaks and tabs allowed), kept in the appointment's
    /// history and sent with the webhook.
    #[serde(default)]
    #[schema(example = "Arrived 20 minutes late")]
    pub reason: Option<String>,
}

/// Record that an appointment took place. Only once it has started; final. Recording it again
/// answers as the first time and changes nothing.
#[utoipa::path(
    post, path = "/admin/appointments/{id}/complete", tag = "admin", operation_id = "complete",
    params(("id" = String, Path, description = "The appointment's id")),
    request_body(content = Option<ConclusionRequest>, description = "Optional: a remark for the history and the webhook", content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Appointment completed.", body = AppointmentChanged),
        (status = 400, description = "The appointment was canceled; a body that is not the expected JSON; a bad reason", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Appointment not found.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not started yet, or recorded as a no-show", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn complete(
    request: actix_web::HttpRequest,
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    conclude(Conclusion::Completed, request, bookings, id, body).await
}

/// Record that the client did not come. Only once the appointment has started; final; its
/// places stay taken. Recording it again answers as the first time and changes nothing.
#[utoipa::path(
    post, path = "/admin/appointments/{id}/no-show", tag = "admin", operation_id = "no_show",
    params(("id" = String, Path, description = "The appointment's id")),
    request_body(content = Option<ConclusionRequest>, description = "Optional: a remark for the history and the webhook", content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Appointment marked a no-show.", body = AppointmentChanged),
        (status = 400, description = "The appointment was canceled; a body that is not the expected JSON; a bad reason", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Appointment not found.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not started yet, or completed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn no_show(
    request: actix_web::HttpRequest,
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    conclude(Conclusion::NoShow, request, bookings, id, body).await
}

/// Records how an appointment ended, for the business.
async fn conclude(
    conclusion: Conclusion,
    request: actix_web::HttpRequest,
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: Option<ConclusionRequest> = body::optional_json(&request, &body)?;
    let reason = body.and_then(|body| body.reason);
    let reason = reason.as_deref().map(Reason::parse).transpose()?.flatten();
    let id = appointments::appointment_id(&id)?;
    // A business write, in a transaction of its own (as a closure is): on the blocking pool
    // where the store's calls wait on the network.
    let pending = bookings
        .run("conclude", move |service| Ok::<_, ApiError>(service.conclude(id, conclusion, reason)))
        .await?;
    let message = match conclusion {
        Conclusion::Completed => "Appointment completed.",
        Conclusion::NoShow => "Appointment marked a no-show.",
    };
    Ok(appointments::changed(message, Outcome::Done(pending.await?), &bookings.schedule()))
}

/// Remove a closure.
#[utoipa::path(
    delete, path = "/admin/closures/{id}", tag = "admin",
    params(("id" = String, Path, description = "The closure's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed; its slots can be booked again"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Closure not found.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reopen(
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || {
        ApiError::from(booking_core::storage::WriteError::Refused(
            booking_core::repository::ClosureNotFound,
        ))
    };
    let id: ClosureId = id.parse().map_err(|_| not_found())?;
    let pending =
        bookings.run("reopen", move |service| Ok::<_, ApiError>(service.reopen(id))).await?;
    pending.await?;
    Ok(HttpResponse::NoContent().finish())
}
