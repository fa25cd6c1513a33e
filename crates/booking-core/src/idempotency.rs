//! Safe retries: a client names a logical request with a key, and a repeat of the same request
//! with the same key gets the first answer back instead of doing the work again. The answer is
//! stored in the same transaction as the write, so no crash can separate them.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use crate::appointment::Appointment;

/// How long a key is remembered unless configured otherwise.
pub const DEFAULT_KEY_LIFETIME: Duration = Duration::hours(24);

/// A client's name for one logical request: 1 to 255 visible ASCII characters (a UUID is usual).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// Text that cannot be a key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Idempotency-Key must be 1-255 visible ASCII characters, such as a UUID")]
pub struct IdempotencyKeyError;

impl IdempotencyKey {
    /// Validates a key.
    pub fn parse(text: &str) -> Result<Self, IdempotencyKeyError> {
        let valid = (1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
        if valid { Ok(Self(text.to_owned())) } else { Err(IdempotencyKeyError) }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Keys are chosen by clients and may be guessable to no one but them; they stay out of logs.
impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyKey(..)")
    }
}

/// The answer stored for a key, as the client first received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: String,
    /// The `Location` header, if any.
    pub location: Option<String>,
}

/// Turns the result of a write into the answer to store.
pub type Render<'a> = &'a (dyn Fn(&Appointment) -> StoredResponse + Send + Sync);

/// What a write needs to honour a key.
#[derive(Clone, Copy)]
pub struct Idempotency<'a> {
    /// The key.
    pub key: &'a IdempotencyKey,
    /// What identifies the request (method, path and canonical body): a repeat must match it.
    pub fingerprint: &'a str,
    /// The time of the request.
    pub now: DateTime<Utc>,
    /// How long keys are remembered.
    pub lifetime: Duration,
    /// Renders the answer to store with the write.
    pub render: Render<'a>,
}

impl fmt::Debug for Idempotency<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("now", &self.now)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Idempotency<'_> {
    /// Keys made before this instant are forgotten.
    pub fn oldest_remembered(&self) -> DateTime<Utc> {
        self.now - self.lifetime
    }
}

/// What an idempotent write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// The work was done now.
    Done(T),
    /// The key was seen with the same request: here is the first answer; nothing was done.
    Replayed(StoredResponse),
}

impl<T> Outcome<T> {
    /// The result of work done now, if it was.
    pub fn done(self) -> Option<T> {
        match self {
            Self::Done(value) => Some(value),
            Self::Replayed(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse("67e55044-10b1-426f-9247-bb680e5fe0c8").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", "with space", "naïve", &"k".repeat(256), "tab\there"] {
            assert_eq!(IdempotencyKey::parse(bad), Err(IdempotencyKeyError), "{bad:?}");
        }
        assert_eq!(format!("{:?}", IdempotencyKey::parse("secret").unwrap()), "IdempotencyKey(..)");
    }
}
