//! What the webhook API refuses: URLs it may not call, events it does not know, and endpoints
//! past the cap or not there.

use actix_web::http::StatusCode;
use booking_core::{
    storage::WriteError,
    webhook::{EndpointNotFound, NoEvents, TooManyEndpoints, UnknownEventType},
};

use super::ApiError;
use crate::webhooks::target::TargetError;

impl ApiError {
    /// No webhook has the id (or the id is not an id at all).
    pub fn webhook_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "webhook-not-found",
            "Webhook not found",
            "Webhook not found.",
            "no webhook has this id; GET /admin/webhooks lists them",
        )
    }

    fn webhook_events(detail: String) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-webhook-events",
            "Invalid webhook events",
            "Invalid webhook events.",
            detail,
        )
    }
}

impl From<TargetError> for ApiError {
    fn from(error: TargetError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-webhook-url",
            "Invalid webhook URL",
            "Invalid webhook URL.",
            error.to_string(),
        )
    }
}

impl From<UnknownEventType> for ApiError {
    fn from(error: UnknownEventType) -> Self {
        Self::webhook_events(error.to_string())
    }
}

impl From<NoEvents> for ApiError {
    fn from(error: NoEvents) -> Self {
        Self::webhook_events(error.to_string())
    }
}

impl From<WriteError<TooManyEndpoints>> for ApiError {
    fn from(error: WriteError<TooManyEndpoints>) -> Self {
        Self::write(error, |refusal| {
            Self::new(
                StatusCode::CONFLICT,
                "too-many-webhooks",
                "Too many webhooks",
                "Too many webhooks.",
                refusal.to_string(),
            )
        })
    }
}

impl From<WriteError<EndpointNotFound>> for ApiError {
    fn from(error: WriteError<EndpointNotFound>) -> Self {
        Self::write(error, |EndpointNotFound| Self::webhook_not_found())
    }
}
