//! The change feed: what a committed write changed, as everyone who shows availability must
//! learn it. Every write returns one [`Change`]; with several servers on one database, the
//! changes other servers commit arrive as the same type.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::{catalog::Slug, event::Event};

/// What one committed write changed in what can be booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The usage (appointments or holds) of these slots of one resource changed.
    Slots {
        /// The resource.
        resource: Slug,
        /// The slots' starts, in order, each once.
        starts: Vec<DateTime<Utc>>,
        /// When they change again by themselves (a hold expiring), if they will.
        again_at: Option<DateTime<Utc>>,
    },
    /// Anything may have changed (a closure came or went, or changes were missed): every
    /// listing must be read again.
    Everything,
    /// Nothing that availability shows changed (a move to the slot it already held).
    Nothing,
}

impl Change {
    /// The usage of these slots of `resource` changed, whatever order `starts` come in.
    pub fn slots(
        resource: &Slug,
        starts: impl IntoIterator<Item = DateTime<Utc>>,
        again_at: Option<DateTime<Utc>>,
    ) -> Self {
        let mut starts: Vec<_> = starts.into_iter().collect();
        starts.sort_unstable();
        starts.dedup();
        if starts.is_empty() {
            return Self::Nothing;
        }
        Self::Slots { resource: resource.clone(), starts, again_at }
    }
}

/// Whoever follows committed writes (availability streams, metrics). Called once per committed
/// write, after its commit, on whichever thread completed it (a store's writer, or the caller):
/// implementations hand the change on and return at once. Calls may come in another order
/// than the commits (a write answered at once by the caller's thread overtakes a batch being
/// answered by the writer's): a follower that needs the state after them reads it, as the
/// availability publisher does.
pub trait Feed: Send + Sync + fmt::Debug {
    /// A write committed: what it changed, and what happened.
    fn committed(&self, change: &Change, event: Option<&Event>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_sorted_once_and_none_is_nothing() {
        let resource: Slug = "alice".parse().unwrap();
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(
            Change::slots(&resource, [at(60), at(0), at(60)], None),
            Change::Slots {
                resource: resource.clone(),
                starts: vec![at(0), at(60)],
                again_at: None
            }
        );
        assert_eq!(Change::slots(&resource, [], Some(at(5))), Change::Nothing);
    }
}
