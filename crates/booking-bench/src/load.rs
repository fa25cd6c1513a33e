//! Many keep-alive connections, each sending the scenario's requests one after another until
//! time is up; latency and status of every request are recorded.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method,
    body::Bytes,
    client::conn::http1::{self, SendRequest},
    header,
};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::{Kind, scenario::Scenario};

/// One request to send.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    path: String,
    body: Option<Bytes>,
}

impl Request {
    /// A GET.
    pub fn get(path: &str) -> Self {
        Self { method: Method::GET, path: path.to_owned(), body: None }
    }

    /// A POST with an optional JSON body.
    pub fn post(path: &str, body: Option<Value>) -> Self {
        Self {
            method: Method::POST,
            path: path.to_owned(),
            body: body.map(|b| Bytes::from(b.to_string())),
        }
    }
}

/// A response as far as the bench cares.
#[derive(Debug)]
pub struct Response {
    /// Its status.
    pub status: u16,
    body: Bytes,
}

impl Response {
    /// The `appointment_id` of a booking's answer.
    pub fn appointment_id(&self) -> Option<String> {
        let body: Value = serde_json::from_slice(&self.body).ok()?;
        body["appointment_id"].as_str().map(str::to_owned)
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
}

impl Client {
    /// Connects to `address`.
    pub async fn connect(address: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Self { sender })
    }

    /// The slugs of the server's resources.
    pub async fn resources(&mut self) -> anyhow::Result<Vec<String>> {
        let response = self.send(Request::get("/resources")).await?;
        let body: Value = serde_json::from_slice(&response.body)?;
        let slugs = body["resources"].as_array().context("GET /resources lists no resources")?;
        Ok(slugs.iter().filter_map(|r| r["slug"].as_str().map(str::to_owned)).collect())
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(&mut self, request: Request) -> anyhow::Result<Response> {
        let mut builder = hyper::Request::builder()
            .method(request.method)
            .uri(request.path)
            .header(header::HOST, "bench");
        if request.body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let request = builder.body(Full::new(request.body.unwrap_or_default()))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Response { status, body })
    }
}

/// A run of one scenario.
pub struct Load {
    scenario: Arc<Scenario>,
    address: SocketAddr,
    connections: usize,
    duration: Duration,
}

/// What a run saw.
#[derive(Debug)]
pub struct Outcome {
    /// The scenario.
    pub kind: Kind,
    /// Latency of every answered request, in microseconds.
    pub latency: Histogram<u64>,
    /// Answers by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection errors).
    pub failures: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// For booking scenarios: each slot aimed at, with the ids of the bookings it got.
    pub booked: HashMap<u64, Vec<String>>,
}

#[derive(Default)]
struct Shared {
    statuses: BTreeMap<u16, u64>,
    failures: u64,
    booked: HashMap<u64, Vec<String>>,
}

impl Load {
    /// `connections` clients sending `scenario` to `address` for `duration`.
    pub fn new(
        scenario: Scenario,
        address: SocketAddr,
        connections: usize,
        duration: Duration,
    ) -> Self {
        Self { scenario: Arc::new(scenario), address, connections, duration }
    }

    /// Runs the load, printing a progress line every second on standard error.
    pub async fn run(self, label: &str) -> anyhow::Result<Outcome> {
        let counter = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let started = Instant::now();
        let deadline = started + self.duration;
        let mut workers = Vec::new();
        for _ in 0..self.connections {
            let (scenario, counter, shared) =
                (self.scenario.clone(), counter.clone(), shared.clone());
            let address = self.address;
            workers.push(tokio::spawn(async move {
                work(address, &scenario, &counter, &shared, deadline).await
            }));
        }
        let progress = {
            let (counter, label) = (counter.clone(), label.to_owned());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let sent = counter.load(Ordering::Relaxed);
                    let seconds = started.elapsed().as_secs_f64();
                    eprint!(
                        "\r{label}: {sent} requests in {seconds:.0} s, {:.0}/s   ",
                        sent as f64 / seconds
                    );
                }
            })
        };
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        for worker in workers {
            latency.add(worker.await??)?;
        }
        progress.abort();
        eprintln!();
        let elapsed = started.elapsed();
        let shared = std::mem::take(&mut *shared.lock().unwrap_or_else(PoisonError::into_inner));
        Ok(Outcome {
            kind: self.scenario.kind,
            latency,
            statuses: shared.statuses,
            failures: shared.failures,
            elapsed,
            booked: shared.booked,
        })
    }
}

async fn work(
    address: SocketAddr,
    scenario: &Scenario,
    counter: &AtomicU64,
    shared: &Mutex<Shared>,
    deadline: Instant,
) -> anyhow::Result<Histogram<u64>> {
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut client = Client::connect(address).await?;
    let (mut statuses, mut booked, mut failures) = (BTreeMap::new(), Vec::new(), 0);
    while Instant::now() < deadline {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let (slot, request) = scenario.request(n);
        let sent = Instant::now();
        match client.send(request).await {
            Ok(response) => {
                latency.record(sent.elapsed().as_micros().max(1) as u64)?;
                *statuses.entry(response.status).or_insert(0) += 1;
                if let Some(slot) = slot {
                    booked.push((
                        slot,
                        (response.status == 201).then(|| response.appointment_id()).flatten(),
                    ));
                }
            }
            Err(_) => {
                failures += 1;
                client = Client::connect(address).await?;
            }
        }
    }
    let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
    for (status, count) in statuses {
        *shared.statuses.entry(status).or_insert(0) += count;
    }
    shared.failures += failures;
    for (slot, id) in booked {
        let ids = shared.booked.entry(slot).or_default();
        ids.extend(id);
    }
    Ok(latency)
}

/// What the invariant check found.
#[derive(Debug, Default, serde::Serialize)]
pub struct Checks {
    /// Answers with a 5xx status.
    pub server_errors: u64,
    /// Requests that got no answer.
    pub unanswered: u64,
    /// Bookings answered 201 that GET /appointment/{id} cannot find.
    pub lost_bookings: u64,
    /// Slots that got more 201s than their capacity (1).
    pub overbooked_slots: u64,
    /// `contend` only: slots that every client missed although one place was free.
    pub slots_without_a_booking: u64,
    /// Bookings looked up again.
    pub bookings_checked: u64,
}

impl Outcome {
    /// Answered requests per second.
    pub fn requests_per_second(&self) -> f64 {
        self.latency.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// Checks the service's promises through its API.
    pub async fn check(&self, address: SocketAddr) -> anyhow::Result<Checks> {
        let mut checks = Checks {
            server_errors: self.statuses.range(500..).map(|(_, n)| n).sum(),
            unanswered: self.failures,
            ..Checks::default()
        };
        if self.kind == Kind::Ceiling {
            return Ok(checks);
        }
        checks.overbooked_slots = self.booked.values().filter(|ids| ids.len() > 1).count() as u64;
        if self.kind == Kind::Contend {
            checks.slots_without_a_booking =
                self.booked.values().filter(|ids| ids.is_empty()).count() as u64;
        }
        let ids: Vec<String> = self.booked.values().flatten().cloned().collect();
        checks.bookings_checked = ids.len() as u64;
        let chunks: Vec<Vec<String>> =
            ids.chunks(ids.len().div_ceil(16).max(1)).map(<[String]>::to_vec).collect();
        let mut lookups = Vec::new();
        for chunk in chunks {
            lookups.push(tokio::spawn(async move {
                let mut client = Client::connect(address).await?;
                let mut lost = 0;
                for id in chunk {
                    let request = crate::load::Request::get(&format!("/appointment/{id}"));
                    if client.send(request).await?.status != 200 {
                        lost += 1;
                    }
                }
                anyhow::Ok(lost)
            }));
        }
        for lookup in lookups {
            checks.lost_bookings += lookup.await??;
        }
        Ok(checks)
    }
}
