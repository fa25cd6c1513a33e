use chrono::Duration;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{DAY, TestApp, assert_problem, salon, spawn_app, spawn_app_with};

async fn hold(app: &TestApp, body: Value) -> Response {
    app.post_json("/holds", &body).await
}

async fn token_of(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_hold_takes_the_slot_for_everyone_else_until_it_is_used() {
    let app = spawn_app().await;
    let response = hold(&app, json!({"date": DAY, "time": "10:00"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Time slot held.");
    assert_eq!(body["expires_at"], "2030-01-01T08:05:00Z");
    assert_eq!(
        (body["date"].as_str(), body["time"].as_str(), body["resource"].as_str()),
        (Some(DAY), Some("10:00"), Some("default"))
    );
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 32);
    assert_eq!(app.slot_of("default", DAY, "10:00", "").await, (0, 1, Some("held".into())));
    let other = assert_problem(
        app.schedule("Grace", DAY, "10:00").await,
        StatusCode::CONFLICT,
        "Time slot is not available.",
    )
    .await;
    assert_eq!(other["reason"], "held");
    let converted = app.schedule_with(DAY, "10:00", json!({"hold": token})).await;
    assert_eq!(converted.status(), StatusCode::CREATED);
    assert_eq!(app.slot_of("default", DAY, "10:00", "").await, (1, 0, Some("full".into())));
    let again = app.schedule_with(DAY, "10:00", json!({"hold": token})).await;
    assert_problem(again, StatusCode::NOT_FOUND, "Hold not found or expired.").await;
}

#[actix_web::test]
async fn an_expired_hold_frees_its_slot_by_itself() {
    let app = spawn_app().await;
    let token = token_of(hold(&app, json!({"date": DAY, "time": "10:00"})).await).await;
    app.clock.advance(Duration::minutes(5));
    assert_eq!(app.slot_of("default", DAY, "10:00", "").await, (0, 0, None));
    assert_problem(
        app.schedule_with(DAY, "10:00", json!({"hold": token})).await,
        StatusCode::NOT_FOUND,
        "Hold not found or expired.",
    )
    .await;
    assert_eq!(app.schedule("Grace", DAY, "10:00").await.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn a_released_hold_frees_its_slot_at_once() {
    let app = spawn_app().await;
    let token = token_of(hold(&app, json!({"date": DAY, "time": "10:00"})).await).await;
    assert_eq!(app.delete(&format!("/holds/{token}")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.slot_of("default", DAY, "10:00", "").await, (0, 0, None));
    assert_problem(
        app.delete(&format!("/holds/{token}")).await,
        StatusCode::NOT_FOUND,
        "Hold not found or expired.",
    )
    .await;
    assert_problem(
        app.delete("/holds/not-a-token").await,
        StatusCode::NOT_FOUND,
        "Hold not found or expired.",
    )
    .await;
}

#[actix_web::test]
async fn a_hold_is_used_only_for_its_own_slot() {
    let app = spawn_app().await;
    let token = token_of(hold(&app, json!({"date": DAY, "time": "10:00"})).await).await;
    let elsewhere = app.schedule_with(DAY, "11:00", json!({"hold": token})).await;
    assert_problem(elsewhere, StatusCode::CONFLICT, "The hold is for another slot.").await;
    assert_eq!(
        app.slot_of("default", DAY, "10:00", "").await,
        (0, 1, Some("held".into())),
        "the hold survives"
    );
    assert_eq!(app.slot_of("default", DAY, "11:00", "").await, (0, 0, None));
}

#[actix_web::test]
async fn holds_follow_the_same_rules_as_bookings() {
    let app = spawn_app_with(salon).await;
    let response = hold(&app, json!({"date": DAY, "time": "13:00", "service": "colouring"})).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["resource"].as_str(), body["end"].as_str()),
        (Some("bob"), Some("2030-01-07T14:30:00+00:00"))
    );
    assert_eq!(
        app.slot_of("bob", DAY, "14:30", "&resource=bob").await.1,
        1,
        "the cleanup slot is held too"
    );
    let token = body["token"].as_str().unwrap();
    let converted =
        app.schedule_with(DAY, "13:00", json!({"service": "colouring", "hold": token})).await;
    assert_eq!(converted.status(), StatusCode::CREATED);
    assert_eq!(converted.json::<Value>().await.unwrap()["appointment"]["resource"], "bob");
    assert_problem(
        hold(&app, json!({"date": DAY, "time": "08:00"})).await,
        StatusCode::BAD_REQUEST,
        "The requested time is outside opening hours.",
    )
    .await;
    assert_problem(
        hold(&app, json!({"date": "2029-12-31", "time": "10:00"})).await,
        StatusCode::BAD_REQUEST,
        "The requested time is in the past.",
    )
    .await;
    assert_problem(
        hold(&app, json!({"date": DAY, "time": "10:00", "service": "nails"})).await,
        StatusCode::BAD_REQUEST,
        "Unknown service.",
    )
    .await;
}
