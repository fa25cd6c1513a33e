//! The configuration file (`--config` / `BOOKING_CONFIG`): the business's resources and
//! services, and any setting a flag can set, under the flag's name with underscores
//! (`--db-pool-size` is `db_pool_size`), in TOML.
//!
//! The file's settings become the flags' defaults, so a flag wins over its environment
//! variable, which wins over the file, which wins over the built-in default. Every mistake is
//! reported with the file's name and the line and column where it is.

use std::{
    ffi::OsString,
    num::NonZeroU16,
    ops::Range,
    path::{Path, PathBuf},
};

use booking_core::{
    catalog::{Resource, Service, Slug},
    hours::WeeklyHours,
    schedule::Schedule,
    units::Capacity,
};
use chrono::Duration;
use clap::{Arg, ArgAction, Command};
use serde::Deserialize;
use toml::{Spanned, Value};

use booking_core::units::SlotsError;

/// A configuration file, read and checked.
pub struct ConfigFile {
    path: PathBuf,
    /// The file as read, for the positions of later mistakes.
    text: String,
    /// The settings it gives, as the text a flag would be given.
    settings: Vec<(String, Vec<String>)>,
    catalog: Catalog,
}

/// The file may hold secrets (tokens, a database password): its values never print.
impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.settings.iter().map(|(key, _)| key.as_str()).collect();
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("settings", &keys)
            .field("resources", &self.catalog.resources.len())
            .field("services", &self.catalog.services.len())
            .finish_non_exhaustive()
    }
}

/// The file's resources and services, with where each checked value is.
#[derive(Default, Deserialize)]
struct Catalog {
    /// The resources, in the order they are chosen from.
    #[serde(default)]
    resources: Vec<ResourceConfig>,
    /// The services.
    #[serde(default)]
    services: Vec<ServiceConfig>,
}

/// One `[[resources]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceConfig {
    /// URL-safe name.
    slug: Spanned<String>,
    /// Display name.
    name: String,
    /// Its own opening hours.
    opening_hours: Option<Spanned<String>>,
    /// Its own capacity per slot.
    capacity: Option<Spanned<u32>>,
}

/// One `[[services]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceConfig {
    /// URL-safe name.
    slug: Spanned<String>,
    /// Display name.
    name: String,
    /// Length: a whole number of slots.
    minutes: Spanned<u32>,
    /// Resources that perform it, in order of preference (default: every resource).
    resources: Option<Vec<Spanned<String>>>,
    /// Preparation before, blocking the resource (a whole number of slots).
    buffer_before_minutes: Option<Spanned<u32>>,
    /// Cleanup after, blocking the resource (a whole number of slots).
    buffer_after_minutes: Option<Spanned<u32>>,
    /// Overrides the business's minimum notice.
    min_notice_minutes: Option<u32>,
    /// Overrides the business's booking horizon.
    horizon_days: Option<u16>,
}

/// A configuration file that cannot be used; the message names the file, the place in it and
/// the setting.
#[derive(Debug, thiserror::Error)]
#[error("{path}{at}: {message}")]
pub struct FileError {
    path: String,
    /// `:line:column`, when the mistake has a place.
    at: String,
    message: String,
}

/// Keys that are flags but no settings.
const NOT_SETTINGS: &[&str] = &["config", "help", "version"];

impl ConfigFile {
    /// Reads a file and checks every setting in it against the flag it sets.
    pub fn read(path: &Path, command: &Command) -> Result<Self, FileError> {
        let text = std::fs::read_to_string(path).map_err(|e| FileError {
            path: path.display().to_string(),
            at: String::new(),
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(path, &text, command)
    }

    fn parse(path: &Path, text: &str, command: &Command) -> Result<Self, FileError> {
        let error = |span: Option<Range<usize>>, message: String| FileError {
            path: path.display().to_string(),
            at: span.map(|span| position(text, span.start)).unwrap_or_default(),
            message,
        };
        let toml_error = |e: toml::de::Error| error(e.span(), e.message().trim_end().to_owned());
        let table: Vec<(Spanned<String>, Spanned<Value>)> =
            toml::from_str::<std::collections::BTreeMap<Spanned<String>, Spanned<Value>>>(text)
                .map_err(toml_error)?
                .into_iter()
                .collect();
        let mut settings = Vec::new();
        for (key, value) in &table {
            if matches!(key.as_ref().as_str(), "resources" | "services") {
                continue;
            }
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_id() == key.as_ref().as_str())
                .filter(|arg| !NOT_SETTINGS.contains(&arg.get_id().as_str()))
                .ok_or_else(|| {
                    error(
                        Some(key.span()),
                        format!(
                            "unknown setting `{}`; a setting is named like its flag, with \
                             underscores (--db-pool-size is db_pool_size), and `booking-http \
                             --help` lists the flags",
                            key.as_ref()
                        ),
                    )
                })?;
            let values = flag_values(arg, value.as_ref())
                .and_then(|values| check(command, arg, &values).map(|()| values))
                .map_err(|message| {
                    error(Some(value.span()), format!("{}: {message}", key.as_ref()))
                })?;
            settings.push((key.as_ref().clone(), values));
        }
        let catalog = toml::from_str::<Catalog>(text).map_err(toml_error)?;
        Ok(Self { path: path.to_owned(), text: text.to_owned(), settings, catalog })
    }

    /// Whether the file gives the setting of the flag `id`.
    pub fn sets(&self, id: &str) -> bool {
        self.settings.iter().any(|(key, _)| key == id)
    }

    /// Whether the file describes resources or services.
    pub fn has_catalog(&self) -> bool {
        !self.catalog.resources.is_empty() || !self.catalog.services.is_empty()
    }

    /// `command` with the file's settings as its defaults.
    pub fn under(&self, command: Command) -> Command {
        self.settings.iter().fold(command, |command, (key, values)| {
            command.mut_arg(key, |arg| arg.default_values(values.iter().cloned()))
        })
    }

    /// `schedule` with the file's resources and services, which inherit `hours` and
    /// `capacity` unless they set their own.
    pub fn resolve(
        &self,
        schedule: Schedule,
        hours: &WeeklyHours,
        capacity: Capacity,
    ) -> Result<Schedule, FileError> {
        let error = |span: Option<Range<usize>>, message: String| FileError {
            path: self.path.display().to_string(),
            at: span.map(|span| position(&self.text, span.start)).unwrap_or_default(),
            message,
        };
        let at = |value: &Spanned<String>, message: String| error(Some(value.span()), message);
        let parse_slug = |text: &Spanned<String>| {
            text.as_ref().parse::<Slug>().map_err(|e| at(text, e.to_string()))
        };
        let parse_hours = |text: &Spanned<String>| {
            text.as_ref()
                .parse::<WeeklyHours>()
                .map_err(|e| at(text, format!("opening_hours: {e}")))
        };
        let parse_capacity = |n: &Spanned<u32>| {
            Capacity::new(*n.as_ref()).map_err(|e| error(Some(n.span()), e.to_string()))
        };
        let resources = self
            .catalog
            .resources
            .iter()
            .map(|r| {
                Ok(Resource {
                    slug: parse_slug(&r.slug)?,
                    name: r.name.clone(),
                    hours: r
                        .opening_hours
                        .as_ref()
                        .map(parse_hours)
                        .transpose()?
                        .unwrap_or_else(|| hours.clone()),
                    capacity: r
                        .capacity
                        .as_ref()
                        .map(parse_capacity)
                        .transpose()?
                        .unwrap_or(capacity),
                })
            })
            .collect::<Result<Vec<_>, FileError>>()?;
        let resources =
            if resources.is_empty() { schedule.resources().to_vec() } else { resources };
        let slot = schedule.slot_length();
        let in_slots = |what: &str, service: &str, minutes: Option<&Spanned<u32>>| {
            let Some(spanned) = minutes else { return Ok(0) };
            slot.slots_in(*spanned.as_ref()).map_err(|e| {
                let message = match e {
                    SlotsError::NotWhole { .. } => format!("service '{service}': {what} = {e}"),
                    SlotsError::TooLong { .. } => {
                        format!("service '{service}': {what} is too long")
                    }
                };
                error(Some(spanned.span()), message)
            })
        };
        let services = self
            .catalog
            .services
            .iter()
            .map(|s| {
                let name = s.slug.as_ref();
                let length = in_slots("minutes", name, Some(&s.minutes))?;
                let performers = match &s.resources {
                    Some(list) => list
                        .iter()
                        .map(|r| {
                            let slug = parse_slug(r)?;
                            if resources.iter().any(|known| known.slug == slug) {
                                Ok(slug)
                            } else {
                                Err(at(r, format!("service '{name}': unknown resource '{slug}'")))
                            }
                        })
                        .collect::<Result<_, FileError>>()?,
                    None => resources.iter().map(|r| r.slug.clone()).collect(),
                };
                Ok(Service {
                    slug: parse_slug(&s.slug)?,
                    name: s.name.clone(),
                    slots: NonZeroU16::new(length).ok_or_else(|| {
                        error(
                            Some(s.minutes.span()),
                            format!("service '{name}': minutes must be at least one slot"),
                        )
                    })?,
                    resources: performers,
                    buffer_before: in_slots(
                        "buffer_before_minutes",
                        name,
                        s.buffer_before_minutes.as_ref(),
                    )?,
                    buffer_after: in_slots(
                        "buffer_after_minutes",
                        name,
                        s.buffer_after_minutes.as_ref(),
                    )?,
                    min_notice: s.min_notice_minutes.map(|n| Duration::minutes(i64::from(n))),
                    horizon: s.horizon_days.map(|n| Duration::days(i64::from(n))),
                })
            })
            .collect::<Result<Vec<_>, FileError>>()?;
        schedule.with_catalog(resources, services).map_err(|e| error(None, e.to_string()))
    }
}

/// `:line:column` of byte `offset` in `text`, both counted from 1.
fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    format!(":{line}:{column}")
}

/// The text a flag would be given for `value`: one value, or several for a list setting.
fn flag_values(arg: &Arg, value: &Value) -> Result<Vec<String>, String> {
    let list = matches!(arg.get_action(), ArgAction::Append);
    match value {
        Value::Array(items) if list => items.iter().map(scalar).collect(),
        Value::Array(_) => Err("takes one value, not a list".to_owned()),
        one => Ok(vec![scalar(one)?]),
    }
}

fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Integer(n) => Ok(n.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "expected a string, a whole number or true/false, not a {}",
            other.type_str()
        )),
    }
}

/// Whether the flag `arg` accepts `values`, checked by the flag's own parser so that the file
/// and the command line refuse the same things with the same reasons.
fn check(command: &Command, arg: &Arg, values: &[String]) -> Result<(), String> {
    let long = arg.get_long().ok_or("is not a setting")?;
    let probe = Command::new(command.get_name().to_owned())
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(arg.clone());
    let flags = values.iter().map(|value| OsString::from(format!("--{long}={value}")));
    match probe.try_get_matches_from(flags) {
        Ok(_) => Ok(()),
        Err(e) => Err(match std::error::Error::source(&e) {
            Some(reason) => reason.to_string(),
            None => {
                let allowed: Vec<_> =
                    arg.get_possible_values().iter().map(|v| v.get_name().to_owned()).collect();
                if allowed.is_empty() {
                    format!("'{}' is not a valid value", values.join(","))
                } else {
                    format!("'{}' is not one of {}", values.join(","), allowed.join(", "))
                }
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn read(text: &str) -> Result<ConfigFile, FileError> {
        ConfigFile::parse(Path::new("test.toml"), text, &Cli::command())
    }

    /// The default single-resource schedule of 09:00-17:00, 30-minute slots, capacity 1.
    fn resolve(text: &str) -> Result<Schedule, FileError> {
        let hours = WeeklyHours::default();
        let capacity = Capacity::new(1).unwrap();
        let schedule = Schedule::new(
            chrono_tz::UTC,
            hours.clone(),
            booking_core::units::SlotLength::from_minutes(30).unwrap(),
            capacity,
        );
        read(text)?.resolve(schedule, &hours, capacity)
    }

    const SALON: &str = r#"
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
        let schedule = resolve(SALON).unwrap();
        let alice = &schedule.resources()[0];
        assert_eq!((alice.slug.as_str(), alice.capacity.get()), ("alice", 1));
        assert_eq!(alice.hours, WeeklyHours::default());
        let room = &schedule.resources()[1];
        assert_eq!((room.capacity.get(), room.hours.to_string().as_str()), (3, "sat 10:00-14:00"));
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
        let file = read(example).unwrap();
        assert!(file.settings.iter().any(|(key, _)| key == "time_zone"), "{file:?}");
        let schedule = resolve(example).unwrap();
        assert_eq!(schedule.resources().len(), 3);
        assert_eq!(schedule.services().len(), 2);
        assert_eq!(schedule.service(&"colouring".parse().unwrap()).unwrap().buffer_after, 1);
    }

    #[test]
    fn a_file_without_resources_keeps_the_single_resource() {
        let schedule = resolve("capacity = 2").unwrap();
        assert_eq!(schedule.resources().len(), 1);
    }

    #[test]
    fn settings_of_every_kind_become_flag_values() {
        let file = read(
            "port = 8080\nmigrate = false\ntrusted_proxies = [\"10.0.0.1\", \"::1\"]\n\
             time_zone = \"Europe/Berlin\"\nlog_format = \"json\"\nhorizon_days = 30\n",
        )
        .unwrap();
        let settings: Vec<(&str, Vec<&str>)> = file
            .settings
            .iter()
            .map(|(key, values)| (key.as_str(), values.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            settings,
            [
                ("horizon_days", vec!["30"]),
                ("log_format", vec!["json"]),
                ("migrate", vec!["false"]),
                ("port", vec!["8080"]),
                ("time_zone", vec!["Europe/Berlin"]),
                ("trusted_proxies", vec!["10.0.0.1", "::1"]),
            ]
        );
    }

    #[test]
    fn mistakes_name_the_place_and_the_setting() {
        for (text, expected) in [
            ("colour = 1", "test.toml:1:1: unknown setting `colour`"),
            ("config = \"other.toml\"", "test.toml:1:1: unknown setting `config`"),
            (
                "port = 1\nslot_minutes = 0",
                "test.toml:2:16: slot_minutes: slot length must be between",
            ),
            (
                "time_zone = \"Mars/Olympus\"",
                "test.toml:1:13: time_zone: 'Mars/Olympus' is not an IANA time zone name",
            ),
            ("log_format = \"xml\"", "test.toml:1:14: log_format: 'xml' is not one of text, json"),
            ("port = \"http\"", "test.toml:1:8: port: invalid digit"),
            (
                "port = 1.5",
                "test.toml:1:8: port: expected a string, a whole number or true/false, not a float",
            ),
            ("port = [1]", "test.toml:1:8: port: takes one value, not a list"),
            ("hold_minutes = 0", "test.toml:1:16: hold_minutes: 0 is not in 1..=1440"),
            ("port = 1\nport = 2", "test.toml:2:1: duplicate key"),
            ("port = ", "test.toml:1:8: "),
            (
                "[[resources]]\nslug = \"a\"\nname = \"A\"\ncolor = 1",
                "test.toml:4:1: unknown field `color`",
            ),
        ] {
            let error = read(text).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{text}: {error}");
        }
        for (text, expected) in [
            (
                "[[services]]\nslug = \"x\"\nname = \"X\"\nminutes = 45",
                "test.toml:4:11: service 'x': minutes = 45 is not a whole number of 30-minute slots",
            ),
            (
                "[[services]]\nslug = \"x\"\nname = \"X\"\nminutes = 30\nbuffer_after_minutes = 0\n\
                 resources = [\"nobody\"]",
                "test.toml:6:14: service 'x': unknown resource 'nobody'",
            ),
            (
                "[[resources]]\nslug = \"Alice\"\nname = \"A\"",
                "test.toml:2:8: 'Alice' is not a slug",
            ),
            (
                "[[resources]]\nslug = \"a\"\nname = \"A\"\nopening_hours = \"9-5\"",
                "test.toml:4:17: opening_hours: '9-5' is not a time range",
            ),
            ("[[resources]]\nslug = \"a\"\nname = \"A\"\ncapacity = 0", "test.toml:4:12: "),
        ] {
            let error = resolve(text).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{text}: {error}");
        }
    }
}
