use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn the_root_welcomes_with_the_schedule_and_links() {
    let app = spawn_app().await;
    let body: Value = app.get("/").await.json().await.unwrap();
    assert_eq!(body["name"], "booking-service");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["time_zone"], "UTC");
    assert_eq!(body["opening_hours"], "09:00-17:00");
    assert_eq!(body["slot_minutes"], 30);
    assert_eq!(body["capacity"], 1);
    assert_eq!(body["links"]["openapi"], "/openapi.json");
}

#[actix_web::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
}

#[actix_web::test]
async fn the_openapi_document_covers_every_endpoint_and_error() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            "/",
            "/appointment/{id}",
            "/availability",
            "/cancel/{id}",
            "/healthz",
            "/openapi.json",
            "/readyz",
            "/reschedule/{id}",
            "/schedule"
        ]
    );
    for (path, method, statuses) in [
        ("/schedule", "post", &["201", "400", "409", "413", "415", "503"][..]),
        ("/cancel/{id}", "post", &["200", "400", "404", "503"]),
        ("/reschedule/{id}", "post", &["200", "400", "404", "409", "413", "415", "503"]),
        ("/appointment/{id}", "get", &["200", "404", "503"]),
        ("/availability", "get", &["200", "400", "503"]),
    ] {
        let responses = &paths[path][method]["responses"];
        for status in statuses {
            assert!(responses.get(status).is_some(), "{method} {path} documents no {status}");
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    responses[status]["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status}"
                );
            }
        }
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Problem",
        "ScheduleRequest",
        "RescheduleRequest",
        "Scheduled",
        "AppointmentView",
        "AppointmentChanged",
        "AvailabilityView",
        "SlotView",
    ] {
        assert!(schemas.contains_key(schema), "missing schema {schema}");
    }
}
