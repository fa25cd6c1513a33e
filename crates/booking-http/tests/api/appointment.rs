use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{DAY, assert_problem, spawn_app};

#[actix_web::test]
async fn an_appointment_reads_back_with_every_field() {
    let app = spawn_app().await;
    let id = app.book(DAY, "16:30").await;
    let appointment = app.appointment(&id).await;
    let mut keys: Vec<&str> = appointment.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "client_name",
            "created_at",
            "date",
            "end",
            "id",
            "notes",
            "resource",
            "service",
            "start",
            "status",
            "time",
            "updated_at"
        ]
    );
    assert_eq!(appointment["id"], id);
    assert_eq!(appointment["resource"], "default");
    assert_eq!(appointment["service"], Value::Null);
    assert_eq!(appointment["end"], "2030-01-07T17:00:00+00:00");
    assert_eq!(appointment["notes"], Value::Null);
}

#[actix_web::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn_app().await;
    for id in ["6f9619ff-8b86-4d11-b42d-00c04fc964ff", "1", "' OR 1=1 --", "%FF%FE", "ü"] {
        assert_problem(
            app.get(&format!("/appointment/{id}")).await,
            StatusCode::NOT_FOUND,
            "Appointment not found.",
        )
        .await;
    }
}

#[actix_web::test]
async fn ids_are_random_version_4_uuids() {
    let app = spawn_app().await;
    let first = uuid::Uuid::parse_str(&app.book(DAY, "09:00").await).unwrap();
    let second = uuid::Uuid::parse_str(&app.book(DAY, "09:30").await).unwrap();
    assert_eq!(first.get_version_num(), 4);
    assert_eq!(second.get_version_num(), 4);
    assert_ne!(first, second);
}
