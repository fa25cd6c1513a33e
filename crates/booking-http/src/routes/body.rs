//! Request bodies a client may leave out: the original service's `POST /cancel/{id}` had none,
//! and its clients send none still.

use actix_web::{HttpRequest, error::JsonPayloadError, http::header, mime};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, json_problem};

/// The JSON body of `request`, or `None` when it has no body at all. A body that is there must
/// be JSON (415) of the expected shape (400), as for the other JSON bodies; one over the body
/// limit is refused before it is read (413).
pub fn optional_json<T: DeserializeOwned>(
    request: &HttpRequest,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
    if !json {
        return Err(json_problem(&JsonPayloadError::ContentType));
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|error| json_problem(&JsonPayloadError::Deserialize(error)))
}
