use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, DAY, assert_problem, spawn_app, spawn_app_with};

#[actix_web::test]
async fn canceling_returns_200_and_frees_the_slot() {
    let app = spawn_app().await;
    let id = app.book(DAY, "09:00").await;
    app.set_time("2030-01-02T10:00:00Z");
    let response = app.client.post(app.url(&format!("/cancel/{id}"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Appointment canceled successfully.");
    assert_eq!(body["appointment"]["status"], "canceled");
    assert_eq!(body["appointment"]["updated_at"], "2030-01-02T10:00:00Z");
    assert_eq!(app.appointment(&id).await, body["appointment"]);
    assert_eq!(app.slot(DAY, "09:00").await, (0, true, None));
    app.book(DAY, "09:00").await;
}

#[actix_web::test]
async fn canceling_twice_is_400() {
    let app = spawn_app().await;
    let id = app.book(DAY, "09:00").await;
    let cancel = || app.client.post(app.url(&format!("/cancel/{id}"))).send();
    assert_eq!(cancel().await.unwrap().status(), StatusCode::OK);
    assert_problem(
        cancel().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "Appointment is already canceled.",
    )
    .await;
    assert_eq!(app.appointment(&id).await["status"], "canceled");
}

#[actix_web::test]
async fn canceling_an_unknown_or_malformed_id_is_404() {
    let app = spawn_app().await;
    for id in ["6f9619ff-8b86-4d11-b42d-00c04fc964ff", "42", "not-an-id", "%00", &"x".repeat(500)] {
        let response = app.client.post(app.url(&format!("/cancel/{id}"))).send().await.unwrap();
        assert_problem(response, StatusCode::NOT_FOUND, "Appointment not found.").await;
    }
}

#[actix_web::test]
async fn a_started_appointment_cannot_be_canceled() {
    let app = spawn_app().await;
    let id = app.book(DAY, "09:00").await;
    app.set_time("2030-01-07T09:05:00Z");
    let response = app.client.post(app.url(&format!("/cancel/{id}"))).send().await.unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST, "Appointment has already started.").await;
    assert_eq!(app.appointment(&id).await["status"], "scheduled");
}

/// With a cancellation notice, a client can neither cancel nor move an appointment that starts
/// sooner (409, naming the deadline; asking for the place it holds still succeeds); further
/// ahead they can; an operator still can.
#[actix_web::test]
async fn within_the_cancellation_notice_only_the_business_cancels_or_moves() {
    let app = spawn_app_with(|settings| {
        settings.schedule = settings.schedule.clone().with_cancel_notice(chrono::Duration::days(1));
        settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
    })
    .await;
    // Now is 2030-01-01 08:00; the deadline of a 10:00 appointment that day has passed.
    let soon = app.book("2030-01-01", "10:00").await;
    let later = app.book("2030-01-03", "10:00").await;
    let cancel = |id: &str| app.client.post(app.url(&format!("/cancel/{id}"))).send();
    let refused = assert_problem(
        cancel(&soon).await.unwrap(),
        StatusCode::CONFLICT,
        "Too late to cancel this appointment.",
    )
    .await;
    assert_eq!(refused["type"], "/problems/cancellation-notice");
    assert!(refused["detail"].as_str().unwrap().contains("2029-12-31T10:00:00+00:00"), "{refused}");
    let move_to = |id: &str, date: &str, time: &str| {
        let body = json!({"date": date, "time": time});
        app.client.post(app.url(&format!("/reschedule/{id}"))).json(&body).send()
    };
    assert_problem(
        move_to(&soon, "2030-01-04", "10:00").await.unwrap(),
        StatusCode::CONFLICT,
        "Too late to reschedule this appointment.",
    )
    .await;
    let unchanged = move_to(&soon, "2030-01-01", "10:00").await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::OK, "asking for the place it holds");
    assert_eq!(app.appointment(&soon).await["status"], "scheduled");
    assert_eq!(app.slot("2030-01-01", "10:00").await.0, 1);

    assert_eq!(move_to(&later, "2030-01-03", "11:00").await.unwrap().status(), StatusCode::OK);
    assert_eq!(cancel(&later).await.unwrap().status(), StatusCode::OK);
    let moved_by_operator = app
        .admin_post(
            &format!("/admin/appointments/{soon}/move"),
            &json!({"date": "2030-01-01", "time": "10:30"}),
        )
        .await;
    assert_eq!(moved_by_operator.status(), StatusCode::OK);
    assert_eq!(app.slot("2030-01-01", "10:30").await.0, 1);
    let by_operator =
        app.admin_post(&format!("/admin/appointments/{soon}/cancel"), &json!({})).await;
    assert_eq!(by_operator.status(), StatusCode::OK);
    assert_eq!(app.slot("2030-01-01", "10:30").await.0, 0);
}
