//! The one place where failures become HTTP responses: RFC 9457 problem documents
//! (`application/problem+json`) that also carry the original service's `message` sentence.
//! Server-side failures get an opaque body; their cause chain goes to the log. Mappings live
//! by family: `requests` for input that cannot be read, `store` for what the booking service
//! and its store refuse or fail at, `calendar` for operators' changes to the calendar.

mod calendar;
mod requests;
mod store;
mod webhooks;

use std::fmt;

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use serde::Serialize;
use utoipa::ToSchema;

pub use self::{
    calendar::StrandedView,
    requests::{json_error, json_problem, problem_for_bare_errors, query_error},
};

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
    /// Why a rule or a cap refused the request: for a slot past, too_soon, beyond_horizon,
    /// outside_hours, closed, held, full or calendar_changed; too_many_holds, too_many_streams
    /// or streams_full.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "full")]
    pub reason: Option<&'static str>,
    /// Only for `/problems/appointments-stranded`: the appointments the refused change would
    /// strand or overbook, in the order of their start (the first 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stranded: Option<Vec<StrandedView>>,
    /// Only for `/problems/appointments-stranded`: how many appointments it would strand or
    /// overbook in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1)]
    pub stranded_total: Option<usize>,
    /// The request's id, as in its `X-Request-Id` response header and its log line.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "9f1c2b7e4d3a4f0c8e6b5a4d3c2b1a09")]
    pub request_id: Option<String>,
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
    /// The appointments a calendar change would strand (the first listed), and how many.
    stranded: Option<(Vec<StrandedView>, usize)>,
    /// For server faults: the cause, logged and never sent.
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    pub(super) fn new(
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
            stranded: None,
            cause: None,
        }))
    }

    pub(super) fn with_reason(mut self, reason: &'static str) -> Self {
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

    /// A client over its rate limit.
    pub fn too_many_requests(wait: std::time::Duration) -> Self {
        Self::too_many(wait, "made too many changes")
    }

    /// A client that failed the admin API's authentication too often.
    pub fn too_many_failed_authentications(wait: std::time::Duration) -> Self {
        Self::too_many(wait, "sent too many wrong admin tokens")
    }

    /// 429: this client `did` too much in the last minute, and may retry after `wait`.
    fn too_many(wait: std::time::Duration, did: &str) -> Self {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            "Too many requests.",
            format!("this client has {did} in the last minute; retry in {seconds} s"),
        );
        error.0.retry_after = Some(seconds);
        error
    }

    /// A stream this server will not open: it or the client has as many as allowed.
    pub fn stream_refused(refusal: crate::limits::StreamRefusal) -> Self {
        use crate::limits::StreamRefusal;
        let mut error = match refusal {
            StreamRefusal::ServerFull { most } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "streams-full",
                "Too many streams",
                "Service temporarily unavailable.",
                format!(
                    "this server has {most} availability streams open, the most it serves; retry \
                     in a few seconds, or poll GET /availability meanwhile"
                ),
            )
            .with_reason("streams_full"),
            StreamRefusal::ClientFull { most } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-streams",
                "Too many streams",
                "Too many requests.",
                format!(
                    "this client has {most} availability streams open on this server, the most \
                     one client may; close one (every open page keeps one) before opening another"
                ),
            )
            .with_reason("too_many_streams"),
        };
        error.0.retry_after = Some(5);
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

    /// A calendar feed asked for while no feed token is set.
    pub fn feeds_disabled() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "feeds-disabled",
            "Calendar feeds disabled",
            "Calendar feeds are not enabled.",
            "start the server with BOOKING_FEED_TOKEN (or --feed-token) set to a secret of at least 16 characters, other than the admin token",
        )
    }

    /// A calendar feed asked for without its token, or with a wrong one. (Not 401: a feed's
    /// URL carries its token, and calendar apps have no header to send instead.)
    pub fn feed_forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "feed-token-required",
            "Feed token required",
            "A valid feed token is required.",
            "add ?token=<BOOKING_FEED_TOKEN> to the feed's URL",
        )
    }

    /// A missing or wrong bearer token.
    pub fn unauthorized(token: &'static str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            "Authentication required.",
            format!("send the {token} as 'Authorization: Bearer <token>'"),
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
            stranded: self.0.stranded.as_ref().map(|(listed, _)| listed.clone()),
            stranded_total: self.0.stranded.as_ref().map(|(_, total)| *total),
            request_id: crate::request_id::current(),
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

impl ApiError {
    /// Why a slot was refused (`full`, `past`, ...), for refusals of a slot.
    pub fn reason(&self) -> Option<&'static str> {
        self.0.reason
    }

    /// For a server-side failure, its cause and the causes of that, for the log (never for the
    /// client).
    pub fn cause(&self) -> Option<impl fmt::Display + '_> {
        self.0.cause.as_deref().map(|cause| ErrorChain(cause))
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

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use booking_core::storage::StorageError;

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
    async fn a_write_whose_outcome_is_unknown_is_503_saying_to_retry_with_its_key() {
        let error = ApiError::from(StorageError::outcome_unknown("disk I/O error during COMMIT"));
        let (status, retry_after, body) = body_of(error).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after.as_deref(), Some("1"));
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("may or may not have been made"), "{detail}");
        assert!(detail.contains("same Idempotency-Key"), "{detail}");
        assert!(!body.to_string().contains("COMMIT"), "{body}");
    }

    #[actix_web::test]
    async fn a_store_fault_is_an_opaque_500() {
        let error = ApiError::from(StorageError::fault("disk I/O error at page 7"));
        let (status, retry_after, body) = body_of(error).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(retry_after, None);
        assert_eq!(body["type"], "/problems/internal-error");
        assert!(!body.to_string().contains("disk"), "{body}");
    }
}
