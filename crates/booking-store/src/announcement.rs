//! Changes a store announces to every server that shares its database, so that availability
//! streams on one server hear of writes made through another.

use booking_core::catalog::Slug;
use chrono::{DateTime, Utc};

/// A committed change, as another server hears of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// The usage of these slots of `resource` changed.
    Slots {
        /// The resource.
        resource: Slug,
        /// The slots' starts.
        starts: Vec<DateTime<Utc>>,
        /// When they change again by themselves (a hold expiring), if they will.
        again_at: Option<DateTime<Utc>>,
    },
    /// Something that is not usage changed (a closure), or changes may have been missed (the
    /// listening connection was lost): listeners reload everything.
    Everything,
}
