//! Holds: a slot reserved for a few minutes while a client finishes booking it.

use std::{fmt, num::NonZeroU16, str::FromStr};

use chrono::{DateTime, Utc};
use thiserror::Error;
use uuid::Uuid;

use crate::{catalog::Slug, placement::Placement, units::Slot};

/// The secret that names a hold: 128 random bits, written as 32 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HoldToken(String);

/// Text that is not a hold token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a hold token; tokens are the 32 hex digits returned by POST /holds")]
pub struct HoldTokenError;

impl HoldToken {
    /// A new random token.
    pub fn random() -> Self {
        Self(Uuid::new_v4().simple().to_string())
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for HoldToken {
    type Err = HoldTokenError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = text.len() == 32
            && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid { Ok(Self(text.to_owned())) } else { Err(HoldTokenError) }
    }
}

/// Tokens are secrets: they never appear in logs.
impl fmt::Debug for HoldToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HoldToken(..)")
    }
}

/// A placement kept for one client until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The secret that converts it into an appointment or releases it.
    pub token: HoldToken,
    /// The resource held.
    pub resource: Slug,
    /// The service it is for, if any.
    pub service: Option<Slug>,
    /// The time the client sees.
    pub slot: Slot,
    /// The starts of every slot it takes, buffers included.
    pub occupied: Vec<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops counting.
    pub expires_at: DateTime<Utc>,
}

impl Hold {
    /// A hold of `placement` made at `created_at`.
    pub fn of(
        token: HoldToken,
        placement: &Placement,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            token,
            resource: placement.resource.clone(),
            service: placement.service.clone(),
            slot: placement.slot,
            occupied: placement.occupied.clone(),
            created_at,
            expires_at,
        }
    }

    /// Whether the hold is for exactly `placement`.
    pub fn is_for(&self, placement: &Placement) -> bool {
        self.resource == placement.resource
            && self.service == placement.service
            && self.slot == placement.slot
            && self.occupied == placement.occupied
    }

    /// Whether the hold still counts at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// Who asks for a hold, and how many active holds they may have at once: without a cap, one
/// client could hold every free slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldQuota {
    /// The holder, named by the caller (booking-http: the client's address, an IPv6 client by
    /// its /64). Stores keep it with the hold until the hold is gone.
    pub holder: String,
    /// The most active holds the holder may have.
    pub most: NonZeroU16,
}

/// Active holds one holder may have unless configured otherwise.
pub const DEFAULT_HOLDS_PER_HOLDER: NonZeroU16 = NonZeroU16::new(3).unwrap();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_never_printed() {
        let token = HoldToken::random();
        assert_eq!(token.as_str().len(), 32);
        assert_eq!(token.as_str().parse::<HoldToken>(), Ok(token.clone()));
        assert_ne!(HoldToken::random(), token);
        assert_eq!(format!("{token:?}"), "HoldToken(..)");
        assert_eq!("XYZ".parse::<HoldToken>(), Err(HoldTokenError));
    }
}
