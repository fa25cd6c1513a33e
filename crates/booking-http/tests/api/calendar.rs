use booking_http::config::FeedToken;
use icalendar::{Calendar, CalendarComponent, Component, Event};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, DAY, TestApp, assert_problem, spawn_app, spawn_app_with};

const FEED_TOKEN: &str = "feed-token-for-calendars-0123";

/// The events of a calendar file, as a real iCalendar parser reads them.
async fn events(response: reqwest::Response) -> Vec<Event> {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/calendar; charset=utf-8");
    let text = response.text().await.unwrap();
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "a line of {} octets: {line:?}", line.len());
    }
    assert!(text.ends_with("END:VCALENDAR\r\n"), "{text}");
    let calendar: Calendar = text.parse().unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(calendar.property_value("VERSION"), Some("2.0"));
    calendar
        .components
        .into_iter()
        .filter_map(|component| match component {
            CalendarComponent::Event(event) => Some(event),
            _ => None,
        })
        .collect()
}

fn values<'a>(event: &'a Event, names: &[&str]) -> Vec<Option<&'a str>> {
    names.iter().map(|name| event.property_value(name)).collect()
}

#[actix_web::test]
async fn an_appointments_file_keeps_its_uid_and_counts_its_changes() {
    let app = spawn_app().await;
    let id = app.book(DAY, "09:00").await;
    let file = format!("/appointment/{id}/calendar.ics");
    let names = ["UID", "SEQUENCE", "DTSTART", "DTEND", "STATUS"];
    let booked = events(app.get(&file).await).await;
    assert_eq!(booked.len(), 1);
    assert_eq!(
        values(&booked[0], &names),
        [
            Some(id.as_str()),
            Some("0"),
            Some("20300107T090000Z"),
            Some("20300107T093000Z"),
            Some("CONFIRMED")
        ]
    );
    assert!(booked[0].get_summary().is_some_and(|s| s.starts_with("Appointment with ")));

    app.set_time("2030-01-02T10:00:00Z");
    let moved =
        app.post_json(&format!("/reschedule/{id}"), &json!({"date": DAY, "time": "11:00"})).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved = events(app.get(&file).await).await;
    assert_eq!(
        values(&moved[0], &names),
        [
            Some(id.as_str()),
            Some("1"),
            Some("20300107T110000Z"),
            Some("20300107T113000Z"),
            Some("CONFIRMED")
        ]
    );
    assert_eq!(moved[0].property_value("LAST-MODIFIED"), Some("20300102T100000Z"));

    let canceled = app.client.post(app.url(&format!("/cancel/{id}"))).send().await.unwrap();
    assert_eq!(canceled.status(), StatusCode::OK);
    let canceled = events(app.get(&file).await).await;
    assert_eq!(
        values(&canceled[0], &["UID", "SEQUENCE", "STATUS", "TRANSP"]),
        [Some(id.as_str()), Some("2"), Some("CANCELLED"), Some("TRANSPARENT")]
    );

    let unknown = app.get("/appointment/6f9619ff-8b86-4d11-b42d-00c04fc964ff/calendar.ics").await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "Appointment not found.").await;
}

async fn feed_app() -> TestApp {
    spawn_app_with(|settings| settings.feed_token = FeedToken(Some(FEED_TOKEN.parse().unwrap())))
        .await
}

#[actix_web::test]
async fn the_feed_lists_a_resources_appointments_from_30_days_back() {
    let app = feed_app().await;
    let notes =
        "Bring the X-rays; room 2, please\nand the referral letter ".to_owned() + &"é".repeat(60);
    let with_notes = app
        .schedule_with(
            DAY,
            "09:00",
            json!({"client_name": "Ann O'Neil", "notes": notes, "phone": "+44 20 7946 0958"}),
        )
        .await;
    assert_eq!(with_notes.status(), StatusCode::CREATED);
    let canceled = app.book(DAY, "10:00").await;
    app.client.post(app.url(&format!("/cancel/{canceled}"))).send().await.unwrap();
    let feed = format!("/feeds/default.ics?token={FEED_TOKEN}");

    let listed = events(app.get(&feed).await).await;
    let summary: Vec<_> =
        listed.iter().map(|e| values(e, &["SUMMARY", "STATUS", "DTSTART"])).collect();
    assert_eq!(
        summary,
        [
            [Some("Ann O'Neil"), Some("CONFIRMED"), Some("20300107T090000Z")],
            [Some("Ada Lovelace"), Some("CANCELLED"), Some("20300107T100000Z")],
        ]
    );
    assert_eq!(
        listed[0].get_description(),
        Some(format!("Phone: +442079460958\n{}", notes.trim_end()).as_str()),
        "the staff's calendar has the contact details; escaped and folded, read back"
    );
    assert_eq!(listed[1].property_value("UID"), Some(canceled.as_str()));

    // Forty days on, those are more than 30 days back; a new booking is listed alone.
    app.set_time("2030-02-16T08:00:00Z");
    let later = app.book("2030-02-18", "09:00").await;
    let listed = events(app.get(&feed).await).await;
    let uids: Vec<_> = listed.iter().map(|e| e.property_value("UID")).collect();
    assert_eq!(uids, [Some(later.as_str())]);
}

#[actix_web::test]
async fn the_feed_needs_its_token_and_a_resource() {
    let app = feed_app().await;
    for path in [
        "/feeds/default.ics",
        "/feeds/default.ics?token=wrong-token-wrong-token",
        &format!("/feeds/default.ics?token={ADMIN_TOKEN}"),
    ] {
        assert_problem(
            app.get(path).await,
            StatusCode::FORBIDDEN,
            "A valid feed token is required.",
        )
        .await;
    }
    let unknown = app.get(&format!("/feeds/nobody.ics?token={FEED_TOKEN}")).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "Not found.").await;

    let off = spawn_app().await;
    let disabled = off.get(&format!("/feeds/default.ics?token={FEED_TOKEN}")).await;
    assert_problem(disabled, StatusCode::SERVICE_UNAVAILABLE, "Calendar feeds are not enabled.")
        .await;
}
