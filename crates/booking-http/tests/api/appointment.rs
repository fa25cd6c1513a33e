use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{DAY, assert_problem, spawn_app, spawn_app_with};

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
            "email",
            "end",
            "id",
            "notes",
            "phone",
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
async fn ids_are_random_and_carry_no_sequence() {
    let app = spawn_app_with(|settings| settings.rate_limit = None).await;
    let mut ids = Vec::new();
    for day in 7..=10 {
        for hour in 9..17 {
            let id = app.book(&format!("2030-01-{day:02}"), &format!("{hour:02}:00")).await;
            ids.push(uuid::Uuid::parse_str(&id).unwrap());
        }
    }
    assert!(ids.iter().all(|id| id.get_version_num() == 4), "random (version 4) UUIDs");
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
    // Ids made one after another share no more leading bits than chance allows (one pair in
    // 2^24 shares 24), and are not ordered by time (a sequence would ascend every time).
    for pair in ids.windows(2) {
        let (a, b) = (pair[0].as_u128(), pair[1].as_u128());
        assert!((a ^ b).leading_zeros() < 24, "{} and {} share a prefix", pair[0], pair[1]);
    }
    let ascending = ids.windows(2).filter(|p| p[0] < p[1]).count();
    assert!((6..=26).contains(&ascending), "{ascending} of 31 consecutive pairs ascend");
}
