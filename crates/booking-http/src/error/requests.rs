//! Input that cannot be read: malformed fields, names, notes, reasons, date ranges, resources and
//! services that do not exist, slots that are not slots, bodies and queries that do not parse,
//! and bare framework errors.

use actix_web::{
    ResponseError,
    body::MessageBody,
    dev::ServiceResponse,
    error::{JsonPayloadError, QueryPayloadError},
    http::{StatusCode, header},
    middleware::ErrorHandlerResponse,
};
use booking_core::{
    availability::DateRangeError,
    catalog::SlugError,
    client::{ClientNameError, NotesError},
    contact::{EmailError, PhoneError},
    history::ReasonError,
    schedule::{ChoiceError, SlotError},
};

use super::{ApiError, PROBLEM_JSON};

impl ApiError {
    pub(super) fn slot(error: &SlotError) -> Self {
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

impl From<ReasonError> for ApiError {
    fn from(error: ReasonError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-reason",
            "Invalid reason",
            "Invalid reason.",
            error.to_string(),
        )
    }
}

impl From<EmailError> for ApiError {
    fn from(error: EmailError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-email",
            "Invalid email",
            "Invalid email.",
            error.to_string(),
        )
    }
}

impl From<PhoneError> for ApiError {
    fn from(error: PhoneError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-phone",
            "Invalid phone",
            "Invalid phone.",
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

/// Turns body-parsing failures into problems (see [`json_problem`]).
pub fn json_error(error: JsonPayloadError, _: &actix_web::HttpRequest) -> actix_web::Error {
    json_problem(&error).into()
}

/// The problem for a body that could not be read as JSON: wrong content type 415, too large
/// 413, anything else 400 with serde's explanation.
pub fn json_problem(error: &JsonPayloadError) -> ApiError {
    match error {
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
    }
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
