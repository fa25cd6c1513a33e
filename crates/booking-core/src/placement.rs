//! Where an appointment or a hold sits on its resource.

use chrono::{DateTime, Utc};

use crate::{
    catalog::Slug,
    units::{Capacity, Slot},
};

/// Where an appointment sits: its resource, its service, the time the client sees, and every
/// slot it takes on the resource (buffers included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The resource.
    pub resource: Slug,
    /// The service, if any.
    pub service: Option<Slug>,
    /// The time the client sees.
    pub slot: Slot,
    /// The start of every slot it takes, buffers included, in order.
    pub occupied: Vec<DateTime<Utc>>,
    /// The resource's capacity per slot.
    pub capacity: Capacity,
    /// The version of the calendar it was placed under: a store takes it only while that
    /// version is the stored one, so no server books by a calendar another has replaced.
    pub calendar: u64,
}
