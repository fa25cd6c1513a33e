//! The configuration file (`--config` / `BOOKING_CONFIG`): the business's resources and
//! services, and any business-wide setting, in TOML. Settings the file leaves out come from the
//! flags and environment variables.

use std::{num::NonZeroU16, path::Path};

use booking_core::{
    catalog::{Resource, Service, Slug},
    hours::WeeklyHours,
    schedule::Schedule,
    units::{Capacity, SlotLength},
};
use chrono::Duration;
use chrono_tz::Tz;
use serde::Deserialize;

/// The file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// Business-wide opening hours, inherited by resources that set none.
    pub opening_hours: Option<String>,
    /// Slot length in minutes.
    pub slot_minutes: Option<u32>,
    /// Business-wide capacity per slot, inherited by resources that set none.
    pub capacity: Option<u32>,
    /// Business-wide minimum notice.
    pub min_notice_minutes: Option<u32>,
    /// Business-wide booking horizon.
    pub horizon_days: Option<u16>,
    /// How long holds last.
    pub hold_minutes: Option<u32>,
    /// The resources, in the order they are chosen from.
    #[serde(default)]
    pub resources: Vec<ResourceConfig>,
    /// The services.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
}

/// One `[[resources]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    /// URL-safe name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Its own opening hours.
    pub opening_hours: Option<String>,
    /// Its own capacity per slot.
    pub capacity: Option<u32>,
}

/// One `[[services]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// URL-safe name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Length: a whole number of slots.
    pub minutes: u32,
    /// Resources that perform it, in order of preference (default: every resource).
    pub resources: Option<Vec<String>>,
    /// Preparation before, blocking the resource (a whole number of slots).
    #[serde(default)]
    pub buffer_before_minutes: u32,
    /// Cleanup after, blocking the resource (a whole number of slots).
    #[serde(default)]
    pub buffer_after_minutes: u32,
    /// Overrides the business's minimum notice.
    pub min_notice_minutes: Option<u32>,
    /// Overrides the business's booking horizon.
    pub horizon_days: Option<u16>,
}

/// A configuration file that cannot be used; the message names the file and the setting.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FileError {
    path: String,
    message: String,
}

/// The defaults a file's missing settings fall back to.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Time zone.
    pub time_zone: Tz,
    /// Opening hours.
    pub hours: WeeklyHours,
    /// Slot length.
    pub slot_length: SlotLength,
    /// Capacity per slot.
    pub capacity: Capacity,
    /// Minimum notice.
    pub min_notice: Duration,
    /// Booking horizon.
    pub horizon: Option<Duration>,
    /// Hold duration.
    pub hold: Duration,
}

impl FileConfig {
    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<Self, FileError> {
        let error = |message: String| FileError { path: path.display().to_string(), message };
        let text =
            std::fs::read_to_string(path).map_err(|e| error(format!("cannot read it: {e}")))?;
        toml::from_str(&text).map_err(|e| error(e.message().to_owned()))
    }

    /// The schedule and hold duration the file describes over `defaults`.
    pub fn resolve(
        self,
        defaults: Defaults,
        path: &Path,
    ) -> Result<(Schedule, Duration), FileError> {
        let error = |message: String| FileError { path: path.display().to_string(), message };
        let parse_slug = |text: &str| text.parse::<Slug>().map_err(|e| error(e.to_string()));
        let parse_hours = |text: &str| {
            text.parse::<WeeklyHours>().map_err(|e| error(format!("opening_hours: {e}")))
        };
        let capacity = |n: u32| Capacity::new(n).map_err(|e| error(e.to_string()));
        let time_zone = match &self.time_zone {
            Some(zone) => zone
                .parse::<Tz>()
                .map_err(|_| error(format!("time_zone: '{zone}' is not an IANA time zone")))?,
            None => defaults.time_zone,
        };
        let slot_length = match self.slot_minutes {
            Some(minutes) => SlotLength::from_minutes(minutes).map_err(|e| error(e.to_string()))?,
            None => defaults.slot_length,
        };
        let hours = match &self.opening_hours {
            Some(text) => parse_hours(text)?,
            None => defaults.hours,
        };
        let business_capacity = match self.capacity {
            Some(n) => capacity(n)?,
            None => defaults.capacity,
        };
        let mut schedule = Schedule::new(time_zone, hours.clone(), slot_length, business_capacity)
            .with_min_notice(self.min_notice_minutes.map_or(defaults.min_notice, minutes))
            .with_horizon(self.horizon_days.map(days).or(defaults.horizon));
        let resources = self
            .resources
            .iter()
            .map(|r| {
                Ok(Resource {
                    slug: parse_slug(&r.slug)?,
                    name: r.name.clone(),
                    hours: r
                        .opening_hours
                        .as_deref()
                        .map(parse_hours)
                        .transpose()?
                        .unwrap_or_else(|| hours.clone()),
                    capacity: r.capacity.map(capacity).transpose()?.unwrap_or(business_capacity),
                })
            })
            .collect::<Result<Vec<_>, FileError>>()?;
        let resources =
            if resources.is_empty() { schedule.resources().to_vec() } else { resources };
        let slot = u32::from(slot_length.minutes());
        let in_slots = |what: &str, service: &str, minutes: u32| {
            if minutes.is_multiple_of(slot) {
                u16::try_from(minutes / slot)
                    .map_err(|_| error(format!("service '{service}': {what} is too long")))
            } else {
                Err(error(format!(
                    "service '{service}': {what} = {minutes} is not a whole number of {slot}-minute slots"
                )))
            }
        };
        let services = self
            .services
            .iter()
            .map(|s| {
                let length = in_slots("minutes", &s.slug, s.minutes)?;
                Ok(Service {
                    slug: parse_slug(&s.slug)?,
                    name: s.name.clone(),
                    slots: NonZeroU16::new(length).ok_or_else(|| {
                        error(format!("service '{}': minutes must be at least one slot", s.slug))
                    })?,
                    resources: match &s.resources {
                        Some(list) => {
                            list.iter().map(|r| parse_slug(r)).collect::<Result<_, _>>()?
                        }
                        None => resources.iter().map(|r| r.slug.clone()).collect(),
                    },
                    buffer_before: in_slots(
                        "buffer_before_minutes",
                        &s.slug,
                        s.buffer_before_minutes,
                    )?,
                    buffer_after: in_slots(
                        "buffer_after_minutes",
                        &s.slug,
                        s.buffer_after_minutes,
                    )?,
                    min_notice: s.min_notice_minutes.map(minutes),
                    horizon: s.horizon_days.map(days),
                })
            })
            .collect::<Result<Vec<_>, FileError>>()?;
        schedule = schedule.with_catalog(resources, services).map_err(|e| error(e.to_string()))?;
        let hold = self.hold_minutes.map_or(defaults.hold, minutes);
        if hold <= Duration::zero() {
            return Err(error("hold_minutes must be at least 1".to_owned()));
        }
        Ok((schedule, hold))
    }
}

fn minutes(n: u32) -> Duration {
    Duration::minutes(i64::from(n))
}

fn days(n: u16) -> Duration {
    Duration::days(i64::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            time_zone: Tz::UTC,
            hours: WeeklyHours::default(),
            slot_length: SlotLength::from_minutes(30).unwrap(),
            capacity: Capacity::new(1).unwrap(),
            min_notice: Duration::zero(),
            horizon: None,
            hold: Duration::minutes(5),
        }
    }

    fn resolve(text: &str) -> Result<(Schedule, Duration), FileError> {
        toml::from_str::<FileConfig>(text)
            .map_err(|e| FileError { path: "test.toml".into(), message: e.message().to_owned() })?
            .resolve(defaults(), Path::new("test.toml"))
    }

    const SALON: &str = r#"
        time_zone = "Europe/Berlin"
        opening_hours = "mon-fri 09:00-12:00,13:00-17:00"
        hold_minutes = 10

        [[resources]]
        slug = "alice"
        name = "Alice"

        [[resources]]
        slug = "room-2"
        name = "Room 2"
        opening_hours = "sat 10:00-14:00"
        capacity = 3

        [[services]]
        slug = "colouring"
        name = "Colouring"
        minutes = 90
        resources = ["room-2", "alice"]
        buffer_after_minutes = 30
        min_notice_minutes = 1440

        [[services]]
        slug = "haircut"
        name = "Haircut"
        minutes = 30
    "#;

    #[test]
    fn a_salon_file_describes_resources_and_services() {
        let (schedule, hold) = resolve(SALON).unwrap();
        assert_eq!(hold, Duration::minutes(10));
        assert_eq!(schedule.time_zone(), chrono_tz::Europe::Berlin);
        let alice = &schedule.resources()[0];
        assert_eq!((alice.slug.as_str(), alice.capacity.get()), ("alice", 1));
        assert_eq!(
            alice.hours.to_string(),
            "mon 09:00-12:00,13:00-17:00; tue 09:00-12:00,13:00-17:00; wed 09:00-12:00,13:00-17:00; thu 09:00-12:00,13:00-17:00; fri 09:00-12:00,13:00-17:00"
        );
        assert_eq!(schedule.resources()[1].capacity.get(), 3);
        let colouring = &schedule.services()[0];
        assert_eq!((colouring.slots.get(), colouring.buffer_after), (3, 1));
        assert_eq!(colouring.min_notice, Some(Duration::days(1)));
        let haircut = &schedule.services()[1];
        let performers: Vec<&str> = haircut.resources.iter().map(Slug::as_str).collect();
        assert_eq!(performers, ["alice", "room-2"]);
    }

    #[test]
    fn the_readme_example_is_a_valid_file() {
        let readme = include_str!("../../../README.md");
        let example =
            readme.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
        let (schedule, hold) = resolve(example).unwrap();
        assert_eq!(hold, Duration::minutes(5));
        assert_eq!(schedule.resources().len(), 3);
        assert_eq!(schedule.services().len(), 2);
        assert_eq!(schedule.service(&"colouring".parse().unwrap()).unwrap().buffer_after, 1);
    }

    #[test]
    fn a_file_without_resources_keeps_the_single_resource() {
        let (schedule, _) = resolve("capacity = 2").unwrap();
        assert_eq!(schedule.resources().len(), 1);
        assert_eq!(schedule.resources()[0].capacity.get(), 2);
    }

    #[test]
    fn mistakes_name_the_setting() {
        for (text, expected) in [
            ("colour = 1", "unknown field `colour`"),
            ("time_zone = \"Mars/Olympus\"", "time_zone: 'Mars/Olympus' is not an IANA time zone"),
            (
                "[[services]]\nslug = \"x\"\nname = \"X\"\nminutes = 45",
                "service 'x': minutes = 45 is not a whole number of 30-minute slots",
            ),
            (
                "[[services]]\nslug = \"x\"\nname = \"X\"\nminutes = 30\nresources = [\"nobody\"]",
                "unknown resource 'nobody'",
            ),
            ("[[resources]]\nslug = \"Alice\"\nname = \"A\"", "'Alice' is not a slug"),
            ("hold_minutes = 0", "hold_minutes must be at least 1"),
        ] {
            let error = resolve(text).unwrap_err().to_string();
            assert!(
                error.starts_with("test.toml: ") && error.contains(expected),
                "{text}: {error}"
            );
        }
    }
}
