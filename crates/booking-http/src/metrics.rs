//! `GET /metrics`: counters, gauges and histograms in the Prometheus text format, recorded with
//! the `metrics` facade (the store records its own, see booking-store) and rendered by
//! `metrics-exporter-prometheus`. docs/operations.md lists every metric.

use std::{
    sync::{Mutex, PoisonError},
    thread,
    time::Duration,
};

use actix_web::{
    HttpRequest, HttpResponse,
    http::{Method, StatusCode, header},
    web,
};
use booking_core::event::Event;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::{config::BearerToken, error::ApiError, routes::bearer};

/// Request and commit latencies, in seconds: from well under a millisecond (a point read) to
/// the busy timeout.
const SECONDS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Writes per SQLite transaction: one to the writer's largest batch.
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// How often histograms are folded (the exporter's upkeep; scrapes also do it).
const UPKEEP: Duration = Duration::from_secs(5);

/// What `/metrics` renders, and who may read it.
#[derive(Debug, Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    token: Option<BearerToken>,
}

impl Metrics {
    /// The process's recorder, installed by the first call: `metrics` has one recorder per
    /// process, so servers started in one process (tests) share it.
    pub fn install(token: Option<BearerToken>) -> Result<Self, BuildError> {
        static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
        let mut installed = HANDLE.lock().unwrap_or_else(PoisonError::into_inner);
        let handle = match &*installed {
            Some(handle) => handle.clone(),
            None => {
                let handle = PrometheusBuilder::new()
                    .set_buckets(SECONDS)?
                    .set_buckets_for_metric(
                        Matcher::Full("booking_store_write_batch_size".into()),
                        BATCH,
                    )?
                    .install_recorder()?;
                describe();
                let upkeep = handle.clone();
                // Without it, histograms grow between scrapes; it never ends, like the process.
                let _detached =
                    thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
                        loop {
                            thread::sleep(UPKEEP);
                            upkeep.run_upkeep();
                        }
                    });
                installed.insert(handle).clone()
            }
        };
        Ok(Self { handle, token })
    }
}

/// The `# HELP` line of every metric (docs/operations.md says more).
fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "booking_http_requests_total",
        "Requests answered, by method, route pattern and status"
    );
    describe_histogram!(
        "booking_http_request_duration_seconds",
        ::metrics::Unit::Seconds,
        "Time to answer a request, by method and route pattern"
    );
    describe_counter!(
        "booking_http_rate_limited_total",
        "Writes refused by the per-client rate limit (429)"
    );
    describe_gauge!("booking_http_open_streams", "Availability streams open now");
    describe_counter!(
        "booking_events_total",
        "Committed changes, by domain event (appointment.scheduled, ...)"
    );
    describe_counter!(
        "booking_refusals_total",
        "Requests refused by a booking rule or a cap, by reason (full, past, closed, \
         too_many_holds, too_many_streams, ...)"
    );
    describe_histogram!(
        "booking_store_write_batch_size",
        "Writes committed together in one transaction (PostgreSQL: by batch function)"
    );
    describe_histogram!(
        "booking_store_commit_seconds",
        ::metrics::Unit::Seconds,
        "SQLite: time to commit one transaction (the fsync)"
    );
    describe_gauge!("booking_store_write_queue_depth", "Writes waiting for the writers");
    describe_gauge!(
        "booking_store_read_queue_depth",
        "PostgreSQL: point reads waiting for the readers"
    );
    describe_counter!(
        "booking_store_write_retries_total",
        "PostgreSQL: batches aborted to break a deadlock and run again"
    );
    describe_histogram!(
        "booking_store_pool_wait_seconds",
        ::metrics::Unit::Seconds,
        "Time a read waited for a pooled database connection"
    );
}

/// The metrics, in the Prometheus text format (version 0.0.4).
#[utoipa::path(
    get, path = "/metrics", tag = "service",
    responses(
        (status = 200, description = "Prometheus text format; docs/operations.md lists every metric", content_type = "text/plain"),
        (status = 401, description = "BOOKING_METRICS_TOKEN is set and the request lacks it", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
pub async fn metrics(
    request: HttpRequest,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &metrics.token
        && !bearer(request.headers()).is_some_and(|offered| token.matches(offered))
    {
        return Err(ApiError::unauthorized("metrics token (BOOKING_METRICS_TOKEN)"));
    }
    Ok(HttpResponse::build(StatusCode::OK)
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .body(metrics.handle.render()))
}

/// Counts one answered request: `route` is its pattern (bounded, unlike paths), `refused` the
/// reason a slot was refused, if it was.
pub fn request(
    method: &Method,
    route: &str,
    status: u16,
    seconds: f64,
    refused: Option<&'static str>,
) {
    let method = method_label(method);
    ::metrics::histogram!(
        "booking_http_request_duration_seconds", "method" => method, "route" => route.to_owned()
    )
    .record(seconds);
    ::metrics::counter!(
        "booking_http_requests_total",
        "method" => method, "route" => route.to_owned(), "status" => status.to_string()
    )
    .increment(1);
    if let Some(reason) = refused {
        refusal(reason);
    }
}

/// Counts one request refused by a booking rule or a cap, for `reason`.
pub fn refusal(reason: &'static str) {
    ::metrics::counter!("booking_refusals_total", "reason" => reason).increment(1);
}

/// The method as a label: any other than the standard ones is `OTHER`, so that clients cannot
/// make up label values.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Counts one committed domain event.
pub fn event(event: &Event) {
    ::metrics::counter!("booking_events_total", "event" => event.name()).increment(1);
}

/// Counts one write refused by the rate limit.
pub fn rate_limited() {
    ::metrics::counter!("booking_http_rate_limited_total").increment(1);
}

/// An open availability stream, counted in `booking_http_open_streams` while it lives.
#[derive(Debug)]
pub struct OpenStream(());

impl OpenStream {
    /// Counts a stream that opens now.
    pub fn open() -> Self {
        ::metrics::gauge!("booking_http_open_streams").increment(1.0);
        Self(())
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        ::metrics::gauge!("booking_http_open_streams").decrement(1.0);
    }
}
