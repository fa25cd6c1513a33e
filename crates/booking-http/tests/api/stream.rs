use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DAY, TestApp, spawn_app, spawn_app_with};

/// Reads Server-Sent Events from a response.
struct Events {
    body:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<actix_web::web::Bytes>>>>,
    buffer: String,
    /// The reconnection delay the stream asked for, in milliseconds, once it has.
    retry: Option<u64>,
}

#[derive(Debug)]
struct Event {
    name: String,
    id: u64,
    data: Value,
}

impl Events {
    async fn open(app: &TestApp, query: &str) -> Self {
        let response = app.get(&format!("/availability/stream?{query}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        Self::of(response)
    }

    fn of(response: reqwest::Response) -> Self {
        Self { body: Box::pin(response.bytes_stream()), buffer: String::new(), retry: None }
    }

    /// The next event (comments skipped); fails the test if none comes within 10 s.
    async fn next(&mut self) -> Event {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if block.starts_with(':') {
                    continue;
                }
                if let Some(retry) = block.strip_prefix("retry: ") {
                    self.retry = Some(retry.trim().parse().unwrap());
                    continue;
                }
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .unwrap_or_default()
                        .trim()
                        .to_owned()
                };
                return Event {
                    name: field("event:"),
                    id: field("id:").parse().unwrap(),
                    data: serde_json::from_str(&field("data:")).unwrap(),
                };
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
                .await
                .unwrap_or_else(|_| panic!("no event within 10 s"))
                .unwrap()
                .unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Raw text up to and including the next heartbeat comment.
    async fn heartbeat(&mut self) -> String {
        loop {
            if let Some(at) = self.buffer.find(": heartbeat\n\n") {
                return self.buffer.drain(..at + 13).collect();
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

fn slot_state(event: &Event) -> (String, u64, bool) {
    (
        event.data["time"].as_str().unwrap().to_owned(),
        event.data["booked"].as_u64().unwrap(),
        event.data["available"].as_bool().unwrap(),
    )
}

#[actix_web::test]
async fn a_stream_starts_with_a_snapshot_then_follows_every_change() {
    let app = spawn_app().await;
    app.book(DAY, "09:00").await;
    let mut events = Events::open(&app, &format!("date={DAY}")).await;
    let snapshot = events.next().await;
    assert_eq!(snapshot.name, "snapshot");
    let listing: Value = app.get(&format!("/availability?date={DAY}")).await.json().await.unwrap();
    assert_eq!(snapshot.data, listing, "the same body as GET /availability");

    let id = app.book(DAY, "10:00").await;
    let booked = events.next().await;
    assert_eq!((booked.name.as_str(), slot_state(&booked)), ("slot", ("10:00".into(), 1, false)));
    assert_eq!(booked.data["reason"], "full");
    assert!(booked.id > snapshot.id);

    app.post_json(&format!("/reschedule/{id}"), &json!({"date": DAY, "time": "11:30"})).await;
    let mut moved = vec![slot_state(&events.next().await), slot_state(&events.next().await)];
    moved.sort();
    assert_eq!(moved, [("10:00".into(), 0, true), ("11:30".into(), 1, false)]);

    app.client.post(app.url(&format!("/cancel/{id}"))).send().await.unwrap();
    let canceled = events.next().await;
    assert_eq!(slot_state(&canceled), ("11:30".into(), 0, true));
}

#[actix_web::test]
async fn refused_writes_and_other_days_send_nothing() {
    let app = spawn_app().await;
    app.book(DAY, "09:00").await;
    let mut events = Events::open(&app, &format!("date={DAY}")).await;
    events.next().await;
    assert_eq!(app.schedule("Grace", DAY, "09:00").await.status(), StatusCode::CONFLICT);
    app.book("2030-01-08", "09:00").await;
    app.book(DAY, "16:30").await;
    let next = events.next().await;
    assert_eq!(slot_state(&next), ("16:30".into(), 1, false), "only the change on this day");
}

#[actix_web::test]
async fn holds_and_closures_reach_the_stream() {
    let app = spawn_app_with(|settings| {
        settings.admin_token = Some(crate::helpers::ADMIN_TOKEN.parse().unwrap())
    })
    .await;
    let mut events = Events::open(&app, &format!("date={DAY}")).await;
    events.next().await;
    let held = app.post_json("/holds", &json!({"date": DAY, "time": "13:00"})).await;
    assert_eq!(held.status(), StatusCode::CREATED);
    let event = events.next().await;
    assert_eq!(
        (event.data["time"].as_str(), event.data["held"].as_u64(), event.data["reason"].as_str()),
        (Some("13:00"), Some(1), Some("held"))
    );
    let closed = app.admin_post("/admin/closures", &json!({"from": DAY, "to": DAY})).await;
    assert_eq!(closed.status(), StatusCode::CREATED);
    let snapshot = events.next().await;
    assert_eq!(snapshot.name, "snapshot", "closures resend the listing");
    assert!(snapshot.data["slots"].as_array().unwrap().iter().all(|s| s["reason"] == "closed"));
}

#[actix_web::test]
async fn idle_streams_get_heartbeats() {
    let app =
        spawn_app_with(|settings| settings.stream_heartbeat = Duration::from_millis(50)).await;
    let mut events = Events::open(&app, &format!("date={DAY}")).await;
    events.next().await;
    assert!(events.heartbeat().await.ends_with(": heartbeat\n\n"));
}

#[actix_web::test]
async fn a_client_that_stops_reading_does_not_hold_up_bookings() {
    let app = spawn_app_with(|settings| settings.rate_limit = None).await;
    // Opened and never read again.
    let mut stalled = Events::open(&app, "from=2030-01-07&to=2030-01-31").await;
    stalled.next().await;
    let mut booked = 0;
    for day in 7..=31 {
        for hour in 9..17 {
            let response = app
                .schedule("Load Test", &format!("2030-01-{day:02}"), &format!("{hour:02}:00"))
                .await;
            assert_eq!(response.status(), StatusCode::CREATED);
            booked += 1;
        }
    }
    assert_eq!(booked, 200);
    // When it reads again, it catches up: the last booking is reflected, whether through slot
    // events or a fresh snapshot.
    loop {
        let event = stalled.next().await;
        let last =
            |s: &Value| s["date"] == "2030-01-31" && s["time"] == "16:00" && s["booked"] == 1;
        let caught_up = match event.name.as_str() {
            "slot" => last(&event.data),
            _ => event.data["slots"].as_array().unwrap().iter().any(last),
        };
        if caught_up {
            break;
        }
    }
}

#[actix_web::test]
async fn bad_stream_queries_are_400_problems() {
    let app = spawn_app().await;
    let response = app.get("/availability/stream?date=tomorrow").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

/// Before its snapshot, a stream asks the client to reconnect after one to five seconds, a
/// different delay for each stream, so that clients cut off together return spread out.
#[actix_web::test]
async fn streams_ask_for_spread_out_reconnection_delays() {
    let app = spawn_app().await;
    let mut delays = std::collections::HashSet::new();
    for _ in 0..6 {
        let mut events = Events::open(&app, &format!("date={DAY}")).await;
        assert_eq!(events.next().await.name, "snapshot");
        let retry = events.retry.expect("a retry field before the snapshot");
        assert!((1000..5000).contains(&retry), "{retry}");
        delays.insert(retry);
    }
    assert!(delays.len() > 1, "every stream asked for the same delay: {delays:?}");
}

/// A stream opened by `client` (an address a trusted proxy forwards for).
async fn stream_as(app: &TestApp, client: &str) -> reqwest::Response {
    app.forwarded_for(client, reqwest::Method::GET, &format!("/availability/stream?date={DAY}"))
        .send()
        .await
        .unwrap()
}

/// Streams are capped per client (429) and per server (503), and a closed stream frees its
/// place.
#[actix_web::test]
async fn streams_are_capped_per_client_and_per_server() {
    let app = spawn_app_with(|settings| {
        settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        settings.max_streams = 3;
        settings.max_streams_per_client = 2;
        settings.stream_heartbeat = Duration::from_millis(200);
    })
    .await;
    let opened = |response: reqwest::Response| {
        assert_eq!(response.status(), StatusCode::OK);
        Events::of(response)
    };
    let first = opened(stream_as(&app, "192.0.2.1").await);
    let _second = opened(stream_as(&app, "192.0.2.1").await);
    let refused = stream_as(&app, "192.0.2.1").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "5");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        (body["type"].as_str(), body["reason"].as_str()),
        (Some("/problems/too-many-streams"), Some("too_many_streams"))
    );
    let _third = opened(stream_as(&app, "192.0.2.2").await);
    let full = stream_as(&app, "192.0.2.3").await;
    assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = full.json().await.unwrap();
    assert_eq!(body["type"], "/problems/streams-full", "{body}");
    // A browser's EventSource gives up on a 503: it is told, in a stream that ends at once, to
    // come back in 5 to 15 seconds.
    let browser = app
        .forwarded_for(
            "192.0.2.3",
            reqwest::Method::GET,
            &format!("/availability/stream?date={DAY}"),
        )
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), StatusCode::OK);
    let text = tokio::time::timeout(Duration::from_secs(10), browser.text())
        .await
        .expect("the refused stream ends")
        .unwrap();
    let retry: u64 =
        text.strip_prefix("retry: ").unwrap().split('\n').next().unwrap().parse().unwrap();
    assert!((5000..15000).contains(&retry), "{text}");
    assert!(
        text.contains("event: refused\ndata: {") && text.contains("/problems/streams-full"),
        "{text}"
    );
    drop(first);
    // The server notices the closed connection at its next heartbeat.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = stream_as(&app, "192.0.2.3").await;
        if response.status() == StatusCode::OK {
            break;
        }
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(std::time::Instant::now() < deadline, "the closed stream kept its place");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
