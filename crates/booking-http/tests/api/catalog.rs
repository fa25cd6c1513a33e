use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DAY, assert_problem, salon, spawn_app_with};

#[actix_web::test]
async fn resources_and_services_are_listed() {
    let app = spawn_app_with(salon).await;
    let resources: Value = app.get("/resources").await.json().await.unwrap();
    assert_eq!(
        resources,
        json!({"resources": [
            {"slug": "alice", "name": "Alice", "opening_hours": "09:00-17:00", "capacity": 1},
            {"slug": "bob", "name": "Bob", "opening_hours": "10:00-18:00", "capacity": 1},
        ]})
    );
    let services: Value = app.get("/services").await.json().await.unwrap();
    assert_eq!(
        services,
        json!({"services": [
            {"slug": "haircut", "name": "Haircut", "minutes": 30, "resources": ["alice"]},
            {"slug": "colouring", "name": "Colouring", "minutes": 90, "resources": ["bob", "alice"]},
        ]})
    );
}

#[actix_web::test]
async fn without_a_resource_the_first_free_performer_is_chosen() {
    let app = spawn_app_with(salon).await;
    let mut chosen = Vec::new();
    for _ in 0..2 {
        let response = app.schedule_with(DAY, "13:00", json!({"service": "colouring"})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["appointment"]["service"], "colouring");
        assert_eq!(body["appointment"]["end"], "2030-01-07T14:30:00+00:00");
        chosen.push(body["appointment"]["resource"].as_str().unwrap().to_owned());
    }
    assert_eq!(chosen, ["bob", "alice"]);
    let body = assert_problem(
        app.schedule_with(DAY, "13:00", json!({"service": "colouring"})).await,
        StatusCode::CONFLICT,
        "Time slot is not available.",
    )
    .await;
    assert_eq!(body["reason"], "full");
}

#[actix_web::test]
async fn a_long_service_takes_every_slot_and_its_cleanup() {
    let app = spawn_app_with(salon).await;
    let response =
        app.schedule_with(DAY, "10:00", json!({"service": "colouring", "resource": "bob"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    for (time, booked) in [("10:00", 1), ("10:30", 1), ("11:00", 1), ("11:30", 1), ("12:00", 0)] {
        assert_eq!(app.slot_of("bob", DAY, time, "&resource=bob").await.0, booked, "{time}");
    }
    // The cleanup slot cannot be booked, nor a colouring that would overlap.
    let cleanup = app.schedule_with(DAY, "11:30", json!({"resource": "bob"})).await;
    assert_eq!(cleanup.status(), StatusCode::CONFLICT);
    let overlapping =
        app.schedule_with(DAY, "09:30", json!({"service": "colouring", "resource": "alice"})).await;
    assert_eq!(overlapping.status(), StatusCode::CREATED, "alice is free");
    let bob_early =
        app.schedule_with(DAY, "12:00", json!({"service": "colouring", "resource": "bob"})).await;
    assert_eq!(bob_early.status(), StatusCode::CREATED, "starts right after the cleanup");
}

#[actix_web::test]
async fn availability_says_where_a_service_can_start_and_why_not() {
    let app = spawn_app_with(salon).await;
    app.schedule_with(DAY, "12:00", json!({"service": "colouring", "resource": "alice"})).await;
    let slots = app.listing(DAY, "&resource=alice&service=colouring").await;
    let reason_at = |time: &str| {
        let slot = slots.iter().find(|s| s["time"] == time).unwrap();
        (slot["available"].as_bool().unwrap(), slot["reason"].as_str().map(str::to_owned))
    };
    assert_eq!(reason_at("10:00"), (true, None), "its cleanup ends at 12:00");
    assert_eq!(reason_at("10:30"), (false, Some("full".into())), "its cleanup would take 12:00");
    assert_eq!(reason_at("14:00"), (true, None), "after 12:00-13:30 and cleanup to 14:00");
    assert_eq!(reason_at("15:30"), (true, None), "ends at closing; cleanup may run past it");
    assert_eq!(reason_at("16:00"), (false, Some("outside_hours".into())), "would run past 17:00");
    let everyone = app.listing(DAY, "&service=colouring").await;
    let resources: std::collections::BTreeSet<&str> =
        everyone.iter().map(|s| s["resource"].as_str().unwrap()).collect();
    assert_eq!(resources.into_iter().collect::<Vec<_>>(), ["alice", "bob"]);
}

#[actix_web::test]
async fn unknown_or_mismatched_resources_and_services_are_400() {
    let app = spawn_app_with(salon).await;
    for (extra, message) in [
        (json!({"resource": "carol"}), "Unknown resource."),
        (json!({"service": "massage"}), "Unknown service."),
        (
            json!({"resource": "bob", "service": "haircut"}),
            "The resource does not perform this service.",
        ),
        (json!({"resource": "Not A Slug"}), "Invalid request."),
    ] {
        assert_problem(
            app.schedule_with(DAY, "10:00", extra.clone()).await,
            StatusCode::BAD_REQUEST,
            message,
        )
        .await;
    }
    assert_problem(
        app.get(&format!("/availability?date={DAY}&service=massage")).await,
        StatusCode::BAD_REQUEST,
        "Unknown service.",
    )
    .await;
    let body = assert_problem(
        app.schedule_with(DAY, "16:00", json!({"service": "colouring", "resource": "alice"})).await,
        StatusCode::BAD_REQUEST,
        "The appointment would run past closing time.",
    )
    .await;
    assert_eq!(body["reason"], "outside_hours");
}

#[actix_web::test]
async fn a_long_appointment_moves_whole_or_not_at_all() {
    let app = spawn_app_with(salon).await;
    let response =
        app.schedule_with(DAY, "10:00", json!({"service": "colouring", "resource": "bob"})).await;
    let id = response.json::<Value>().await.unwrap()["appointment_id"].as_str().unwrap().to_owned();
    app.schedule_with(DAY, "15:00", json!({"resource": "bob"})).await;
    let blocked =
        app.post_json(&format!("/reschedule/{id}"), &json!({"date": DAY, "time": "14:00"})).await;
    assert_problem(blocked, StatusCode::CONFLICT, "New time slot is not available.").await;
    assert_eq!(app.slot_of("bob", DAY, "10:00", "&resource=bob").await.0, 1);
    assert_eq!(app.slot_of("bob", DAY, "14:00", "&resource=bob").await.0, 0);
    let moved =
        app.post_json(&format!("/reschedule/{id}"), &json!({"date": DAY, "time": "10:30"})).await;
    assert_eq!(moved.status(), StatusCode::OK, "may overlap its own slots");
    let body: Value = moved.json().await.unwrap();
    assert_eq!(body["appointment"]["end"], "2030-01-07T12:00:00+00:00");
    assert_eq!(app.slot_of("bob", DAY, "10:00", "&resource=bob").await.0, 0);
    assert_eq!(app.slot_of("bob", DAY, "12:00", "&resource=bob").await.0, 1, "cleanup moved too");
}
