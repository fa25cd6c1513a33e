//! The server's configuration: a plain value, built from flags and environment variables by
//! [`Cli`](crate::cli::Cli) or directly by tests and embedders.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    num::{NonZeroU16, NonZeroU32},
    str::FromStr,
    time::Duration,
};

use booking_core::{schedule::Schedule, service::Given};
use booking_store::{DatabaseUrl, StoreOptions};

/// How often expired idempotency keys are forgotten unless configured otherwise.
pub const DEFAULT_KEY_SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// Writes per minute per client unless configured otherwise.
pub const DEFAULT_RATE_LIMIT: u32 = 120;
/// Availability streams one server keeps open unless configured otherwise: each is a
/// connection (a file descriptor) and a task.
pub const DEFAULT_MAX_STREAMS: usize = 1000;
/// Availability streams per client unless configured otherwise: a few browser tabs, with room
/// for clients that share an address.
pub const DEFAULT_MAX_STREAMS_PER_CLIENT: usize = 16;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen; port 0 picks a free port.
    pub address: SocketAddr,
    /// Where appointments are kept.
    pub database: DatabaseUrl,
    /// How the store uses its database.
    pub store: StoreOptions,
    /// The business's schedule.
    pub schedule: Schedule,
    /// Which parts of the schedule's calendar the settings give, and so put in force over the
    /// stored calendar at start-up (every part, unless the command line says otherwise).
    pub calendar_given: Given,
    /// How long a hold keeps its slot.
    pub hold_duration: chrono::Duration,
    /// How long idempotency keys are remembered.
    pub key_lifetime: chrono::Duration,
    /// How often expired idempotency keys are forgotten (in the background).
    pub key_sweep_interval: Duration,
    /// The bearer token of the operator's API; it is off without one.
    pub admin_token: Option<BearerToken>,
    /// The token `/metrics` requires, if any.
    pub metrics_token: Option<BearerToken>,
    /// The token calendar feeds require; without one they are off.
    pub feed_token: FeedToken,
    /// Time between heartbeat comments on idle availability streams.
    pub stream_heartbeat: Duration,
    /// Writes one client may make per minute; `None` turns the limit off.
    pub rate_limit: Option<NonZeroU32>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Active holds one client may have; `None`: no cap.
    pub max_holds_per_client: Option<NonZeroU16>,
    /// Availability streams this server keeps open at once.
    pub max_streams: usize,
    /// Availability streams one client may have open on this server.
    pub max_streams_per_client: usize,
    /// How long a client may take to send a request's headers.
    pub client_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
    /// HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
    /// How webhooks are delivered.
    pub webhooks: WebhookSettings,
    /// How notifications are mailed; `None`: mail is off.
    pub mail: Option<crate::mail::MailSettings>,
    /// The business's language: of its messages and calendar events.
    pub language: crate::language::Language,
    /// Other sites whose pages may call the API from the browser (CORS); none by default.
    pub cors_origins: Vec<crate::cors::CorsOrigin>,
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Default)]
pub struct WebhookSettings {
    /// Whether endpoints may be on loopback or private addresses (off: a registered URL could
    /// otherwise reach services inside the network the server runs in).
    pub allow_private: bool,
    /// When a failed delivery is tried again.
    pub retries: booking_core::webhook::RetrySchedule,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, 5000)),
            database: DatabaseUrl::Sqlite("appointments.db".into()),
            store: StoreOptions::default(),
            schedule: Schedule::default(),
            calendar_given: Given::ALL,
            hold_duration: booking_core::service::DEFAULT_HOLD_DURATION,
            key_lifetime: booking_core::idempotency::DEFAULT_KEY_LIFETIME,
            key_sweep_interval: DEFAULT_KEY_SWEEP_INTERVAL,
            webhooks: WebhookSettings::default(),
            mail: None,
            language: crate::language::Language::default(),
            admin_token: None,
            metrics_token: None,
            feed_token: FeedToken(None),
            stream_heartbeat: Duration::from_secs(15),
            rate_limit: NonZeroU32::new(DEFAULT_RATE_LIMIT),
            trusted_proxies: Vec::new(),
            max_holds_per_client: Some(booking_core::hold::DEFAULT_HOLDS_PER_HOLDER),
            max_streams: DEFAULT_MAX_STREAMS,
            max_streams_per_client: DEFAULT_MAX_STREAMS_PER_CLIENT,
            client_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(5),
            workers: None,
            cors_origins: Vec::new(),
        }
    }
}

/// A bearer token (the operator's, or the metrics scraper's): a secret that never prints and is
/// compared in constant time.
#[derive(Clone)]
pub struct BearerToken(String);

/// The token that reads calendar feeds (`?token=` in their URL, which calendar apps keep and
/// show), never the admin token; `None`: feeds are off.
#[derive(Debug, Clone, Default)]
pub struct FeedToken(pub Option<BearerToken>);

/// A token that is no secret.
#[derive(Debug, thiserror::Error)]
pub enum BearerTokenError {
    /// Shorter than 16 characters.
    #[error("a bearer token must be at least 16 characters")]
    TooShort,
    /// A placeholder from documentation, which anyone can read.
    #[error(
        "'{0}' is a placeholder from the documentation; make a secret of your own, e.g. with \
         head -c 24 /dev/urandom | base64"
    )]
    Placeholder(&'static str),
}

/// Tokens this project's documentation showed as examples (earlier versions of the README).
const PLACEHOLDERS: &[&str] = &["change-me-to-a-long-secret"];

impl FromStr for BearerToken {
    type Err = BearerTokenError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(placeholder) = PLACEHOLDERS.iter().find(|p| p.eq_ignore_ascii_case(text)) {
            return Err(BearerTokenError::Placeholder(placeholder));
        }
        if text.len() < 16 { Err(BearerTokenError::TooShort) } else { Ok(Self(text.to_owned())) }
    }
}

impl BearerToken {
    /// Whether `candidate` is the token, in time that does not depend on where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }

    /// Whether the token can stand in a URL's query as it is (letters, digits, `-._~`): a
    /// `+` would be read as a space, and `/`, `=` or `&` would need escaping.
    pub fn is_url_safe(&self) -> bool {
        self.0.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    }

    /// Whether `other` is the same token.
    pub fn is(&self, other: &BearerToken) -> bool {
        self.matches(&other.0)
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(***)")
    }
}
