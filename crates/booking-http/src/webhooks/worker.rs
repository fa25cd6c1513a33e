//! The delivery worker: it claims the due deliveries from the outbox (each endpoint's oldest;
//! see [`crate::outbox`] for when and how), posts them signed, and settles each one:
//! delivered on a 2xx answer, otherwise retried on the schedule until it runs out.

use std::{sync::Arc, time::Duration};

use actix_web::web;
use booking_core::{
    schedule::Schedule,
    webhook::{Attempt, Claimed},
};
use tokio::sync::Notify;

use super::{payload::Payload, sign, target};
use crate::{config::WebhookSettings, error::ApiError, outbox, routes::Bookings};

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Deliveries claimed at once (each from a different endpoint), sent side by side.
const BATCH: usize = 16;

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
    outbox::run(wake, BATCH, move || {
        let worker = Arc::clone(&worker);
        async move { worker.round().await }
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
        let lease = outbox::lease();
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
        let result = self.attempt(&claimed, &self.bookings.schedule()).await;
        let retry_in = match &result {
            Attempt::Delivered => None,
            Attempt::Failed { .. } => outbox::retry_delay(&self.settings.retries, claimed.attempt),
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
        let failed = |error: String| Attempt::Failed { error: outbox::kept(&error) };
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

/// A failed request in a sentence, with its causes.
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    outbox::with_causes(what, error)
}
