//! Cross-origin calls from the business's own site (`BOOKING_CORS_ORIGINS`): a booking widget
//! on `https://clinic.example` may call the API and open the availability stream from the
//! browser. Off by default. No credentials are involved (the API uses no cookies; the admin
//! API's bearer token is sent by the caller), so allowing an origin lets its pages read
//! answers, and nothing more.

use std::{fmt, str::FromStr};

use actix_cors::Cors;
use actix_web::{http::header, middleware::Condition};

/// An origin allowed to call the API from a browser: `scheme://host[:port]`, as browsers send
/// it in `Origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsOrigin(String);

/// Why a configured origin is not one.
#[derive(Debug, thiserror::Error)]
#[error(
    "'{0}' is not an origin: give the scheme, host and port only, as browsers send them in \
     Origin, e.g. https://clinic.example or http://localhost:8080"
)]
pub struct NotAnOrigin(String);

impl FromStr for CorsOrigin {
    type Err = NotAnOrigin;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let refuse = || NotAnOrigin(text.to_owned());
        let url = url::Url::parse(text).map_err(|_| refuse())?;
        let bare = url.username().is_empty()
            && url.password().is_none()
            && matches!(url.path(), "" | "/")
            && url.query().is_none()
            && url.fragment().is_none()
            && !text.ends_with('/');
        if !matches!(url.scheme(), "http" | "https") || !bare {
            return Err(refuse());
        }
        // Lower-cased host, default port left out: the form browsers send.
        Ok(Self(url.origin().ascii_serialization()))
    }
}

impl fmt::Display for CorsOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Headers a cross-origin page may send besides the CORS-safelisted ones.
const REQUEST_HEADERS: [header::HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::AUTHORIZATION,
    header::HeaderName::from_static("idempotency-key"),
    header::HeaderName::from_static("last-event-id"),
    crate::request_id::X_REQUEST_ID,
];

/// Headers of an answer a cross-origin page may read besides the safelisted ones.
const RESPONSE_HEADERS: [header::HeaderName; 4] = [
    header::LOCATION,
    header::RETRY_AFTER,
    header::HeaderName::from_static("idempotent-replayed"),
    crate::request_id::X_REQUEST_ID,
];

/// The CORS middleware for `origins`; it does nothing when there are none.
pub fn middleware(origins: &[CorsOrigin]) -> Condition<Cors> {
    let cors = origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(&origin.0))
        .allowed_methods(["GET", "POST", "DELETE"])
        .allowed_headers(REQUEST_HEADERS)
        .expose_headers(RESPONSE_HEADERS)
        .max_age(3600)
        // Other origins are answered as usual, without CORS headers, and their browser keeps
        // the answer from the page: the server's own pages send an Origin with every POST,
        // and must not be refused.
        .block_on_origin_mismatch(false);
    Condition::new(!origins.is_empty(), cors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_kept_as_browsers_send_them() {
        let origin: CorsOrigin = "https://Clinic.Example:443".parse().unwrap();
        assert_eq!(origin.to_string(), "https://clinic.example");
        let origin: CorsOrigin = " http://localhost:8080 ".parse().unwrap();
        assert_eq!(origin.to_string(), "http://localhost:8080");
    }

    #[test]
    fn what_is_not_an_origin_is_refused_with_an_example() {
        for text in [
            "clinic.example",
            "https://clinic.example/",
            "https://clinic.example/book",
            "https://clinic.example?x=1",
            "https://user@clinic.example",
            "ftp://clinic.example",
            "*",
            "",
        ] {
            let error = text.parse::<CorsOrigin>().unwrap_err().to_string();
            assert!(error.contains("e.g. https://clinic.example"), "{text}: {error}");
        }
    }
}
