//! What the load goes to: a server this process starts on a temporary database, a running
//! server, or the minimal handler that measures the HTTP ceiling.

use std::{
    net::{SocketAddr, ToSocketAddrs},
    sync::{Arc, mpsc},
    thread,
};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context, anyhow};
use booking_core::{
    catalog::Resource,
    client::ClientName,
    clock::SystemClock,
    schedule::Schedule,
    service::{BookRequest, BookingService, SlotRequest},
    units::{Capacity, SlotLength},
};
use booking_http::{config::Settings, startup::Application};
use booking_store::{DatabaseUrl, SqliteRepository, StoreOptions};
use chrono::{Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use crate::Kind;

/// The schedule the bench books in: the default opening hours and slot length, on
/// [`RESOURCES`] resources (so that a booking page's week is the usual 112 slots per resource).
const OPENS_AT: u32 = 9 * 60;
const SLOT_MINUTES: u32 = 30;
const SLOTS_PER_RESOURCE_DAY: u32 = 16;
/// Fixture bookings in flight at once, so that the writer commits them in large batches.
const FILL_IN_FLIGHT: usize = 256;
/// Resources of an own server.
pub const RESOURCES: u32 = 20;

/// A server under load.
pub struct Target {
    address: SocketAddr,
    /// The first day the bench books on; earlier days are left alone.
    pub first_day: NaiveDate,
    /// The resources' slugs.
    pub resources: Vec<String>,
    /// Appointments stored before the run.
    pub prefilled: Vec<String>,
    /// The thread the server runs on, when this process started it.
    server: Option<thread::JoinHandle<()>>,
    _directory: Option<TempDir>,
}

impl Target {
    /// Where the server listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A running server at `url` (`http://host:port`).
    pub fn external(url: &str) -> anyhow::Result<Self> {
        let host = url.trim_start_matches("http://").trim_end_matches('/');
        let address =
            host.to_socket_addrs()?.next().ok_or_else(|| anyhow!("{url} names no address"))?;
        // Far ahead, and at a different place for each run (ten seconds apart is enough), so as
        // not to meet what the server already holds.
        let run = Utc::now().timestamp() / 10 % 20_000;
        let first_day = Utc::now().date_naive() + Duration::days(3_000 + run);
        Ok(Self {
            address,
            first_day,
            resources: Vec::new(),
            prefilled: Vec::new(),
            server: None,
            _directory: None,
        })
    }

    /// Blocks until the server this process started stops (on SIGINT or SIGTERM).
    pub fn wait(mut self) {
        if let Some(server) = self.server.take() {
            let _stopped_or_panicked = server.join();
        }
    }

    /// A server of this build on a temporary database, pre-filled for the read scenarios.
    pub fn own(kind: Kind, prefill: usize) -> anyhow::Result<Self> {
        let directory = tempfile::tempdir()?;
        let path = directory.path().join("bench.db");
        let resources: Vec<String> = (0..RESOURCES).map(|n| format!("r{n}")).collect();
        let catalog = resources
            .iter()
            .map(|slug| {
                Ok(Resource {
                    slug: slug.parse()?,
                    name: slug.to_uppercase(),
                    hours: "09:00-17:00".parse()?,
                    capacity: Capacity::new(1)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let schedule = Schedule::new(
            chrono_tz::UTC,
            "09:00-17:00".parse()?,
            SlotLength::from_minutes(SLOT_MINUTES)?,
            Capacity::new(1)?,
        )
        .with_catalog(catalog, Vec::new())?;
        let first_day = Utc::now().date_naive() + Duration::days(2);
        let prefilled = match kind {
            Kind::Read | Kind::Mixed => fill(&path, &schedule, first_day, &resources, prefill)?,
            _ => Vec::new(),
        };
        // Bookings made during the run start after the pre-filled days.
        let first_day = first_day + Duration::days(days_for(prefill as u64, resources.len()) + 1);
        let settings = Settings {
            address: "127.0.0.1:0".parse()?,
            database: DatabaseUrl::Sqlite(path),
            schedule,
            rate_limit: None,
            ..Settings::default()
        };
        let (address, server) = serve(move || {
            let application = Application::build(settings, Arc::new(SystemClock))?;
            Ok((application.address(), async move { application.run_until_stopped().await }))
        })?;
        Ok(Self {
            address,
            first_day,
            resources,
            prefilled,
            server: Some(server),
            _directory: Some(directory),
        })
    }

    /// A handler that parses a booking's JSON and answers 201 with JSON, and nothing else.
    pub fn ceiling() -> anyhow::Result<Self> {
        let (address, server) = serve(|| {
            let server = HttpServer::new(|| App::new().route("/schedule", web::post().to(minimal)))
                .bind("127.0.0.1:0")?;
            let address = server.addrs()[0];
            let server = server.run();
            Ok((address, server))
        })?;
        Ok(Self {
            address,
            first_day: Utc::now().date_naive(),
            resources: vec!["default".to_owned()],
            prefilled: Vec::new(),
            server: Some(server),
            _directory: None,
        })
    }
}

#[derive(Deserialize, Serialize)]
struct Minimal {
    client_name: String,
    date: String,
    time: String,
}

async fn minimal(body: web::Json<Minimal>) -> HttpResponse {
    HttpResponse::Created().json(body.into_inner())
}

/// Runs a server on its own thread and actix system; returns once it listens, with the thread.
fn serve<F, S>(start: F) -> anyhow::Result<(SocketAddr, thread::JoinHandle<()>)>
where
    F: FnOnce() -> anyhow::Result<(SocketAddr, S)> + Send + 'static,
    S: std::future::Future<Output = std::io::Result<()>> + 'static,
{
    let (sender, receiver) = mpsc::channel();
    let server = thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match start() {
                Ok((address, server)) => {
                    let _ = sender.send(Ok(address));
                    let _stopped = server.await;
                }
                Err(error) => {
                    let _ = sender.send(Err(error));
                }
            }
        });
    });
    let address = receiver.recv().context("the server thread died")??;
    Ok((address, server))
}

/// Stores `count` appointments, one per slot from `first_day`, straight through the store
/// (without waiting for the disk: a fixture, not a measurement).
fn fill(
    path: &std::path::Path,
    schedule: &Schedule,
    first_day: NaiveDate,
    resources: &[String],
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let options = StoreOptions { durable: false, ..StoreOptions::default() };
    let repository = Arc::new(SqliteRepository::open(path, &options)?);
    let service = BookingService::new(repository, Arc::new(SystemClock), schedule.clone());
    let client_name = ClientName::parse("Prefilled Client")?;
    let mut ids = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(FILL_IN_FLIGHT) {
        let mut pending = Vec::with_capacity(chunk.len());
        for &n in chunk {
            let (date, time, resource) = slot(first_day, resources, n as u64);
            let request = BookRequest {
                client_name: client_name.clone(),
                notes: None,
                contact: Default::default(),
                slot: SlotRequest { date, time, resource: Some(resource.parse()?), service: None },
                hold: None,
            };
            let booking =
                service.book(request, None).map_err(|e| anyhow!("pre-filling slot {n}: {e}"))?;
            pending.push((n, booking));
        }
        for (n, booking) in pending {
            let appointment = booking
                .wait()
                .map_err(|e| anyhow!("pre-filling slot {n}: {e}"))?
                .done()
                .ok_or_else(|| anyhow!("pre-filling slot {n} was replayed"))?
                .outcome;
            ids.push(appointment.id().to_string());
        }
    }
    Ok(ids)
}

/// The `n`-th slot from `first_day` in the bench's schedule: resource by resource, then slot by
/// slot, then day by day.
pub fn slot(first_day: NaiveDate, resources: &[String], n: u64) -> (NaiveDate, NaiveTime, &str) {
    let per_day = u64::from(SLOTS_PER_RESOURCE_DAY) * resources.len() as u64;
    let day = first_day + Duration::days((n / per_day) as i64);
    let resource = &resources[(n % resources.len() as u64) as usize];
    let minute = OPENS_AT + (n % per_day / resources.len() as u64) as u32 * SLOT_MINUTES;
    (day, NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap_or(NaiveTime::MIN), resource)
}

/// Days that `count` slots fill.
pub fn days_for(count: u64, resources: usize) -> i64 {
    (count / (u64::from(SLOTS_PER_RESOURCE_DAY) * resources as u64)) as i64
}
