use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, DAY, TestApp, assert_problem, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(|settings| settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap())).await
}

async fn history(app: &TestApp, id: &str) -> Vec<Value> {
    let response = app.admin_get(&format!("/admin/appointments/{id}/history")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["appointment_id"], id);
    body["entries"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn book_move_and_cancel_make_three_entries_in_order() {
    let app = app().await;
    let id = app.book(DAY, "09:00").await;
    app.set_time("2030-01-02T10:00:00Z");
    let moved =
        app.post_json(&format!("/reschedule/{id}"), &json!({"date": DAY, "time": "10:00"})).await;
    assert_eq!(moved.status(), StatusCode::OK);
    app.set_time("2030-01-03T11:00:00Z");
    let canceled =
        app.post_json(&format!("/cancel/{id}"), &json!({"reason": "  Feeling ill  "})).await;
    assert_eq!(canceled.status(), StatusCode::OK);

    let period = |from: &str, to: &str| json!({"start": format!("{DAY}T{from}:00+00:00"), "end": format!("{DAY}T{to}:00+00:00")});
    assert_eq!(
        history(&app, &id).await,
        [
            json!({"at": "2030-01-01T08:00:00Z", "change": "scheduled", "actor": "client",
                   "reason": null, "slot": period("09:00", "09:30"), "from": null}),
            json!({"at": "2030-01-02T10:00:00Z", "change": "rescheduled", "actor": "client",
                   "reason": null, "slot": period("10:00", "10:30"),
                   "from": {"start": format!("{DAY}T09:00:00+00:00"),
                            "end": format!("{DAY}T09:30:00+00:00"),
                            "resource": "default", "service": null}}),
            json!({"at": "2030-01-03T11:00:00Z", "change": "canceled", "actor": "client",
                   "reason": "Feeling ill", "slot": period("10:00", "10:30"), "from": null}),
        ]
    );
}

#[actix_web::test]
async fn the_history_of_an_unknown_appointment_is_404() {
    let app = app().await;
    for id in ["6f9619ff-8b86-4d11-b42d-00c04fc964ff", "not-an-id"] {
        let response = app.admin_get(&format!("/admin/appointments/{id}/history")).await;
        assert_problem(response, StatusCode::NOT_FOUND, "Appointment not found.").await;
    }
}

#[actix_web::test]
async fn a_cancel_takes_no_body_an_empty_one_or_a_reason() {
    let app = app().await;
    for (content_type, body) in [("", ""), ("application/json", ""), ("application/json", "{}")] {
        let id = app.book(DAY, "09:00").await;
        let mut request = app.client.post(app.url(&format!("/cancel/{id}"))).body(body);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{content_type:?} {body:?}");
        let entries = history(&app, &id).await;
        assert_eq!(
            (entries[1]["change"].clone(), entries[1]["reason"].clone()),
            (json!("canceled"), Value::Null)
        );
    }
}

#[actix_web::test]
async fn a_bad_cancel_body_is_refused_and_cancels_nothing() {
    let app = app().await;
    let id = app.book(DAY, "09:00").await;
    let path = format!("/cancel/{id}");
    let long = json!({"reason": "x".repeat(501)}).to_string();
    let cases = [
        (
            "text/plain",
            "ill".to_owned(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json.",
        ),
        (
            "application/json",
            "{\"reason\": ".to_owned(),
            StatusCode::BAD_REQUEST,
            "Invalid request.",
        ),
        (
            "application/json",
            "{\"reason\": 42}".to_owned(),
            StatusCode::BAD_REQUEST,
            "Invalid request.",
        ),
        ("application/json", long, StatusCode::BAD_REQUEST, "Invalid reason."),
        (
            "application/json",
            "{\"reason\": \"a\\u0007b\"}".to_owned(),
            StatusCode::BAD_REQUEST,
            "Invalid reason.",
        ),
    ];
    for (content_type, body, status, message) in cases {
        let problem =
            assert_problem(app.post_raw(&path, content_type, body.clone()).await, status, message)
                .await;
        assert!(!problem["detail"].as_str().unwrap_or_default().is_empty(), "{body}: {problem}");
    }
    assert_eq!(app.appointment(&id).await["status"], "scheduled");
    assert_eq!(history(&app, &id).await.len(), 1);
}

#[actix_web::test]
async fn a_retried_cancel_with_a_reason_is_replayed_and_recorded_once() {
    let app = app().await;
    let id = app.book(DAY, "09:00").await;
    let cancel = |reason: &str| {
        app.client
            .post(app.url(&format!("/cancel/{id}")))
            .header("idempotency-key", "cancel-1")
            .json(&json!({"reason": reason}))
            .send()
    };
    assert_eq!(cancel("Away").await.unwrap().status(), StatusCode::OK);
    let again = cancel("Away").await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let other = cancel("Another reason").await.unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let changes: Vec<_> = history(&app, &id).await.iter().map(|e| e["change"].clone()).collect();
    assert_eq!(changes, [json!("scheduled"), json!("canceled")]);
}
