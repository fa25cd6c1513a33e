//! The one place where failures become HTTP responses: RFC 9457 problem documents
//! (`application/problem+json`) that also carry the original service's `message` sentence.
//! Server-side failures get an opaque body; their cause chain goes to the log.

use std::fmt;

use actix_web::{
    HttpResponse, ResponseError,
    body::MessageBody,
    dev::ServiceResponse,
    error::{JsonPayloadError, QueryPayloadError},
    http::{StatusCode, header},
    middleware::ErrorHandlerResponse,
};
use booking_core::{
    appointment::{CancelRefusal, RescheduleRefusal},
    availability::{DateRangeError, Unavailable},
    catalog::SlugError,
    client::{ClientNameError, NotesError},
    repository::{
        BookFailure, CancelFailure, ClosureNotFound, HoldNotFound, StorageError, StorageErrorKind,
        WriteError,
    },
    schedule::{ChoiceError, SlotError},
    service::{
        AvailabilityError, BookError, CancelError, ClosureError, HoldError, PlacementError,
        RescheduleError,
    },
};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem; see docs/api.md.
    #[serde(rename = "type")]
    #[schema(example = "/problems/slot-unavailable")]
    pub kind: String,
    /// A short, fixed summary of the kind of problem.
    #[schema(example = "Slot unavailable")]
    pub title: &'static str,
    /// The HTTP status code.
    #[schema(example = 409)]
    pub status: u16,
    /// What exactly went wrong with this request, and how to fix it.
    #[schema(example = "the slot is already booked")]
    pub detail: String,
    /// The sentence the original service answered with, kept for its clients.
    #[schema(example = "Time slot is not available.")]
    pub message: String,
    /// Why a slot cannot be booked: past, too_soon, beyond_horizon, outside_hours, closed,
    /// held or full.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "full")]
    pub reason: Option<&'static str>,
}

/// A failed request. Boxed, because results carry it on every path.
#[derive(Debug)]
pub struct ApiError(Box<Details>);

#[derive(Debug)]
struct Details {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    message: String,
    detail: String,
    reason: Option<&'static str>,
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    retry_after: Option<u64>,
    /// For server faults: the cause, logged and never sent.
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        message: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self(Box::new(Details {
            status,
            slug,
            title,
            message: message.into(),
            detail: detail.into(),
            reason: None,
            retry_after: None,
            cause: None,
        }))
    }

    fn with_reason(mut self, reason: &'static str) -> Self {
        self.0.reason = Some(reason);
        self
    }

    /// A request field that is not in the expected format.
    pub fn invalid_format(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-date-or-time",
            "Invalid date or time format",
            "Invalid date or time format.",
            detail,
        )
    }

    /// A body or query that could not be read.
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            "Invalid request.",
            detail,
        )
    }

    /// No appointment has the id (or the id is not an id at all).
    pub fn appointment_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "appointment-not-found",
            "Appointment not found",
            "Appointment not found.",
            "no appointment has this id; ids are the appointment_id values returned by POST /schedule",
        )
    }

    /// No route matches the path.
    pub fn route_not_found(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "Not found.",
            format!("there is no endpoint {method} {path}; GET /openapi.json lists every endpoint"),
        )
    }

    /// An idempotency key sent again with a different request.
    pub fn key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency key reused",
            "Idempotency key reused with a different request.",
            "this Idempotency-Key was used for another request; use a new key for a new request",
        )
    }

    /// A client over its rate limit.
    pub fn too_many_requests(wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            "Too many requests.",
            format!(
                "this client has made too many changes in the last minute; retry in {seconds} s"
            ),
        );
        error.0.retry_after = Some(seconds);
        error
    }

    /// Request headers over the limit.
    pub fn headers_too_large(size: usize, limit: usize) -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers-too-large",
            "Request headers too large",
            "Request headers are too large.",
            format!("the request's headers take {size} bytes; at most {limit} are accepted"),
        )
    }

    /// The operator's API without a configured token.
    pub fn admin_disabled() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "admin-disabled",
            "Admin API disabled",
            "The admin API is not enabled.",
            "start the server with BOOKING_ADMIN_TOKEN (or --admin-token) set to a secret of at least 16 characters",
        )
    }

    /// A missing or wrong bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            "Authentication required.",
            "send the admin token as 'Authorization: Bearer <token>'",
        )
    }

    /// A server-side failure: the body says nothing of the cause, the log says everything.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal server error",
            "Internal server error.",
            "the server failed to handle this request; the failure has been logged",
        );
        error.0.cause = Some(cause.into());
        error
    }

    /// A problem for a response a framework produced without a body (for example 405).
    pub fn from_status(status: StatusCode, method: &str, path: &str) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        let detail = match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                format!("{path} does not take {method}; the Allow header lists what it takes")
            }
            StatusCode::NOT_FOUND => return Self::route_not_found(method, path),
            _ => format!("{method} {path} failed with status {}", status.as_u16()),
        };
        let slug = if status.is_server_error() { "internal-error" } else { "http-error" };
        Self::new(status, slug, title, format!("{title}."), detail)
    }

    /// The problem document sent for this error.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("/problems/{}", self.0.slug),
            title: self.0.title,
            status: self.0.status.as_u16(),
            detail: self.0.detail.clone(),
            message: self.0.message.clone(),
            reason: self.0.reason,
        }
    }

    fn slot(error: &SlotError) -> Self {
        let (slug, title, message, reason) = match error {
            SlotError::Closed { .. } => (
                "outside-opening-hours",
                "Outside opening hours",
                "The requested time is outside opening hours.",
                Some("outside_hours"),
            ),
            SlotError::DoesNotFit { .. } => (
                "outside-opening-hours",
                "Outside opening hours",
                "The appointment would run past closing time.",
                Some("outside_hours"),
            ),
            SlotError::OffBoundary { .. } => (
                "off-slot-boundary",
                "Not a slot start",
                "The requested time is not the start of a slot.",
                None,
            ),
            SlotError::NonexistentLocalTime { .. } => (
                "nonexistent-local-time",
                "Nonexistent local time",
                "The requested local time does not exist.",
                None,
            ),
        };
        let problem = Self::new(StatusCode::BAD_REQUEST, slug, title, message, error.to_string());
        match reason {
            Some(reason) => problem.with_reason(reason),
            None => problem,
        }
    }

    /// A slot that cannot take a booking; `taken` is the sentence for a full slot.
    fn unavailable(why: Unavailable, taken: &'static str) -> Self {
        let (status, slug, title, message) = match why {
            Unavailable::Past => (
                StatusCode::BAD_REQUEST,
                "slot-in-past",
                "Slot in the past",
                "The requested time is in the past.",
            ),
            Unavailable::TooSoon { .. } => (
                StatusCode::BAD_REQUEST,
                "too-soon",
                "Too little notice",
                "The requested time is too soon to book.",
            ),
            Unavailable::BeyondHorizon { .. } => (
                StatusCode::BAD_REQUEST,
                "beyond-horizon",
                "Beyond the booking horizon",
                "The requested time is too far ahead to book.",
            ),
            Unavailable::OutsideHours => (
                StatusCode::BAD_REQUEST,
                "outside-opening-hours",
                "Outside opening hours",
                "The requested time is outside opening hours.",
            ),
            Unavailable::Closed | Unavailable::Held | Unavailable::Full { .. } => {
                (StatusCode::CONFLICT, "slot-unavailable", "Slot unavailable", taken)
            }
        };
        Self::new(status, slug, title, message, why.to_string()).with_reason(why.reason())
    }

    fn storage(error: StorageError) -> Self {
        match error.kind() {
            StorageErrorKind::Unavailable => {
                let mut problem = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service-unavailable",
                    "Service unavailable",
                    "Service temporarily unavailable.",
                    "the database is busy or unreachable; nothing was changed, so the request can be retried",
                );
                problem.0.cause = Some(Box::new(error));
                problem.0.retry_after = Some(1);
                problem
            }
            StorageErrorKind::Fault => Self::internal(error),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.0.status.as_u16(), self.0.title, self.0.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.0.cause {
            tracing::error!(status = self.0.status.as_u16(), cause = %ErrorChain(&**cause), "request failed");
        }
        let mut response = HttpResponse::build(self.0.status);
        response.content_type(PROBLEM_JSON);
        if let Some(seconds) = self.0.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.0.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(self.problem())
    }
}

/// An error and its sources on one line.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        Self::storage(error)
    }
}

impl From<SlugError> for ApiError {
    fn from(error: SlugError) -> Self {
        Self::invalid_request(error.to_string())
    }
}

impl From<ClientNameError> for ApiError {
    fn from(error: ClientNameError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-client-name",
            "Invalid client name",
            "Invalid client name.",
            error.to_string(),
        )
    }
}

impl From<NotesError> for ApiError {
    fn from(error: NotesError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-notes",
            "Invalid notes",
            "Invalid notes.",
            error.to_string(),
        )
    }
}

impl From<DateRangeError> for ApiError {
    fn from(error: DateRangeError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-date-range",
            "Invalid date range",
            "Invalid date range.",
            error.to_string(),
        )
    }
}

impl ApiError {
    /// A request that names no bookable placement; `taken` is the sentence for a slot that is
    /// full, held or closed.
    fn placement(error: PlacementError, taken: &'static str) -> Self {
        match error {
            PlacementError::Choice(error) => Self::from(error),
            PlacementError::InvalidSlot(error) => Self::slot(&error),
            PlacementError::Unavailable(why) => Self::unavailable(why, taken),
        }
    }
}

impl From<ChoiceError> for ApiError {
    fn from(error: ChoiceError) -> Self {
        let (slug, title, message) = match error {
            ChoiceError::UnknownResource(_) => {
                ("unknown-resource", "Unknown resource", "Unknown resource.")
            }
            ChoiceError::UnknownService(_) => {
                ("unknown-service", "Unknown service", "Unknown service.")
            }
            ChoiceError::NotPerformed { .. } => (
                "service-not-performed",
                "Service not performed",
                "The resource does not perform this service.",
            ),
        };
        Self::new(StatusCode::BAD_REQUEST, slug, title, message, error.to_string())
    }
}

impl From<BookError> for ApiError {
    fn from(error: BookError) -> Self {
        const TAKEN: &str = "Time slot is not available.";
        match error {
            BookError::Placement(error) => Self::placement(error, TAKEN),
            BookError::Refused(BookFailure::Unavailable(why)) => Self::unavailable(why, TAKEN),
            BookError::Refused(BookFailure::HoldNotFound(error)) => Self::from(error),
            BookError::Refused(BookFailure::HoldMismatch) => Self::new(
                StatusCode::CONFLICT,
                "hold-mismatch",
                "Hold for another slot",
                "The hold is for another slot.",
                "the hold was made for another date, time, resource or service; book with the same ones",
            ),
            BookError::KeyReused => Self::key_reused(),
            BookError::Storage(error) => Self::storage(error),
        }
    }
}

impl From<HoldError> for ApiError {
    fn from(error: HoldError) -> Self {
        match error {
            HoldError::Placement(error) => Self::placement(error, "Time slot is not available."),
            HoldError::Storage(error) => Self::storage(error),
        }
    }
}

impl From<HoldNotFound> for ApiError {
    fn from(error: HoldNotFound) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "hold-not-found",
            "Hold not found",
            "Hold not found or expired.",
            error.to_string(),
        )
    }
}

impl From<WriteError<HoldNotFound>> for ApiError {
    fn from(error: WriteError<HoldNotFound>) -> Self {
        match error {
            WriteError::Refused(error) => Self::from(error),
            WriteError::KeyReused => Self::internal("a write was refused for a key it never had"),
            WriteError::Storage(error) => Self::storage(error),
        }
    }
}

impl From<AvailabilityError> for ApiError {
    fn from(error: AvailabilityError) -> Self {
        match error {
            AvailabilityError::Choice(error) => Self::from(error),
            AvailabilityError::Storage(error) => Self::storage(error),
        }
    }
}

impl From<ClosureError> for ApiError {
    fn from(error: ClosureError) -> Self {
        match error {
            ClosureError::Choice(error) => Self::from(error),
            ClosureError::Storage(error) => Self::storage(error),
        }
    }
}

impl From<WriteError<ClosureNotFound>> for ApiError {
    fn from(error: WriteError<ClosureNotFound>) -> Self {
        match error {
            WriteError::Refused(error) => Self::new(
                StatusCode::NOT_FOUND,
                "closure-not-found",
                "Closure not found",
                "Closure not found.",
                error.to_string(),
            ),
            WriteError::KeyReused => Self::internal("a write was refused for a key it never had"),
            WriteError::Storage(error) => Self::storage(error),
        }
    }
}

impl From<CancelError> for ApiError {
    fn from(error: CancelError) -> Self {
        match error {
            WriteError::Refused(CancelFailure::NotFound) => Self::appointment_not_found(),
            WriteError::Refused(CancelFailure::Refused(CancelRefusal::AlreadyCanceled)) => {
                Self::new(
                    StatusCode::BAD_REQUEST,
                    "already-canceled",
                    "Already canceled",
                    "Appointment is already canceled.",
                    "the appointment was canceled before; canceling is final",
                )
            }
            WriteError::Refused(CancelFailure::Refused(CancelRefusal::AlreadyStarted)) => {
                Self::new(
                    StatusCode::BAD_REQUEST,
                    "appointment-started",
                    "Appointment started",
                    "Appointment has already started.",
                    "an appointment can be canceled only before its start time",
                )
            }
            WriteError::KeyReused => Self::key_reused(),
            WriteError::Storage(error) => Self::storage(error),
        }
    }
}

impl From<RescheduleError> for ApiError {
    fn from(error: RescheduleError) -> Self {
        match error {
            RescheduleError::Placement(error) => {
                Self::placement(error, "New time slot is not available.")
            }
            RescheduleError::NotFound => Self::appointment_not_found(),
            RescheduleError::Refused(RescheduleRefusal::Canceled) => Self::new(
                StatusCode::BAD_REQUEST,
                "appointment-canceled",
                "Appointment canceled",
                "Cannot reschedule a canceled appointment.",
                "the appointment was canceled; book a new one with POST /schedule",
            ),
            RescheduleError::Refused(RescheduleRefusal::AlreadyStarted) => Self::new(
                StatusCode::BAD_REQUEST,
                "appointment-started",
                "Appointment started",
                "Cannot reschedule an appointment that has already started.",
                "an appointment can be moved only before its start time",
            ),
            RescheduleError::KeyReused => Self::key_reused(),
            RescheduleError::Storage(error) => Self::storage(error),
        }
    }
}

/// Turns body-parsing failures into problems: wrong content type 415, too large 413,
/// anything else 400 with serde's explanation.
pub fn json_error(error: JsonPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    let problem = match &error {
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "Content-Type must be application/json.",
            "send the body as JSON with the header Content-Type: application/json",
        ),
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            "Request body is too large.",
            format!("request bodies are limited to {limit} bytes"),
        ),
        JsonPayloadError::Deserialize(error) if error.is_data() => ApiError::invalid_request(
            format!("the JSON body does not have the expected fields: {error}"),
        ),
        JsonPayloadError::Deserialize(error) => {
            ApiError::invalid_request(format!("the body is not valid JSON: {error}"))
        }
        other => ApiError::invalid_request(format!("the body could not be read: {other}")),
    };
    problem.into()
}

/// Turns query-string failures into 400 problems.
pub fn query_error(error: QueryPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::invalid_request(format!("the query string could not be read: {error}")).into()
}

/// Gives every error response that left its handler without a problem body (a 405 from the
/// router, say) one, so that clients see one error format.
pub fn problem_for_bare_errors<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let has_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if has_problem {
        return Ok(ErrorHandlerResponse::Response(response.map_into_left_body()));
    }
    let (request, bare) = response.into_parts();
    let problem = ApiError::from_status(bare.status(), request.method().as_str(), request.path());
    let mut replaced = problem.error_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = bare.headers().get(&name) {
            replaced.headers_mut().insert(name, value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(request, replaced).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    async fn body_of(error: ApiError) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = error.error_response();
        let retry_after =
            response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        let status = response.status();
        let bytes = to_bytes(response.into_body()).await.unwrap();
        (status, retry_after, serde_json::from_slice(&bytes).unwrap())
    }

    #[actix_web::test]
    async fn an_unavailable_store_is_503_with_retry_after() {
        let error = ApiError::from(StorageError::unavailable("pool timed out"));
        let (status, retry_after, body) = body_of(error).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after.as_deref(), Some("1"));
        assert_eq!(body["message"], "Service temporarily unavailable.");
        assert!(!body.to_string().contains("pool timed out"), "{body}");
    }

    #[actix_web::test]
    async fn a_store_fault_is_an_opaque_500() {
        let error =
            ApiError::from(BookError::Storage(StorageError::fault("disk I/O error at page 7")));
        let (status, retry_after, body) = body_of(error).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(retry_after, None);
        assert_eq!(body["type"], "/problems/internal-error");
        assert!(!body.to_string().contains("disk"), "{body}");
    }
}
