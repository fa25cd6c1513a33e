//! The business's calendar as every server follows it: the time zone, the slot length, the
//! resources with their weekly hours and dated overrides, and the services. It is stored, and
//! changed at run time by operators (or by the settings at start-up), one version after
//! another; a change that would strand or overbook an appointment is refused by the store in
//! the transaction that would make it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use thiserror::Error;

use crate::{
    admission::Unavailable,
    catalog::{CatalogError, Resource, Service, Slug, validate},
    hours::DayHours,
    placement::Placement,
    schedule::Schedule,
    stranded::Stranded,
    units::SlotLength,
};

/// Refuses candidates placed under another version than `stored`, the version stored now: a
/// store calls it in the transaction that would take their places.
pub fn placed_under(candidates: &[Placement], stored: u64) -> Result<(), Unavailable> {
    if candidates.iter().all(|c| c.calendar == stored) {
        Ok(())
    } else {
        Err(Unavailable::CalendarChanged)
    }
}

/// A calendar to store.
#[derive(Debug, Clone)]
pub struct CalendarChange {
    /// The version it replaces (0: none is stored).
    pub after: u64,
    /// The schedule of the new calendar, by which appointments are checked.
    pub schedule: Schedule,
    /// When: appointments that have ended by then are not checked.
    pub now: DateTime<Utc>,
}

/// What decides which slots exist: the same on every server of one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// The business's time zone.
    pub time_zone: Tz,
    /// The slot length.
    pub slot_length: SlotLength,
    /// The resources, in the order they are chosen from.
    pub resources: Vec<Resource>,
    /// The services.
    pub services: Vec<Service>,
    /// Dates whose hours replace their weekday's, by resource and date.
    pub overrides: Vec<Override>,
}

/// One date's hours of one resource, replacing its weekday's: an extra opening on a closed
/// day, shorter hours, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The resource.
    pub resource: Slug,
    /// The local date.
    pub date: NaiveDate,
    /// Its hours that day.
    pub hours: DayHours,
}

/// A calendar as stored, with its version (1 for the first stored, one more for each change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCalendar {
    /// The version.
    pub version: u64,
    /// The calendar.
    pub calendar: Calendar,
}

/// One operator's change to the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Adds a resource, last in the order.
    AddResource(Resource),
    /// Replaces the resource with the same slug, keeping its place in the order.
    ReplaceResource(Resource),
    /// Removes a resource and its overrides.
    RemoveResource(Slug),
    /// Adds a service.
    AddService(Service),
    /// Replaces the service with the same slug.
    ReplaceService(Service),
    /// Removes a service.
    RemoveService(Slug),
    /// Sets (or replaces) one date's hours of a resource.
    SetOverride(Override),
    /// Removes one date's override.
    RemoveOverride {
        /// The resource.
        resource: Slug,
        /// The date.
        date: NaiveDate,
    },
    /// Replaces the whole calendar (the settings, at start-up).
    Replace(Calendar),
}

/// Why an edit cannot apply to the calendar as it is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EditError {
    /// A resource with this slug exists.
    #[error("there is already a resource '{0}'; PATCH /admin/resources/{0} changes it")]
    ResourceExists(Slug),
    /// No resource has this slug.
    #[error("there is no resource '{0}'; GET /admin/resources lists them")]
    NoSuchResource(Slug),
    /// A service with this slug exists.
    #[error("there is already a service '{0}'; PATCH /admin/services/{0} changes it")]
    ServiceExists(Slug),
    /// No service has this slug.
    #[error("there is no service '{0}'; GET /admin/services lists them")]
    NoSuchService(Slug),
    /// The resource has no override on this date.
    #[error("resource '{resource}' has no override on {date}")]
    NoSuchOverride {
        /// The resource.
        resource: Slug,
        /// The date.
        date: NaiveDate,
    },
    /// Services still name the resource being removed.
    #[error(
        "services still performed by '{resource}' name it: {}; change their resources first",
        services.iter().map(Slug::as_str).collect::<Vec<_>>().join(", ")
    )]
    StillPerforms {
        /// The resource.
        resource: Slug,
        /// The services that name it.
        services: Vec<Slug>,
    },
    /// The result would not hold together.
    #[error(transparent)]
    Invalid(#[from] CatalogError),
}

impl Calendar {
    /// The calendar `edit` makes of this one, checked to hold together (but not against
    /// appointments: the store does that, when it stores it).
    pub fn edited(&self, edit: Edit) -> Result<Self, EditError> {
        let mut next = self.clone();
        match edit {
            Edit::AddResource(resource) => {
                if next.resources.iter().any(|r| r.slug == resource.slug) {
                    return Err(EditError::ResourceExists(resource.slug));
                }
                next.resources.push(resource);
            }
            Edit::ReplaceResource(resource) => {
                let slot = next
                    .resources
                    .iter_mut()
                    .find(|r| r.slug == resource.slug)
                    .ok_or_else(|| EditError::NoSuchResource(resource.slug.clone()))?;
                *slot = resource;
            }
            Edit::RemoveResource(slug) => {
                if !next.resources.iter().any(|r| r.slug == slug) {
                    return Err(EditError::NoSuchResource(slug));
                }
                let services: Vec<Slug> = next
                    .services
                    .iter()
                    .filter(|s| s.resources.contains(&slug))
                    .map(|s| s.slug.clone())
                    .collect();
                if !services.is_empty() {
                    return Err(EditError::StillPerforms { resource: slug, services });
                }
                next.resources.retain(|r| r.slug != slug);
                next.overrides.retain(|o| o.resource != slug);
            }
            Edit::AddService(service) => {
                if next.services.iter().any(|s| s.slug == service.slug) {
                    return Err(EditError::ServiceExists(service.slug));
                }
                next.services.push(service);
            }
            Edit::ReplaceService(service) => {
                let slot = next
                    .services
                    .iter_mut()
                    .find(|s| s.slug == service.slug)
                    .ok_or_else(|| EditError::NoSuchService(service.slug.clone()))?;
                *slot = service;
            }
            Edit::RemoveService(slug) => {
                if !next.services.iter().any(|s| s.slug == slug) {
                    return Err(EditError::NoSuchService(slug));
                }
                next.services.retain(|s| s.slug != slug);
            }
            Edit::SetOverride(change) => {
                if !next.resources.iter().any(|r| r.slug == change.resource) {
                    return Err(EditError::NoSuchResource(change.resource));
                }
                next.overrides.retain(|o| (&o.resource, o.date) != (&change.resource, change.date));
                next.overrides.push(change);
            }
            Edit::RemoveOverride { resource, date } => {
                let before = next.overrides.len();
                next.overrides.retain(|o| (&o.resource, o.date) != (&resource, date));
                if next.overrides.len() == before {
                    return Err(EditError::NoSuchOverride { resource, date });
                }
            }
            Edit::Replace(calendar) => {
                next = calendar;
                // Overrides stay with the resources that stay.
                let kept: Vec<Override> = self
                    .overrides
                    .iter()
                    .filter(|o| next.resources.iter().any(|r| r.slug == o.resource))
                    .filter(|o| {
                        !next
                            .overrides
                            .iter()
                            .any(|n| (&n.resource, n.date) == (&o.resource, o.date))
                    })
                    .cloned()
                    .collect();
                next.overrides.extend(kept);
            }
        }
        next.overrides.sort_by(|a, b| (&a.resource, a.date).cmp(&(&b.resource, b.date)));
        next.check()?;
        Ok(next)
    }

    /// Checks that the catalog holds together, every override names a resource, and every
    /// resource has at least one slot in its week.
    pub fn check(&self) -> Result<(), CatalogError> {
        validate(&self.resources, &self.services)?;
        if let Some(stray) =
            self.overrides.iter().find(|o| !self.resources.iter().any(|r| r.slug == o.resource))
        {
            return Err(CatalogError::UnknownOverride(stray.resource.clone()));
        }
        let length = self.slot_length.minutes();
        if let Some(resource) = self.resources.iter().find(|r| {
            r.hours.days().all(|(_, ranges)| {
                ranges.iter().all(|range| range.end().get() - range.start().get() < length)
            })
        }) {
            return Err(CatalogError::NoSlot { resource: resource.slug.clone(), minutes: length });
        }
        Ok(())
    }
}

/// Why a calendar was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarFailure {
    /// Another change was stored first: the edit was made to an older version.
    #[error("the calendar changed meanwhile (it is at version {current}); read it and try again")]
    Stale {
        /// The version stored now.
        current: u64,
    },
    /// It would strand or overbook appointments that have not ended.
    #[error("the change would strand {} appointment(s) that have not ended", .0.len())]
    Strands(Vec<Stranded>),
}

impl Schedule {
    /// The calendar this schedule follows.
    pub fn calendar(&self) -> Calendar {
        let mut calendar = Calendar {
            time_zone: self.time_zone(),
            slot_length: self.slot_length(),
            resources: self.resources().to_vec(),
            services: self.services().to_vec(),
            overrides: self
                .resources()
                .iter()
                .flat_map(|r| {
                    self.overrides_of(&r.slug).map(|(date, hours)| Override {
                        resource: r.slug.clone(),
                        date,
                        hours: hours.clone(),
                    })
                })
                .collect(),
        };
        // One order for every copy: by resource slug, then date.
        calendar.overrides.sort_by(|a, b| (&a.resource, a.date).cmp(&(&b.resource, b.date)));
        calendar
    }

    /// This schedule's business rules (notice, horizon) over `stored`.
    pub fn following(&self, stored: StoredCalendar) -> Result<Self, CatalogError> {
        let StoredCalendar { version, calendar } = stored;
        calendar.check()?;
        let mut overrides: HashMap<Slug, BTreeMap<NaiveDate, DayHours>> = HashMap::new();
        for o in calendar.overrides {
            overrides.entry(o.resource).or_default().insert(o.date, o.hours);
        }
        Ok(self.with_calendar_parts(
            calendar.time_zone,
            calendar.slot_length,
            calendar.resources,
            calendar.services,
            overrides,
            version,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Capacity;

    fn calendar() -> Calendar {
        Schedule::default().calendar()
    }

    fn resource(slug: &str, hours: &str) -> Resource {
        Resource {
            slug: slug.parse().unwrap(),
            name: slug.to_uppercase(),
            hours: hours.parse().unwrap(),
            capacity: Capacity::ONE,
        }
    }

    #[test]
    fn edits_add_replace_and_remove_and_say_why_not() {
        let alice = resource("alice", "mon-fri 09:00-17:00");
        let with_alice = calendar().edited(Edit::AddResource(alice.clone())).unwrap();
        assert_eq!(with_alice.resources[1], alice);
        assert_eq!(
            with_alice.edited(Edit::AddResource(alice.clone())),
            Err(EditError::ResourceExists(alice.slug.clone()))
        );
        let later = resource("alice", "mon-fri 10:00-18:00");
        let replaced = with_alice.edited(Edit::ReplaceResource(later.clone())).unwrap();
        assert_eq!(replaced.resources[1], later);
        let bob: Slug = "bob".parse().unwrap();
        assert_eq!(
            replaced.edited(Edit::RemoveResource(bob.clone())),
            Err(EditError::NoSuchResource(bob))
        );
        let removed = replaced.edited(Edit::RemoveResource(alice.slug.clone())).unwrap();
        assert_eq!(removed, calendar());
    }

    #[test]
    fn a_resource_a_service_names_is_not_removed() {
        let mut with_service = calendar();
        with_service.services.push(Service {
            slug: "cut".parse().unwrap(),
            name: "Cut".into(),
            slots: std::num::NonZeroU16::MIN,
            resources: vec!["default".parse().unwrap()],
            buffer_before: 0,
            buffer_after: 0,
            min_notice: None,
            horizon: None,
        });
        with_service.resources.push(resource("alice", "09:00-17:00"));
        assert_eq!(
            with_service.edited(Edit::RemoveResource("default".parse().unwrap())),
            Err(EditError::StillPerforms {
                resource: "default".parse().unwrap(),
                services: vec!["cut".parse().unwrap()],
            })
        );
    }

    #[test]
    fn overrides_are_set_replaced_and_removed_with_their_resource() {
        let alice = resource("alice", "mon-fri 09:00-17:00");
        let date: NaiveDate = "2030-01-12".parse().unwrap();
        let set = |hours: &str| {
            Edit::SetOverride(Override {
                resource: alice.slug.clone(),
                date,
                hours: hours.parse().unwrap(),
            })
        };
        let base = calendar().edited(Edit::AddResource(alice.clone())).unwrap();
        let open = base.edited(set("10:00-12:00")).unwrap().edited(set("11:00-12:00")).unwrap();
        assert_eq!(open.overrides.len(), 1);
        assert_eq!(open.overrides[0].hours.to_string(), "11:00-12:00");
        let nobody: Slug = "nobody".parse().unwrap();
        assert_eq!(
            open.edited(Edit::SetOverride(Override {
                resource: nobody.clone(),
                date,
                hours: DayHours::default()
            })),
            Err(EditError::NoSuchResource(nobody))
        );
        assert_eq!(open.edited(Edit::RemoveResource(alice.slug.clone())).unwrap().overrides, []);
        let removed =
            open.edited(Edit::RemoveOverride { resource: alice.slug.clone(), date }).unwrap();
        assert_eq!(removed, base);
        assert_eq!(
            removed.edited(Edit::RemoveOverride { resource: alice.slug.clone(), date }),
            Err(EditError::NoSuchOverride { resource: alice.slug, date })
        );
    }

    #[test]
    fn a_resource_without_a_slot_is_refused() {
        let short = resource("short", "09:00-09:20");
        assert_eq!(
            calendar().edited(Edit::AddResource(short)),
            Err(EditError::Invalid(CatalogError::NoSlot {
                resource: "short".parse().unwrap(),
                minutes: 30
            }))
        );
    }

    #[test]
    fn a_schedule_follows_a_stored_calendar_and_gives_it_back() {
        let date: NaiveDate = "2030-01-12".parse().unwrap(); // a Saturday
        let mut calendar = calendar();
        calendar.overrides.push(Override {
            resource: "default".parse().unwrap(),
            date,
            hours: "10:00-11:00".parse().unwrap(),
        });
        let schedule = Schedule::default()
            .following(StoredCalendar { version: 7, calendar: calendar.clone() })
            .unwrap();
        assert_eq!(schedule.version(), 7);
        assert_eq!(schedule.calendar(), calendar);
        let resource = &schedule.resources()[0];
        let starts: Vec<String> =
            schedule.slots_on(date, resource).map(|(time, _)| time.to_string()).collect();
        assert_eq!(starts, ["10:00:00", "10:30:00"]);
        let placed = schedule.place(date, "10:30:00".parse().unwrap(), resource, None).unwrap();
        assert_eq!(placed.calendar, 7);
        assert!(schedule.place(date, "09:00:00".parse().unwrap(), resource, None).is_err());
    }
}
