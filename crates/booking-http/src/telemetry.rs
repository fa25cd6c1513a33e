//! Logs: one line per request, and (with debug logs on) spans that follow a request's work
//! into the blocking pool and the store's writer.

use std::{io::IsTerminal, time::Instant};

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::{
    error::ApiError,
    request_id::{RequestId, X_REQUEST_ID},
};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `time LEVEL target: message field=value ...`, coloured on a terminal.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (the message and
    /// every field), and the spans it was logged in.
    Json,
}

/// Sends logs to standard output in `format`, filtered by `RUST_LOG` (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    // A second call (tests) keeps the first subscriber.
    let _already_set = match format {
        LogFormat::Text => logs.with_ansi(std::io::stdout().is_terminal()).try_init(),
        LogFormat::Json => logs.json().try_init(),
    };
}

/// Logs one line per request: method, route, status, latency and request id, and for a
/// server-side failure its cause. The route is the pattern (`/cancel/{id}`), never the path:
/// appointment ids and hold tokens work as capabilities, so they stay out of the logs. With
/// debug logs on, the request's work (the store's writer included) runs in a span of its own.
/// Every response carries the request's id (`X-Request-Id`), and so do problem bodies.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = request.method().clone();
    let id = RequestId::of(request.headers());
    let span = tracing::debug_span!("request", %method, request_id = %id);
    // Middlewares answer refusals as responses, so the id is current when they are rendered.
    let response = id.clone().scope(next.call(request).instrument(span)).await;
    let response = response.map(|mut response| {
        response.headers_mut().insert(X_REQUEST_ID, id.header_value());
        response
    });
    let (status, route, error) = match &response {
        Ok(response) => {
            (response.status(), response.request().match_pattern(), response.response().error())
        }
        Err(error) => (error.as_response_error().status_code(), None, Some(error)),
    };
    let route = route.as_deref().unwrap_or("(no route)");
    // Milliseconds, to the hundredth.
    let latency_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    let problem = error.and_then(|error| error.as_error::<ApiError>());
    crate::metrics::request(
        &method,
        route,
        status.as_u16(),
        started.elapsed().as_secs_f64(),
        problem.and_then(ApiError::reason),
    );
    let cause = problem.and_then(ApiError::cause);
    let request_id = &id;
    match (cause, status.as_u16()) {
        // Busy, overloaded or unsure: the client is told to retry.
        (Some(cause), 503) => tracing::warn!(
            %method, route, status = 503, latency_ms, %request_id, %cause, "request failed"
        ),
        (Some(cause), status) => tracing::error!(
            %method, route, status, latency_ms, %request_id, %cause, "request failed"
        ),
        (None, status) => tracing::info!(%method, route, status, latency_ms, %request_id, "served"),
    }
    response
}
