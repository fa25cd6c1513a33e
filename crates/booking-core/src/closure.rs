//! Closures: times when a resource, or the whole business, takes no bookings (a holiday, a
//! sick day).

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{catalog::Slug, units::Slot};

/// A closure's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClosureId(Uuid);

impl ClosureId {
    /// A new random id.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl FromStr for ClosureId {
    type Err = uuid::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::try_parse(text).map(Self)
    }
}

impl fmt::Display for ClosureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A period in which a resource (or, with no resource, every resource) is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    /// Its id.
    pub id: ClosureId,
    /// The resource closed, or `None` for the whole business.
    pub resource: Option<Slug>,
    /// The closed period.
    pub period: Slot,
    /// Why: for the operator, and told to clients refused for it.
    pub reason: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl Closure {
    /// Whether the closure covers any of `slot` on `resource`.
    pub fn blocks(&self, resource: &Slug, slot: Slot) -> bool {
        self.resource.as_ref().is_none_or(|r| r == resource)
            && self.period.start() < slot.end()
            && slot.start() < self.period.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(from: &str, to: &str) -> Slot {
        Slot::new(from.parse().unwrap(), to.parse().unwrap()).unwrap()
    }

    #[test]
    fn a_closure_blocks_overlapping_slots_of_its_resource() {
        let alice: Slug = "alice".parse().unwrap();
        let bob: Slug = "bob".parse().unwrap();
        let closure = Closure {
            id: ClosureId::random(),
            resource: Some(alice.clone()),
            period: slot("2030-01-07T12:00:00Z", "2030-01-07T14:00:00Z"),
            reason: None,
            created_at: "2030-01-01T00:00:00Z".parse().unwrap(),
        };
        assert!(closure.blocks(&alice, slot("2030-01-07T13:30:00Z", "2030-01-07T14:30:00Z")));
        assert!(!closure.blocks(&alice, slot("2030-01-07T14:00:00Z", "2030-01-07T14:30:00Z")));
        assert!(!closure.blocks(&alice, slot("2030-01-07T11:30:00Z", "2030-01-07T12:00:00Z")));
        assert!(!closure.blocks(&bob, slot("2030-01-07T13:00:00Z", "2030-01-07T13:30:00Z")));
        let everyone = Closure { resource: None, ..closure };
        assert!(everyone.blocks(&bob, slot("2030-01-07T13:00:00Z", "2030-01-07T13:30:00Z")));
    }
}
