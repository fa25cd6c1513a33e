use std::sync::Arc;

use booking_core::{
    clock::ManualClock,
    schedule::Schedule,
    units::{Capacity, SlotLength},
};
use booking_http::{config::Settings, startup::Application, telemetry};
use booking_store::DatabaseUrl;
use chrono::{DateTime, Utc};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The moment tests start at: Tuesday 2030-01-01, 08:00 UTC.
pub const NOW: &str = "2030-01-01T08:00:00Z";
/// A Monday after [`NOW`], open 09:00-17:00 by default.
pub const DAY: &str = "2030-01-07";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    /// The SQLite file it keeps appointments in.
    pub database: std::path::PathBuf,

    _directory: TempDir,
}

/// A schedule of 30-minute slots.
pub fn schedule(zone: chrono_tz::Tz, hours: &str, capacity: u32) -> Schedule {
    Schedule::new(
        zone,
        hours.parse().unwrap(),
        SlotLength::from_minutes(30).unwrap(),
        Capacity::new(capacity).unwrap(),
    )
}

/// A salon in UTC: `alice` (09:00-17:00) and `bob` (10:00-18:00, capacity 1); `haircut` (30
/// minutes, alice only) and `colouring` (90 minutes and 30 minutes of cleanup, bob first).
pub const SALON: &str = r#"
    [[resources]]
    slug = "alice"
    name = "Alice"

    [[resources]]
    slug = "bob"
    name = "Bob"
    opening_hours = "10:00-18:00"

    [[services]]
    slug = "haircut"
    name = "Haircut"
    minutes = 30
    resources = ["alice"]

    [[services]]
    slug = "colouring"
    name = "Colouring"
    minutes = 90
    buffer_after_minutes = 30
    resources = ["bob", "alice"]
"#;

/// Settings for the salon.
pub fn salon(settings: &mut Settings) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("salon.toml");
    std::fs::write(&path, SALON).unwrap();
    // Read as the server reads it, without the flags (and the environment of the test run).
    let command = <booking_http::cli::Cli as clap::CommandFactory>::command();
    let file = booking_http::config_file::ConfigFile::read(&path, &command).unwrap();
    let (hours, capacity) = ("09:00-17:00".parse().unwrap(), Capacity::new(1).unwrap());
    let business =
        Schedule::new(chrono_tz::UTC, hours, SlotLength::from_minutes(30).unwrap(), capacity);
    settings.schedule =
        file.resolve(business.clone(), &business.resources()[0].hours, capacity).unwrap();
}

/// The admin token the admin tests configure.
pub const ADMIN_TOKEN: &str = "correct-horse-battery-staple";

/// Starts the application with the default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application after `configure` has changed its settings.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init(telemetry::LogFormat::Text);
    }
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("appointments.db");
    let mut settings = Settings {
        address: "127.0.0.1:0".parse().unwrap(),
        database: DatabaseUrl::Sqlite(database.clone()),
        workers: Some(1),
        ..Settings::default()
    };
    configure(&mut settings);
    let clock = Arc::new(ManualClock::new(NOW.parse().unwrap()));
    let application = Application::build(settings, clock.clone()).unwrap();
    let address = format!("http://{}", application.address());
    actix_web::rt::spawn(application.run_until_stopped());
    TestApp { address, client: reqwest::Client::new(), clock, database, _directory: directory }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request to `path` that a proxy at 127.0.0.1 forwards for `client` (the app must
    /// trust it: `settings.trusted_proxies`).
    pub fn forwarded_for(
        &self,
        client: &str,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).header("x-forwarded-for", client)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(ADMIN_TOKEN).send().await.unwrap()
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).bearer_auth(ADMIN_TOKEN).json(body).send().await.unwrap()
    }

    pub async fn admin_delete(&self, path: &str) -> Response {
        self.client.delete(self.url(path)).bearer_auth(ADMIN_TOKEN).send().await.unwrap()
    }

    /// Books with any extra fields (resource, service, hold) and returns the response.
    pub async fn schedule_with(&self, date: &str, time: &str, extra: Value) -> Response {
        let mut body = json!({ "client_name": "Ada Lovelace", "date": date, "time": time });
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        self.post_json("/schedule", &body).await
    }

    pub async fn schedule(&self, client_name: &str, date: &str, time: &str) -> Response {
        self.post_json(
            "/schedule",
            &json!({ "client_name": client_name, "date": date, "time": time }),
        )
        .await
    }

    /// Books a slot that must be free and returns the new appointment's id.
    pub async fn book(&self, date: &str, time: &str) -> String {
        let response = self.schedule("Ada Lovelace", date, time).await;
        assert_eq!(response.status(), StatusCode::CREATED, "booking {date} {time}");
        let body: Value = response.json().await.unwrap();
        body["appointment_id"].as_str().unwrap().to_owned()
    }

    pub async fn appointment(&self, id: &str) -> Value {
        let response = self.get(&format!("/appointment/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// The listing of `date` for a query suffix such as `&resource=bob`.
    pub async fn listing(&self, date: &str, filters: &str) -> Vec<Value> {
        let response = self.get(&format!("/availability?date={date}{filters}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let listing: Value = response.json().await.unwrap();
        listing["slots"].as_array().unwrap().clone()
    }

    /// `(booked, held, reason)` of the slot of `resource` at `date` `time` for a query suffix.
    pub async fn slot_of(
        &self,
        resource: &str,
        date: &str,
        time: &str,
        filters: &str,
    ) -> (u64, u64, Option<String>) {
        let slots = self.listing(date, filters).await;
        let slot = slots.iter().find(|s| s["time"] == time && s["resource"] == resource).unwrap();
        (
            slot["booked"].as_u64().unwrap(),
            slot["held"].as_u64().unwrap(),
            slot["reason"].as_str().map(str::to_owned),
        )
    }

    /// `(booked, available, reason)` of the slot at `date` `time`.
    pub async fn slot(&self, date: &str, time: &str) -> (u64, bool, Option<String>) {
        let listing: Value =
            self.get(&format!("/availability?date={date}")).await.json().await.unwrap();
        let slot = listing["slots"].as_array().unwrap().iter().find(|s| s["time"] == time).unwrap();
        (
            slot["booked"].as_u64().unwrap(),
            slot["available"].as_bool().unwrap(),
            slot["reason"].as_str().map(str::to_owned),
        )
    }

    pub fn set_time(&self, now: &str) {
        self.clock.set(now.parse::<DateTime<Utc>>().unwrap());
    }
}

/// Asserts a problem response: status, content type, the seed-compatible message, and the
/// RFC 9457 members. Returns the body for further checks.
pub async fn assert_problem(response: Response, status: StatusCode, message: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], message, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["type"].as_str().unwrap().starts_with("/problems/"), "{body}");
    assert!(!body["title"].as_str().unwrap().is_empty(), "{body}");
    assert!(!body["detail"].as_str().unwrap().is_empty(), "{body}");
    body
}

/// Looks with `look` every 50 ms until `done` accepts what it saw, for at most 20 seconds;
/// answers the last look, for the caller to check.
pub async fn eventually<T, F, Fut>(mut look: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let seen = look().await;
        if done(&seen) || std::time::Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
