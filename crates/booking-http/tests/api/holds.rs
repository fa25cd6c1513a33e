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

/// Holds made by `client` (an address a trusted proxy forwards for).
async fn hold_as(app: &TestApp, client: &str, time: &str) -> Response {
    app.forwarded_for(client, reqwest::Method::POST, "/holds")
        .json(&json!({"date": DAY, "time": time}))
        .send()
        .await
        .unwrap()
}

/// One client may hold three slots at once (an IPv6 client by its /64); the fourth is 429
/// until one of the three is used, released or expires, and other clients are not affected.
#[actix_web::test]
async fn a_client_holds_at_most_three_slots_at_once() {
    let app = spawn_app_with(|settings| {
        settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let ada = "2001:db8:1:2::10";
    let mut tokens = Vec::new();
    for (address, time) in [(ada, "09:00"), ("2001:db8:1:2::99", "09:30"), (ada, "10:00")] {
        tokens.push(token_of(hold_as(&app, address, time).await).await);
    }
    app.clock.advance(Duration::minutes(2));
    let refused = hold_as(&app, "2001:db8:1:2:ffff::1", "10:30").await;
    assert_eq!(refused.headers()["retry-after"], "180", "the first hold expires in 3 minutes");
    let body = assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "Too many holds.").await;
    assert_eq!(
        (body["type"].as_str(), body["reason"].as_str()),
        (Some("/problems/too-many-holds"), Some("too_many_holds"))
    );
    assert!(body["detail"].as_str().unwrap().contains("already holds 3 slots"), "{body}");
    assert_eq!(app.slot_of("default", DAY, "10:30", "").await, (0, 0, None), "nothing was held");
    assert_eq!(hold_as(&app, "2001:db8:1:3::10", "10:30").await.status(), StatusCode::CREATED);
    assert_eq!(hold_as(&app, "192.0.2.7", "11:00").await.status(), StatusCode::CREATED);
    assert_eq!(app.delete(&format!("/holds/{}", tokens[0])).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(hold_as(&app, ada, "11:30").await.status(), StatusCode::CREATED);
    assert_eq!(hold_as(&app, ada, "12:00").await.status(), StatusCode::TOO_MANY_REQUESTS);
    let converted = app.schedule_with(DAY, "09:30", json!({"hold": tokens[1]})).await;
    assert_eq!(converted.status(), StatusCode::CREATED);
    assert_eq!(hold_as(&app, ada, "12:00").await.status(), StatusCode::CREATED);
    app.clock.advance(Duration::minutes(5));
    for time in ["13:00", "13:30", "14:00"] {
        assert_eq!(
            hold_as(&app, ada, time).await.status(),
            StatusCode::CREATED,
            "expired holds stop counting"
        );
    }
}

#[actix_web::test]
async fn the_holds_cap_can_be_lifted() {
    let app = spawn_app_with(|settings| settings.max_holds_per_client = None).await;
    for time in ["09:00", "09:30", "10:00", "10:30", "11:00"] {
        let response = hold(&app, json!({"date": DAY, "time": time})).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{time}");
    }
}
