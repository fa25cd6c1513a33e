use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{DAY, assert_problem, spawn_app};

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
