//! The operator's webhooks under `/admin/webhooks`: register an endpoint (its signing secret is
//! shown once, in the answer), list and delete them, and see an endpoint's deliveries.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use booking_core::webhook::{Delivery, Endpoint, EndpointId, EventType, Subscription};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Bookings, times::InUtc, views::utc};
use crate::{
    config::WebhookSettings,
    error::{ApiError, Problem},
    webhooks::{sign, target},
};

/// An endpoint to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Where to post events: an `http` or `https` URL on a public address.
    #[schema(example = "https://crm.example.com/hooks/booking")]
    pub url: String,
    /// The events to receive; every event (including those added later) when left out.
    #[schema(example = json!(["appointment.scheduled", "appointment.canceled"]))]
    pub events: Option<Vec<String>>,
}

/// A registered endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView<'a> {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    /// Where events are posted.
    pub url: &'a str,
    /// The events it receives now.
    #[schema(example = json!(["appointment.scheduled", "appointment.rescheduled", "appointment.canceled", "appointment.completed", "appointment.no_show"]))]
    pub events: Vec<&'static str>,
    /// Whether it receives every event, including those added in later versions.
    pub all_events: bool,
    /// When it was registered (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: InUtc,
}

impl<'a> WebhookView<'a> {
    fn new(endpoint: &'a Endpoint) -> Self {
        let subscription = &endpoint.subscription;
        Self {
            id: endpoint.id.as_uuid(),
            url: &endpoint.url,
            events: EventType::ALL
                .into_iter()
                .filter(|event| subscription.includes(*event))
                .map(EventType::as_str)
                .collect(),
            all_events: *subscription == Subscription::All,
            created_at: utc(endpoint.created_at),
        }
    }
}

/// A registered endpoint with its signing secret, shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreated<'a> {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: WebhookView<'a>,
    /// What deliveries are signed with (Standard Webhooks): `whsec_` and the base64 of 32
    /// random bytes. Keep it; it is never shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwsdS6ZJu6P9k=")]
    pub secret: &'a str,
}

/// Every registered endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhooks<'a> {
    /// Oldest first.
    pub webhooks: Vec<WebhookView<'a>>,
}

/// One event queued for one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The event's message id, sent as `webhook-id` (the same on every attempt).
    #[schema(example = "msg_42")]
    pub message_id: String,
    /// The event.
    #[schema(example = "appointment.scheduled")]
    pub event: &'static str,
    /// The appointment it is about.
    #[schema(value_type = String, format = Uuid)]
    pub appointment_id: Uuid,
    /// When the event happened (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub event_at: InUtc,
    /// `pending` (waiting for an attempt), `delivered` (a 2xx answer) or `failed` (every
    /// attempt of the retry schedule failed).
    #[schema(example = "delivered")]
    pub status: &'static str,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due, while it is pending (RFC 3339, UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<InUtc>,
}

impl DeliveryView {
    fn new(delivery: Delivery) -> Self {
        Self {
            message_id: delivery.message.to_string(),
            event: delivery.event.as_str(),
            appointment_id: delivery.appointment.as_uuid(),
            event_at: utc(delivery.event_at),
            status: delivery.state.as_str(),
            attempts: delivery.attempts,
            last_error: delivery.last_error,
            next_attempt_at: delivery.next_attempt_at.map(utc),
        }
    }
}

/// An endpoint's newest deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deliveries {
    /// The newest 100, newest first.
    pub deliveries: Vec<DeliveryView>,
}

fn endpoint_id(text: &str) -> Result<EndpointId, ApiError> {
    text.parse().map_err(|_| ApiError::webhook_not_found())
}

/// Register a webhook endpoint.
#[utoipa::path(
    post, path = "/admin/webhooks", tag = "admin",
    request_body = WebhookRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered; the secret is shown only here", body = WebhookCreated),
        (status = 400, description = "A URL that is not http(s), or points to a private address; an unknown or empty list of events", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "20 webhooks are registered already", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    bookings: web::Data<Bookings>,
    settings: web::Data<WebhookSettings>,
    body: web::Json<WebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let WebhookRequest { url, events } = body.into_inner();
    let url = target::check(&url, settings.allow_private)?;
    let events = events
        .map(|names| names.iter().map(|name| name.parse()).collect::<Result<BTreeSet<_>, _>>())
        .transpose()?;
    let subscription = Subscription::new(events)?;
    let secret = sign::new_secret().map_err(ApiError::internal)?;
    let url = url.to_string();
    let pending = bookings
        .run("subscribe", move |service| {
            Ok::<_, ApiError>(service.subscribe(url, subscription, secret))
        })
        .await?;
    let endpoint = pending.await?;
    Ok(HttpResponse::Created().json(WebhookCreated {
        webhook: WebhookView::new(&endpoint),
        secret: endpoint.secret.expose(),
    }))
}

/// List webhook endpoints.
#[utoipa::path(
    get, path = "/admin/webhooks", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Webhooks),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_webhooks(bookings: web::Data<Bookings>) -> Result<HttpResponse, ApiError> {
    let endpoints = bookings.run("endpoints", |service| service.endpoints()).await?;
    Ok(HttpResponse::Ok()
        .json(Webhooks { webhooks: endpoints.iter().map(WebhookView::new).collect() }))
}

/// Delete a webhook endpoint, with the deliveries still queued for it.
#[utoipa::path(
    delete, path = "/admin/webhooks/{id}", tag = "admin",
    params(("id" = String, Path, description = "The webhook's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted; nothing more is sent to it"),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Webhook not found.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unregister(
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = endpoint_id(&id)?;
    let pending = bookings
        .run("unsubscribe", move |service| Ok::<_, ApiError>(service.unsubscribe(id)))
        .await?;
    pending.await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An endpoint's newest deliveries: each event, its status, attempts, last error and next
/// attempt.
#[utoipa::path(
    get, path = "/admin/webhooks/{id}/deliveries", tag = "admin",
    params(("id" = String, Path, description = "The webhook's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Deliveries),
        (status = 401, description = "Missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Webhook not found.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin token configured, or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_deliveries(
    bookings: web::Data<Bookings>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = endpoint_id(&id)?;
    let found = bookings.run("deliveries", move |service| service.deliveries(id)).await?;
    let found = found.ok_or_else(ApiError::webhook_not_found)?;
    Ok(HttpResponse::Ok()
        .json(Deliveries { deliveries: found.into_iter().map(DeliveryView::new).collect() }))
}
