//! The calendar at run time: operators' edits, following the stored calendar, and putting the
//! settings' calendar in force at start-up.

use std::sync::{Arc, PoisonError};

use thiserror::Error;

use super::BookingService;
use crate::{
    calendar::{Calendar, CalendarChange, CalendarFailure, Edit, EditError, StoredCalendar},
    catalog::{CatalogError, Service, Slug},
    pending::Pending,
    repository::Written,
    schedule::Schedule,
    storage::{StorageError, WriteError},
    stranded::Stranded,
    units::SlotLength,
};

#[cfg(doc)]
use crate::catalog::DEFAULT_RESOURCE;

/// Which parts of the calendar the settings give (a flag, a variable or the configuration
/// file), and so put in force at start-up over the stored calendar. A part not given keeps the
/// stored one; a database with no calendar takes the settings whole, defaults included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Given {
    /// The time zone.
    pub time_zone: bool,
    /// The slot length.
    pub slot_length: bool,
    /// The resources and services (a configuration file's): they replace the stored ones.
    pub catalog: bool,
    /// The hours and capacity of the resource [`DEFAULT_RESOURCE`] (the settings' single
    /// resource, without a file's): they replace its stored ones, if the calendar has it, and
    /// leave every other resource and service as stored.
    pub default_resource: bool,
}

impl Given {
    /// Every part: the settings replace the stored calendar.
    pub const ALL: Self =
        Self { time_zone: true, slot_length: true, catalog: true, default_resource: true };
    /// No part: the stored calendar stands.
    pub const NONE: Self =
        Self { time_zone: false, slot_length: false, catalog: false, default_resource: false };
}

/// Why the settings' calendar was not put in force.
#[derive(Debug, Error)]
pub enum AdoptError {
    /// The calendar the settings make would strand or overbook appointments.
    #[error("the settings would strand {} appointment(s)", .0.len())]
    Strands(Vec<Stranded>),
    /// A service's length or buffers are not whole slots of the new slot length.
    #[error(
        "service '{service}' takes {minutes} minutes, not a whole number of {slot}-minute slots; \
         give its services in the configuration file, in the new slot length"
    )]
    NotWholeSlots {
        /// The service.
        service: String,
        /// Its length or buffer, in minutes.
        minutes: u32,
        /// The new slot length, in minutes.
        slot: u16,
    },
    /// The calendar would not hold together.
    #[error(transparent)]
    Invalid(#[from] EditError),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl BookingService {
    /// Applies an operator's edit to the calendar the service follows, as the next version:
    /// refused at once when it does not hold together, then by the store when another change
    /// came first or it would strand or overbook an appointment. Once stored, this service
    /// follows it, and the feed hears that every listing may have changed.
    pub fn edit_calendar(
        &self,
        edit: Edit,
    ) -> Result<Pending<Written<StoredCalendar>, CalendarFailure>, EditError> {
        self.edit_calendar_with(|_| Ok::<_, EditError>(edit))
    }

    /// Applies the edit `build` makes of the schedule followed now (a change to some of an
    /// item's fields keeps the others as they are in that schedule), as
    /// [`edit_calendar`](Self::edit_calendar) does. The store refuses it if another change
    /// was stored since that schedule's version, so no change is lost.
    pub fn edit_calendar_with<E: From<EditError>>(
        &self,
        build: impl FnOnce(&Schedule) -> Result<Edit, E>,
    ) -> Result<Pending<Written<StoredCalendar>, CalendarFailure>, E> {
        self.follow_if_stale();
        let current = self.schedule();
        let calendar = current.calendar().edited(build(&current)?)?;
        Ok(self.watched(self.store_calendar(&current, calendar), |refusal| {
            matches!(refusal, CalendarFailure::Stale { .. })
        }))
    }

    /// Stores `calendar` as the version after `current`'s, and follows it once stored.
    fn store_calendar(
        &self,
        current: &Schedule,
        calendar: Calendar,
    ) -> Pending<Written<StoredCalendar>, CalendarFailure> {
        let stored = StoredCalendar { version: current.version() + 1, calendar };
        let schedule = match current.following(stored) {
            Ok(schedule) => schedule,
            // `edited` and `under_settings` checked it already.
            Err(error) => {
                return Pending::ready(Err(WriteError::Storage(StorageError::fault(
                    error.to_string(),
                ))));
            }
        };
        let change = CalendarChange { after: current.version(), schedule, now: self.now() };
        let following = self.schedule.clone();
        let written = self.repository.store_calendar(change.clone()).then(move |answer| {
            if answer.is_ok() {
                follow(&following, Arc::new(change.schedule.clone()));
            }
        });
        self.followed(written)
    }

    /// Follows the stored calendar, if it is another version than the one followed now (a
    /// change another server made; or, after a database was restored, an earlier one).
    /// Answers whether it changed.
    pub fn reload_calendar(&self) -> Result<bool, StorageError> {
        let Some(stored) = self.repository.calendar()? else { return Ok(false) };
        let current = self.schedule();
        if stored.version == current.version() {
            return Ok(false);
        }
        let next = current.following(stored).map_err(|e| stored_invalid(&e))?;
        let mut following = self.schedule.write().unwrap_or_else(PoisonError::into_inner);
        // Unless this server stored that very version meanwhile.
        if following.version() == next.version() {
            return Ok(false);
        }
        *following = Arc::new(next);
        Ok(true)
    }

    /// The schedule the settings would put in force (see
    /// [`adopt_calendar`](Self::adopt_calendar)), worked out but not stored.
    pub fn settings_schedule(&self, given: Given) -> Result<Schedule, AdoptError> {
        Ok(self.settings_over_stored(given)?.0)
    }

    /// The schedule the parts `given` names of this service's schedule make over the stored
    /// calendar, with the stored calendar (as a schedule) if there is one.
    fn settings_over_stored(
        &self,
        given: Given,
    ) -> Result<(Schedule, Option<Schedule>), AdoptError> {
        let settings = self.schedule();
        let Some(stored) = self.repository.calendar()? else {
            settings.calendar().check().map_err(EditError::from)?;
            return Ok(((*settings).clone(), None));
        };
        let target = under_settings(&stored.calendar, &settings.calendar(), given)?;
        target.check().map_err(EditError::from)?;
        let version = stored.version;
        let stored = settings.following(stored).map_err(|e| stored_invalid(&e))?;
        let target = settings
            .following(StoredCalendar { version, calendar: target })
            .map_err(|e| stored_invalid(&e))?;
        Ok((target, Some(stored)))
    }

    /// Puts in force the parts of the calendar of the schedule this service was built with
    /// that `given` names, over the stored calendar (all of it on a database that has none),
    /// checked by the store like an operator's edit; then follows the result. Run at start-up,
    /// before the service takes a request.
    pub fn adopt_calendar(&self, given: Given) -> Result<StoredCalendar, AdoptError> {
        let settings = self.schedule();
        // Another server may store a calendar between the read and the write: read again.
        let mut attempts = 0;
        loop {
            let (target, stored) = self.settings_over_stored(given)?;
            if let Some(stored) = &stored
                && stored.calendar() == target.calendar()
            {
                follow(&self.schedule, Arc::new(stored.clone()));
                return Ok(StoredCalendar {
                    version: stored.version(),
                    calendar: target.calendar(),
                });
            }
            let base = stored.unwrap_or_else(|| (*settings).clone());
            match self.store_calendar(&base, target.calendar()).wait() {
                Ok(written) => return Ok(written.outcome),
                Err(WriteError::Refused(CalendarFailure::Strands(stranded))) => {
                    return Err(AdoptError::Strands(stranded));
                }
                Err(WriteError::Refused(CalendarFailure::Stale { .. })) if attempts < 3 => {
                    attempts += 1;
                }
                Err(WriteError::Refused(CalendarFailure::Stale { .. })) => {
                    return Err(StorageError::unavailable(
                        "other servers kept changing the calendar while this one started; \
                         start it again",
                    )
                    .into());
                }
                Err(WriteError::KeyReused) => {
                    return Err(StorageError::fault("a calendar write took no key").into());
                }
                Err(WriteError::Storage(error)) => return Err(error.into()),
            }
        }
    }
}

/// Follows `next` unless a later version is followed already (two changes answered out of
/// order). Answers whether it did.
fn follow(following: &std::sync::RwLock<Arc<Schedule>>, next: Arc<Schedule>) -> bool {
    let mut current = following.write().unwrap_or_else(PoisonError::into_inner);
    if next.version() <= current.version() {
        return false;
    }
    *current = next;
    true
}

fn stored_invalid(error: &CatalogError) -> StorageError {
    StorageError::fault(format!("the stored calendar does not hold together: {error}"))
}

/// The stored calendar with the parts `given` names taken from `settings`. Services keep
/// their minutes, whichever slot length is in force.
fn under_settings(
    stored: &Calendar,
    settings: &Calendar,
    given: Given,
) -> Result<Calendar, AdoptError> {
    let slot_length = if given.slot_length { settings.slot_length } else { stored.slot_length };
    let mut next = stored.clone();
    next.slot_length = slot_length;
    if given.time_zone {
        next.time_zone = settings.time_zone;
    }
    let (services, counted_in) = if given.catalog {
        next.resources = settings.resources.clone();
        next.overrides.retain(|o| next.resources.iter().any(|r| r.slug == o.resource));
        (&settings.services, settings.slot_length)
    } else {
        if given.default_resource {
            let default = Slug::default_resource();
            let wanted = settings.resources.iter().find(|r| r.slug == default);
            let kept = next.resources.iter_mut().find(|r| r.slug == default);
            if let (Some(wanted), Some(kept)) = (wanted, kept) {
                kept.hours = wanted.hours.clone();
                kept.capacity = wanted.capacity;
            }
        }
        (&stored.services, stored.slot_length)
    };
    next.services = services
        .iter()
        .map(|s| in_slots_of(s, counted_in, slot_length))
        .collect::<Result<_, _>>()?;
    Ok(next)
}

/// `service` with its length and buffers, in minutes, counted in slots of `to`.
fn in_slots_of(service: &Service, from: SlotLength, to: SlotLength) -> Result<Service, AdoptError> {
    let convert = |slots: u16| {
        let minutes = u32::from(slots) * u32::from(from.minutes());
        to.slots_in(minutes).map_err(|_| AdoptError::NotWholeSlots {
            service: service.slug.to_string(),
            minutes,
            slot: to.minutes(),
        })
    };
    // A whole, non-zero number of minutes is at least one slot.
    let slots = std::num::NonZeroU16::new(convert(service.slots.get())?).unwrap_or(service.slots);
    Ok(Service {
        slots,
        buffer_before: convert(service.buffer_before)?,
        buffer_after: convert(service.buffer_after)?,
        ..service.clone()
    })
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU16;

    use super::*;
    use crate::{
        calendar::Edit, catalog::Resource, clock::ManualClock, memory::InMemoryRepository,
        repository::Calendars, units::Capacity,
    };

    /// One resource open 09:00-17:00 with `minutes`-long slots, and a one-hour service.
    fn settings(minutes: u32, hours: &str) -> Schedule {
        let schedule = Schedule::new(
            chrono_tz::UTC,
            hours.parse().unwrap(),
            SlotLength::from_minutes(minutes).unwrap(),
            Capacity::ONE,
        );
        let resources = schedule.resources().to_vec();
        let hour = Service {
            slug: "hour".parse().unwrap(),
            name: "An hour".into(),
            slots: NonZeroU16::new(u16::try_from(60 / minutes).unwrap()).unwrap(),
            resources: vec![resources[0].slug.clone()],
            buffer_before: 0,
            buffer_after: 0,
            min_notice: None,
            horizon: None,
        };
        schedule.with_catalog(resources, vec![hour]).unwrap()
    }

    fn service_on(repository: &Arc<InMemoryRepository>, schedule: Schedule) -> BookingService {
        let clock = Arc::new(ManualClock::new("2030-01-01T08:00:00Z".parse().unwrap()));
        BookingService::new(repository.clone(), clock, schedule)
    }

    #[test]
    fn the_settings_seed_an_empty_store_and_then_only_what_they_give() {
        let repository = Arc::new(InMemoryRepository::new());
        let first = service_on(&repository, settings(30, "09:00-17:00"));
        let stored = first.adopt_calendar(Given::NONE).unwrap();
        assert_eq!(
            (stored.version, &stored.calendar),
            (1, &settings(30, "09:00-17:00").calendar())
        );
        assert_eq!(first.schedule().version(), 1);

        let quiet = service_on(&repository, settings(30, "10:00-12:00"));
        assert_eq!(quiet.adopt_calendar(Given::NONE).unwrap().version, 1, "nothing given");
        assert_eq!(quiet.schedule().resources()[0].hours.to_string(), "09:00-17:00");

        let longer = service_on(&repository, settings(60, "10:00-12:00"));
        let slots_only = Given { slot_length: true, ..Given::NONE };
        let stored = longer.adopt_calendar(slots_only).unwrap();
        assert_eq!(stored.version, 2);
        assert_eq!(stored.calendar.slot_length.minutes(), 60);
        assert_eq!(stored.calendar.resources[0].hours.to_string(), "09:00-17:00");
        assert_eq!(stored.calendar.services[0].slots.get(), 1, "the hour stays an hour");

        // The settings' services are counted in their own slot length, and keep their minutes
        // under the stored one.
        let catalog_only = Given { catalog: true, ..Given::NONE };
        let stored = service_on(&repository, settings(30, "09:00-17:00"))
            .adopt_calendar(catalog_only)
            .unwrap();
        assert_eq!(stored.calendar.slot_length.minutes(), 60, "the stored length stands");
        assert_eq!(stored.calendar.services[0].slots.get(), 1, "the settings' hour is an hour");

        // The hours and capacity alone change the default resource, and nothing else.
        let room = Resource {
            slug: "room".parse().unwrap(),
            name: "Room".into(),
            hours: "09:00-12:00".parse().unwrap(),
            capacity: Capacity::ONE,
        };
        longer.adopt_calendar(Given::NONE).unwrap();
        longer.edit_calendar(Edit::AddResource(room.clone())).unwrap().wait().unwrap();
        let hours_only = Given { default_resource: true, ..Given::NONE };
        let stored = service_on(&repository, settings(60, "08:00-18:00"))
            .adopt_calendar(hours_only)
            .unwrap();
        assert_eq!(stored.calendar.resources[0].hours.to_string(), "08:00-18:00");
        assert_eq!(stored.calendar.resources[1], room, "the resource added stays");
        assert_eq!(stored.calendar.services.len(), 1, "the services stay");
        let version = stored.version;

        let odd = service_on(&repository, settings(45, "09:00-17:00"));
        assert!(matches!(
            odd.adopt_calendar(slots_only),
            Err(AdoptError::NotWholeSlots { minutes: 60, slot: 45, .. })
        ));
        assert_eq!(repository.calendar().unwrap().unwrap().version, version, "nothing stored");
    }

    #[test]
    fn an_edit_is_followed_here_at_once_and_elsewhere_on_reload() {
        let repository = Arc::new(InMemoryRepository::new());
        let here = service_on(&repository, settings(30, "09:00-17:00"));
        let elsewhere = service_on(&repository, settings(30, "09:00-17:00"));
        here.adopt_calendar(Given::ALL).unwrap();
        assert!(elsewhere.reload_calendar().unwrap());
        let room = Resource {
            slug: "room".parse().unwrap(),
            name: "Room".into(),
            hours: "09:00-12:00".parse().unwrap(),
            capacity: Capacity::ONE,
        };
        let written = here.edit_calendar(Edit::AddResource(room)).unwrap().wait().unwrap();
        assert_eq!(written.changed, crate::change::Change::Everything);
        assert_eq!((written.outcome.version, here.schedule().version()), (2, 2));
        assert_eq!(here.schedule().resources().len(), 2);
        assert_eq!(elsewhere.schedule().resources().len(), 1, "not yet heard of");
        assert!(elsewhere.reload_calendar().unwrap());
        assert_eq!(elsewhere.schedule().resources()[1].slug.as_str(), "room");
        assert!(!elsewhere.reload_calendar().unwrap(), "already following it");
        // An edit made to the version before is refused, however it came.
        let stale = service_on(&repository, settings(30, "09:00-17:00"));
        let refused = stale.edit_calendar(Edit::RemoveService("hour".parse().unwrap()));
        assert!(matches!(
            refused.unwrap().wait(),
            Err(WriteError::Refused(CalendarFailure::Stale { current: 2 }))
        ));
    }

    /// A server that missed a change's notice has its next write refused, then follows the
    /// stored calendar: the write after succeeds.
    #[test]
    fn a_write_refused_under_a_replaced_calendar_makes_the_next_follow_it() {
        let repository = Arc::new(InMemoryRepository::new());
        let here = service_on(&repository, settings(30, "09:00-17:00"));
        let deaf = service_on(&repository, settings(30, "09:00-17:00"));
        here.adopt_calendar(Given::ALL).unwrap();
        deaf.adopt_calendar(Given::NONE).unwrap();
        let hours = Edit::SetOverride(crate::calendar::Override {
            resource: "default".parse().unwrap(),
            date: "2030-01-08".parse().unwrap(),
            hours: "13:00-17:00".parse().unwrap(),
        });
        here.edit_calendar(hours).unwrap().wait().unwrap();
        let request = || crate::service::BookRequest {
            client_name: crate::client::ClientName::parse("Ada").unwrap(),
            notes: None,
            contact: crate::contact::Contact::default(),
            slot: crate::service::SlotRequest {
                date: "2030-01-07".parse().unwrap(),
                time: "10:00:00".parse().unwrap(),
                resource: None,
                service: None,
            },
            hold: None,
        };
        let refused = deaf.book(request(), None).unwrap().wait();
        assert!(matches!(
            refused,
            Err(WriteError::Refused(crate::repository::BookFailure::Unavailable(
                crate::admission::Unavailable::CalendarChanged
            )))
        ));
        deaf.book(request(), None).unwrap().wait().unwrap();
        assert_eq!(deaf.schedule().version(), 2);
    }
}
