//! A handler that panics (a bug) answers 500 like any other server fault, with the request id
//! and the panic in the log, instead of leaving its client with a dropped connection.

use std::panic::AssertUnwindSafe;

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
};
use futures_util::FutureExt;

use crate::error::ApiError;

/// A panic, as the cause of a 500.
#[derive(Debug, thiserror::Error)]
#[error("the request's handler panicked: {0}")]
struct Panicked(String);

/// Answers 500 for a request whose handling panicked.
pub async fn catch_panics(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let http_request = request.request().clone();
    // Unwind safety: what a panicking request leaves behind is its own state, dropped here; the
    // state it shares (limits, caches) sits behind locks whose users ignore poisoning.
    match AssertUnwindSafe(next.call(request)).catch_unwind().await {
        Ok(answer) => answer.map(ServiceResponse::map_into_left_body),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_owned());
            let error = ApiError::internal(Panicked(message));
            Ok(ServiceResponse::from_err(error, http_request).map_into_right_body())
        }
    }
}
