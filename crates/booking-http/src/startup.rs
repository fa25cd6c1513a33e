//! Building the server as a value: opened store, bound listener, routes and middleware.

use std::{net::SocketAddr, sync::Arc};

use actix_web::{
    App, HttpRequest, HttpServer,
    dev::Server,
    middleware::{DefaultHeaders, ErrorHandlers, from_fn},
    web,
};
use anyhow::Context;
#[cfg(feature = "postgres")]
use booking_core::change::Change;
use booking_core::{
    catalog::DEFAULT_RESOURCE,
    clock::Clock,
    notification::Plan,
    repository::AppointmentRepository,
    schedule::Schedule,
    service::{AdoptError, BookingService, Given},
    stranded::Stranded,
};
use booking_store::{DatabaseUrl, SqliteRepository};
#[cfg(feature = "postgres")]
use booking_store::{PgRepository, postgres::Listening};

use crate::{
    config::Settings,
    error::{ApiError, json_error, problem_for_bare_errors, query_error},
    events::Events,
    limits::{self, RateLimiter},
    mail::{self, MailSettings},
    metrics::Metrics,
    openapi::OpenApiJson,
    outbox::Nudging,
    routes::{self, Bookings, StoreCalls, stream::Heartbeat},
    telemetry,
    webhooks::worker,
};
use tokio::sync::Notify;

/// Why a server built without the `postgres` feature refuses a PostgreSQL URL.
#[cfg(not(feature = "postgres"))]
pub const WITHOUT_POSTGRES: &str = "this server was built without PostgreSQL support; build it with \
     the default features (cargo build --release -p booking-http) or use sqlite://PATH";

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A server bound to its address, ready to run.
pub struct Application {
    server: Server,
    address: SocketAddr,
    /// With PostgreSQL, hears other servers' changes for as long as the server runs.
    #[cfg(feature = "postgres")]
    _listening: Option<Listening>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the store (applying migrations), binds the listener and builds the server.
    pub fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = Store::open(&settings)?;
        let (events, publisher) = Events::new();
        let deliveries = Arc::new(Notify::new());
        let letters = Arc::new(Notify::new());
        let feed =
            Nudging { feed: events.clone(), workers: vec![deliveries.clone(), letters.clone()] };
        let service = BookingService::new(store.repository, clock, settings.schedule)
            .with_hold_duration(settings.hold_duration)
            .with_key_lifetime(settings.key_lifetime)
            .with_holds_per_holder(settings.max_holds_per_client)
            .with_feed(Arc::new(feed));
        adopt_calendar(&service, settings.calendar_given)?;
        plan_notifications(&service, settings.mail.as_ref())?;
        let bookings = web::Data::new(Bookings::new(service, store.calls));
        publisher.start(bookings.clone());
        crate::sweep::start(bookings.clone(), settings.key_sweep_interval);
        let client = worker::client(&settings.webhooks)
            .context("cannot set up the HTTP client for webhooks")?;
        worker::start(bookings.clone(), settings.webhooks.clone(), client, deliveries);
        if let Some(mail) = settings.mail {
            let transport = mail.server.transport()?;
            mail::worker::start(bookings.clone(), mail, transport, letters);
        }
        let cors_origins = settings.cors_origins.clone();
        let language = web::Data::new(settings.language);
        let webhook_settings = web::Data::new(settings.webhooks);
        #[cfg(feature = "postgres")]
        let listening = store
            .postgres
            .map(|repository| {
                let events = events.clone();
                let bookings = bookings.clone();
                repository.listen(move |change| {
                    // A change of the calendar reaches other servers as "everything changed":
                    // follow the stored calendar before the streams read again.
                    if change == Change::Everything
                        && let Err(error) = bookings.reload_calendar()
                    {
                        tracing::warn!(%error, "cannot read the stored calendar");
                    }
                    events.relay(change)
                })
            })
            .transpose()?;
        let events = web::Data::new(events);
        let heartbeat = web::Data::new(Heartbeat(settings.stream_heartbeat));
        let admin_token = web::Data::new(settings.admin_token);
        let feed_token = web::Data::new(settings.feed_token);
        // Who a request comes from, one reading for every limit and cap.
        let clients = limits::Clients::new(settings.trusted_proxies.clone());
        let limiter =
            web::Data::new(settings.rate_limit.map(|n| RateLimiter::new(n, clients.clone())));
        let metrics = web::Data::new(
            Metrics::install(settings.metrics_token).context("cannot set up the metrics")?,
        );
        let readiness = web::Data::new(routes::meta::Readiness::default());
        let stream_caps = web::Data::new(limits::StreamCaps::new(
            settings.max_streams,
            settings.max_streams_per_client,
        ));
        let admin_failures = web::Data::new(limits::AdminFailures::new(clients.clone()));
        let clients = web::Data::new(clients);
        let openapi =
            web::Data::new(OpenApiJson::build().context("cannot build the OpenAPI document")?);
        let listener = std::net::TcpListener::bind(settings.address)
            .with_context(|| format!("cannot listen on {}", settings.address))?;
        let address = listener.local_addr()?;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(bookings.clone())
                .app_data(events.clone())
                .app_data(heartbeat.clone())
                .app_data(admin_token.clone())
                .app_data(feed_token.clone())
                .app_data(webhook_settings.clone())
                .app_data(language.clone())
                .app_data(limiter.clone())
                .app_data(openapi.clone())
                .app_data(metrics.clone())
                .app_data(readiness.clone())
                .app_data(admin_failures.clone())
                .app_data(clients.clone())
                .app_data(stream_caps.clone())
                .app_data(
                    web::JsonConfig::default().limit(MAX_BODY_BYTES).error_handler(json_error),
                )
                // Bodies read as bytes (a body that may be left out) have the same limit.
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .configure(routes::configure)
                .default_service(web::to(|request: HttpRequest| async move {
                    Err::<actix_web::HttpResponse, _>(ApiError::route_not_found(
                        request.method().as_str(),
                        request.path(),
                    ))
                }))
                .wrap(from_fn(limits::limit_writes))
                .wrap(from_fn(limits::limit_headers))
                .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
                // Outside the problems, so that every answer, a problem too, carries its CORS
                // headers.
                .wrap(crate::cors::middleware(&cors_origins))
                .wrap(
                    // The API serves no HTML; should a browser render a response anyway, it
                    // may load nothing and be framed by no one.
                    DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add((
                            "Content-Security-Policy",
                            "default-src 'none'; frame-ancestors 'none'",
                        ))
                        .add(("Referrer-Policy", "no-referrer")),
                )
                .wrap(from_fn(telemetry::log_request))
        })
        .shutdown_timeout(30)
        // Slow clients: the headers must arrive within the client timeout, idle connections
        // close after the keep-alive, and a closing client gets one second to go.
        .client_request_timeout(settings.client_timeout)
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .keep_alive(settings.keep_alive);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server.listen(listener)?.run();
        Ok(Self {
            server,
            address,
            #[cfg(feature = "postgres")]
            _listening: listening,
        })
    }

    /// Where the server listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight and returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The scheduled appointments that have not ended and that `settings` would strand, read
/// without serving and without migrating (`booking-http check`), with the schedule that
/// strands them: the settings' parts of the calendar over the stored one, as start-up would
/// put them in force.
pub fn stranded(
    mut settings: Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Schedule, Vec<Stranded>)> {
    settings.store.migrations = booking_store::Migrations::Require;
    let store = Store::open(&settings)?;
    let service = BookingService::new(store.repository, clock, settings.schedule.clone());
    let schedule = service.settings_schedule(settings.calendar_given)?;
    let stranded = service
        .stranded_under(&schedule)
        .map_err(|e| anyhow::anyhow!("cannot check the appointments against the settings: {e}"))?;
    Ok((schedule, stranded))
}

/// Puts the settings' parts of the calendar in force over the stored calendar (see
/// [`Given`]); stops start-up, with one line, when that would strand appointments that have
/// not ended: occupancy is counted per slot start, so serving a grid they were not booked on
/// would count them in the wrong slots and book over them.
fn adopt_calendar(service: &BookingService, given: Given) -> anyhow::Result<()> {
    let stranded = match service.adopt_calendar(given) {
        Ok(stored) => {
            tracing::info!(version = stored.version, "following the stored calendar");
            let default = DEFAULT_RESOURCE;
            if given.default_resource
                && !stored.calendar.resources.iter().any(|r| r.slug.as_str() == default)
            {
                tracing::warn!(
                    "BOOKING_OPENING_HOURS and BOOKING_CAPACITY describe the resource '{default}', \
                     which the stored calendar no longer has: they change nothing; change the \
                     resources through the admin API, or give them in a configuration file"
                );
            }
            return Ok(());
        }
        Err(AdoptError::Strands(stranded)) => stranded,
        Err(error) => {
            return Err(anyhow::anyhow!("cannot put the settings' calendar in force: {error}"));
        }
    };
    let Some(first) = stranded.first() else { return Ok(()) };
    let schedule = service.schedule();
    let start = first.appointment.slot().start().with_timezone(&schedule.time_zone());
    let (count, they, them) = match stranded.len() {
        1 => ("1 appointment that has".to_owned(), "it was", "it"),
        n => (format!("{n} appointments that have"), "they were", "them"),
    };
    // No id or name: ids are capabilities and stay out of the logs.
    anyhow::bail!(
        "these settings do not place {count} not ended where {they} booked (the first: on \
         '{resource}' at {start}: {strand}); start with the settings {they} booked under \
         (BOOKING_SLOT_MINUTES, BOOKING_OPENING_HOURS, BOOKING_CAPACITY, BOOKING_TIME_ZONE, and \
         the configuration file's resources and services), move or cancel {them} (booking-http \
         check, with these settings, lists them; one under way can only be waited for), then \
         change the settings; or leave the calendar settings out to keep the stored calendar",
        resource = first.appointment.resource(),
        start = start.format("%Y-%m-%d %H:%M %Z"),
        strand = first.strand,
    )
}

/// Puts the notification plan of `mail` in force in the store (no plan without mail), before
/// the server takes a write: every server of one database should be given the same mail
/// settings, and the last to start decides.
fn plan_notifications(service: &BookingService, mail: Option<&MailSettings>) -> anyhow::Result<()> {
    let plan = mail.map(|mail| Plan { reminders: mail.reminders.clone() });
    let on = plan.is_some();
    let planned = service
        .plan_notifications(plan)
        .wait()
        .map_err(|e| anyhow::anyhow!("cannot put the notification plan in force: {e}"))?;
    let reminders: Vec<String> = mail
        .map(|mail| {
            mail.reminders.leads().iter().map(|lead| format!("{}s", lead.as_secs())).collect()
        })
        .unwrap_or_default();
    if planned.was_on && !on {
        tracing::warn!(
            "mail was on for this database, and this server has no BOOKING_SMTP_URL: no \
             notification is queued from now on, by any server; give every server the same \
             mail settings"
        );
    }
    tracing::info!(
        mail = if on { "on" } else { "off" },
        reminders = reminders.join(","),
        queued = planned.reminders_queued,
        dropped = planned.reminders_dropped,
        "notification plan in force"
    );
    Ok(())
}

/// The opened store, and how the service calls it.
struct Store {
    repository: Arc<dyn AppointmentRepository>,
    calls: StoreCalls,
    /// The PostgreSQL repository again, to hear other servers' changes.
    #[cfg(feature = "postgres")]
    postgres: Option<Arc<PgRepository>>,
}

impl Store {
    /// Opens the database `settings` name, applying migrations.
    fn open(settings: &Settings) -> anyhow::Result<Self> {
        match &settings.database {
            DatabaseUrl::Sqlite(path) => Ok(Self {
                repository: Arc::new(SqliteRepository::open(path, &settings.store)?),
                calls: StoreCalls::Inline,
                #[cfg(feature = "postgres")]
                postgres: None,
            }),
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres(url) => {
                let repository = Arc::new(PgRepository::open(url, &settings.store)?);
                Ok(Self {
                    repository: repository.clone(),
                    calls: StoreCalls::Blocking,
                    postgres: Some(repository),
                })
            }
            #[cfg(not(feature = "postgres"))]
            DatabaseUrl::Postgres(_) => anyhow::bail!(WITHOUT_POSTGRES),
        }
    }
}
