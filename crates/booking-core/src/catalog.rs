//! What the business offers: its resources (people, chairs, rooms) and services (what can be
//! booked, how long it takes, who can do it).

use std::{fmt, num::NonZeroU16, str::FromStr, sync::Arc};

use chrono::Duration;
use thiserror::Error;

use crate::{hours::WeeklyHours, units::Capacity};

/// The longest minimum notice the business or a service may set: a year.
pub const MAX_NOTICE_MINUTES: u32 = 525_600;

/// The longest booking horizon the business or a service may set: ten years.
pub const MAX_HORIZON_DAYS: u16 = 3650;

/// The slug of the resource a schedule without a catalog books.
pub const DEFAULT_RESOURCE: &str = "default";

/// A short, stable, URL-safe name: 1 to 40 lowercase ASCII letters, digits and hyphens,
/// starting with a letter or digit. Cheap to clone (shared text): listings and usage maps hold
/// one per slot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slug(Arc<str>);

/// Text that is not a slug.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("'{0}' is not a slug; use 1-40 lowercase letters, digits and hyphens, e.g. room-2")]
pub struct SlugError(pub String);

impl Slug {
    /// `default`, the resource of a business that configured none.
    pub(crate) fn default_resource() -> Self {
        Self(DEFAULT_RESOURCE.into())
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Slug {
    type Err = SlugError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = (1..=40).contains(&text.len())
            && !text.starts_with('-')
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid { Ok(Self(text.into())) } else { Err(SlugError(text.to_owned())) }
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Something that is booked: a person, a chair, a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Its slug.
    pub slug: Slug,
    /// Its display name.
    pub name: String,
    /// When it can be booked.
    pub hours: WeeklyHours,
    /// Appointments it takes per slot.
    pub capacity: Capacity,
}

/// Something that can be booked: how long it takes and which resources can do it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Its slug.
    pub slug: Slug,
    /// Its display name.
    pub name: String,
    /// Its length in slots.
    pub slots: NonZeroU16,
    /// The resources that can perform it, in the order they are chosen from.
    pub resources: Vec<Slug>,
    /// Slots blocked before it (preparation), not shown to the client.
    pub buffer_before: u16,
    /// Slots blocked after it (cleanup), not shown to the client.
    pub buffer_after: u16,
    /// Overrides the business's minimum notice.
    pub min_notice: Option<Duration>,
    /// Overrides the business's booking horizon.
    pub horizon: Option<Duration>,
}

/// A catalog that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CatalogError {
    /// There must be something to book.
    #[error("at least one resource is needed")]
    NoResources,
    /// Two resources or two services share a slug.
    #[error("the slug '{0}' is used twice")]
    DuplicateSlug(Slug),
    /// A service names a resource that does not exist.
    #[error("service '{service}' names the unknown resource '{resource}'")]
    UnknownResource {
        /// The service.
        service: Slug,
        /// The resource it names.
        resource: Slug,
    },
    /// A service no resource can perform.
    #[error("service '{0}' lists no resource")]
    NoPerformer(Slug),
    /// A date override names a resource that does not exist.
    #[error("an override names the unknown resource '{0}'")]
    UnknownOverride(Slug),
    /// A resource whose every opening range is shorter than one slot.
    #[error(
        "resource '{resource}' would have no slot: every opening range is shorter than {minutes} minutes"
    )]
    NoSlot {
        /// The resource.
        resource: Slug,
        /// The slot length.
        minutes: u16,
    },
    /// A display name that is empty or too long.
    #[error("the name of '{0}' must be 1-100 characters")]
    BadName(Slug),
}

/// Checks that slugs are unique, names are sensible and services name existing resources.
pub(crate) fn validate(resources: &[Resource], services: &[Service]) -> Result<(), CatalogError> {
    if resources.is_empty() {
        return Err(CatalogError::NoResources);
    }
    let slugs_and_names = resources
        .iter()
        .map(|r| (&r.slug, &r.name))
        .chain(services.iter().map(|s| (&s.slug, &s.name)));
    let mut seen_resources = std::collections::HashSet::new();
    let mut seen_services = std::collections::HashSet::new();
    for (index, (slug, name)) in slugs_and_names.enumerate() {
        let seen = if index < resources.len() { &mut seen_resources } else { &mut seen_services };
        if !seen.insert(slug) {
            return Err(CatalogError::DuplicateSlug(slug.clone()));
        }
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(CatalogError::BadName(slug.clone()));
        }
    }
    for service in services {
        if service.resources.is_empty() {
            return Err(CatalogError::NoPerformer(service.slug.clone()));
        }
        if let Some(unknown) = service.resources.iter().find(|r| !seen_resources.contains(r)) {
            return Err(CatalogError::UnknownResource {
                service: service.slug.clone(),
                resource: unknown.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_lowercase_names() {
        for good in ["alice", "room-2", "9", "a-b-c"] {
            assert_eq!(good.parse::<Slug>().unwrap().as_str(), good);
        }
        for bad in ["", "Alice", "-x", "room 2", "ü", &"a".repeat(41)] {
            assert_eq!(bad.parse::<Slug>(), Err(SlugError(bad.to_owned())));
        }
    }
}
