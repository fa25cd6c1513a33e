//! The mail worker: it claims the due notifications (each appointment's oldest; see
//! [`crate::outbox`] for when and how), hands each one to the mail server, and settles
//! it: sent when the server takes it, failed for good when the server refuses it permanently
//! (a 5xx reply other than 530-539, which refuse the server's login rather than the message) or
//! the message cannot be written, otherwise retried on the schedule.
//!
//! Addresses are never logged: a failure is logged with its SMTP code, and its full text is
//! kept for `GET /admin/notifications`.

use std::sync::Arc;

use actix_web::web;
use booking_core::{notification::ClaimedNotification, webhook::Attempt};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Notify;

use super::{compose::compose, settings::MailSettings};
use crate::{error::ApiError, outbox, routes::Bookings};

/// Notifications claimed at once (each of a different appointment), sent side by side.
const BATCH: usize = 8;

/// The longest one message may take to hand over, every step of the conversation included:
/// well inside the lease, so no other server sends it meanwhile.
const SEND_BUDGET: std::time::Duration = std::time::Duration::from_secs(90);

/// Starts the worker; `wake` wakes it early.
pub fn start(
    bookings: web::Data<Bookings>,
    settings: MailSettings,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    wake: Arc<Notify>,
) {
    let worker = Arc::new(Worker { bookings, settings, transport });
    outbox::run(wake, BATCH, move || {
        let worker = Arc::clone(&worker);
        async move { worker.round().await }
    });
}

struct Worker {
    bookings: web::Data<Bookings>,
    settings: MailSettings,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

/// How an attempt went, and whether trying again could change it.
struct Tried {
    result: Attempt,
    permanent: bool,
    code: Option<String>,
}

impl Worker {
    /// Claims a batch and sends it; answers how many were claimed.
    async fn round(self: &Arc<Self>) -> usize {
        let claimed = async {
            let pending = self
                .bookings
                .run("claim_notifications", move |service| {
                    Ok::<_, ApiError>(service.claim_notifications(BATCH, outbox::lease()))
                })
                .await?;
            Ok::<_, ApiError>(pending.await?)
        };
        let claimed = match claimed.await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "could not claim notifications; trying again later");
                return 0;
            }
        };
        let count = claimed.len();
        let attempts = claimed.into_iter().map(|claimed| {
            let worker = Arc::clone(self);
            async move { worker.send(claimed).await }
        });
        futures_util::future::join_all(attempts).await;
        count
    }

    /// Makes one attempt at `claimed` and settles it.
    async fn send(&self, claimed: ClaimedNotification) {
        let tried = self.attempt(&claimed).await;
        let retry_in = match &tried.result {
            Attempt::Failed { .. } if !tried.permanent => {
                outbox::retry_delay(&self.settings.retries, claimed.attempt)
            }
            Attempt::Delivered | Attempt::Failed { .. } => None,
        };
        let outcome = match (&tried.result, retry_in) {
            (Attempt::Delivered, _) => "sent",
            (Attempt::Failed { .. }, Some(_)) => "retrying",
            (Attempt::Failed { .. }, None) => "failed",
        };
        metrics::counter!(
            "booking_notification_attempts_total",
            "kind" => claimed.kind.as_str(),
            "outcome" => outcome,
        )
        .increment(1);
        let (id, attempt, kind) = (claimed.notification.0, claimed.attempt, claimed.kind.as_str());
        match &tried.result {
            Attempt::Delivered => {
                tracing::debug!(notification = id, kind, attempt, "notification sent")
            }
            Attempt::Failed { .. } => tracing::info!(
                notification = id,
                kind,
                attempt,
                code = tried.code.as_deref().unwrap_or("none"),
                outcome,
                "a notification was not taken by the mail server"
            ),
        }
        let result = tried.result;
        let settled = async {
            let pending = self
                .bookings
                .run("settle_notification", move |service| {
                    Ok::<_, ApiError>(service.settle_notification(&claimed, result, retry_in))
                })
                .await?;
            Ok::<_, ApiError>(pending.await?)
        };
        match settled.await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                notification = id,
                attempt,
                "a notification attempt outlasted its lease; another server retried it"
            ),
            // The lease runs out and the notification is attempted again: at least once.
            Err(error) => tracing::warn!(%error, notification = id, "could not settle"),
        }
    }

    /// Writes `claimed` as an email and hands it to the mail server.
    async fn attempt(&self, claimed: &ClaimedNotification) -> Tried {
        let message = match compose(claimed, &self.settings, &self.bookings.schedule()) {
            Ok(message) => message,
            Err(unwritable) => {
                return Tried {
                    result: Attempt::Failed { error: outbox::kept(&unwritable.to_string()) },
                    permanent: true,
                    code: None,
                };
            }
        };
        let sent = tokio::time::timeout(SEND_BUDGET, self.transport.send(message)).await;
        let Ok(sent) = sent else {
            let error = format!("the mail server took over {} s", SEND_BUDGET.as_secs());
            return Tried { result: Attempt::Failed { error }, permanent: false, code: None };
        };
        match sent {
            Ok(_) => Tried { result: Attempt::Delivered, permanent: false, code: None },
            Err(error) => {
                let code = error.status().map(|code| code.to_string());
                // 530-539 refuse the login or ask for TLS: the settings are at fault, not the
                // message, and mending them should let it go.
                let settings_refused = code.as_deref().is_some_and(|code| code.starts_with("53"));
                let permanent = error.is_permanent() && !settings_refused;
                let what = if settings_refused {
                    "the mail server refused this server's login or connection"
                } else if error.is_permanent() {
                    "the mail server refused it"
                } else if error.is_transient() {
                    "the mail server deferred it"
                } else if error.is_timeout() {
                    "the mail server did not answer in time"
                } else {
                    "could not hand it to the mail server"
                };
                // lettre's message already ends with the server's reply.
                let described = format!("{what}: {error}");
                Tried {
                    result: Attempt::Failed { error: outbox::kept(&described) },
                    permanent,
                    code,
                }
            }
        }
    }
}
