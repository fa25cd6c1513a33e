//! Command-line flags, each also settable by an environment variable or in the configuration
//! file: a flag wins over its variable, the variable over the file, the file over the default.

use std::{
    ffi::OsString,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    path::PathBuf,
    time::Duration,
};

use booking_core::{
    catalog::{MAX_HORIZON_DAYS, MAX_NOTICE_MINUTES},
    hold::DEFAULT_HOLDS_PER_HOLDER,
    hours::WeeklyHours,
    schedule::Schedule,
    service::Given,
    units::{Capacity, SlotLength},
};
use booking_store::{DatabaseUrl, Migrations, StoreOptions};
use chrono_tz::Tz;
use clap::{
    CommandFactory, FromArgMatches, Parser, Subcommand, error::ErrorKind, parser::ValueSource,
};

use crate::{
    config::{
        BearerToken, DEFAULT_MAX_STREAMS, DEFAULT_MAX_STREAMS_PER_CLIENT, DEFAULT_RATE_LIMIT,
        FeedToken, Settings,
    },
    config_file::ConfigFile,
    mail::{
        self, MailSettings,
        settings::{MailSettingsError, ManageUrl, SmtpServer},
    },
    telemetry::LogFormat,
};

/// The appointment booking service.
#[derive(Debug, Parser)]
#[command(name = "booking-http", version, about)]
pub struct Cli {
    /// What to do; without a command, serve the API.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Address to listen on.
    #[arg(long, env = "BOOKING_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 5000)]
    pub port: u16,
    /// Where appointments are kept: sqlite://PATH (relative), sqlite:///PATH (absolute), or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE to share one database between servers.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://appointments.db")]
    pub database_url: DatabaseUrl,
    /// The business's IANA time zone, e.g. Europe/Berlin.
    #[arg(long, env = "BOOKING_TIME_ZONE", default_value = "UTC", value_parser = parse_time_zone)]
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
    #[arg(long, env = "BOOKING_HORIZON_DAYS", value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_HORIZON_DAYS)))]
    pub horizon_days: Option<u16>,
    /// Minimum notice in minutes between booking and the slot's start.
    #[arg(long, env = "BOOKING_MIN_NOTICE_MINUTES", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_NOTICE_MINUTES)))]
    pub min_notice_minutes: u32,
    /// Cancellation notice in minutes: a client can no longer cancel or move an appointment
    /// that starts sooner than this (an operator still can); 0 for none.
    #[arg(long, env = "BOOKING_CANCEL_NOTICE_MINUTES", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_NOTICE_MINUTES)))]
    pub cancel_notice_minutes: u32,
    /// Database connections kept open (SQLite: for reads; its writes share one more).
    #[arg(long, env = "BOOKING_DB_POOL_SIZE", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub db_pool_size: u32,
    /// PostgreSQL: connections that send client writes to the database in batches, each one
    /// batch at a time (while one waits for its commit, another sends the next).
    #[arg(long, env = "BOOKING_DB_WRITERS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub db_writers: u32,
    /// How long a request waits for a free database connection (PostgreSQL: also to connect),
    /// in milliseconds, before it gets a 503.
    #[arg(long, env = "BOOKING_DB_CONNECTION_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub db_connection_timeout_ms: u64,
    /// SQLite: how long a write waits for another process's write lock, in milliseconds.
    #[arg(long, env = "BOOKING_DB_BUSY_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub db_busy_timeout_ms: u64,
    /// PostgreSQL: the longest one statement may run, lock waits included, in milliseconds,
    /// before the database cancels it and the request gets a 503.
    #[arg(long, env = "BOOKING_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub db_statement_timeout_ms: u64,
    /// A TOML file describing resources, services and any other setting, named like its flag
    /// with underscores (db_pool_size = 4); flags and environment variables win over it.
    #[arg(long, env = "BOOKING_CONFIG")]
    pub config: Option<PathBuf>,
    /// How long a hold (POST /holds) keeps its slot, in minutes.
    #[arg(long, env = "BOOKING_HOLD_MINUTES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub hold_minutes: u32,
    /// How long Idempotency-Key answers are remembered, in hours.
    #[arg(long, env = "BOOKING_IDEMPOTENCY_KEY_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=720))]
    pub idempotency_key_hours: u32,
    /// Bearer token for the /admin/ endpoints; they answer 503 until one is set.
    #[arg(long, env = "BOOKING_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<BearerToken>,
    /// Bearer token that GET /metrics requires (at least 16 characters); without it the
    /// metrics are public, like the rest of the read API.
    #[arg(long, env = "BOOKING_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<BearerToken>,
    /// Token for the calendar feeds (GET /feeds/{resource}.ics?token=...), at least 16
    /// characters and not the admin token; feeds are off without it.
    #[arg(long, env = "BOOKING_FEED_TOKEN", hide_env_values = true)]
    pub feed_token: Option<BearerToken>,
    /// Let webhook endpoints be on loopback and private addresses (refused by default, so
    /// that a registered URL cannot reach services inside the server's network).
    #[arg(long, env = "BOOKING_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// Delays before each retry of a failed webhook delivery, comma-separated, COUNTxDELAY
    /// for a repeat; after the last, the delivery fails.
    #[arg(long, env = "BOOKING_WEBHOOK_RETRIES", default_value = "5s,30s,2m,15m,1h,4h,9x8h")]
    pub webhook_retries: booking_core::webhook::RetrySchedule,
    /// The mail server notifications are sent through: smtp://HOST:PORT (add ?tls=required
    /// for STARTTLS) or smtps://HOST:PORT, with user:password@ before the host if it asks;
    /// mail is off without it.
    #[arg(long, env = "BOOKING_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The mail server's user name, instead of the one in BOOKING_SMTP_URL.
    #[arg(long, env = "BOOKING_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// The mail server's password, instead of the one in BOOKING_SMTP_URL.
    #[arg(long, env = "BOOKING_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// Who notifications are from, e.g. "Clinic <bookings@clinic.example>" (the name signs
    /// them); required with BOOKING_SMTP_URL.
    #[arg(long, env = "BOOKING_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// How long before an appointment its reminders go out, comma-separated (e.g. 24h,2h);
    /// empty for none.
    #[arg(long, env = "BOOKING_REMINDER_BEFORE", default_value = "24h")]
    pub reminder_before: booking_core::notification::Reminders,
    /// Other sites whose pages may call the API from the browser (CORS), comma-separated
    /// origins, e.g. `https://clinic.example`; none by default.
    #[arg(long, env = "BOOKING_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<crate::cors::CorsOrigin>,
    /// The address clients reach this server at (e.g. `https://book.clinic.example`):
    /// notifications then link to its page for the booking, /book/manage/{id}.
    #[arg(long, env = "BOOKING_PUBLIC_URL")]
    pub public_url: Option<mail::settings::PublicUrl>,
    /// The page where a client moves or cancels a booking, with {id} for its id (e.g.
    /// `https://clinic.example/manage/{id}`), instead of the server's own; notifications link
    /// to it when set.
    #[arg(long, env = "BOOKING_MANAGE_URL")]
    pub manage_url: Option<String>,
    /// Delays before each retry of a notification the mail server did not take, as
    /// BOOKING_WEBHOOK_RETRIES; after the last, it fails.
    #[arg(long, env = "BOOKING_MAIL_RETRIES", default_value = "5s,30s,2m,15m,1h,4h,9x8h")]
    pub mail_retries: booking_core::webhook::RetrySchedule,
    /// The business's language, for notifications and calendar events: en or de.
    #[arg(long, env = "BOOKING_LANGUAGE", default_value = "en")]
    pub language: crate::language::Language,
    /// Seconds between heartbeat comments on idle availability streams.
    #[arg(long, env = "BOOKING_STREAM_HEARTBEAT_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub stream_heartbeat_seconds: u64,
    /// Writes (bookings, cancellations, moves, holds) one client may make per minute; 0 turns
    /// the limit off.
    #[arg(long, env = "BOOKING_RATE_LIMIT_PER_MINUTE", default_value_t = DEFAULT_RATE_LIMIT, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub rate_limit_per_minute: u32,
    /// Comma-separated addresses of reverse proxies whose X-Forwarded-For names the client.
    #[arg(long, env = "BOOKING_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,
    /// Holds (POST /holds) one client may have active at once; 0 lifts the cap. Behind a
    /// reverse proxy, list it in BOOKING_TRUSTED_PROXIES, or every client counts as the proxy.
    #[arg(long, env = "BOOKING_MAX_HOLDS_PER_CLIENT", default_value_t = DEFAULT_HOLDS_PER_HOLDER.get(), value_parser = clap::value_parser!(u16).range(0..=1000))]
    pub max_holds_per_client: u16,
    /// Availability streams this server keeps open at once; past it, 503 with Retry-After.
    #[arg(long, env = "BOOKING_MAX_STREAMS", default_value_t = DEFAULT_MAX_STREAMS as u64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_streams: u64,
    /// Availability streams one client may have open on this server; past it, 429.
    #[arg(long, env = "BOOKING_MAX_STREAMS_PER_CLIENT", default_value_t = DEFAULT_MAX_STREAMS_PER_CLIENT as u64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_streams_per_client: u64,
    /// How long a client may take to send a request's headers, in milliseconds.
    #[arg(long, env = "BOOKING_CLIENT_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub client_timeout_ms: u64,
    /// How long an idle keep-alive connection stays open, in seconds.
    #[arg(long, env = "BOOKING_KEEP_ALIVE_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub keep_alive_seconds: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "BOOKING_WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
    /// How log lines are written: `text` (for people) or `json` (one object per line, for log
    /// collectors).
    #[arg(long, env = "BOOKING_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Whether start-up applies pending database migrations. With `false` (for a database role
    /// that may not change the schema) it applies none and refuses to start if any is pending:
    /// run `booking-http migrate` first, as a role that may.
    #[arg(long, env = "BOOKING_MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate: bool,
    /// The configuration file, once read.
    #[arg(skip)]
    pub file: Option<ConfigFile>,
    /// Which parts of the calendar the flags, variables and file give.
    #[arg(skip = Given::ALL)]
    pub calendar_given: Given,
}

/// What the binary does besides serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Writes a consistent copy of the live SQLite database to a new file, while the server
    /// keeps running. Restore by pointing DATABASE_URL at the copy (or copying it into place
    /// while the server is stopped).
    Backup {
        /// The file to write; it must not exist.
        to: PathBuf,
    },
    /// Applies pending database migrations and exits (for deployments whose servers start
    /// with BOOKING_MIGRATE=false).
    Migrate,
    /// Lists the appointments that have not ended and that these settings would no longer
    /// place where they were booked (a server with them would refuse to start), and exits
    /// with failure if there are any. Reads the database; changes nothing.
    Check,
}

fn parse_time_zone(text: &str) -> Result<Tz, String> {
    text.parse()
        .map_err(|_| format!("'{text}' is not an IANA time zone name (e.g. Europe/Berlin or UTC)"))
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
    /// The flags of this process, over the configuration file they name; on a mistake, prints
    /// what is wrong and exits.
    pub fn load() -> Self {
        Self::try_load_from(std::env::args_os()).unwrap_or_else(|error| error.exit())
    }

    /// The flags `args` give (the first is the program's name), over the configuration file
    /// they (or `BOOKING_CONFIG`) name: the file's settings become the flags' defaults.
    pub fn try_load_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        Self::load_with(Self::command(), args)
    }

    /// [`try_load_from`](Self::try_load_from) with the flags `command` describes (tests: the
    /// same flags without their environment variables).
    fn load_with<I, T>(command: clap::Command, args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let matches = command.clone().try_get_matches_from(&args)?;
        let Some(path) = matches.get_one::<PathBuf>("config") else {
            let mut cli = Self::from_arg_matches(&matches)?;
            cli.calendar_given = calendar_given(&matches, None);
            return Ok(cli);
        };
        let file = ConfigFile::read(path, &command)
            .map_err(|e| command.clone().error(ErrorKind::InvalidValue, e))?;
        let matches = file.under(command).try_get_matches_from(&args)?;
        let mut cli = Self::from_arg_matches(&matches)?;
        cli.calendar_given = calendar_given(&matches, Some(&file));
        cli.file = Some(file);
        Ok(cli)
    }

    /// The settings these flags describe (and the configuration file's resources and services,
    /// if one was read).
    pub fn settings(self) -> Result<Settings, ConfigError> {
        let schedule = Schedule::new(
            self.time_zone,
            self.opening_hours.clone(),
            self.slot_minutes,
            self.capacity,
        )
        .with_min_notice(chrono::Duration::minutes(i64::from(self.min_notice_minutes)))
        .with_cancel_notice(chrono::Duration::minutes(i64::from(self.cancel_notice_minutes)))
        .with_horizon(self.horizon_days.map(|days| chrono::Duration::days(i64::from(days))));
        let schedule = match &self.file {
            Some(file) => file
                .resolve(schedule, &self.opening_hours, self.capacity)
                .map_err(|e| ConfigError(e.to_string()))?,
            None => schedule,
        };
        check_slots_fit(&schedule)?;
        if self.feed_token.as_ref().is_some_and(|feed| !feed.is_url_safe()) {
            return Err(ConfigError(
                "the feed token (--feed-token, BOOKING_FEED_TOKEN or feed_token) goes in the \
                 feeds' URLs: use letters, digits and - . _ ~ only, e.g. head -c 24 \
                 /dev/urandom | base64 | tr '+/' '-_'"
                    .to_owned(),
            ));
        }
        if let (Some(feed), Some(admin)) = (&self.feed_token, &self.admin_token)
            && feed.is(admin)
        {
            // A feed's URL is kept and shown by calendar apps: it must not open the admin API.
            return Err(ConfigError(
                "the feed token (--feed-token, BOOKING_FEED_TOKEN or feed_token) is the admin \
                 token; make it a secret of its own"
                    .to_owned(),
            ));
        }
        let mail = self.mail_settings().map_err(|e| ConfigError(e.to_string()))?;
        Ok(Settings {
            address: SocketAddr::new(self.host, self.port),
            database: self.database_url,
            store: StoreOptions {
                pool_size: self.db_pool_size,
                writers: self.db_writers,
                connection_timeout: Duration::from_millis(self.db_connection_timeout_ms),
                busy_timeout: Duration::from_millis(self.db_busy_timeout_ms),
                statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
                migrations: if self.migrate { Migrations::Apply } else { Migrations::Require },
                ..StoreOptions::default()
            },
            schedule,
            calendar_given: self.calendar_given,
            hold_duration: chrono::Duration::minutes(i64::from(self.hold_minutes)),
            key_lifetime: chrono::Duration::hours(i64::from(self.idempotency_key_hours)),
            key_sweep_interval: crate::config::DEFAULT_KEY_SWEEP_INTERVAL,
            admin_token: self.admin_token,
            metrics_token: self.metrics_token,
            feed_token: FeedToken(self.feed_token),
            stream_heartbeat: Duration::from_secs(self.stream_heartbeat_seconds),
            rate_limit: NonZeroU32::new(self.rate_limit_per_minute),
            trusted_proxies: self.trusted_proxies,
            max_holds_per_client: std::num::NonZeroU16::new(self.max_holds_per_client),
            max_streams: usize::try_from(self.max_streams).unwrap_or(usize::MAX),
            max_streams_per_client: usize::try_from(self.max_streams_per_client)
                .unwrap_or(usize::MAX),
            client_timeout: Duration::from_millis(self.client_timeout_ms),
            keep_alive: Duration::from_secs(self.keep_alive_seconds),
            workers: self.workers.map(usize::from),
            webhooks: crate::config::WebhookSettings {
                allow_private: self.webhook_allow_private,
                retries: self.webhook_retries,
            },
            mail,
            language: self.language,
            cors_origins: self.cors_origins,
        })
    }

    /// The mail settings these flags describe: `None` without a mail server.
    fn mail_settings(&self) -> Result<Option<MailSettings>, MailSettingsError> {
        let Some(url) = &self.smtp_url else {
            let stray = [
                ("BOOKING_MAIL_FROM", self.mail_from.is_some()),
                ("BOOKING_SMTP_USER", self.smtp_user.is_some()),
                ("BOOKING_SMTP_PASSWORD", self.smtp_password.is_some()),
                ("BOOKING_MANAGE_URL", self.manage_url.is_some()),
            ];
            return match stray.into_iter().find(|(_, set)| *set) {
                Some((name, _)) => Err(MailSettingsError::NoServer(name)),
                None => Ok(None),
            };
        };
        let server = SmtpServer::new(url, self.smtp_user.clone(), self.smtp_password.clone())?;
        let from = self.mail_from.as_deref().ok_or(MailSettingsError::NoSender)?;
        Ok(Some(MailSettings {
            server,
            from: mail::settings::sender(from)?,
            reminders: self.reminder_before.clone(),
            language: self.language,
            manage_url: match (&self.manage_url, &self.public_url) {
                (Some(template), _) => Some(ManageUrl::new(template)?),
                (None, Some(public)) => Some(ManageUrl::on(public)),
                (None, None) => None,
            },
            retries: self.mail_retries.clone(),
        }))
    }
}

/// Which parts of the calendar a flag, a variable or the file gives (a default gives none).
fn calendar_given(matches: &clap::ArgMatches, file: Option<&ConfigFile>) -> Given {
    let given = |id: &str| {
        file.is_some_and(|file| file.sets(id))
            || matches.value_source(id).is_some_and(|source| source != ValueSource::DefaultValue)
    };
    let catalog = file.is_some_and(ConfigFile::has_catalog);
    Given {
        time_zone: given("time_zone"),
        slot_length: given("slot_minutes"),
        catalog,
        // With a file's resources, the hours and capacity are their defaults, part of them.
        default_resource: !catalog && (given("opening_hours") || given("capacity")),
    }
}

/// Refuses a schedule in which some resource could never have a slot.
fn check_slots_fit(schedule: &Schedule) -> Result<(), ConfigError> {
    let length = schedule.slot_length().minutes();
    for resource in schedule.resources() {
        let longest = resource
            .hours
            .days()
            .flat_map(|(_, ranges)| ranges.iter().map(|r| r.end().get() - r.start().get()))
            .max();
        if longest.unwrap_or(0) < length {
            return Err(ConfigError(format!(
                "slots of {length} minutes (--slot-minutes, BOOKING_SLOT_MINUTES or slot_minutes) are longer than every opening range of '{}' ({}), so it would have no slot",
                resource.slug, resource.hours
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags `args` give, whatever the environment of the test run says.
    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let command = Cli::command().mut_args(|arg| arg.env(None::<&str>));
        Cli::load_with(command, std::iter::once("booking-http").chain(args.iter().copied()))
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
            "--cancel-notice-minutes=1440",
            "--port=0",
            "--database-url=sqlite:///tmp/x.db",
        ])
        .unwrap();
        let settings = cli.settings().unwrap();
        let schedule = settings.schedule;
        assert_eq!(schedule.time_zone(), chrono_tz::Europe::Berlin);
        assert_eq!(schedule.slot_length().minutes(), 20);
        assert_eq!(schedule.resources()[0].capacity.get(), 3);
        assert_eq!(schedule.horizon(), Some(chrono::Duration::days(30)));
        assert_eq!(schedule.min_notice(), chrono::Duration::hours(2));
        assert_eq!(schedule.cancel_notice(), chrono::Duration::days(1));
        assert_eq!(settings.address.port(), 0);
        assert_eq!(settings.database, DatabaseUrl::Sqlite("/tmp/x.db".into()));
        assert_eq!(settings.rate_limit.map(NonZeroU32::get), Some(DEFAULT_RATE_LIMIT));
        let unlimited = parse(&["--rate-limit-per-minute=0", "--trusted-proxies=10.0.0.1,::1"])
            .unwrap()
            .settings()
            .unwrap();
        assert_eq!(unlimited.rate_limit, None);
        assert_eq!(
            unlimited.trusted_proxies,
            ["10.0.0.1".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]
        );
    }

    #[test]
    fn cors_origins_are_a_list_of_origins_from_flags_or_the_file() {
        let settings = parse(&["--cors-origins=https://clinic.example, http://localhost:8080"])
            .unwrap()
            .settings()
            .unwrap();
        let origins: Vec<String> = settings.cors_origins.iter().map(ToString::to_string).collect();
        assert_eq!(origins, ["https://clinic.example", "http://localhost:8080"]);
        assert!(parse(&[]).unwrap().settings().unwrap().cors_origins.is_empty(), "off by default");
        let error = parse(&["--cors-origins=https://clinic.example/book"]).unwrap_err().to_string();
        assert!(error.contains("is not an origin"), "{error}");
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("booking.toml");
        std::fs::write(&path, "cors_origins = [\"https://clinic.example\"]\n").unwrap();
        let from_file = parse(&[&format!("--config={}", path.display())]).unwrap();
        assert_eq!(
            from_file.settings().unwrap().cors_origins,
            ["https://clinic.example".parse().unwrap()]
        );
    }

    #[test]
    fn the_admin_token_never_prints() {
        let cli = parse(&["--admin-token=s3cret-token-value"]).unwrap();
        assert!(!format!("{cli:?}").contains("s3cret"));
        let settings = cli.settings().unwrap();
        assert!(!format!("{settings:?}").contains("s3cret"));
        assert!(settings.admin_token.unwrap().matches("s3cret-token-value"));
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("booking.toml");
        std::fs::write(
            &path,
            "admin_token = \"s3cret-token-value\"\ndatabase_url = \"postgres://u:pa55word@db/x\"\n",
        )
        .unwrap();
        let from_file = parse(&[&format!("--config={}", path.display())]).unwrap();
        let printed = format!("{from_file:?}");
        assert!(!printed.contains("s3cret") && !printed.contains("pa55word"), "{printed}");
        assert!(printed.contains("admin_token"), "the file's keys are shown: {printed}");
    }

    #[test]
    fn notifications_link_to_the_servers_manage_page_under_its_public_address() {
        let link = |flags: &[&str]| {
            let mut all = vec!["--smtp-url=smtp://127.0.0.1:2525", "--mail-from=a@b.example"];
            all.extend_from_slice(flags);
            let mail = parse(&all).unwrap().settings().unwrap().mail.unwrap();
            mail.manage_url.map(|url| url.of("ID"))
        };
        assert_eq!(link(&[]), None, "no address, no link");
        assert_eq!(
            link(&["--public-url=https://book.clinic.example/"]).as_deref(),
            Some("https://book.clinic.example/book/manage/ID")
        );
        let own = [
            "--public-url=https://book.clinic.example",
            "--manage-url=https://clinic.example/m/{id}",
        ];
        assert_eq!(
            link(&own).as_deref(),
            Some("https://clinic.example/m/ID"),
            "BOOKING_MANAGE_URL wins"
        );
        let error = parse(&["--public-url=book.clinic.example"]).unwrap_err().to_string();
        assert!(error.contains("is not the address clients reach the server at"), "{error}");
    }

    #[test]
    fn mail_settings_are_checked_together_and_the_password_never_prints() {
        let settings = |flags: &[&str]| parse(flags).unwrap().settings().map_err(|e| e.to_string());
        assert!(settings(&[]).unwrap().mail.is_none(), "off by default");
        let mail = settings(&[
            "--smtp-url=smtps://mailer:pa55word@mail.example.com",
            "--mail-from=Salon <bookings@salon.example>",
            "--reminder-before=2h,24h",
            "--language=de",
        ])
        .unwrap();
        assert!(!format!("{mail:?}").contains("pa55word"), "{mail:?}");
        let (language, mail) = (mail.language, mail.mail.unwrap());
        assert_eq!(language, crate::language::Language::German);
        assert_eq!(mail.language, language);
        let hours = |h: u64| Duration::from_secs(h * 3600);
        assert_eq!(mail.reminders.leads(), [hours(24), hours(2)]);
        for (flags, expected) in [
            (
                &["--mail-from=a@b.example"][..],
                "BOOKING_MAIL_FROM is set but BOOKING_SMTP_URL is not",
            ),
            (&["--smtp-url=smtp://127.0.0.1:2525"][..], "BOOKING_MAIL_FROM is not"),
            (
                &["--smtp-url=smtp://127.0.0.1:2525", "--mail-from=nobody"][..],
                "BOOKING_MAIL_FROM \"nobody\" is not an address",
            ),
            (
                &["--smtp-url=smtp://u:p@mail.example.com", "--mail-from=a@b.example"][..],
                "without TLS",
            ),
            (
                &[
                    "--smtp-url=smtps://mail.example.com",
                    "--mail-from=a@b.example",
                    "--smtp-user=u",
                ][..],
                "only BOOKING_SMTP_USER of BOOKING_SMTP_USER and BOOKING_SMTP_PASSWORD is set",
            ),
            (
                &[
                    "--smtp-url=smtp://127.0.0.1",
                    "--mail-from=a@b.example",
                    "--manage-url=https://x.example/manage",
                ][..],
                "BOOKING_MANAGE_URL",
            ),
        ] {
            let error = settings(flags).unwrap_err();
            assert!(error.contains(expected), "{flags:?}: {error}");
        }
    }

    /// A calendar part is given by a flag (or variable) or a file key, never by a default; the
    /// file's resources give the catalog.
    #[test]
    fn only_what_is_given_puts_the_calendar_in_force() {
        let given = |args: &[&str]| parse(args).unwrap().calendar_given;
        assert_eq!(given(&[]), Given::NONE);
        assert_eq!(given(&["--port=0", "--horizon-days=3"]), Given::NONE);
        assert_eq!(
            given(&["--time-zone=Europe/Berlin", "--capacity=2"]),
            Given { time_zone: true, default_resource: true, ..Given::NONE }
        );
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("booking.toml");
        std::fs::write(&path, "slot_minutes = 20\n").unwrap();
        let config = format!("--config={}", path.display());
        assert_eq!(given(&[&config]), Given { slot_length: true, ..Given::NONE });
        std::fs::write(&path, "[[resources]]\nslug = \"alice\"\nname = \"Alice\"\n").unwrap();
        assert_eq!(
            given(&[&config, "--opening-hours=10:00-12:00"]),
            Given { catalog: true, ..Given::NONE },
            "the file's resources take the hours given"
        );
    }

    #[test]
    fn a_config_file_is_read_and_its_errors_name_it() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("booking.toml");
        std::fs::write(&path, "[[resources]]\nslug = \"alice\"\nname = \"Alice\"\ncapacity = 2\n")
            .unwrap();
        let settings =
            parse(&[&format!("--config={}", path.display())]).unwrap().settings().unwrap();
        assert_eq!(settings.schedule.resources()[0].slug.as_str(), "alice");
        std::fs::write(&path, "\nslot_minutes = 0").unwrap();
        let error = parse(&[&format!("--config={}", path.display())]).unwrap_err().to_string();
        assert!(
            error.contains("booking.toml:2:16: slot_minutes: slot length must be between"),
            "{error}"
        );
        let missing = directory.path().join("missing.toml");
        let error = parse(&[&format!("--config={}", missing.display())]).unwrap_err().to_string();
        assert!(error.contains("missing.toml: cannot read it"), "{error}");
    }

    /// A flag wins over the file, the file over the default (the environment's place between
    /// them is tested with the binary, in tests/api/process.rs).
    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("booking.toml");
        std::fs::write(
            &path,
            "slot_minutes = 60\nhold_minutes = 10\nidempotency_key_hours = 2\n\
             trusted_proxies = [\"10.0.0.1\"]\nmigrate = false\nadmin_token = \"a-secret-of-the-file\"\n\
             [[resources]]\nslug = \"alice\"\nname = \"Alice\"\n",
        )
        .unwrap();
        let config = format!("--config={}", path.display());
        let from_file = parse(&[&config]).unwrap().settings().unwrap();
        assert_eq!(from_file.schedule.slot_length().minutes(), 60);
        assert_eq!(from_file.hold_duration, chrono::Duration::minutes(10));
        assert_eq!(from_file.key_lifetime, chrono::Duration::hours(2));
        assert_eq!(from_file.trusted_proxies, ["10.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(from_file.store.migrations, Migrations::Require);
        assert!(from_file.admin_token.unwrap().matches("a-secret-of-the-file"));
        assert_eq!(
            from_file.address.port(),
            5000,
            "a setting the file leaves out keeps its default"
        );
        let flagged =
            parse(&[&config, "--slot-minutes=20", "--trusted-proxies=::1", "--migrate=true"])
                .unwrap()
                .settings()
                .unwrap();
        assert_eq!(flagged.schedule.slot_length().minutes(), 20);
        assert_eq!(flagged.schedule.resources()[0].slug.as_str(), "alice");
        assert_eq!(flagged.trusted_proxies, ["::1".parse::<IpAddr>().unwrap()]);
        assert_eq!(flagged.store.migrations, Migrations::Apply);
        assert_eq!(flagged.hold_duration, chrono::Duration::minutes(10));
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
            error
                .to_string()
                .contains("slots of 90 minutes (--slot-minutes, BOOKING_SLOT_MINUTES or slot_minutes) are longer than every opening range"),
            "{error}"
        );
    }
}
