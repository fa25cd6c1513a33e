//! Several server processes on one PostgreSQL database: no double booking across them, streams
//! that hear every server's bookings, and a database that goes away and comes back. Each test
//! has a schema of its own; they run with `--include-ignored` and `TEST_DATABASE_URL`.

use std::{
    io,
    net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use booking_store::test_support::TestSchema;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

use super::process::{
    Server, acknowledged_bookings_survive_kill_9, book_simultaneously, count, next_month,
    slot_at_ten, slots_on,
};

#[actix_web::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
async fn two_servers_on_one_database_never_double_book_and_share_their_streams() {
    let schema = TestSchema::create();
    let url = schema.url().expose();
    // Both start at once, so both race to migrate the empty schema too.
    let (first, second) = (Server::starting_on(url, &[]), Server::starting_on(url, &[]));
    let (first, second) = (first.ready(), second.ready());
    let date = next_month();
    let mut stream = SlotEvents::open(&second, &date).await;

    let statuses = book_simultaneously(&[&first, &second], 64, &date).await;
    assert_eq!(count(&statuses, StatusCode::CREATED), 1, "{statuses:?}");
    assert_eq!(count(&statuses, StatusCode::CONFLICT), 63, "{statuses:?}");
    for server in [&first, &second] {
        let slot = slot_at_ten(server, &date).await;
        assert_eq!((slot["booked"].as_u64(), slot["available"].as_bool()), (Some(1), Some(false)));
    }
    stream.wait_for("10:00", 1).await;

    // A booking made through the first server alone reaches the stream open on the second.
    let created = reqwest::Client::new()
        .post(first.url("/schedule"))
        .json(&json!({"client_name": "Ada", "date": date, "time": "11:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    stream.wait_for("11:00", 1).await;
}

/// A resource added through one server is offered by the other at once: its open stream
/// sends a fresh snapshot that has the resource, its listings have it, and it books it.
#[actix_web::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
async fn a_calendar_change_on_one_server_reaches_the_other_at_once() {
    let schema = TestSchema::create();
    let url = schema.url().expose();
    let token = "a-token-for-both-servers";
    let env = [("BOOKING_ADMIN_TOKEN", token)];
    let (first, second) = (Server::starting_on(url, &env), Server::starting_on(url, &env));
    let (first, second) = (first.ready(), second.ready());
    let date = next_month();
    let mut stream = SlotEvents::open(&second, &date).await;

    let client = reqwest::Client::new();
    let added = client
        .post(first.url("/admin/resources"))
        .bearer_auth(token)
        .json(&json!({"slug": "room-2", "name": "Room 2", "capacity": 1, "hours": "09:00-17:00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::CREATED);
    let snapshot = stream.next_event_named("snapshot").await;
    assert!(snapshot.to_string().contains("room-2"), "{snapshot}");
    let listed: serde_json::Value =
        reqwest::get(second.url("/resources")).await.unwrap().json().await.unwrap();
    let slugs: Vec<&str> = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["default", "room-2"]);
    let booked = client
        .post(second.url("/schedule"))
        .json(&json!({"client_name": "Ada", "date": date, "time": "10:00", "resource": "room-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), StatusCode::CREATED);
}

/// Text PostgreSQL cannot store (a NUL) is refused as bad input, never a 500: a client filter
/// (found by schemathesis) and a closure's reason.
#[actix_web::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
async fn text_with_a_nul_is_a_400_not_a_500() {
    let schema = TestSchema::create();
    let token = "postgres-admin-token-0123";
    let server =
        Server::starting_on(schema.url().expose(), &[("BOOKING_ADMIN_TOKEN", token)]).ready();
    let client = reqwest::Client::new();
    let listed = client
        .get(server.url("/admin/appointments?client=Ada%00"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::BAD_REQUEST);
    let closed = client
        .post(server.url("/admin/closures"))
        .bearer_auth(token)
        .json(&json!({"from": next_month(), "to": next_month(), "reason": "Floods\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::BAD_REQUEST);
}

/// An operator's booking past the horizon, which the batch functions decide with the rule the
/// service hands them: booked once, and refused to the client and to a second booking.
#[actix_web::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
async fn an_operator_books_past_the_horizon_once() {
    let schema = TestSchema::create();
    let token = "postgres-admin-token-0123";
    let server = Server::starting_on(
        schema.url().expose(),
        &[("BOOKING_ADMIN_TOKEN", token), ("BOOKING_HORIZON_DAYS", "7")],
    )
    .ready();
    let client = reqwest::Client::new();
    let body = json!({"client_name": "Ada", "date": next_month(), "time": "10:00"});
    let by_client = client.post(server.url("/schedule")).json(&body).send().await.unwrap();
    assert_eq!(by_client.status(), StatusCode::BAD_REQUEST);
    let operator = || client.post(server.url("/admin/appointments")).bearer_auth(token).json(&body);
    assert_eq!(operator().send().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(operator().send().await.unwrap().status(), StatusCode::CONFLICT);
}

#[actix_web::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
async fn a_database_outage_gives_quick_503s_and_the_server_recovers_by_itself() {
    let schema = TestSchema::create();
    let relay = Relay::start(schema.url().expose());
    let server = Server::starting_on(
        &relay.url,
        &[
            ("BOOKING_DB_CONNECTION_TIMEOUT_MS", "1000"),
            ("BOOKING_DB_STATEMENT_TIMEOUT_MS", "1000"),
        ],
    )
    .ready();
    let client = reqwest::Client::new();
    let date = next_month();
    let book = |time: &'static str| {
        client
            .post(server.url("/schedule"))
            .json(&json!({"client_name": "Ada", "date": date, "time": time}))
            .send()
    };
    assert_eq!(book("09:00").await.unwrap().status(), StatusCode::CREATED);

    relay.cut();
    for _ in 0..3 {
        let started = Instant::now();
        let response = book("09:30").await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        assert!(response.headers().contains_key("retry-after"));
        assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    }
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    relay.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ready = client.get(server.url("/readyz")).send().await.unwrap();
        if ready.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again after the database came back");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(book("09:30").await.unwrap().status(), StatusCode::CREATED);
    // Nothing from the outage was half-written: exactly the two bookings that succeeded.
    let slots = slots_on(&server, &date).await;
    let booked: u64 = slots.iter().map(|s| s["booked"].as_u64().unwrap()).sum();
    assert_eq!(booked, 2);
}

/// An availability stream, read event by event.
struct SlotEvents {
    body:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<actix_web::web::Bytes>>>>,
    seen: String,
}

impl SlotEvents {
    async fn open(server: &Server, date: &str) -> Self {
        let response =
            reqwest::get(server.url(&format!("/availability/stream?date={date}"))).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut events = Self { body: Box::pin(response.bytes_stream()), seen: String::new() };
        events.next_event_named("snapshot").await;
        events
    }

    /// Reads events until one has this name; returns its data.
    async fn next_event_named(&mut self, name: &str) -> serde_json::Value {
        let deadline = Duration::from_secs(10);
        actix_web::rt::time::timeout(deadline, async {
            loop {
                while let Some(end) = self.seen.find("\n\n") {
                    let event: String = self.seen.drain(..end + 2).collect();
                    if event.lines().any(|line| line == format!("event: {name}")) {
                        let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                        return serde_json::from_str(data).unwrap();
                    }
                }
                let chunk = self.body.next().await.unwrap().unwrap();
                self.seen.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no '{name}' event within {deadline:?}"))
    }

    /// Reads slot events until the slot at `time` shows `booked`.
    async fn wait_for(&mut self, time: &str, booked: u64) {
        loop {
            let slot = self.next_event_named("slot").await;
            if slot["time"] == time && slot["booked"] == booked {
                return;
            }
        }
    }
}

/// A TCP relay in front of PostgreSQL that can drop every connection and refuse new ones, as
/// a database restart or a network partition would.
struct Relay {
    /// The database URL, pointed at the relay.
    url: String,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(database_url: &str) -> Self {
        let (scheme, rest) = database_url.split_once("://").unwrap();
        let (user, rest) = rest.split_once('@').unwrap();
        let (host_port, rest) = rest.split_once('/').unwrap();
        let host_port = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:5432")
        };
        let database: SocketAddr = host_port.to_socket_addrs().unwrap().next().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("{scheme}://{user}@{}/{rest}", listener.local_addr().unwrap());
        let (up, open) = (Arc::new(AtomicBool::new(true)), Arc::new(Mutex::new(Vec::new())));
        let (serving, tracked) = (up.clone(), open.clone());
        thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                // Refused while down: the connection closes at once.
                if !serving.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(database) else { continue };
                let mut tracked = tracked.lock().unwrap();
                tracked.extend([client.try_clone().unwrap(), upstream.try_clone().unwrap()]);
                pipe(client.try_clone().unwrap(), upstream.try_clone().unwrap());
                pipe(upstream, client);
            }
        });
        Self { url, up, open }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _already_closed = stream.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let _closed: io::Result<u64> = io::copy(&mut from, &mut to);
        let _already_closed = to.shutdown(Shutdown::Both);
    });
}

/// What the SQLite server promises under `kill -9`, on PostgreSQL: every 201 survives, and
/// every refusal left nothing behind.
#[actix_web::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
async fn bookings_acknowledged_before_a_kill_9_survive_it() {
    let schema = TestSchema::create();
    acknowledged_bookings_survive_kill_9(schema.url().expose(), || {}).await;
}
