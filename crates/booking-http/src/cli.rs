//! Command-line flags, each also settable by an environment variable.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use booking_core::{
    hours::WeeklyHours,
    schedule::{Capacity, Schedule, SlotLength},
};
use booking_store::{DatabaseUrl, SqliteOptions};
use chrono_tz::Tz;
use clap::Parser;

use crate::config::Settings;

/// The appointment booking service.
#[derive(Debug, Parser)]
#[command(name = "booking-http", version, about)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "BOOKING_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 5000)]
    pub port: u16,
    /// Where appointments are kept: sqlite://PATH (relative) or sqlite:///PATH (absolute).
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://appointments.db")]
    pub database_url: DatabaseUrl,
    /// The business's IANA time zone, e.g. Europe/Berlin.
    #[arg(long, env = "BOOKING_TIME_ZONE", default_value = "UTC")]
    pub time_zone: Tz,
    /// Weekly opening hours: "09:00-17:00" every day, or e.g. "mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00".
    #[arg(long, env = "BOOKING_OPENING_HOURS", default_value = "09:00-17:00")]
    pub opening_hours: WeeklyHours,
    /// Length of a slot in minutes (1-1440).
    #[arg(long, env = "BOOKING_SLOT_MINUTES", default_value = "30", value_parser = parse_slot_length)]
    pub slot_minutes: SlotLength,
    /// Appointments per slot (1-10000).
    #[arg(long, env = "BOOKING_CAPACITY", default_value = "1", value_parser = parse_capacity)]
    pub capacity: Capacity,
    /// How many days ahead bookings are taken; unlimited when unset.
    #[arg(long, env = "BOOKING_HORIZON_DAYS", value_parser = clap::value_parser!(u16).range(1..=3650))]
    pub horizon_days: Option<u16>,
    /// Minimum notice in minutes between booking and the slot's start.
    #[arg(long, env = "BOOKING_MIN_NOTICE_MINUTES", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=525_600))]
    pub min_notice_minutes: u32,
    /// Database connections kept open.
    #[arg(long, env = "BOOKING_DB_POOL_SIZE", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub db_pool_size: u32,
    /// How long a write waits for another process's write lock, in milliseconds.
    #[arg(long, env = "BOOKING_DB_BUSY_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub db_busy_timeout_ms: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "BOOKING_WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
}

fn parse_slot_length(text: &str) -> Result<SlotLength, String> {
    let minutes: u32 =
        text.parse().map_err(|_| format!("'{text}' is not a whole number of minutes"))?;
    SlotLength::from_minutes(minutes).map_err(|e| e.to_string())
}

fn parse_capacity(text: &str) -> Result<Capacity, String> {
    let n: u32 = text.parse().map_err(|_| format!("'{text}' is not a whole number"))?;
    Capacity::new(n).map_err(|e| e.to_string())
}

/// A combination of settings that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Cli {
    /// The settings these flags describe.
    pub fn settings(self) -> Result<Settings, ConfigError> {
        let longest_range = self
            .opening_hours
            .days()
            .flat_map(|(_, ranges)| ranges.iter().map(|r| r.end().get() - r.start().get()))
            .max()
            .unwrap_or(0);
        if self.slot_minutes.minutes() > longest_range {
            return Err(ConfigError(format!(
                "BOOKING_SLOT_MINUTES={} is longer than every range of BOOKING_OPENING_HOURS ({}), so no slot would exist",
                self.slot_minutes.minutes(),
                self.opening_hours
            )));
        }
        let schedule =
            Schedule::new(self.time_zone, self.opening_hours, self.slot_minutes, self.capacity)
                .with_horizon(self.horizon_days.map(|days| chrono::Duration::days(i64::from(days))))
                .with_min_notice(chrono::Duration::minutes(i64::from(self.min_notice_minutes)));
        Ok(Settings {
            address: SocketAddr::new(self.host, self.port),
            database: self.database_url,
            store: SqliteOptions {
                pool_size: self.db_pool_size,
                busy_timeout: Duration::from_millis(self.db_busy_timeout_ms),
                ..SqliteOptions::default()
            },
            schedule,
            workers: self.workers.map(usize::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("booking-http").chain(args.iter().copied()))
    }

    #[test]
    fn flags_build_the_schedule() {
        let cli = parse(&[
            "--time-zone=Europe/Berlin",
            "--opening-hours=mon-fri 08:00-12:00",
            "--slot-minutes=20",
            "--capacity=3",
            "--horizon-days=30",
            "--min-notice-minutes=120",
            "--port=0",
            "--database-url=sqlite:///tmp/x.db",
        ])
        .unwrap();
        let settings = cli.settings().unwrap();
        let schedule = settings.schedule;
        assert_eq!(schedule.time_zone(), chrono_tz::Europe::Berlin);
        assert_eq!(schedule.slot_length().minutes(), 20);
        assert_eq!(schedule.capacity().get(), 3);
        assert_eq!(schedule.horizon(), Some(chrono::Duration::days(30)));
        assert_eq!(schedule.min_notice(), chrono::Duration::hours(2));
        assert_eq!(settings.address.port(), 0);
        assert_eq!(settings.database, DatabaseUrl::Sqlite("/tmp/x.db".into()));
    }

    #[test]
    fn a_bad_value_names_the_setting_and_the_reason() {
        for (flag, expected) in [
            ("--slot-minutes=0", "slot length must be between 1 and 1440 minutes, got 0"),
            ("--capacity=lots", "'lots' is not a whole number"),
            ("--time-zone=Mars/Olympus", "--time-zone"),
            ("--opening-hours=9-5", "'9-5' is not a time range"),
            ("--database-url=sqlite://:memory:", "in-memory SQLite database cannot be shared"),
            ("--horizon-days=0", "--horizon-days"),
        ] {
            let error = parse(&[flag]).unwrap_err().to_string();
            assert!(error.contains(expected), "{flag}: {error}");
        }
    }

    #[test]
    fn slots_longer_than_every_opening_range_are_refused() {
        let error = parse(&["--opening-hours=09:00-10:00", "--slot-minutes=90"])
            .unwrap()
            .settings()
            .unwrap_err();
        assert!(
            error.to_string().contains("BOOKING_SLOT_MINUTES=90 is longer than every range"),
            "{error}"
        );
    }
}
