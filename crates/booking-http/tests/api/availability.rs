use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{DAY, assert_problem, spawn_app};

#[actix_web::test]
async fn a_day_lists_every_slot_with_counts() {
    let app = spawn_app().await;
    app.book(DAY, "09:30").await;
    let response = app.get(&format!("/availability?date={DAY}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let listing: Value = response.json().await.unwrap();
    assert_eq!(listing["time_zone"], "UTC");
    assert_eq!((listing["from"].as_str(), listing["to"].as_str()), (Some(DAY), Some(DAY)));
    assert_eq!(listing["slot_minutes"], 30);
    let slots = listing["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 16, "09:00-17:00 in half hours");
    assert_eq!(slots[0]["time"], "09:00");
    assert_eq!(slots[15]["time"], "16:30");
    assert_eq!(
        slots[1],
        serde_json::json!({
            "resource": "default", "date": DAY, "time": "09:30", "start": "2030-01-07T09:30:00+00:00",
            "end": "2030-01-07T10:00:00+00:00", "capacity": 1, "booked": 1, "held": 0, "available": false,
            "reason": "full"
        })
    );
    assert_eq!(slots[0]["available"], true);
    assert!(slots[0].get("reason").is_none());
}

#[actix_web::test]
async fn the_listing_never_shows_names_or_ids() {
    let app = spawn_app().await;
    let id = app.book(DAY, "09:30").await;
    let body = app.get(&format!("/availability?date={DAY}")).await.text().await.unwrap();
    assert!(!body.contains("Ada") && !body.contains(&id), "{body}");
}

#[actix_web::test]
async fn a_range_lists_each_day_and_reflects_every_write_at_once() {
    let app = spawn_app().await;
    let listing: Value =
        app.get("/availability?from=2030-01-07&to=2030-01-09").await.json().await.unwrap();
    assert_eq!(listing["slots"].as_array().unwrap().len(), 48);
    let id = app.book("2030-01-09", "16:30").await;
    assert_eq!(app.slot("2030-01-09", "16:30").await, (1, false, Some("full".into())));
    app.client.post(app.url(&format!("/cancel/{id}"))).send().await.unwrap();
    assert_eq!(app.slot("2030-01-09", "16:30").await, (0, true, None));
}

#[actix_web::test]
async fn from_alone_is_one_day_and_31_days_is_the_most() {
    let app = spawn_app().await;
    let listing: Value = app.get("/availability?from=2030-01-07").await.json().await.unwrap();
    assert_eq!(listing["slots"].as_array().unwrap().len(), 16);
    let month: Value =
        app.get("/availability?from=2030-01-01&to=2030-01-31").await.json().await.unwrap();
    assert_eq!(month["slots"].as_array().unwrap().len(), 31 * 16);
    let body = assert_problem(
        app.get("/availability?from=2030-01-01&to=2030-02-01").await,
        StatusCode::BAD_REQUEST,
        "Invalid date range.",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("32 days"), "{body}");
    assert_problem(
        app.get("/availability?from=2030-01-02&to=2030-01-01").await,
        StatusCode::BAD_REQUEST,
        "Invalid date range.",
    )
    .await;
}

#[actix_web::test]
async fn bad_queries_are_400() {
    let app = spawn_app().await;
    assert_problem(
        app.get("/availability?date=2030-1-7").await,
        StatusCode::BAD_REQUEST,
        "Invalid date or time format.",
    )
    .await;
    assert_problem(
        app.get("/availability?from=2030-01-07&to=soon").await,
        StatusCode::BAD_REQUEST,
        "Invalid date or time format.",
    )
    .await;
    assert_problem(app.get("/availability").await, StatusCode::BAD_REQUEST, "Invalid request.")
        .await;
    assert_problem(
        app.get(&format!("/availability?date={DAY}&from={DAY}")).await,
        StatusCode::BAD_REQUEST,
        "Invalid request.",
    )
    .await;
    assert_problem(
        app.get("/availability?to=2030-01-07").await,
        StatusCode::BAD_REQUEST,
        "Invalid request.",
    )
    .await;
}

#[actix_web::test]
async fn slots_that_have_started_are_past() {
    let app = spawn_app().await;
    app.set_time("2030-01-07T10:00:00Z");
    assert_eq!(app.slot(DAY, "09:30").await, (0, false, Some("past".into())));
    assert_eq!(app.slot(DAY, "10:00").await, (0, false, Some("past".into())));
    assert_eq!(app.slot(DAY, "10:30").await, (0, true, None));
}
