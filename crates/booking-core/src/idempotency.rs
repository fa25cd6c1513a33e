//! Safe retries: a client names a logical request with a key, and a repeat of the same request
//! with the same key gets the first outcome back instead of doing the work again.
//!
//! What a key remembers is a domain record, not an answer: the operation, the request's
//! fingerprint and the appointment as the write left it. It is stored in the same transaction as
//! the write, so no crash can separate them; whoever answers the client renders a replay from it
//! exactly as it rendered the first outcome.

use std::{fmt, str::FromStr};

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

/// The writes a key can make safe to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A booking.
    Book,
    /// A cancellation.
    Cancel,
    /// A move.
    Reschedule,
}

/// Text that names no operation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("'{0}' is not an operation")]
pub struct OperationError(pub String);

impl Operation {
    /// The operation as stored: `book`, `cancel` or `reschedule`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Book => "book",
            Self::Cancel => "cancel",
            Self::Reschedule => "reschedule",
        }
    }
}

impl FromStr for Operation {
    type Err = OperationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "book" => Ok(Self::Book),
            "cancel" => Ok(Self::Cancel),
            "reschedule" => Ok(Self::Reschedule),
            other => Err(OperationError(other.to_owned())),
        }
    }
}

/// What a keyed write needs to honour its key.
#[derive(Clone)]
pub struct Idempotency {
    /// The key.
    pub key: IdempotencyKey,
    /// What identifies the request (for HTTP: method, path and canonical body); a repeat must
    /// match it.
    pub fingerprint: String,
    /// The time of the request.
    pub now: DateTime<Utc>,
    /// How long keys are remembered.
    pub lifetime: Duration,
}

impl fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("now", &self.now)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Idempotency {
    /// Keys made at or before this instant are forgotten.
    pub fn oldest_remembered(&self) -> DateTime<Utc> {
        self.now - self.lifetime
    }

    /// What a repeat of this request finds under `remembered`, if that record is still
    /// remembered: the first outcome, or a refusal when the key named another request.
    pub fn replay(&self, operation: Operation, remembered: Remembered) -> Replay {
        if remembered.created_at <= self.oldest_remembered() {
            Replay::Forgotten
        } else if remembered.operation == operation && remembered.fingerprint == self.fingerprint {
            Replay::Same(remembered.appointment)
        } else {
            Replay::Other
        }
    }
}

/// What a key remembers: the operation it made, the request's fingerprint, and the appointment
/// as that write left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The write it made.
    pub operation: Operation,
    /// The request it was used for.
    pub fingerprint: String,
    /// The appointment as the write left it.
    pub appointment: Appointment,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// What a keyed request finds under its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// The key made this request before: its outcome.
    Same(Appointment),
    /// The key made another request: refused.
    Other,
    /// The key is not (or no longer) remembered: do the work.
    Forgotten,
}

/// What an idempotent write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// The work was done now.
    Done(T),
    /// The key was seen with the same request: nothing was done, and this is the appointment
    /// as that first request left it.
    Replayed(Appointment),
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

    #[test]
    fn operations_round_trip_as_text() {
        for operation in [Operation::Book, Operation::Cancel, Operation::Reschedule] {
            assert_eq!(operation.as_str().parse(), Ok(operation));
        }
        assert!("move".parse::<Operation>().is_err());
    }
}
