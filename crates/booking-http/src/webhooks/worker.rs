//! The delivery worker: every second, and soon after a write on this server queues an event
//! (at most ten times a second), it claims the due deliveries from the outbox (each endpoint's
//! oldest, leased to this server so no other makes the same attempt), posts them signed, and
//! settles each one: delivered on a 2xx answer, otherwise retried on the schedule (with jitter,
//! so that retries after an outage spread out) until it runs out.

use std::{sync::Arc, time::Duration};

use actix_web::web;
use booking_core::{
    change::{Change, Feed},
    event::Event,
    schedule::Schedule,
    webhook::{Attempt, Claimed, RetrySchedule},
};
use tokio::sync::Notify;

use super::{payload::Payload, sign, target};
use crate::{config::WebhookSettings, error::ApiError, limits::random_below, routes::Bookings};

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long a claimed delivery stays this worker's: longer than an attempt can take, so a
/// delivery is attempted by another server only when this one stopped mid-attempt.
const LEASE: Duration = Duration::from_secs(60);

/// How often the worker looks for due deliveries without being woken (retries, and events
/// other servers queued).
const POLL: Duration = Duration::from_secs(1);

/// The least time between two rounds of claims.
const MIN_GAP: Duration = Duration::from_millis(100);

/// Deliveries claimed at once (each from a different endpoint), sent side by side.
const BATCH: usize = 16;

/// The longest error kept for a failed attempt, in characters.
const MAX_ERROR_CHARS: usize = 300;

/// Wakes the worker for every appointment event committed on this server, after passing the
/// write on to the feed it wraps.
#[derive(Debug)]
pub struct Nudging<F> {
    /// The feed that gets every write.
    pub feed: F,
    /// The worker to wake.
    pub worker: Arc<Notify>,
}

impl<F: Feed> Feed for Nudging<F> {
    fn committed(&self, change: &Change, event: Option<&Event>) {
        self.feed.committed(change, event);
        if event.is_some_and(|event| event.entry().is_some()) {
            self.worker.notify_one();
        }
    }
}

/// The HTTP client deliveries are posted with: no redirects followed (a redirect could lead to
/// an address the URL check refused), no proxy from the environment, and, unless private
/// addresses are allowed, a resolver that answers public addresses only.
pub fn client(settings: &WebhookSettings) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("booking-service/", env!("CARGO_PKG_VERSION"), " (webhooks)"));
    let builder = if settings.allow_private {
        builder
    } else {
        builder.dns_resolver(Arc::new(target::PublicOnly))
    };
    builder.build()
}

/// Starts the worker; `wake` wakes it early.
pub fn start(
    bookings: web::Data<Bookings>,
    settings: WebhookSettings,
    client: reqwest::Client,
    wake: Arc<Notify>,
) {
    let worker = Arc::new(Worker { bookings, settings, client });
    actix_web::rt::spawn(async move {
        loop {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            while worker.round().await == BATCH {}
            // A round is a write transaction: however many writes wake the worker, it makes at
            // most ten rounds a second, and bookings under load do not each cost a claim.
            tokio::time::sleep(MIN_GAP).await;
        }
    });
}

struct Worker {
    bookings: web::Data<Bookings>,
    settings: WebhookSettings,
    client: reqwest::Client,
}

impl Worker {
    /// Claims a batch and delivers it; answers how many were claimed.
    async fn round(self: &Arc<Self>) -> usize {
        let lease = chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::MAX);
        let claimed = async {
            let pending = self
                .bookings
                .run("claim_deliveries", move |service| {
                    Ok::<_, ApiError>(service.claim_deliveries(BATCH, lease))
                })
                .await?;
            Ok::<_, ApiError>(pending.await?)
        };
        let claimed = match claimed.await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "could not claim webhook deliveries; trying again later");
                return 0;
            }
        };
        let count = claimed.len();
        let attempts = claimed.into_iter().map(|claimed| {
            let worker = Arc::clone(self);
            async move { worker.deliver(claimed).await }
        });
        futures_util::future::join_all(attempts).await;
        count
    }

    /// Makes one attempt at `claimed` and settles it.
    async fn deliver(&self, claimed: Claimed) {
        let result = self.attempt(&claimed, self.bookings.schedule()).await;
        let retry_in = match &result {
            Attempt::Delivered => None,
            Attempt::Failed { .. } => retry_delay(&self.settings.retries, claimed.attempt),
        };
        metrics::counter!(
            "booking_webhook_attempts_total",
            "outcome" => match (&result, retry_in) {
                (Attempt::Delivered, _) => "delivered",
                (Attempt::Failed { .. }, Some(_)) => "retrying",
                (Attempt::Failed { .. }, None) => "failed",
            }
        )
        .increment(1);
        let (delivery, attempt) = (claimed.delivery, claimed.attempt);
        match &result {
            Attempt::Delivered => {
                tracing::debug!(delivery = delivery.0, attempt, "webhook delivered");
            }
            Attempt::Failed { error } => {
                tracing::info!(delivery = delivery.0, attempt, %error, "webhook attempt failed");
            }
        }
        let settled = async {
            let pending = self
                .bookings
                .run("settle_delivery", move |service| {
                    Ok::<_, ApiError>(service.settle_delivery(&claimed, result, retry_in))
                })
                .await?;
            Ok::<_, ApiError>(pending.await?)
        };
        match settled.await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                delivery = delivery.0,
                attempt,
                "a webhook attempt outlasted its lease; another server retried it"
            ),
            // The lease runs out and the delivery is attempted again: at least once.
            Err(error) => tracing::warn!(%error, delivery = delivery.0, "could not settle"),
        }
    }

    /// Posts `claimed`, signed, and tells how it went.
    async fn attempt(&self, claimed: &Claimed, schedule: &Schedule) -> Attempt {
        let failed = |error: String| Attempt::Failed {
            error: error.chars().take(MAX_ERROR_CHARS).collect(),
        };
        // Checked again on every attempt: the setting may have changed since it was registered.
        let url = match target::check(&claimed.url, self.settings.allow_private) {
            Ok(url) => url,
            Err(refused) => return failed(refused.to_string()),
        };
        let message = &claimed.message;
        let body = match serde_json::to_vec(&Payload::new(message, schedule)) {
            Ok(body) => body,
            Err(error) => return failed(format!("the body could not be written: {error}")),
        };
        let id = message.id.to_string();
        // The time of sending, as the specification asks: receivers refuse old timestamps.
        let timestamp = chrono::Utc::now().timestamp();
        let signature = match sign::signature(&claimed.secret, &id, timestamp, &body) {
            Ok(signature) => signature,
            Err(corrupt) => return failed(corrupt.to_string()),
        };
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        match request.send().await {
            // The answer is judged here; the outbox keeps how it went, in words.
            Ok(response) if response.status().is_success() => Attempt::Delivered,
            Ok(response) => failed(format!("the endpoint answered {}", response.status())),
            Err(error) => failed(describe(&error)),
        }
    }
}

/// A failed request in a sentence, with its causes (reqwest's own message alone rarely says
/// what went wrong).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if causes.is_empty() { what } else { format!("{what}: {}", causes.join(": ")) }
}

/// The delay before retrying after `attempt` failed, give or take a tenth; `None` once the
/// schedule has run out.
fn retry_delay(schedule: &RetrySchedule, attempt: u32) -> Option<chrono::Duration> {
    let delay = schedule.delay_after(attempt)?;
    let jittered = delay - delay / 10 + random_below(delay / 5);
    Some(chrono::Duration::from_std(jittered).unwrap_or(chrono::Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_keep_to_the_schedule_give_or_take_a_tenth() {
        let schedule = RetrySchedule::default();
        for _ in 0..100 {
            let first = retry_delay(&schedule, 1).map(|d| d.num_milliseconds());
            assert!(first.is_some_and(|ms| (4_500..=5_500).contains(&ms)), "{first:?}");
        }
        let last = retry_delay(&schedule, 15).map(|d| d.num_seconds());
        assert!(last.is_some_and(|s| (25_920..=31_680).contains(&s)), "{last:?}");
        assert_eq!(retry_delay(&schedule, 16), None);
    }
}
