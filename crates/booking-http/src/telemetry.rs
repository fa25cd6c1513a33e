//! Logs: one line per request, and spans that follow a request into the blocking pool.

use std::{io::IsTerminal, time::Instant};

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

/// Sends logs to standard output, filtered by `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init();
}

/// Logs method, route, status and latency of every request, inside a span that the handler's
/// work inherits. The route is the pattern (`/cancel/{id}`), never the path: appointment ids and
/// hold tokens work as capabilities, so they stay out of the logs.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let span =
        tracing::info_span!("request", method = %request.method(), route = tracing::field::Empty);
    let response = next.call(request).instrument(span.clone()).await;
    // Finding the route pattern walks the routing table again: only worth it for a log line.
    if span.is_disabled() {
        return response;
    }
    let (status, route) = match &response {
        Ok(response) => (response.status(), response.request().match_pattern()),
        Err(error) => (error.as_response_error().status_code(), None),
    };
    span.record("route", route.as_deref().unwrap_or("(no route)"));
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            latency_ms = format_args!("{latency_ms:.2}"),
            "served"
        );
    });
    response
}
