use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{DAY, TestApp, assert_problem, salon, spawn_app, spawn_app_with};

async fn reschedule(app: &TestApp, id: &str, date: &str, time: &str) -> Response {
    app.post_json(&format!("/reschedule/{id}"), &json!({"date": date, "time": time})).await
}

#[actix_web::test]
async fn rescheduling_moves_the_appointment_and_frees_the_old_slot() {
    let app = spawn_app().await;
    let id = app.book(DAY, "09:00").await;
    app.set_time("2030-01-02T10:00:00Z");
    let response = reschedule(&app, &id, "2030-01-08", "14:30").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Appointment rescheduled successfully.");
    let appointment = &body["appointment"];
    assert_eq!(
        (appointment["date"].as_str(), appointment["time"].as_str()),
        (Some("2030-01-08"), Some("14:30"))
    );
    assert_eq!(appointment["start"], "2030-01-08T14:30:00+00:00");
    assert_eq!(appointment["status"], "scheduled");
    assert_eq!(appointment["created_at"], "2030-01-01T08:00:00Z");
    assert_eq!(appointment["updated_at"], "2030-01-02T10:00:00Z");
    assert_eq!(&app.appointment(&id).await, appointment);
    assert_eq!(app.slot(DAY, "09:00").await, (0, true, None));
    assert_eq!(app.slot("2030-01-08", "14:30").await, (1, false, Some("full".into())));
}

#[actix_web::test]
async fn rescheduling_to_the_slot_it_holds_is_a_no_op() {
    let app = spawn_app().await;
    let id = app.book(DAY, "09:00").await;
    let before = app.appointment(&id).await;
    app.set_time("2030-01-02T10:00:00Z");
    let response = reschedule(&app, &id, DAY, "09:00").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Appointment rescheduled successfully.");
    assert_eq!(body["appointment"], before);
    assert_eq!(app.slot(DAY, "09:00").await, (1, false, Some("full".into())));
}

#[actix_web::test]
async fn rescheduling_into_a_taken_slot_is_409_and_changes_nothing() {
    let app = spawn_app().await;
    let mover = app.book(DAY, "09:00").await;
    app.book(DAY, "09:30").await;
    let before = app.appointment(&mover).await;
    let body = assert_problem(
        reschedule(&app, &mover, DAY, "09:30").await,
        StatusCode::CONFLICT,
        "New time slot is not available.",
    )
    .await;
    assert_eq!(body["reason"], "full");
    assert_eq!(app.appointment(&mover).await, before);
    assert_eq!(app.slot(DAY, "09:00").await.0, 1);
    assert_eq!(app.slot(DAY, "09:30").await.0, 1);
}

#[actix_web::test]
async fn a_canceled_appointment_cannot_be_rescheduled() {
    let app = spawn_app().await;
    let id = app.book(DAY, "09:00").await;
    app.client.post(app.url(&format!("/cancel/{id}"))).send().await.unwrap();
    assert_problem(
        reschedule(&app, &id, DAY, "10:00").await,
        StatusCode::BAD_REQUEST,
        "Cannot reschedule a canceled appointment.",
    )
    .await;
    assert_eq!(app.appointment(&id).await["status"], "canceled");
    assert_eq!(app.slot(DAY, "10:00").await, (0, true, None));
}

#[actix_web::test]
async fn rescheduling_an_unknown_appointment_is_404() {
    let app = spawn_app().await;
    let response = reschedule(&app, "6f9619ff-8b86-4d11-b42d-00c04fc964ff", DAY, "10:00").await;
    assert_problem(response, StatusCode::NOT_FOUND, "Appointment not found.").await;
    assert_problem(
        reschedule(&app, "nope", DAY, "10:00").await,
        StatusCode::NOT_FOUND,
        "Appointment not found.",
    )
    .await;
}

#[actix_web::test]
async fn bad_new_times_are_400_and_change_nothing() {
    let app = spawn_app().await;
    let id = app.book(DAY, "09:00").await;
    let before = app.appointment(&id).await;
    assert_problem(
        reschedule(&app, &id, "tomorrow", "10:00").await,
        StatusCode::BAD_REQUEST,
        "Invalid date or time format.",
    )
    .await;
    assert_problem(
        reschedule(&app, &id, DAY, "10").await,
        StatusCode::BAD_REQUEST,
        "Invalid date or time format.",
    )
    .await;
    assert_problem(
        reschedule(&app, &id, DAY, "18:00").await,
        StatusCode::BAD_REQUEST,
        "The requested time is outside opening hours.",
    )
    .await;
    assert_problem(
        reschedule(&app, &id, "2029-12-31", "10:00").await,
        StatusCode::BAD_REQUEST,
        "The requested time is in the past.",
    )
    .await;
    app.set_time("2030-01-07T09:10:00Z");
    assert_problem(
        reschedule(&app, &id, DAY, "15:00").await,
        StatusCode::BAD_REQUEST,
        "Cannot reschedule an appointment that has already started.",
    )
    .await;
    assert_eq!(app.appointment(&id).await, before);
}

/// A move may go to another resource that offers the appointment's service, if the new place is
/// free: the old resource's slot is freed and the new one's taken. A resource that does not
/// offer the service, an unknown one or a full slot is refused, and nothing changes.
#[actix_web::test]
async fn a_move_may_change_the_resource_when_the_new_place_is_free() {
    let app = spawn_app_with(salon).await;
    let id = app.schedule_with(DAY, "10:00", json!({"resource": "alice"})).await;
    assert_eq!(id.status(), StatusCode::CREATED);
    let id: Value = id.json().await.unwrap();
    let id = id["appointment_id"].as_str().unwrap().to_owned();
    let to_bob = json!({"date": DAY, "time": "11:00", "resource": "bob"});
    let moved = app.post_json(&format!("/reschedule/{id}"), &to_bob).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(
        (&moved["appointment"]["resource"], &moved["appointment"]["time"]),
        (&json!("bob"), &json!("11:00"))
    );
    assert_eq!(app.slot_of("alice", DAY, "10:00", "").await.0, 0);
    assert_eq!(app.slot_of("bob", DAY, "11:00", "").await.0, 1);

    assert_eq!(
        app.schedule_with(DAY, "12:00", json!({"resource": "alice"})).await.status(),
        StatusCode::CREATED
    );
    let full = json!({"date": DAY, "time": "12:00", "resource": "alice"});
    let full = app.post_json(&format!("/reschedule/{id}"), &full).await;
    assert_problem(full, StatusCode::CONFLICT, "New time slot is not available.").await;
    let unknown = json!({"date": DAY, "time": "12:30", "resource": "carol"});
    let unknown = app.post_json(&format!("/reschedule/{id}"), &unknown).await;
    assert_problem(unknown, StatusCode::BAD_REQUEST, "Unknown resource.").await;

    let haircut = app.schedule_with(DAY, "14:00", json!({"service": "haircut"})).await;
    let haircut: Value = haircut.json().await.unwrap();
    let haircut = haircut["appointment_id"].as_str().unwrap().to_owned();
    let elsewhere = json!({"date": DAY, "time": "14:00", "resource": "bob"});
    let elsewhere = app.post_json(&format!("/reschedule/{haircut}"), &elsewhere).await;
    assert_problem(
        elsewhere,
        StatusCode::BAD_REQUEST,
        "The resource does not perform this service.",
    )
    .await;
    assert_eq!(app.appointment(&id).await["resource"], "bob");
    assert_eq!(app.appointment(&haircut).await["resource"], "alice");
}

/// A move may change the service: the appointment then takes the time the new service needs
/// (a haircut becomes a colouring, 90 minutes and its cleanup), on its resource or the one
/// named. A service the resource does not offer, an unknown one, or a place that cannot take
/// the longer service is refused, and nothing changes.
#[actix_web::test]
async fn a_move_may_change_the_service_when_its_time_is_free() {
    let app = spawn_app_with(salon).await;
    let haircut = app.schedule_with(DAY, "10:00", json!({"service": "haircut"})).await;
    let haircut: Value = haircut.json().await.unwrap();
    let id = haircut["appointment_id"].as_str().unwrap().to_owned();
    let blocker = app.schedule_with(DAY, "11:00", json!({"resource": "alice"})).await;
    assert_eq!(blocker.status(), StatusCode::CREATED);

    let longer = json!({"date": DAY, "time": "10:00", "service": "colouring"});
    let full = app.post_json(&format!("/reschedule/{id}"), &longer).await;
    assert_problem(full, StatusCode::CONFLICT, "New time slot is not available.").await;
    assert_eq!(app.appointment(&id).await["service"], "haircut");

    let later = json!({"date": DAY, "time": "13:00", "service": "colouring"});
    let moved = app.post_json(&format!("/reschedule/{id}"), &later).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    let shown = &moved["appointment"];
    assert_eq!(
        (&shown["service"], &shown["resource"], &shown["time"], &shown["end"]),
        (
            &json!("colouring"),
            &json!("alice"),
            &json!("13:00"),
            &json!(format!("{DAY}T14:30:00+00:00"))
        )
    );
    assert_eq!(app.slot_of("alice", DAY, "10:00", "").await.0, 0, "the haircut's slot is free");
    for time in ["13:00", "13:30", "14:00", "14:30"] {
        assert_eq!(app.slot_of("alice", DAY, time, "").await.0, 1, "{time}, cleanup included");
    }

    let not_offered =
        json!({"date": DAY, "time": "15:00", "resource": "bob", "service": "haircut"});
    let not_offered = app.post_json(&format!("/reschedule/{id}"), &not_offered).await;
    assert_problem(
        not_offered,
        StatusCode::BAD_REQUEST,
        "The resource does not perform this service.",
    )
    .await;
    let unknown = json!({"date": DAY, "time": "15:00", "service": "massage"});
    let unknown = app.post_json(&format!("/reschedule/{id}"), &unknown).await;
    assert_problem(unknown, StatusCode::BAD_REQUEST, "Unknown service.").await;
    let stored = app.appointment(&id).await;
    assert_eq!((&stored["service"], &stored["time"]), (&json!("colouring"), &json!("13:00")));
}
