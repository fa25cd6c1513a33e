//! Request ids: one per request, to find that request's log line from what a client or a proxy
//! saw. A client's (or proxy's) `X-Request-Id` is kept when it is safe to log; else the trace id
//! of a W3C `traceparent`; else a new random one. The id is echoed in the `X-Request-Id`
//! response header, named on the request's log line and span, and carried by every problem body.

use std::{fmt, rc::Rc};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// The request and response header.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The W3C Trace Context header.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The longest id taken from a client.
const MAX_LEN: usize = 128;

tokio::task_local! {
    /// The id of the request whose future is being polled.
    static CURRENT: RequestId;
}

/// One request's id: visible ASCII without spaces, quotes or backslashes, at most 128 bytes,
/// so that it can be logged and echoed as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Rc<str>);

impl RequestId {
    /// The id a request carries, or a new one.
    pub fn of(headers: &HeaderMap) -> Self {
        let given = headers.get(X_REQUEST_ID).and_then(|value| value.to_str().ok());
        if let Some(id) = given.filter(|id| is_loggable(id)) {
            return Self(id.into());
        }
        let trace = headers.get(TRACEPARENT).and_then(|value| value.to_str().ok());
        if let Some(trace_id) = trace.and_then(trace_id) {
            return Self(trace_id.into());
        }
        Self(uuid::Uuid::new_v4().simple().to_string().into())
    }

    /// The id as a header value.
    pub fn header_value(&self) -> HeaderValue {
        // Only visible ASCII gets here, which is always a valid header value.
        HeaderValue::from_str(&self.0).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    }

    /// Runs `future` with this id as the current one (see [`current`]).
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of the request being served, if any (problem bodies carry it).
pub fn current() -> Option<String> {
    CURRENT.try_with(ToString::to_string).ok()
}

/// Whether a client's id can be logged and echoed without escaping: no control characters,
/// spaces, quotes or backslashes, and not too long.
fn is_loggable(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id.bytes().all(|byte| byte.is_ascii_graphic() && !matches!(byte, b'"' | b'\\' | b'\''))
}

/// The trace id of a `traceparent` value (`version-traceid-parentid-flags`, lowercase hex), if
/// it is well formed and not the all-zero id the specification declares invalid.
fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |part: &str, len: usize| {
        part.len() == len && part.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    };
    let well_formed = hex(version, 2)
        && version != "ff"
        && hex(trace_id, 32)
        && hex(parent_id, 16)
        && hex(flags, 2)
        && (version != "00" || parts.next().is_none());
    (well_formed && trace_id.bytes().any(|byte| byte != b'0')).then_some(trace_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_loggable_client_id_is_kept() {
        let id = RequestId::of(&headers(&[("x-request-id", "req-42.a:b/c=")]));
        assert_eq!(id.to_string(), "req-42.a:b/c=");
    }

    #[test]
    fn an_id_that_could_forge_a_log_line_is_replaced() {
        for given in ["has space", "quote\"d", "back\\slash", ""] {
            let mut map = HeaderMap::new();
            map.insert(X_REQUEST_ID, HeaderValue::from_str(given).unwrap());
            let id = RequestId::of(&map).to_string();
            assert_ne!(id, given);
            assert_eq!(id.len(), 32, "a new id: {id}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        let mut map = HeaderMap::new();
        map.insert(X_REQUEST_ID, HeaderValue::from_str(&long).unwrap());
        assert_ne!(RequestId::of(&map).to_string(), long);
    }

    #[test]
    fn a_traceparent_lends_its_trace_id() {
        let id = RequestId::of(&headers(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )]));
        assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let both = RequestId::of(&headers(&[
            ("x-request-id", "mine"),
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ]));
        assert_eq!(both.to_string(), "mine", "X-Request-Id wins");
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        for value in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(trace_id(value), None, "{value}");
        }
        assert_eq!(
            trace_id("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"),
            Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            "a later version may add fields"
        );
    }

    #[test]
    fn new_ids_differ() {
        assert_ne!(RequestId::of(&HeaderMap::new()), RequestId::of(&HeaderMap::new()));
    }

    #[actix_web::test]
    async fn the_current_id_is_the_scoped_one() {
        assert_eq!(current(), None);
        let id = RequestId::of(&headers(&[("x-request-id", "scoped")]));
        assert_eq!(id.scope(async { current() }).await.as_deref(), Some("scoped"));
    }
}
