//! Notifications by email, received by a real SMTP server on 127.0.0.1 (a small one, below)
//! and read by a real MIME parser.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use booking_http::{
    config::Settings,
    mail::{
        MailSettings,
        settings::{ManageUrl, SmtpServer, sender},
    },
};
use icalendar::{Calendar, CalendarComponent, Component, Event};
use mail_parser::{MessageParser, MimeHeaders};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

use crate::{
    helpers::{ADMIN_TOKEN, DAY, TestApp, eventually, spawn_app_with},
    process::Server,
};

/// One message the sink took.
#[derive(Debug, Clone)]
struct Mail {
    recipients: Vec<String>,
    data: Vec<u8>,
}

impl Mail {
    fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default().parse(&self.data).unwrap()
    }

    fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    fn text(&self) -> String {
        self.parsed().body_text(0).unwrap_or_default().replace("\r\n", "\n")
    }

    fn html(&self) -> String {
        self.parsed().body_html(0).unwrap_or_default().into_owned()
    }

    /// The attached calendar file: its `method` parameter, and its one event as a real
    /// iCalendar parser reads it (with the file's text, unfolded).
    fn calendar(&self) -> Option<(String, Calendar, Event, String)> {
        let message = self.parsed();
        let part = message.attachments().next()?;
        let kind = part.content_type().unwrap();
        assert_eq!((kind.ctype(), kind.subtype()), ("text", Some("calendar")));
        let method = kind.attribute("method").unwrap_or_default().to_owned();
        let text = String::from_utf8(part.contents().to_vec()).unwrap();
        let calendar: Calendar = text.parse().unwrap_or_else(|e| panic!("{e}: {text}"));
        let event = calendar
            .components
            .iter()
            .find_map(|component| match component {
                CalendarComponent::Event(event) => Some(event.clone()),
                _ => None,
            })
            .unwrap();
        Some((method, calendar, event, text.replace("\r\n ", "")))
    }
}

/// An SMTP server on 127.0.0.1 that keeps what it is given and refuses recipients with the
/// reply it was told to, if any.
#[derive(Clone)]
struct Sink {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Mail>>>,
    refusal: Arc<Mutex<Option<&'static str>>>,
}

impl Sink {
    async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    async fn start_on(address: &str) -> Self {
        let listener = TcpListener::bind(address).await.unwrap();
        let sink = Self {
            address: listener.local_addr().unwrap(),
            received: Arc::default(),
            refusal: Arc::default(),
        };
        let serving = sink.clone();
        actix_web::rt::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                actix_web::rt::spawn(serving.clone().converse(stream));
            }
        });
        sink
    }

    fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    fn refuse_with(&self, reply: &'static str) {
        *self.refusal.lock().unwrap() = Some(reply);
    }

    fn received(&self) -> Vec<Mail> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` messages have come, for at most 20 seconds.
    async fn wait_for(&self, count: usize) -> Vec<Mail> {
        let received = eventually(|| async { self.received() }, |r| r.len() >= count).await;
        assert_eq!(received.len(), count, "messages: {received:?}");
        received
    }

    /// One SMTP conversation (RFC 5321, as much as a client that sends mail needs).
    async fn converse(self, stream: tokio::net::TcpStream) {
        let (reading, mut writing) = stream.into_split();
        let mut lines = BufReader::new(reading);
        let mut recipients = Vec::new();
        let _ = writing.write_all(b"220 sink ESMTP\r\n").await;
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let command = line.trim_end().to_ascii_uppercase();
            let reply: String = if command.starts_with("EHLO") || command.starts_with("HELO") {
                "250-sink\r\n250 8BITMIME\r\n".into()
            } else if command.starts_with("RCPT TO:") {
                match *self.refusal.lock().unwrap() {
                    Some(refusal) => format!("{refusal}\r\n"),
                    None => {
                        recipients.push(line.trim_end()[8..].trim_matches(['<', '>']).to_owned());
                        "250 2.1.5 OK\r\n".into()
                    }
                }
            } else if command == "DATA" {
                let _ = writing.write_all(b"354 go ahead\r\n").await;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.extend_from_slice(unstuffed.as_bytes());
                }
                let recipients = std::mem::take(&mut recipients);
                self.received.lock().unwrap().push(Mail { recipients, data });
                "250 2.0.0 queued\r\n".into()
            } else if command == "QUIT" {
                let _ = writing.write_all(b"221 bye\r\n").await;
                return;
            } else {
                if command == "RSET" {
                    recipients.clear();
                }
                "250 OK\r\n".into()
            };
            if writing.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// Mail through `smtp`, from the salon, with `reminders`, retrying on `retries`.
fn mail(smtp: &str, reminders: &str, retries: &str) -> MailSettings {
    MailSettings {
        server: SmtpServer::new(smtp, None, None).unwrap(),
        from: sender("Salon Lumière <bookings@salon.example>").unwrap(),
        reminders: reminders.parse().unwrap(),
        language: Default::default(),
        manage_url: Some(ManageUrl::new("https://salon.example/manage/{id}").unwrap()),
        retries: retries.parse().unwrap(),
    }
}

async fn app_mailing(settings: MailSettings) -> TestApp {
    spawn_app_with(|s: &mut Settings| {
        s.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
        s.mail = Some(settings);
    })
    .await
}

/// Books `time` on [`DAY`] for Ada, who gave her address; answers the id.
async fn book_for_ada(app: &TestApp, time: &str) -> String {
    let contact = json!({"email": "ada@example.com"});
    let booked = app.schedule_with(DAY, time, contact).await;
    assert_eq!(booked.status(), StatusCode::CREATED);
    let booked: Value = booked.json().await.unwrap();
    booked["appointment_id"].as_str().unwrap().to_owned()
}

async fn notifications(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app.admin_get(&format!("/admin/notifications{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["notifications"].as_array().unwrap().clone()
}

/// Waits until the newest notification is as `done` wants it, for at most 20 seconds.
async fn wait_until(app: &TestApp, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let arrived = |found: &Vec<Value>| found.first().is_some_and(&done);
    let found = eventually(|| notifications(app, ""), arrived).await;
    assert!(arrived(&found), "notifications never got there: {found:?}");
    found
}

fn values<'a>(event: &'a Event, names: &[&str]) -> Vec<Option<&'a str>> {
    names.iter().map(|name| event.property_value(name)).collect()
}

#[actix_web::test]
async fn a_booking_its_move_and_its_cancel_are_mailed_with_calendar_files() {
    let sink = Sink::start().await;
    let app = app_mailing(mail(&sink.url(), "", "5s")).await;
    let id = book_for_ada(&app, "09:00").await;
    app.set_time("2030-01-02T10:00:00Z");
    let moved =
        app.post_json(&format!("/reschedule/{id}"), &json!({"date": DAY, "time": "10:00"})).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let canceled = app.post_json(&format!("/cancel/{id}"), &json!({"reason": "Ill"})).await;
    assert_eq!(canceled.status(), StatusCode::OK);
    // A client who gave no address gets nothing; queued with the write, so listed at once.
    app.book(DAY, "11:00").await;
    assert_eq!(notifications(&app, "").await.len(), 3);

    let received = sink.wait_for(3).await;
    for mail in &received {
        assert_eq!(mail.recipients, ["ada@example.com"]);
        let parsed = mail.parsed();
        assert_eq!(
            parsed.to().and_then(|to| to.first()).and_then(|a| a.address()),
            Some("ada@example.com")
        );
        let from = parsed.from().and_then(|from| from.first()).unwrap();
        assert_eq!(
            (from.name(), from.address()),
            (Some("Salon Lumière"), Some("bookings@salon.example"))
        );
        assert!(mail.html().contains("<html lang=\"en\">"), "{}", mail.html());
        assert!(mail.html().contains("Ada Lovelace"));
    }
    let ids: Vec<_> =
        received.iter().map(|m| m.parsed().message_id().unwrap().to_owned()).collect();
    assert!(ids.iter().all(|m| m.contains(&id) && m.ends_with("@salon.example")), "{ids:?}");
    // The calendar goes inline beside the text, and attached.
    let parsed = received[0].parsed();
    let calendars = parsed
        .parts
        .iter()
        .filter_map(|part| part.content_type())
        .filter(|kind| kind.ctype() == "text" && kind.subtype() == Some("calendar"))
        .count();
    assert_eq!(calendars, 2);
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");

    let [booked, moved, canceled] = &received[..] else { unreachable!() };
    assert!(booked.subject().starts_with("Booked: Appointment with "), "{}", booked.subject());
    assert!(booked.subject().ends_with("Monday, 7 January 2030, 09:00"), "{}", booked.subject());
    let text = booked.text();
    assert!(text.starts_with("Hello Ada Lovelace,\n"), "{text}");
    assert!(text.contains("When: Monday, 7 January 2030, 09:00–09:30 (UTC)"), "{text}");
    assert!(text.contains(&format!("https://salon.example/manage/{id}")), "{text}");
    assert!(text.trim_end().ends_with("Salon Lumière"), "{text}");
    let names = ["UID", "SEQUENCE", "DTSTART", "STATUS", "ORGANIZER"];
    let (method, calendar, event, text) = booked.calendar().unwrap();
    let attendee = "ATTENDEE;CN=\"Ada Lovelace\";ROLE=REQ-PARTICIPANT:mailto:ada@example.com\r\n";
    assert!(text.contains(attendee), "{text}");
    assert!(text.contains("ORGANIZER;CN=\"Salon Lumière\":mailto:"), "{text}");
    assert_eq!((method.as_str(), calendar.property_value("METHOD")), ("REQUEST", Some("REQUEST")));
    assert_eq!(
        values(&event, &names),
        [
            Some(id.as_str()),
            Some("0"),
            Some("20300107T090000Z"),
            Some("CONFIRMED"),
            Some("mailto:bookings@salon.example")
        ]
    );

    assert!(moved.subject().starts_with("Moved: "), "{}", moved.subject());
    let text = moved.text();
    assert!(text.contains("When: Monday, 7 January 2030, 10:00–10:30 (UTC)"), "{text}");
    assert!(text.contains("Before: Monday, 7 January 2030, 09:00–09:30 (UTC)"), "{text}");
    let (method, _, event, _) = moved.calendar().unwrap();
    assert_eq!(method, "REQUEST");
    assert_eq!(
        values(&event, &names[..4]),
        [Some(id.as_str()), Some("1"), Some("20300107T100000Z"), Some("CONFIRMED")]
    );

    assert!(canceled.subject().starts_with("Canceled: "), "{}", canceled.subject());
    let text = canceled.text();
    assert!(!text.contains("manage"), "nothing left to manage: {text}");
    assert!(!text.contains("Reason"), "the client's own reason is not news to them: {text}");
    let (method, calendar, event, _) = canceled.calendar().unwrap();
    assert_eq!((method.as_str(), calendar.property_value("METHOD")), ("CANCEL", Some("CANCEL")));
    assert_eq!(
        values(&event, &names[..4]),
        [Some(id.as_str()), Some("2"), Some("20300107T100000Z"), Some("CANCELLED")]
    );

    let listed = wait_until(&app, |newest| newest["state"] == "sent").await;
    let kinds: Vec<_> = listed.iter().map(|n| (n["kind"].clone(), n["state"].clone())).collect();
    assert_eq!(
        kinds,
        [
            (json!("canceled"), json!("sent")),
            (json!("moved"), json!("sent")),
            (json!("confirmation"), json!("sent"))
        ]
    );
    assert!(listed.iter().all(|n| n["appointment_id"] == json!(id) && n["attempts"] == 1));
    assert!(!listed.iter().any(|n| n.to_string().contains("ada@")), "no recipients listed");
}

#[actix_web::test]
async fn a_reminder_goes_out_at_its_time_and_is_skipped_once_the_appointment_started() {
    let sink = Sink::start().await;
    let app = app_mailing(mail(&sink.url(), "24h", "5s")).await;
    let first = book_for_ada(&app, "09:00").await;
    let second = book_for_ada(&app, "10:00").await;
    sink.wait_for(2).await;

    app.set_time("2030-01-06T09:00:00Z");
    let received = sink.wait_for(3).await;
    let reminder = &received[2];
    assert!(reminder.subject().starts_with("Reminder: "), "{}", reminder.subject());
    assert!(reminder.text().contains("09:00–09:30 (UTC)"), "{}", reminder.text());
    assert!(reminder.calendar().is_none(), "the calendar has it already");

    // Past the second's start before its reminder went: it is skipped, never sent.
    app.set_time("2030-01-07T10:00:00Z");
    let skipped = eventually(|| notifications(&app, "?state=skipped"), |s| !s.is_empty()).await;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(
        (&skipped[0]["kind"], &skipped[0]["appointment_id"]),
        (&json!("reminder"), &json!(second))
    );
    assert_eq!(skipped[0]["remind_before_seconds"], 86_400);
    assert_eq!(skipped[0]["due_at"], "2030-01-06T10:00:00Z");
    let sent = notifications(&app, "?state=sent").await;
    assert!(sent.iter().any(|n| n["kind"] == "reminder" && n["appointment_id"] == json!(first)));
    assert_eq!(sink.received().len(), 3);
}

#[actix_web::test]
async fn a_permanent_refusal_fails_at_once_and_is_listed_with_the_failed() {
    let sink = Sink::start().await;
    sink.refuse_with("550 5.1.1 no such mailbox here");
    let app = app_mailing(mail(&sink.url(), "", "5s,5s")).await;
    book_for_ada(&app, "09:00").await;
    let failed = wait_until(&app, |newest| newest["state"] != "pending").await;
    assert_eq!((&failed[0]["state"], &failed[0]["attempts"]), (&json!("failed"), &json!(1)));
    assert_eq!(
        failed[0]["last_error"],
        "the mail server refused it: permanent error (550): 5.1.1 no such mailbox here"
    );
    assert_eq!(notifications(&app, "?state=failed").await.len(), 1);
    assert!(notifications(&app, "?state=pending").await.is_empty());

    let bad = app.admin_get("/admin/notifications?state=delivered").await;
    crate::helpers::assert_problem(bad, StatusCode::BAD_REQUEST, "Invalid request.").await;
}

/// An operator's cancel tells the client why; the client's own reason is not repeated back.
#[actix_web::test]
async fn an_operator_cancel_tells_the_client_the_reason() {
    let sink = Sink::start().await;
    let app = app_mailing(mail(&sink.url(), "", "5s")).await;
    let by_operator = book_for_ada(&app, "09:00").await;
    let by_client = book_for_ada(&app, "10:00").await;
    sink.wait_for(2).await;
    let canceled = app
        .admin_post(
            &format!("/admin/appointments/{by_operator}/cancel"),
            &json!({"reason": "The salon floods"}),
        )
        .await;
    assert_eq!(canceled.status(), StatusCode::OK);
    let mails = sink.wait_for(3).await;
    assert!(mails[2].text().contains("The salon floods"), "{}", mails[2].text());
    let own = app.post_json(&format!("/cancel/{by_client}"), &json!({"reason": "Busy"})).await;
    assert_eq!(own.status(), StatusCode::OK);
    let mails = sink.wait_for(4).await;
    assert!(!mails[3].text().contains("Busy"), "{}", mails[3].text());
}

/// 530-539 refuse the server's login, not the message: mended settings let it go.
#[actix_web::test]
async fn a_refused_login_is_retried() {
    let sink = Sink::start().await;
    sink.refuse_with("535 5.7.8 authentication credentials invalid");
    let app = app_mailing(mail(&sink.url(), "", "5s")).await;
    book_for_ada(&app, "09:00").await;
    let waiting = wait_until(&app, |newest| !newest["last_error"].is_null()).await;
    assert_eq!((&waiting[0]["state"], &waiting[0]["attempts"]), (&json!("pending"), &json!(1)));
    let error = waiting[0]["last_error"].as_str().unwrap();
    assert!(error.starts_with("the mail server refused this server's login"), "{error}");
}

#[actix_web::test]
async fn while_the_mail_server_is_down_a_message_waits_and_goes_once_it_is_back() {
    let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = app_mailing(mail(&format!("smtp://{address}"), "", "1s")).await;
    book_for_ada(&app, "09:00").await;
    let waiting = wait_until(&app, |newest| !newest["last_error"].is_null()).await;
    assert_eq!((&waiting[0]["state"], &waiting[0]["attempts"]), (&json!("pending"), &json!(1)));

    let sink = Sink::start_on(&address.to_string()).await;
    app.set_time("2030-01-01T08:00:03Z");
    let received = sink.wait_for(1).await;
    assert!(received[0].subject().starts_with("Booked: "));
    let sent = wait_until(&app, |newest| newest["state"] == "sent").await;
    assert_eq!(sent[0]["attempts"], 2);
}

/// The next slot's start by the real clock (the servers below are open all day, every day),
/// at least a minute away, and how many seconds away it is.
fn next_slot() -> (chrono::DateTime<chrono::Utc>, i64) {
    let now = chrono::Utc::now();
    let slot_top = now - chrono::Duration::seconds(now.timestamp() % 1800);
    let mut start = slot_top + chrono::Duration::minutes(30);
    if (start - now).num_seconds() < 60 {
        start += chrono::Duration::minutes(30);
    }
    (start, (start - now).num_seconds())
}

/// The environment of a server that mails through `sink`, reminding `lead` seconds ahead.
fn mailing_env(sink: &Sink, lead: i64) -> Vec<(&'static str, String)> {
    vec![
        ("BOOKING_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("BOOKING_OPENING_HOURS", "mon-sun 00:00-24:00".to_owned()),
        ("BOOKING_SMTP_URL", sink.url()),
        ("BOOKING_MAIL_FROM", "Salon <bookings@salon.example>".to_owned()),
        ("BOOKING_REMINDER_BEFORE", format!("{lead}s")),
    ]
}

async fn book_on(server: &Server, start: chrono::DateTime<chrono::Utc>) {
    let booked = reqwest::Client::new()
        .post(server.url("/schedule"))
        .json(&json!({
            "client_name": "Ada",
            "email": "ada@example.com",
            "date": start.format("%Y-%m-%d").to_string(),
            "time": start.format("%H:%M").to_string(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), StatusCode::CREATED);
}

/// The notifications a server process lists.
async fn notifications_on(server: &Server) -> Vec<Value> {
    let response = reqwest::Client::new()
        .get(server.url("/admin/notifications"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["notifications"].as_array().unwrap().clone()
}

/// The real binary on an SQLite file: a reminder that came due while no server ran is sent by
/// the next server, once.
#[actix_web::test]
async fn a_reminder_due_while_the_server_was_stopped_is_sent_after_a_restart_once() {
    let sink = Sink::start().await;
    let (start, away) = next_slot();
    // Due 15 seconds from now: after the first server has stopped.
    let due = tokio::time::Instant::now() + Duration::from_secs(15);
    let env = mailing_env(&sink, away - 15);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let directory = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", directory.path().join("mail.db").display());
    let first = Server::starting_on(&database, &env).ready();
    book_on(&first, start).await;
    sink.wait_for(1).await;
    // Stopped before it records that the confirmation went, the server would leave it to be
    // sent again once its lease ends (at least once), holding the reminder back meanwhile.
    let confirmed = |listed: &Vec<Value>| {
        listed.iter().any(|n| n["kind"] == "confirmation" && n["state"] == "sent")
    };
    let listed = eventually(|| notifications_on(&first), confirmed).await;
    assert!(confirmed(&listed), "{listed:?}");
    assert!(tokio::time::Instant::now() < due, "too slow to stop the server before the reminder");
    drop(first);
    tokio::time::sleep_until(due + Duration::from_secs(1)).await;
    assert_eq!(sink.received().len(), 1, "nothing sent while no server ran");

    let second = Server::starting_on(&database, &env).ready();
    let received = sink.wait_for(2).await;
    assert!(received[1].subject().starts_with("Reminder: "), "{}", received[1].subject());
    let metrics = reqwest::get(second.url("/metrics")).await.unwrap().text().await.unwrap();
    let counted = "booking_notification_attempts_total{kind=\"reminder\",outcome=\"sent\"} 1";
    assert!(metrics.contains(counted), "{metrics}");
    let log = second.log();
    assert!(log.contains("notification plan in force"), "{log}");
    assert!(!log.contains("ada@"), "an address in the log: {log}");
    let settled = eventually(|| notifications_on(&second), |n| n[0]["state"] == "sent").await;
    assert_eq!(settled[0]["kind"], "reminder");
    drop(second);
    let third = Server::starting_on(&database, &env).ready();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.received().len(), 2, "sent once, whatever restarts");
    drop(third);
}

/// Two servers on one PostgreSQL database, each with its mail worker: the confirmation and the
/// reminder go out once each.
#[cfg(feature = "postgres")]
#[actix_web::test]
#[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and run with --include-ignored"]
async fn two_servers_send_each_message_once() {
    let sink = Sink::start().await;
    let schema = booking_store::test_support::TestSchema::create();
    let url = schema.url().expose();
    let (start, away) = next_slot();
    let env = mailing_env(&sink, away - 4);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (first, second) = (Server::starting_on(url, &env), Server::starting_on(url, &env));
    let (first, second) = (first.ready(), second.ready());
    book_on(&first, start).await;
    let received = sink.wait_for(2).await;
    assert!(received[1].subject().starts_with("Reminder: "), "{}", received[1].subject());
    // Long enough for a second attempt by either server, were one made.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.received().len(), 2);
    drop((first, second));
}
