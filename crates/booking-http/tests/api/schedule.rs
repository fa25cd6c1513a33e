use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DAY, assert_problem, schedule, spawn_app, spawn_app_with};

#[actix_web::test]
async fn booking_a_free_slot_returns_201_the_appointment_and_its_location() {
    let app = spawn_app().await;
    let response = app
        .post_json("/schedule", &json!({"client_name": "José Ñúñez", "date": DAY, "time": "09:30", "notes": "First visit"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Appointment scheduled successfully.");
    let id = body["appointment_id"].as_str().unwrap();
    assert_eq!(location, format!("/appointment/{id}"));
    let appointment = &body["appointment"];
    assert_eq!(appointment["id"], id);
    assert_eq!(appointment["client_name"], "José Ñúñez");
    assert_eq!(appointment["date"], DAY);
    assert_eq!(appointment["time"], "09:30");
    assert_eq!(appointment["start"], "2030-01-07T09:30:00+00:00");
    assert_eq!(appointment["end"], "2030-01-07T10:00:00+00:00");
    assert_eq!(appointment["status"], "scheduled");
    assert_eq!(appointment["notes"], "First visit");
    assert_eq!(appointment["created_at"], "2030-01-01T08:00:00Z");
    assert_eq!(appointment["updated_at"], "2030-01-01T08:00:00Z");
    assert_eq!(&app.appointment(id).await, appointment);
}

#[actix_web::test]
async fn a_taken_slot_is_409_and_the_listing_agrees() {
    let app = spawn_app().await;
    app.book(DAY, "10:00").await;
    let body = assert_problem(
        app.schedule("Grace Hopper", DAY, "10:00").await,
        StatusCode::CONFLICT,
        "Time slot is not available.",
    )
    .await;
    assert_eq!(body["reason"], "full");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail
            .starts_with("the slot is already booked; pick another slot: GET /availability?date="),
        "{detail}"
    );
    assert_eq!(app.slot(DAY, "10:00").await, (1, false, Some("full".into())));
}

#[actix_web::test]
async fn a_slot_takes_as_many_bookings_as_its_capacity() {
    let app = spawn_app_with(|settings| {
        settings.schedule = schedule(chrono_tz::UTC, "09:00-17:00", 3);
    })
    .await;
    for _ in 0..3 {
        app.book(DAY, "11:00").await;
    }
    assert_problem(
        app.schedule("Late Comer", DAY, "11:00").await,
        StatusCode::CONFLICT,
        "Time slot is not available.",
    )
    .await;
    assert_eq!(app.slot(DAY, "11:00").await, (3, false, Some("full".into())));
}

#[actix_web::test]
async fn a_badly_written_date_or_time_is_400_naming_the_field_and_format() {
    let app = spawn_app().await;
    for (date, time, field, format) in [
        ("07/01/2030", "09:00", "date", "YYYY-MM-DD"),
        ("2030-02-30", "09:00", "date", "YYYY-MM-DD"),
        (DAY, "9am", "time", "HH:MM"),
        (DAY, "25:00", "time", "HH:MM"),
    ] {
        let body = assert_problem(
            app.schedule("Ada", date, time).await,
            StatusCode::BAD_REQUEST,
            "Invalid date or time format.",
        )
        .await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.starts_with(field) && detail.contains(format), "{detail}");
    }
}

#[actix_web::test]
async fn a_time_in_the_past_is_400() {
    let app = spawn_app().await;
    app.set_time("2030-01-07T12:10:00Z");
    let body = assert_problem(
        app.schedule("Ada", DAY, "12:00").await,
        StatusCode::BAD_REQUEST,
        "The requested time is in the past.",
    )
    .await;
    assert_eq!(body["reason"], "past");
    assert_eq!(app.slot(DAY, "12:00").await, (0, false, Some("past".into())));
}

#[actix_web::test]
async fn times_outside_opening_hours_are_400() {
    let app = spawn_app().await;
    for time in ["08:30", "17:00", "22:00"] {
        let body = assert_problem(
            app.schedule("Ada", DAY, time).await,
            StatusCode::BAD_REQUEST,
            "The requested time is outside opening hours.",
        )
        .await;
        assert_eq!(body["reason"], "outside_hours");
        assert!(body["detail"].as_str().unwrap().contains("09:00-17:00"), "{body}");
    }
}

#[actix_web::test]
async fn a_time_off_a_slot_boundary_is_400_naming_the_nearest_starts() {
    let app = spawn_app().await;
    let body = assert_problem(
        app.schedule("Ada", DAY, "09:40").await,
        StatusCode::BAD_REQUEST,
        "The requested time is not the start of a slot.",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("09:30 and 10:00"), "{body}");
}

#[actix_web::test]
async fn daylight_saving_gaps_are_refused_and_overlaps_take_the_earlier_instant() {
    let app = spawn_app_with(|settings| {
        settings.schedule = schedule(chrono_tz::Europe::Berlin, "00:00-24:00", 1);
    })
    .await;
    let body = assert_problem(
        app.schedule("Ada", "2030-03-31", "02:30").await,
        StatusCode::BAD_REQUEST,
        "The requested local time does not exist.",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("Europe/Berlin"), "{body}");
    let response = app.schedule("Ada", "2030-10-27", "02:30").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["appointment"]["start"], "2030-10-27T02:30:00+02:00");
    assert_eq!(body["appointment"]["end"], "2030-10-27T02:00:00+01:00");
    assert_eq!(body["appointment"]["time"], "02:30");
}

#[actix_web::test]
async fn names_of_every_script_are_welcome() {
    let app = spawn_app().await;
    for (name, time) in [
        ("José Ñúñez", "09:00"),
        ("李小龍", "09:30"),
        ("O'Brien-Smith", "10:00"),
        ("Dr. Ana María", "10:30"),
    ] {
        let response = app.schedule(name, DAY, time).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["appointment"]["client_name"], name);
    }
}

#[actix_web::test]
async fn bad_names_are_400_naming_the_offending_character() {
    let app = spawn_app().await;
    for (name, expected) in [
        ("R2D2", "'2' (U+0032) at position 2"),
        ("<script>", "'<' (U+003C) at position 1"),
        ("Ann 😀", "'😀' (U+1F600) at position 5"),
        ("Tab\there", "U+0009 at position 4"),
        ("   ", "must not be empty"),
        (&"a".repeat(101), "101 characters long"),
    ] {
        let body = assert_problem(
            app.schedule(name, DAY, "09:00").await,
            StatusCode::BAD_REQUEST,
            "Invalid client name.",
        )
        .await;
        assert!(body["detail"].as_str().unwrap().contains(expected), "{name:?}: {body}");
    }
    assert_eq!(app.slot(DAY, "09:00").await, (0, true, None));
}

#[actix_web::test]
async fn notes_are_optional_and_limited_to_1000_characters() {
    let app = spawn_app().await;
    let without = app
        .post_json(
            "/schedule",
            &json!({"client_name": "Ada", "date": DAY, "time": "09:00", "notes": null}),
        )
        .await;
    assert_eq!(without.status(), StatusCode::CREATED);
    assert_eq!(without.json::<Value>().await.unwrap()["appointment"]["notes"], Value::Null);
    let long =
        json!({"client_name": "Ada", "date": DAY, "time": "09:30", "notes": "n".repeat(1001)});
    let body = assert_problem(
        app.post_json("/schedule", &long).await,
        StatusCode::BAD_REQUEST,
        "Invalid notes.",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("1001 characters"), "{body}");
}

#[actix_web::test]
async fn minimum_notice_and_horizon_are_enforced() {
    let app = spawn_app_with(|settings| {
        settings.schedule = settings
            .schedule
            .clone()
            .with_min_notice(Duration::hours(2))
            .with_horizon(Some(Duration::days(10)));
    })
    .await;
    // Now is 2030-01-01 08:00.
    let body = assert_problem(
        app.schedule("Ada", "2030-01-01", "09:30").await,
        StatusCode::BAD_REQUEST,
        "The requested time is too soon to book.",
    )
    .await;
    assert_eq!(body["reason"], "too_soon");
    assert_eq!(app.schedule("Ada", "2030-01-01", "10:00").await.status(), StatusCode::CREATED);
    let body = assert_problem(
        app.schedule("Ada", "2030-01-11", "09:00").await,
        StatusCode::BAD_REQUEST,
        "The requested time is too far ahead to book.",
    )
    .await;
    assert_eq!(body["reason"], "beyond_horizon");
    assert_eq!(app.schedule("Ada", "2030-01-11", "08:00").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.slot("2030-01-11", "09:00").await, (0, false, Some("beyond_horizon".into())));
}

#[actix_web::test]
async fn contact_details_are_kept_in_e164_and_shown_wherever_the_appointment_is() {
    let app = spawn_app_with(|settings| {
        settings.admin_token = Some(crate::helpers::ADMIN_TOKEN.parse().unwrap());
    })
    .await;
    let contact = json!({"email": " ada@example.com ", "phone": "+44 20 7946 0958"});
    let response = app.schedule_with(DAY, "09:00", contact).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let appointment = &body["appointment"];
    assert_eq!(
        (&appointment["email"], &appointment["phone"]),
        (&json!("ada@example.com"), &json!("+442079460958"))
    );
    let id = appointment["id"].as_str().unwrap();
    assert_eq!(&app.appointment(id).await["email"], &appointment["email"]);
    let listed: Value =
        app.admin_get(&format!("/admin/appointments?from={DAY}")).await.json().await.unwrap();
    assert_eq!(listed["appointments"][0]["phone"], "+442079460958", "{listed}");

    let without = app.schedule_with(DAY, "10:00", json!({"email": "", "phone": "  "})).await;
    let without: Value = without.json().await.unwrap();
    assert_eq!(
        (&without["appointment"]["email"], &without["appointment"]["phone"]),
        (&Value::Null, &Value::Null)
    );
}

#[actix_web::test]
async fn a_bad_email_or_phone_is_400_and_books_nothing() {
    let app = spawn_app().await;
    for (field, value, message, says) in [
        ("email", "ada.example.com", "Invalid email.", "no @"),
        ("email", "ada@exa mple.com", "Invalid email.", "domain"),
        ("phone", "020 7946 0958", "Invalid phone.", "country code"),
        ("phone", "+44 20 7946 0958 ext 2", "Invalid phone.", "'e'"),
        ("phone", "+44 12", "Invalid phone.", "4 digits"),
    ] {
        let response = app.schedule_with(DAY, "09:00", json!({ field: value })).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, message).await;
        assert!(problem["detail"].as_str().unwrap().contains(says), "{value}: {problem}");
    }
    assert_eq!(app.slot(DAY, "09:00").await.0, 0);
}

#[actix_web::test]
async fn a_key_replayed_with_other_contact_details_is_refused() {
    let app = spawn_app().await;
    let send = |email: &'static str| {
        app.client
            .post(app.url("/schedule"))
            .header("Idempotency-Key", "contact-1")
            .json(&json!({"client_name": "Ada", "date": DAY, "time": "09:00", "email": email}))
            .send()
    };
    assert_eq!(send("ada@example.com").await.unwrap().status(), StatusCode::CREATED);
    let replayed = send("ada@example.com").await.unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    let body: Value = replayed.json().await.unwrap();
    assert_eq!(body["appointment"]["email"], "ada@example.com", "the replay keeps the contact");
    assert_eq!(send("other@example.com").await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
}
