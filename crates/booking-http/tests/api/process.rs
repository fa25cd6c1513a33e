//! The real binary, started as a process: concurrency across connections and processes,
//! configuration errors and shutdown.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use chrono::Utc;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_booking-http");

/// A running server process, killed when dropped.
pub(crate) struct Server {
    child: Child,
    address: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the binary on a free port with `database`; returns once it listens.
    pub(crate) fn start(database: &Path) -> Self {
        Self::starting(database, &[]).ready()
    }

    fn starting(database: &Path, env: &[(&str, &str)]) -> Starting {
        Self::starting_on(&format!("sqlite://{}", database.display()), env)
    }

    /// Starts the binary on a free port with the database at `url`.
    pub(crate) fn starting_on(url: &str, env: &[(&str, &str)]) -> Starting {
        let mut child = Command::new(BINARY)
            .env_clear()
            .env("PORT", "0")
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, receiver) = mpsc::channel();
        let log = Arc::new(Mutex::new(String::new()));
        let kept = log.clone();
        // Keeps the log and reports the listening address; draining the pipe also keeps the
        // server from blocking on it.
        thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    // Text logs end the address with a space, JSON logs with a quote.
                    let address = rest.split(|c: char| c.is_whitespace() || c == '"').next();
                    let _receiver_gone = sender.send(address.unwrap_or_default().to_owned());
                }
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        Starting { child, receiver, log }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// What it has logged so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

pub(crate) struct Starting {
    child: Child,
    receiver: mpsc::Receiver<String>,
    log: Arc<Mutex<String>>,
}

impl Starting {
    pub(crate) fn ready(mut self) -> Server {
        match self.receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => Server { child: self.child, address, log: self.log },
            Err(_) => {
                let _ = self.child.kill();
                let output = self.child.wait_with_output().unwrap();
                panic!("server did not start: {}", String::from_utf8_lossy(&output.stderr));
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _already_gone = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A date a month from today, so that its slots are in the future by the real clock.
pub(crate) fn next_month() -> String {
    (Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d").to_string()
}

/// Fires `count` bookings of one slot at once, spread over `servers`; returns the statuses.
pub(crate) async fn book_simultaneously(
    servers: &[&Server],
    count: usize,
    date: &str,
) -> Vec<StatusCode> {
    let client = reqwest::Client::new();
    let requests = (0..count).map(|i| {
        let request = client
            .post(servers[i % servers.len()].url("/schedule"))
            .json(&json!({"client_name": format!("Client {}", "x".repeat(i % 7 + 1)), "date": date, "time": "10:00"}));
        async move { request.send().await.unwrap().status() }
    });
    join_all(requests).await
}

/// The slots of `date` as a server lists them.
pub(crate) async fn slots_on(server: &Server, date: &str) -> Vec<serde_json::Value> {
    let listing: serde_json::Value =
        reqwest::get(server.url(&format!("/availability?date={date}")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    listing["slots"].as_array().unwrap_or_else(|| panic!("no slots: {listing}")).clone()
}

/// The 10:00 slot of `date` as a server lists it.
pub(crate) async fn slot_at_ten(server: &Server, date: &str) -> serde_json::Value {
    slots_on(server, date).await.into_iter().find(|s| s["time"] == "10:00").unwrap()
}

/// POSTs a JSON body and returns the JSON answer.
async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    client.post(url).json(body).send().await.unwrap().json().await.unwrap()
}

/// Books 11:00 a month from now through `server`; fails the test unless it is booked.
async fn book_at_eleven(server: &Server) {
    let booked = reqwest::Client::new()
        .post(server.url("/schedule"))
        .json(&json!({"client_name": "Ada", "date": next_month(), "time": "11:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), StatusCode::CREATED);
}

pub(crate) fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[actix_web::test]
async fn sixty_four_simultaneous_bookings_of_one_slot_give_exactly_one_201() {
    let directory = tempfile::tempdir().unwrap();
    let server = Server::start(&directory.path().join("one.db"));
    let date = next_month();
    let statuses = book_simultaneously(&[&server], 64, &date).await;
    assert_eq!(count(&statuses, StatusCode::CREATED), 1, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::CONFLICT), 63, "{statuses:?}");
    assert_eq!(slot_at_ten(&server, &date).await["booked"], 1);
}

#[actix_web::test]
async fn two_processes_on_one_database_file_never_double_book() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("shared.db");
    // Both start at once, so both race to create the schema too.
    let (first, second) = (Server::starting(&database, &[]), Server::starting(&database, &[]));
    let (first, second) = (first.ready(), second.ready());
    let date = next_month();
    let statuses = book_simultaneously(&[&first, &second], 64, &date).await;
    assert_eq!(count(&statuses, StatusCode::CREATED), 1, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::CONFLICT), 63, "{statuses:?}");
    for server in [&first, &second] {
        let slot = slot_at_ten(server, &date).await;
        assert_eq!((slot["booked"].as_u64(), slot["available"].as_bool()), (Some(1), Some(false)));
    }
}

#[actix_web::test]
async fn request_logs_name_routes_but_never_ids_tokens_names_or_contact_details() {
    let directory = tempfile::tempdir().unwrap();
    let server = Server::start(&directory.path().join("logs.db"));
    let client = reqwest::Client::new();
    let booked = post_json(&client, &server.url("/schedule"), &json!({"client_name": "Zebulon Secretname", "date": next_month(), "time": "12:00", "notes": "private", "email": "zebulon@secret.example", "phone": "+44 20 7946 0958"})).await;
    let id = booked["appointment_id"].as_str().unwrap();
    client.get(server.url(&format!("/appointment/{id}"))).send().await.unwrap();
    let held =
        post_json(&client, &server.url("/holds"), &json!({"date": next_month(), "time": "13:00"}))
            .await;
    let token = held["token"].as_str().unwrap();
    client.delete(server.url(&format!("/holds/{token}"))).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log.lock().unwrap().contains("route=\"/holds/{token}\"") {
        assert!(Instant::now() < deadline, "no log line for DELETE /holds");
        thread::sleep(Duration::from_millis(20));
    }
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("route=\"/appointment/{id}\"") && log.contains("status=200"), "{log}");
    for secret in [id, token, "Zebulon", "private", "zebulon@", "7946", "+442079460958"] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
}

/// `BOOKING_LOG_FORMAT=json`: every line is one JSON object, and a request's line names its
/// route, status and request id as fields.
#[actix_web::test]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let directory = tempfile::tempdir().unwrap();
    let server =
        Server::starting(&directory.path().join("json.db"), &[("BOOKING_LOG_FORMAT", "json")])
            .ready();
    let response = reqwest::Client::new()
        .get(server.url("/healthz"))
        .header("X-Request-Id", "json-log-test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "json-log-test");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log.lock().unwrap().contains("json-log-test") {
        assert!(Instant::now() < deadline, "no log line for the request");
        thread::sleep(Duration::from_millis(20));
    }
    let log = server.log.lock().unwrap().clone();
    let lines: Vec<serde_json::Value> =
        log.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let served = lines
        .iter()
        .find(|line| line["fields"]["request_id"] == "json-log-test")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(served["level"], "INFO");
    assert_eq!(served["fields"]["route"], "/healthz");
    assert_eq!(served["fields"]["status"], 200);
    assert_eq!(served["fields"]["message"], "served");
}

/// `/metrics` counts what real requests did: requests by route and status, the domain event
/// of a booking, a refusal by its reason, the writer's commits. The server is a process of its
/// own, so the counts are its alone.
#[actix_web::test]
async fn metrics_count_what_requests_did() {
    let directory = tempfile::tempdir().unwrap();
    let server = Server::start(&directory.path().join("metrics.db"));
    let client = reqwest::Client::new();
    let body = json!({"client_name": "Ada", "date": next_month(), "time": "10:00"});
    for expected in [StatusCode::CREATED, StatusCode::CONFLICT] {
        let response = client.post(server.url("/schedule")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), expected);
    }
    let read = client.get(server.url(&format!("/availability?date={}", next_month()))).send();
    assert_eq!(read.await.unwrap().status(), StatusCode::OK);
    let scrape = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(scrape.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = scrape.text().await.unwrap();
    let value = |series: &str| -> f64 {
        let line = text
            .lines()
            .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let schedule = r#"method="POST",route="/schedule""#;
    assert_eq!(value(&format!("booking_http_requests_total{{{schedule},status=\"201\"}}")), 1.0);
    assert_eq!(value(&format!("booking_http_requests_total{{{schedule},status=\"409\"}}")), 1.0);
    assert_eq!(value(&format!("booking_http_request_duration_seconds_count{{{schedule}}}")), 2.0);
    assert_eq!(value(r#"booking_events_total{event="appointment.scheduled"}"#), 1.0);
    assert_eq!(value(r#"booking_refusals_total{reason="full"}"#), 1.0);
    assert!(value("booking_store_commit_seconds_count") >= 1.0);
    assert_eq!(value("booking_store_write_queue_depth"), 0.0, "nothing waits once answered");
    assert!(value("booking_store_pool_wait_seconds_count") >= 1.0);
    assert!(value("booking_store_write_batch_size_count") >= 1.0);
    assert!(text.contains("# HELP booking_http_requests_total"), "{text}");
}

/// A server-side failure is logged on its request's line, with its route and its cause; the
/// client gets an opaque problem.
#[actix_web::test]
async fn a_failure_is_logged_with_its_route_and_cause() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("busy.db");
    let server = Server::starting(&database, &[("BOOKING_DB_BUSY_TIMEOUT_MS", "100")]).ready();
    let lock = booking_store::test_support::SqliteWriteLock::take(&database);
    let client = reqwest::Client::new();
    let body = json!({"client_name": "Ada Lovelace", "date": next_month(), "time": "10:00"});
    let response = client.post(server.url("/schedule")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!response.text().await.unwrap().contains("lock"), "the cause stays in the log");
    drop(lock);
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let log = server.log.lock().unwrap().clone();
        if let Some(line) = log.lines().find(|line| line.contains("request failed")) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no failure line:\n{log}");
        thread::sleep(Duration::from_millis(20));
    };
    for part in ["method=POST", "route=\"/schedule\"", "status=503", "cause=", "write lock"] {
        assert!(line.contains(part), "{part} is not in: {line}");
    }
}

/// A few hundredths of a second of pseudo-randomness, from the clock.
fn random_millis(range: std::ops::Range<u64>) -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    range.start + u64::from(nanos) % (range.end - range.start)
}

#[actix_web::test]
async fn bookings_acknowledged_before_a_kill_9_survive_it() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("crash.db");
    let url = format!("sqlite://{}", database.display());
    acknowledged_bookings_survive_kill_9(&url, || {
        booking_store::SqliteRepository::open(&database, &booking_store::StoreOptions::default())
            .unwrap()
            .check_integrity()
            .unwrap();
    })
    .await;
}

/// Three rounds of: four clients book distinct slots as fast as they can on a server at `url`,
/// which is killed (SIGKILL) at a random moment; after a restart every booking answered 201 is
/// there and every refused one left its slot empty; then `check` looks at the store itself.
pub(crate) async fn acknowledged_bookings_survive_kill_9(url: &str, check: impl Fn()) {
    let first_day = Utc::now().date_naive() + chrono::Duration::days(30);
    let unlimited = [("BOOKING_RATE_LIMIT_PER_MINUTE", "0")];
    for round in 0..3i64 {
        let mut server = Server::starting_on(url, &unlimited).ready();
        let client = reqwest::Client::new();
        // Bookings answered 201 so far: the kill comes only after the first, at a random moment.
        let booked = Arc::new(AtomicUsize::new(0));
        // Four clients book distinct slots as fast as they can until the server dies.
        let workers: Vec<_> = (0..4i64)
            .map(|worker| {
                let (client, url) = (client.clone(), server.url("/schedule"));
                let booked = Arc::clone(&booked);
                actix_web::rt::spawn(async move {
                    let mut outcomes = Vec::new();
                    for n in 0..400i64 {
                        let day = first_day + chrono::Duration::days(round * 100 + worker * 25 + n / 16);
                        let time = format!("{:02}:{:02}", 9 + (n % 16) / 2, (n % 2) * 30);
                        let body = json!({"client_name": "Crash Test", "date": day.to_string(), "time": time});
                        match client.post(&url).json(&body).send().await {
                            Ok(response) => {
                                let status = response.status();
                                if status == StatusCode::CREATED {
                                    booked.fetch_add(1, Ordering::Relaxed);
                                }
                                let id = response.json::<serde_json::Value>().await.ok().and_then(|b| b["appointment_id"].as_str().map(str::to_owned));
                                outcomes.push((day.to_string(), time, status, id));
                            }
                            // The server is gone: nothing more to learn.
                            Err(_) => break,
                        }
                    }
                    outcomes
                })
            })
            .collect();
        // A loaded machine may take a while over the first booking; the kill waits for it.
        let waiting = Instant::now();
        while booked.load(Ordering::Relaxed) == 0 && waiting.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(random_millis(100..600))).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let mut outcomes = Vec::new();
        for worker in workers {
            outcomes.extend(worker.await.unwrap());
        }
        let acknowledged: Vec<_> = outcomes.iter().filter(|o| o.2 == StatusCode::CREATED).collect();
        assert!(!acknowledged.is_empty(), "round {round}: nothing was booked before the kill");
        let restarted = Server::starting_on(url, &unlimited).ready();
        for (_, _, _, id) in &acknowledged {
            let id = id.as_deref().unwrap();
            let status = client
                .get(restarted.url(&format!("/appointment/{id}")))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, StatusCode::OK, "round {round}: acknowledged booking {id} is gone");
        }
        // A refused request left nothing behind: its slot holds only what a 201 booked.
        for (day, time, status, _) in outcomes.iter().filter(|o| o.2 != StatusCode::CREATED) {
            let slots = slots_on(&restarted, day).await;
            let slot = slots.iter().find(|s| s["time"] == *time).unwrap();
            assert_eq!(
                slot["booked"], 0,
                "round {round}: {day} {time} answered {status} but was written"
            );
        }
        drop(restarted);
        check();
    }
}

#[actix_web::test]
async fn a_backup_of_a_live_database_restores_every_appointment() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("live.db");
    let server = Server::start(&database);
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for time in ["09:00", "09:30", "10:00"] {
        let body = json!({"client_name": "Ada", "date": next_month(), "time": time});
        let booked = post_json(&client, &server.url("/schedule"), &body).await;
        ids.push(booked["appointment_id"].as_str().unwrap().to_owned());
    }
    let copy = directory.path().join("copy.db");
    let backup = run_with(&[], &database, &["backup", copy.to_str().unwrap()]);
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    assert!(String::from_utf8_lossy(&backup.stdout).contains("backed up"));
    drop(server);
    let restored = Server::start(&copy);
    for id in &ids {
        let status =
            client.get(restored.url(&format!("/appointment/{id}"))).send().await.unwrap().status();
        assert_eq!(status, StatusCode::OK, "{id}");
    }
    let again = run_with(&[], &database, &["backup", copy.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).starts_with("error: "), "one clear line");
}

/// A mistyped DATABASE_URL is an error, not the backup of a new, empty database.
#[test]
fn backup_of_a_missing_database_fails_and_creates_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("typo.db");
    let copy = directory.path().join("copy.db");
    let backup = run_with(&[], &missing, &["backup", copy.to_str().unwrap()]);
    assert!(!backup.status.success());
    let stderr = String::from_utf8_lossy(&backup.stderr);
    assert!(stderr.starts_with("error: there is no SQLite database at"), "{stderr}");
    assert!(!missing.exists() && !copy.exists());
}

/// `migrate` applies the schema and exits; a server started with BOOKING_MIGRATE=false then
/// serves from it, and refuses, with one line saying what to run, a database never migrated.
#[actix_web::test]
async fn migrate_then_start_without_migrating() {
    let directory = tempfile::tempdir().unwrap();
    let fresh = directory.path().join("fresh.db");
    let refused = run_with(&[("BOOKING_MIGRATE", "false")], &fresh, &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains("booking-http migrate"), "{stderr}");
    assert!(!fresh.exists(), "a server that may not migrate created the database");
    let migrated = run_with(&[], &fresh, &["migrate"]);
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(String::from_utf8_lossy(&migrated.stdout).contains("migrations applied"));
    let server = Server::starting(&fresh, &[("BOOKING_MIGRATE", "false")]).ready();
    book_at_eleven(&server).await;
}

/// The measured overlap: 30-minute slots and 09:30 booked; restarted with 60-minute slots, a
/// booking at 09:00 would have been accepted over it. Start-up refuses instead, with one line;
/// the old settings still start, and once the appointment is canceled the new ones do too.
#[actix_web::test]
async fn settings_that_strand_a_booking_stop_start_up() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("grid.db");
    let date = next_month();
    let id = {
        let server = Server::start(&database);
        let booked = schedule_on(&server, "Ada", &date, "09:30").await;
        assert_eq!(booked.status(), StatusCode::CREATED);
        let booked: serde_json::Value = booked.json().await.unwrap();
        booked["appointment_id"].as_str().unwrap().to_owned()
    };
    let refused = run_with(&[("BOOKING_SLOT_MINUTES", "60")], &database, &[]);
    assert!(!refused.status.success(), "a server started over a stranded booking");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    for expected in [
        "error: these settings do not place 1 appointment that has not ended where it was booked",
        &format!("at {date} 09:30 UTC: 09:30 is not the start of a slot: slots are 60 minutes"),
        "BOOKING_SLOT_MINUTES",
        "move or cancel it",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
    }
    assert!(!stderr.contains(&id), "the id is a capability: {stderr}");
    // `check` lists it, for the operator, and changes nothing.
    let checked = run_with(&[("BOOKING_SLOT_MINUTES", "60")], &database, &["check"]);
    assert!(!checked.status.success());
    let listed = String::from_utf8_lossy(&checked.stdout);
    assert!(
        listed.starts_with(&format!("{id}  default  {date} 09:30 UTC  09:30 is not the start")),
        "{listed}"
    );
    let fine = run_with(&[], &database, &["check"]);
    assert!(fine.status.success(), "{}", String::from_utf8_lossy(&fine.stderr));
    assert!(String::from_utf8_lossy(&fine.stdout).contains("place every appointment"));
    {
        let server = Server::start(&database);
        let canceled =
            reqwest::Client::new().post(server.url(&format!("/cancel/{id}"))).send().await.unwrap();
        assert_eq!(canceled.status(), StatusCode::OK);
    }
    let server = Server::starting(&database, &[("BOOKING_SLOT_MINUTES", "60")]).ready();
    assert_eq!(schedule_on(&server, "Bea", &date, "09:00").await.status(), StatusCode::CREATED);
}

/// The calendar is stored: a restart that gives no calendar setting keeps it (hours and slot
/// length both, and a resource added through the API), and one that gives a setting puts that
/// part alone in force (the hours of `default`, keeping the resource added).
#[actix_web::test]
async fn a_restart_keeps_the_stored_calendar_but_for_the_settings_it_gives() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("stored.db");
    let date = next_month();
    let token = ("BOOKING_ADMIN_TOKEN", "a-token-of-sixteen-or-more");
    let hours_of = |server: &Server| {
        let url = server.url("/resources");
        async move {
            let body: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            body["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{} {}",
                        r["slug"].as_str().unwrap(),
                        r["opening_hours"].as_str().unwrap()
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    {
        let env = [("BOOKING_OPENING_HOURS", "08:00-12:00"), ("BOOKING_SLOT_MINUTES", "20"), token];
        let server = Server::starting(&database, &env).ready();
        assert_eq!(hours_of(&server).await, ["default 08:00-12:00"]);
    }
    {
        let server = Server::starting(&database, &[token]).ready();
        assert_eq!(hours_of(&server).await, ["default 08:00-12:00"], "the stored hours stand");
        let booked = schedule_on(&server, "Ada", &date, "08:20").await;
        assert_eq!(booked.status(), StatusCode::CREATED, "20-minute slots stand");
        let added = reqwest::Client::new()
            .post(server.url("/admin/resources"))
            .bearer_auth(token.1)
            .json(&json!({"slug": "room", "name": "Room", "hours": "mon-fri 09:00-11:00"}))
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), StatusCode::CREATED);
    }
    let server = Server::starting(&database, &[("BOOKING_OPENING_HOURS", "08:00-17:00")]).ready();
    assert_eq!(
        hours_of(&server).await,
        ["default 08:00-17:00", "room mon-fri 09:00-11:00"],
        "the hours given are in force, and the resource added stays"
    );
    let booked = schedule_on(&server, "Bea", &date, "16:40").await;
    assert_eq!(booked.status(), StatusCode::CREATED, "the slot length not given stands");
}

async fn schedule_on(server: &Server, name: &str, date: &str, time: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/schedule"))
        .json(&json!({"client_name": name, "date": date, "time": time}))
        .send()
        .await
        .unwrap()
}

#[test]
fn backup_of_a_postgresql_database_points_to_its_own_tools() {
    let directory = tempfile::tempdir().unwrap();
    let copy = directory.path().join("copy.db");
    let env = [("DATABASE_URL", "postgres://booking:secret@127.0.0.1:1/booking")];
    let backup =
        run_with(&env, &directory.path().join("unused.db"), &["backup", copy.to_str().unwrap()]);
    assert!(!backup.status.success());
    let stderr = String::from_utf8_lossy(&backup.stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains("pg_dump"), "{stderr}");
    assert!(!copy.exists());
}

#[cfg(not(feature = "postgres"))]
#[test]
fn an_sqlite_only_server_refuses_a_postgresql_url_saying_how_to_build_one() {
    let directory = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", "postgres://booking@127.0.0.1:1/booking")];
    let output = run_with(&env, &directory.path().join("unused.db"), &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first_line = stderr.lines().next().unwrap_or_default();
    assert_eq!(first_line, format!("error: {}", booking_http::startup::WITHOUT_POSTGRES));
}

#[actix_web::test]
async fn sigterm_stops_the_server_cleanly() {
    let directory = tempfile::tempdir().unwrap();
    let mut server = Server::start(&directory.path().join("stop.db"));
    book_at_eleven(&server).await;
    let status =
        Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "server still running 20 s after SIGTERM");
        thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}

fn run_with(env: &[(&str, &str)], database: &Path, args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env_clear()
        .env("PORT", "0")
        .env("DATABASE_URL", format!("sqlite://{}", database.display()))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The order of precedence, seen through the database `migrate` opens: a flag wins over the
/// environment, the environment over the configuration file, the file over the default.
#[test]
fn flags_win_over_the_environment_and_the_environment_over_the_file() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("booking.toml");
    let [in_file, in_env, in_flag] =
        ["file.db", "env.db", "flag.db"].map(|name| directory.path().join(name));
    std::fs::write(&config, format!("database_url = \"sqlite://{}\"\n", in_file.display()))
        .unwrap();
    let migrate = |env: &[(&str, String)], args: &[String]| {
        let output = Command::new(BINARY)
            .args(args)
            .arg("migrate")
            .env_clear()
            .env("BOOKING_CONFIG", &config)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let url = |path: &Path| format!("sqlite://{}", path.display());
    assert!(migrate(&[], &[]).contains(&url(&in_file)));
    let env = [("DATABASE_URL", url(&in_env))];
    assert!(migrate(&env, &[]).contains(&url(&in_env)));
    assert!(migrate(&env, &[format!("--database-url={}", url(&in_flag))]).contains(&url(&in_flag)));
    assert!(in_file.exists() && in_env.exists() && in_flag.exists());
}

#[test]
fn invalid_configuration_stops_start_up_with_one_clear_line() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("config.db");
    for (env, expected) in [
        (&[("BOOKING_SLOT_MINUTES", "0")][..], "slot length must be between 1 and 1440 minutes"),
        (&[("BOOKING_TIME_ZONE", "Mars/Olympus")], "--time-zone"),
        (&[("BOOKING_OPENING_HOURS", "nine to five")], "is not a time range"),
        (&[("BOOKING_CAPACITY", "-1")], "--capacity"),
        (&[("PORT", "http")], "--port"),
        (&[("BOOKING_ADMIN_TOKEN", "change-me-to-a-long-secret")], "is a placeholder"),
        (&[("BOOKING_METRICS_TOKEN", "too-short")], "at least 16 characters"),
        (
            &[
                ("BOOKING_ADMIN_TOKEN", "one-secret-for-two"),
                ("BOOKING_FEED_TOKEN", "one-secret-for-two"),
            ],
            "the feed token (--feed-token, BOOKING_FEED_TOKEN or feed_token) is the admin token",
        ),
        (&[("BOOKING_FEED_TOKEN", "abc+def/ghi=jkl0123")], "use letters, digits and - . _ ~ only"),
        (
            &[("BOOKING_OPENING_HOURS", "09:00-10:00"), ("BOOKING_SLOT_MINUTES", "90")],
            "slots of 90 minutes (--slot-minutes, BOOKING_SLOT_MINUTES or slot_minutes) are longer than every opening range",
        ),
        (
            &[("DATABASE_URL", "sqlite:///nonexistent-dir/x/y.db")],
            "cannot open the SQLite database /nonexistent-dir/x/y.db",
        ),
    ] {
        let output = run_with(env, &database, &[]);
        assert!(!output.status.success(), "{env:?} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first_line = stderr.lines().next().unwrap_or_default();
        assert!(
            first_line.starts_with("error: ") && first_line.contains(expected),
            "{env:?}: {stderr}"
        );
    }
}

/// The shell block under a `### ` heading of the README's "Try it" section.
fn readme_block(heading: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme.split(&format!("### {heading}\n")).nth(1).unwrap();
    let block = section.split("```sh\n").nth(1).unwrap();
    block.split("```").next().unwrap().to_owned()
}

fn run_script(script: &str, server: &Server, token: &str) -> Output {
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script.replace("http://localhost:5000", &server.address)])
        .env("BOOKING_ADMIN_TOKEN", token)
        .output()
        .unwrap()
}

#[test]
fn readme_examples_work() {
    if Command::new("curl").arg("--version").output().is_err() {
        println!("readme_examples_work skipped: curl is not installed");
        return;
    }
    let token = "readme-admin-token-0123456789";
    let directory = tempfile::tempdir().unwrap();
    let server =
        Server::starting(&directory.path().join("readme.db"), &[("BOOKING_ADMIN_TOKEN", token)])
            .ready();
    let script =
        ["Book, move and cancel", "Hold a slot while the client decides", "The operator's API"]
            .map(readme_block)
            .join("\n");
    let output = run_script(&script, &server, token);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    // Every command printed one answer; their messages, in order:
    let messages: Vec<&str> = stdout
        .match_indices("\"message\":\"")
        .map(|(i, _)| {
            let rest = &stdout[i + 11..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(
        messages,
        [
            "Appointment scheduled successfully.",
            "Time slot is not available.",
            "The requested time is not the start of a slot.",
            "Appointment rescheduled successfully.",
            "Appointment canceled successfully.",
            "Appointment is already canceled.",
            "Appointment scheduled successfully.",
            // The operator's move, a no-show before the start, the cancel (the booking's answer
            // is kept in $OP), and booking.
            "Appointment rescheduled successfully.",
            "The appointment has not started yet.",
            "Appointment canceled successfully.",
            "Appointment scheduled successfully.",
        ],
        "{stdout}"
    );
    // The calendar: Carol, opened from 10:00 to 11:00 on a Saturday she does not work, is
    // offered those two slots that day, and no other.
    let carol: Vec<&str> = stdout
        .match_indices("\"resource\":\"carol\",\"date\":\"2036-03-08\",\"time\":\"")
        .map(|(i, found)| &stdout[i + found.len()..i + found.len() + 5])
        .collect();
    assert_eq!(carol, ["10:00", "10:30"], "{stdout}");
    // The commands whose comments promise a status show it (`curl -i`).
    let statuses: Vec<&str> = stdout
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| stdout[i..].lines().next().unwrap_or_default().trim_end())
        .collect();
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 201 Created",
            "HTTP/1.1 409 Conflict",
            "HTTP/1.1 400 Bad Request",
            "HTTP/1.1 400 Bad Request"
        ],
        "{stdout}"
    );
    for expected in [
        "\"time_zone\":\"UTC\"",
        "\"client_name\":\"Grace Hopper\"",
        "\"status\":\"canceled\"",
        "\"resources\":[{\"slug\":\"default\"",
        "\"services\":[]",
        "\"name\":\"booking-service\"",
        "\"status\":\"ok\"",
        "\"status\":\"ready\"",
        "\"openapi\":\"3.1.0\"",
        "\"client_name\":\"Alan Turing\"",
        "\"reason\":\"Staff training\"",
        "\"affected_appointments\":[]",
        "\"next\":null",
        "\"change\":\"rescheduled\"",
        "BEGIN:VEVENT\r\nUID:",
        "SEQUENCE:1\r\n",
        "\"actor\":\"client\",\"reason\":\"Feeling ill\"",
        "\"client_name\":\"Katherine Johnson\"",
        "{\"notifications\":[]}",
        "\"time\":\"10:00\",\"start\":\"2036-03-06T10:00:00+00:00\"",
    ] {
        assert!(stdout.contains(expected), "missing {expected} in {stdout}");
    }
    // The stream runs until stopped; a few seconds show its first event.
    let stream = format!("timeout 3 {} || true", readme_block("Watch availability live").trim());
    let output = run_script(&stream, &server, token);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("retry: ")
            && stdout.contains("\n\nid: ")
            && stdout.contains("event: snapshot\ndata: {"),
        "{stdout}"
    );
}
