//! Webhooks end to end: registered through the admin API, delivered by the worker to a real
//! receiver on 127.0.0.1, verified with the Standard Webhooks specification's own library,
//! retried on failure, kept across a restart, and sent once by two servers on PostgreSQL.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
#[cfg(feature = "postgres")]
use booking_store::test_support::TestSchema;
use reqwest::{StatusCode, header::HeaderMap};
use serde_json::{Value, json};

use crate::{
    helpers::{ADMIN_TOKEN, DAY, TestApp, assert_problem, eventually, spawn_app_with},
    process::{Server, next_month},
};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> String {
        self.headers[name].to_str().unwrap().to_owned()
    }
}

/// An HTTP server on 127.0.0.1 that records what it receives and answers with the statuses it
/// was given, in turn (204 once they run out).
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    fn start() -> Self {
        Self::start_on("127.0.0.1:0")
    }

    fn start_on(address: &str) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(VecDeque::new()));
        let (kept, given) = (received.clone(), answers.clone());
        let server = HttpServer::new(move || {
            let (kept, given) = (kept.clone(), given.clone());
            App::new().default_service(web::to(move |request: HttpRequest, body: web::Bytes| {
                let (kept, given) = (kept.clone(), given.clone());
                async move {
                    let mut headers = HeaderMap::new();
                    for (name, value) in request.headers() {
                        headers.insert(
                            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes())
                                .unwrap(),
                            reqwest::header::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
                        );
                    }
                    kept.lock().unwrap().push(Received { headers, body: body.to_vec() });
                    let status = given.lock().unwrap().pop_front().unwrap_or(204);
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .finish()
                }
            }))
        })
        .workers(1)
        .bind(address)
        .unwrap();
        let url = format!("http://{}/hooks", server.addrs()[0]);
        actix_web::rt::spawn(server.run());
        Self { url, received, answers }
    }

    fn answer_with(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` requests have come, for at most 20 seconds.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let received = eventually(|| async { self.received() }, |r| r.len() >= count).await;
        assert_eq!(received.len(), count, "requests received: {received:?}");
        received
    }
}

async fn app(retries: &str) -> TestApp {
    let retries = retries.parse().unwrap();
    spawn_app_with(|settings| {
        settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
        settings.webhooks.allow_private = true;
        settings.webhooks.retries = retries;
    })
    .await
}

/// Registers `url` for `events` (all when `None`); answers the 201's body.
async fn register(app: &TestApp, url: &str, events: Option<&[&str]>) -> Value {
    let mut body = json!({ "url": url });
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let response = app.admin_post("/admin/webhooks", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn deliveries(app: &TestApp, webhook: &Value) -> Vec<Value> {
    let id = webhook["id"].as_str().unwrap();
    let response = app.admin_get(&format!("/admin/webhooks/{id}/deliveries")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["deliveries"].as_array().unwrap().clone()
}

/// Waits until the newest delivery of `webhook` is as `done` wants it, for at most 20
/// seconds; answers the deliveries then.
async fn wait_until(app: &TestApp, webhook: &Value, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let arrived = |found: &Vec<Value>| found.first().is_some_and(&done);
    let found = eventually(|| deliveries(app, webhook), arrived).await;
    assert!(arrived(&found), "deliveries never got there: {found:?}");
    found
}

/// Waits until the newest delivery of `webhook` has `status`.
async fn wait_until_newest_is(app: &TestApp, webhook: &Value, status: &str) -> Vec<Value> {
    wait_until(app, webhook, |newest| newest["status"] == status).await
}

/// Registers `url` for every event on a server process; answers the endpoint's id.
async fn register_on(server: &Server, url: &str) -> String {
    let created = reqwest::Client::new()
        .post(server.url("/admin/webhooks"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "url": url }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

fn verify(secret: &str, received: &Received) {
    let webhook = standardwebhooks::Webhook::new(secret).unwrap();
    webhook.verify(&received.body, &received.headers).unwrap();
    let mut tampered = received.body.clone();
    tampered.push(b' ');
    assert!(webhook.verify(&tampered, &received.headers).is_err(), "a changed body fails");
}

#[actix_web::test]
async fn book_move_and_cancel_are_delivered_signed_in_order() {
    let (app, receiver) = (app("5s").await, Receiver::start());
    let webhook = register(&app, &receiver.url, None).await;
    let secret = webhook["secret"].as_str().unwrap();
    assert_eq!(webhook["url"], receiver.url);
    assert_eq!(webhook["all_events"], true);
    assert_eq!(
        webhook["events"],
        json!([
            "appointment.scheduled",
            "appointment.rescheduled",
            "appointment.canceled",
            "appointment.completed",
            "appointment.no_show"
        ])
    );

    let contact = json!({"email": "ada@example.com", "phone": "+44 20 7946 0958"});
    let booked: Value = app.schedule_with(DAY, "09:00", contact).await.json().await.unwrap();
    let id = booked["appointment_id"].as_str().unwrap().to_owned();
    app.set_time("2030-01-02T10:00:00Z");
    let moved =
        app.post_json(&format!("/reschedule/{id}"), &json!({"date": DAY, "time": "10:00"})).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let canceled = app.post_json(&format!("/cancel/{id}"), &json!({"reason": "Ill"})).await;
    assert_eq!(canceled.status(), StatusCode::OK);

    let received = receiver.wait_for(3).await;
    for request in &received {
        verify(secret, request);
        assert_eq!(request.header("content-type"), "application/json");
    }
    let bodies: Vec<Value> = received.iter().map(Received::json).collect();
    let types: Vec<&Value> = bodies.iter().map(|b| &b["type"]).collect();
    assert_eq!(types, ["appointment.scheduled", "appointment.rescheduled", "appointment.canceled"]);
    let period = |from: &str, to: &str| json!({"start": format!("{DAY}T{from}:00+00:00"), "end": format!("{DAY}T{to}:00+00:00")});
    let booked = &bodies[0]["data"];
    assert_eq!(bodies[0]["timestamp"], "2030-01-01T08:00:00Z");
    assert_eq!(
        (&booked["id"], &booked["status"], &booked["time"]),
        (&json!(id), &json!("scheduled"), &json!("09:00"))
    );
    assert_eq!(
        (&booked["client_name"], &booked["changed_by"]),
        (&json!("Ada Lovelace"), &json!("client"))
    );
    assert_eq!(booked.get("from"), None);
    assert_eq!(
        (&booked["email"], &booked["phone"]),
        (&json!("ada@example.com"), &json!("+442079460958"))
    );
    let move_data = &bodies[1]["data"];
    let mut from = period("09:00", "09:30");
    from["resource"] = json!("default");
    from["service"] = Value::Null;
    assert_eq!((&move_data["time"], &move_data["from"]), (&json!("10:00"), &from));
    assert_eq!(move_data["updated_at"], "2030-01-02T10:00:00Z");
    let cancel_data = &bodies[2]["data"];
    assert_eq!(
        (&cancel_data["status"], &cancel_data["reason"]),
        (&json!("canceled"), &json!("Ill"))
    );
    // The appointment as GET /appointment/{id} shows it now is what the last event carried.
    let mut shown = app.appointment(&id).await;
    let mut sent = cancel_data.clone();
    for extra in ["changed_by", "reason"] {
        sent.as_object_mut().unwrap().remove(extra);
    }
    shown.as_object_mut().unwrap().remove("message");
    assert_eq!(sent, shown);

    let listed = wait_until_newest_is(&app, &webhook, "delivered").await;
    assert_eq!(listed.len(), 3);
    let ids: Vec<String> = received.iter().map(|r| r.header("webhook-id")).collect();
    let listed_ids: Vec<&str> =
        listed.iter().rev().map(|d| d["message_id"].as_str().unwrap()).collect();
    assert_eq!(ids, listed_ids);
    for delivery in &listed {
        assert_eq!((&delivery["status"], &delivery["attempts"]), (&json!("delivered"), &json!(1)));
        assert_eq!(
            (&delivery["last_error"], &delivery["next_attempt_at"]),
            (&Value::Null, &Value::Null)
        );
        assert_eq!(delivery["appointment_id"], id);
    }
}

#[actix_web::test]
async fn an_endpoint_gets_only_the_events_it_subscribed_to() {
    let (app, receiver) = (app("5s").await, Receiver::start());
    let webhook = register(&app, &receiver.url, Some(&["appointment.canceled"])).await;
    assert_eq!(
        (&webhook["events"], &webhook["all_events"]),
        (&json!(["appointment.canceled"]), &json!(false))
    );
    let id = app.book(DAY, "09:00").await;
    app.book(DAY, "10:00").await;
    assert_eq!(app.post_json(&format!("/cancel/{id}"), &json!({})).await.status(), StatusCode::OK);
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].json()["type"], "appointment.canceled");
    assert_eq!(deliveries(&app, &webhook).await.len(), 1);
}

#[actix_web::test]
async fn a_failed_attempt_is_retried_with_the_same_id_then_delivered() {
    let (app, receiver) = (app("1s").await, Receiver::start());
    receiver.answer_with(&[500]);
    let webhook = register(&app, &receiver.url, None).await;
    app.book(DAY, "09:00").await;
    receiver.wait_for(1).await;
    let pending = wait_until(&app, &webhook, |newest| !newest["last_error"].is_null()).await;
    assert_eq!((&pending[0]["status"], &pending[0]["attempts"]), (&json!("pending"), &json!(1)));
    assert_eq!(pending[0]["last_error"], "the endpoint answered 500 Internal Server Error");
    let next: chrono::DateTime<chrono::Utc> =
        pending[0]["next_attempt_at"].as_str().unwrap().parse().unwrap();
    let now: chrono::DateTime<chrono::Utc> = crate::helpers::NOW.parse().unwrap();
    assert!(next > now && next <= now + chrono::Duration::seconds(2), "{next}");

    // Not due until the clock passes the retry time.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 1);
    app.set_time("2030-01-01T08:00:03Z");
    let received = receiver.wait_for(2).await;
    assert_eq!(received[0].header("webhook-id"), received[1].header("webhook-id"));
    let delivered = wait_until_newest_is(&app, &webhook, "delivered").await;
    assert_eq!((&delivered[0]["attempts"], &delivered[0]["last_error"]), (&json!(2), &Value::Null));
}

#[actix_web::test]
async fn while_the_receiver_is_down_the_event_waits_and_arrives_once_it_is_back() {
    let app = app("1s").await;
    let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let webhook = register(&app, &format!("http://{address}/hooks"), None).await;
    app.book(DAY, "09:00").await;
    let waiting = wait_until(&app, &webhook, |newest| !newest["last_error"].is_null()).await;
    assert_eq!((&waiting[0]["status"], &waiting[0]["attempts"]), (&json!("pending"), &json!(1)));
    let error = waiting[0]["last_error"].as_str().unwrap();
    assert!(error.starts_with("could not connect"), "{error}");

    let receiver = Receiver::start_on(&address.to_string());
    app.set_time("2030-01-01T08:00:03Z");
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].json()["type"], "appointment.scheduled");
    let delivered = wait_until_newest_is(&app, &webhook, "delivered").await;
    assert_eq!(delivered[0]["attempts"], 2);
}

#[actix_web::test]
async fn with_no_retries_left_a_delivery_fails_and_the_next_goes_ahead() {
    let (app, receiver) = (app("").await, Receiver::start());
    receiver.answer_with(&[410]);
    let webhook = register(&app, &receiver.url, None).await;
    app.book(DAY, "09:00").await;
    let failed = wait_until_newest_is(&app, &webhook, "failed").await;
    assert_eq!(
        (&failed[0]["attempts"], &failed[0]["last_error"]),
        (&json!(1), &json!("the endpoint answered 410 Gone"))
    );
    app.book(DAY, "10:00").await;
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].json()["data"]["time"], "10:00");
}

#[actix_web::test]
async fn registration_checks_the_url_and_events_and_shows_the_secret_once() {
    let app =
        spawn_app_with(|settings| settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap())).await;
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://localhost/hooks",
        "http://169.254.169.254/",
        "http://[::1]/",
    ] {
        let response = app.admin_post("/admin/webhooks", &json!({"url": url})).await;
        let problem =
            assert_problem(response, StatusCode::BAD_REQUEST, "Invalid webhook URL.").await;
        assert!(
            problem["detail"].as_str().unwrap().contains("BOOKING_WEBHOOK_ALLOW_PRIVATE"),
            "{problem}"
        );
    }
    for url in ["ftp://example.com/", "example.com/hooks", ""] {
        let response = app.admin_post("/admin/webhooks", &json!({"url": url})).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "Invalid webhook URL.").await;
    }
    for events in [json!([]), json!(["appointment.moved"])] {
        let body = json!({"url": "https://crm.example.com/hooks", "events": events});
        let response = app.admin_post("/admin/webhooks", &body).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "Invalid webhook events.").await;
    }
    let unknown_field = json!({"url": "https://crm.example.com/hooks", "secret": "mine"});
    assert_eq!(
        app.admin_post("/admin/webhooks", &unknown_field).await.status(),
        StatusCode::BAD_REQUEST
    );
    let anonymous = app
        .client
        .post(app.url("/admin/webhooks"))
        .json(&json!({"url": "https://crm.example.com/"}))
        .send();
    assert_eq!(anonymous.await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let created = register(&app, "https://crm.example.com/hooks", None).await;
    let secret = created["secret"].as_str().unwrap();
    let bytes = secret.strip_prefix("whsec_").map(|b| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(b).unwrap()
    });
    assert_eq!(bytes.map(|b| b.len()), Some(32), "{secret}");
    let listed: Value = app.admin_get("/admin/webhooks").await.json().await.unwrap();
    assert_eq!(listed["webhooks"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["webhooks"][0]["id"], created["id"]);
    assert!(!listed.to_string().contains(secret), "the secret is shown once: {listed}");

    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.admin_delete(&format!("/admin/webhooks/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    for path in [format!("/admin/webhooks/{id}"), "/admin/webhooks/not-an-id".to_owned()] {
        let response = app.admin_delete(&path).await;
        assert_problem(response, StatusCode::NOT_FOUND, "Webhook not found.").await;
    }
    let response = app.admin_get(&format!("/admin/webhooks/{id}/deliveries")).await;
    assert_problem(response, StatusCode::NOT_FOUND, "Webhook not found.").await;

    for _ in 0..20 {
        register(&app, "https://crm.example.com/hooks", None).await;
    }
    let response =
        app.admin_post("/admin/webhooks", &json!({"url": "https://crm.example.com/"})).await;
    assert_problem(response, StatusCode::CONFLICT, "Too many webhooks.").await;
}

/// The real binary on an SQLite file: a delivery that failed before the server stopped is
/// retried by the next server on the same file.
#[actix_web::test]
async fn a_pending_delivery_survives_a_restart() {
    let receiver = Receiver::start();
    receiver.answer_with(&[503]);
    let directory = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", directory.path().join("hooks.db").display());
    let env = [
        ("BOOKING_ADMIN_TOKEN", ADMIN_TOKEN),
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("BOOKING_WEBHOOK_RETRIES", "2s"),
    ];
    let client = reqwest::Client::new();
    let first = Server::starting_on(&database, &env).ready();
    let endpoint = register_on(&first, &receiver.url).await;
    let booked = client
        .post(first.url("/schedule"))
        .json(&json!({"client_name": "Ada", "date": next_month(), "time": "10:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), StatusCode::CREATED);
    receiver.wait_for(1).await;
    // Stopped only once the failed attempt is recorded: killed between the answer and the
    // record, the server would leave the delivery leased to itself for two minutes.
    let listing = first.url(&format!("/admin/webhooks/{endpoint}/deliveries"));
    let recorded = |deliveries: &Value| deliveries["deliveries"][0]["last_error"].is_string();
    let seen = eventually(
        || async {
            let response = client.get(&listing).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
            response.json::<Value>().await.unwrap()
        },
        recorded,
    )
    .await;
    assert!(recorded(&seen), "the failed attempt was never recorded: {seen}");
    drop(first);

    let second = Server::starting_on(&database, &env).ready();
    let received = receiver.wait_for(2).await;
    assert_eq!(received[0].header("webhook-id"), received[1].header("webhook-id"));
    drop(second);
}

/// Two servers on one PostgreSQL database, each with its worker: every event is delivered
/// once, in the order it was made.
#[cfg(feature = "postgres")]
#[actix_web::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
async fn two_servers_deliver_each_event_once_in_order() {
    let receiver = Receiver::start();
    let schema = TestSchema::create();
    let url = schema.url().expose();
    let env = [("BOOKING_ADMIN_TOKEN", ADMIN_TOKEN), ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true")];
    let (first, second) = (Server::starting_on(url, &env), Server::starting_on(url, &env));
    let (first, second) = (first.ready(), second.ready());
    let client = reqwest::Client::new();
    register_on(&first, &receiver.url).await;
    let date = next_month();
    let times: Vec<String> =
        (0..16).map(|n| format!("{:02}:{:02}", 9 + n / 2, (n % 2) * 30)).collect();
    for (n, time) in times.iter().enumerate() {
        let server = if n % 2 == 0 { &first } else { &second };
        let booked = client
            .post(server.url("/schedule"))
            .json(&json!({"client_name": "Ada", "date": date, "time": time}))
            .send()
            .await
            .unwrap();
        assert_eq!(booked.status(), StatusCode::CREATED, "{time}");
    }
    receiver.wait_for(times.len()).await;
    // Long enough for a second attempt by either server, were one made.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = receiver.received();
    let sent: Vec<String> =
        received.iter().map(|r| r.json()["data"]["time"].as_str().unwrap().to_owned()).collect();
    assert_eq!(sent, times, "each once, in order");
}
