use chrono::Duration;
use futures_util::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{DAY, TestApp, assert_problem, spawn_app, spawn_app_with};

async fn post(app: &TestApp, path: &str, key: &str, body: &Value) -> Response {
    app.client.post(app.url(path)).header("Idempotency-Key", key).json(body).send().await.unwrap()
}

fn booking(time: &str) -> Value {
    json!({"client_name": "Ada Lovelace", "date": DAY, "time": time})
}

#[actix_web::test]
async fn a_retried_booking_is_booked_once_and_answered_the_same() {
    let app = spawn_app().await;
    let first = post(&app, "/schedule", "key-1", &booking("10:00")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].clone();
    let first_body = first.text().await.unwrap();
    app.clock.advance(Duration::minutes(3));
    let again = post(&app, "/schedule", "key-1", &booking("10:00")).await;
    assert_eq!(again.status(), StatusCode::CREATED, "not a 409 against itself");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.text().await.unwrap(), first_body, "the original body, byte for byte");
    assert_eq!(app.slot(DAY, "10:00").await.0, 1);
    // Spacing and field order do not make another request.
    let reordered = app
        .client
        .post(app.url("/schedule"))
        .header("Idempotency-Key", "key-1")
        .header("content-type", "application/json")
        .body(format!(r#"{{ "time": "10:00",  "date": "{DAY}", "client_name": "Ada Lovelace" }}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(reordered.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn simultaneous_retries_book_once() {
    let app = spawn_app().await;
    let body = booking("11:00");
    let requests = (0..16).map(|_| post(&app, "/schedule", "burst", &body));
    let responses = join_all(requests).await;
    let mut ids = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::CREATED);
        ids.push(
            response.json::<Value>().await.unwrap()["appointment_id"].as_str().unwrap().to_owned(),
        );
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the one appointment");
    assert_eq!(app.slot(DAY, "11:00").await.0, 1);
}

#[actix_web::test]
async fn a_key_reused_for_another_request_is_422() {
    let app = spawn_app().await;
    assert_eq!(
        post(&app, "/schedule", "key-2", &booking("10:00")).await.status(),
        StatusCode::CREATED
    );
    let other = post(&app, "/schedule", "key-2", &booking("10:30")).await;
    assert_problem(
        other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Idempotency key reused with a different request.",
    )
    .await;
    assert_eq!(app.slot(DAY, "10:30").await.0, 0);
    let id = app.book(DAY, "11:00").await;
    let elsewhere =
        post(&app, &format!("/reschedule/{id}"), "key-2", &json!({"date": DAY, "time": "12:00"}))
            .await;
    assert_eq!(elsewhere.status(), StatusCode::UNPROCESSABLE_ENTITY, "keys are not per endpoint");
    assert_eq!(app.slot(DAY, "12:00").await.0, 0);
}

#[actix_web::test]
async fn refusals_are_not_stored_so_a_retry_can_succeed() {
    let app = spawn_app().await;
    let taken = app.book(DAY, "10:00").await;
    assert_eq!(
        post(&app, "/schedule", "key-3", &booking("10:00")).await.status(),
        StatusCode::CONFLICT
    );
    app.client.post(app.url(&format!("/cancel/{taken}"))).send().await.unwrap();
    assert_eq!(
        post(&app, "/schedule", "key-3", &booking("10:00")).await.status(),
        StatusCode::CREATED
    );
}

#[actix_web::test]
async fn retried_cancellations_and_moves_answer_as_the_first_time() {
    let app = spawn_app().await;
    let id = app.book(DAY, "10:00").await;
    let moved =
        post(&app, &format!("/reschedule/{id}"), "move", &json!({"date": DAY, "time": "15:00"}))
            .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved_body = moved.text().await.unwrap();
    let again =
        post(&app, &format!("/reschedule/{id}"), "move", &json!({"date": DAY, "time": "15:00"}))
            .await;
    assert_eq!(
        (again.status(), again.headers()["idempotent-replayed"].to_str().unwrap()),
        (StatusCode::OK, "true")
    );
    assert_eq!(again.text().await.unwrap(), moved_body);

    let cancel = |key: &'static str| {
        app.client.post(app.url(&format!("/cancel/{id}"))).header("Idempotency-Key", key).send()
    };
    let first = cancel("cancel").await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first_body = first.text().await.unwrap();
    let retried = cancel("cancel").await.unwrap();
    assert_eq!(retried.status(), StatusCode::OK, "not 'already canceled'");
    assert_eq!(retried.text().await.unwrap(), first_body);
    assert_eq!(
        cancel("another").await.unwrap().status(),
        StatusCode::BAD_REQUEST,
        "a new key is a new request"
    );
}

#[actix_web::test]
async fn keys_are_forgotten_after_24_hours() {
    let app = spawn_app().await;
    assert_eq!(
        post(&app, "/schedule", "daily", &booking("10:00")).await.status(),
        StatusCode::CREATED
    );
    app.clock.advance(Duration::hours(24));
    assert_eq!(
        post(&app, "/schedule", "daily", &booking("10:30")).await.status(),
        StatusCode::CREATED
    );
}

#[actix_web::test]
async fn malformed_keys_are_400() {
    let app = spawn_app().await;
    for key in [" ", &"k".repeat(256)] {
        let response = post(&app, "/schedule", key, &booking("10:00")).await;
        let body = assert_problem(response, StatusCode::BAD_REQUEST, "Invalid request.").await;
        assert!(body["detail"].as_str().unwrap().contains("Idempotency-Key"), "{body}");
    }
    assert_eq!(app.slot(DAY, "10:00").await.0, 0);
}

/// What a key remembers is the appointment as the booking left it: a replay after the
/// appointment changed still answers exactly as the booking did.
#[actix_web::test]
async fn a_replay_is_rendered_from_the_record_as_the_first_answer_was() {
    let app = spawn_app().await;
    let first = post(&app, "/schedule", "book-then-cancel", &booking("10:00")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"].clone();
    let first_body = first.text().await.unwrap();
    let id = serde_json::from_str::<Value>(&first_body).unwrap()["appointment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let canceled = app.client.post(app.url(&format!("/cancel/{id}"))).send().await.unwrap();
    assert_eq!(canceled.status(), StatusCode::OK);
    let again = post(&app, "/schedule", "book-then-cancel", &booking("10:00")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.text().await.unwrap(), first_body, "as first answered: scheduled");
}

#[actix_web::test]
async fn keys_live_as_long_as_the_setting_says() {
    let app = spawn_app_with(|settings| settings.key_lifetime = Duration::hours(1)).await;
    let first = post(&app, "/schedule", "short-lived", &booking("10:00")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    app.clock.advance(Duration::minutes(59));
    let reused = post(&app, "/schedule", "short-lived", &booking("10:30")).await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY, "still remembered");
    app.clock.advance(Duration::minutes(1));
    let fresh = post(&app, "/schedule", "short-lived", &booking("10:30")).await;
    assert_eq!(fresh.status(), StatusCode::CREATED, "forgotten after an hour");
}

/// Expired keys and holds are forgotten in the background, by the sweep, not by other writes.
#[actix_web::test]
async fn expired_keys_and_holds_are_swept_away_in_the_background() {
    let app = spawn_app_with(|settings| {
        settings.key_lifetime = Duration::hours(1);
        settings.key_sweep_interval = std::time::Duration::from_millis(50);
    })
    .await;
    for (key, time) in [("first", "10:00"), ("second", "10:30")] {
        assert_eq!(
            post(&app, "/schedule", key, &booking(time)).await.status(),
            StatusCode::CREATED
        );
    }
    let held = app.post_json("/holds", &serde_json::json!({"date": DAY, "time": "11:00"})).await;
    assert_eq!(held.status(), StatusCode::CREATED);
    let rows = |table| booking_store::test_support::sqlite_rows(&app.database, table);
    let records = || rows("idempotency_records") + rows("holds") + rows("hold_slots");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(records(), 4, "young keys and active holds (with their slot) are kept");
    app.clock.advance(Duration::hours(2));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while records() > 0 {
        assert!(std::time::Instant::now() < deadline, "the sweep left {} rows", records());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
