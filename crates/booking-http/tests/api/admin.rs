use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, DAY, TestApp, assert_problem, salon, spawn_app, spawn_app_with};

const ROUTES: [(Method, &str); 10] = [
    (Method::GET, "/admin/appointments"),
    (Method::POST, "/admin/appointments"),
    (Method::POST, "/admin/appointments/67e55044-10b1-426f-9247-bb680e5fe0c8/cancel"),
    (Method::POST, "/admin/appointments/67e55044-10b1-426f-9247-bb680e5fe0c8/move"),
    (Method::POST, "/admin/appointments/67e55044-10b1-426f-9247-bb680e5fe0c8/complete"),
    (Method::POST, "/admin/appointments/67e55044-10b1-426f-9247-bb680e5fe0c8/no-show"),
    (Method::GET, "/admin/appointments/67e55044-10b1-426f-9247-bb680e5fe0c8/history"),
    (Method::GET, "/admin/closures"),
    (Method::POST, "/admin/closures"),
    (Method::DELETE, "/admin/closures/67e55044-10b1-426f-9247-bb680e5fe0c8"),
];

async fn admin_app() -> TestApp {
    spawn_app_with(|settings| {
        salon(settings);
        settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
    })
    .await
}

#[actix_web::test]
async fn without_a_token_configured_the_admin_api_is_off() {
    let app = spawn_app().await;
    for (method, path) in ROUTES {
        let response = app
            .client
            .request(method, app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let body = assert_problem(
            response,
            StatusCode::SERVICE_UNAVAILABLE,
            "The admin API is not enabled.",
        )
        .await;
        assert!(body["detail"].as_str().unwrap().contains("BOOKING_ADMIN_TOKEN"), "{body}");
    }
}

#[actix_web::test]
async fn every_admin_route_refuses_missing_and_wrong_tokens() {
    for (method, path) in ROUTES {
        // A server per route: one client's wrong tokens are limited to 30 a minute.
        let app = admin_app().await;
        for token in [None, Some("wrong-token-of-some-length"), Some(&ADMIN_TOKEN[1..]), Some("")] {
            let mut request = app.client.request(method.clone(), app.url(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.headers()["www-authenticate"], "Bearer", "{method} {path}");
            assert_problem(response, StatusCode::UNAUTHORIZED, "Authentication required.").await;
        }
        let basic = app
            .client
            .request(method.clone(), app.url(path))
            .basic_auth("admin", Some(ADMIN_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(app.admin_get("/admin/appointments").await.status(), StatusCode::OK);
    }
}

/// Wrong tokens are counted per client: past the limit they are 429 with Retry-After, while
/// the right token still works.
#[actix_web::test]
async fn wrong_tokens_are_rate_limited_per_client() {
    let app = admin_app().await;
    let wrong =
        || app.client.get(app.url("/admin/closures")).bearer_auth("a-guess-at-the-token").send();
    for _ in 0..booking_http::limits::ADMIN_FAILURES_PER_MINUTE {
        assert_eq!(wrong().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let limited = wrong().await.unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "Too many requests.").await;
    assert_eq!(app.admin_get("/admin/closures").await.status(), StatusCode::OK);
}

async fn book(app: &TestApp, name: &str, date: &str, time: &str, resource: &str) -> String {
    let response = app
        .post_json(
            "/schedule",
            &json!({"client_name": name, "date": date, "time": time, "resource": resource}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "{name}");
    response.json::<Value>().await.unwrap()["appointment_id"].as_str().unwrap().to_owned()
}

fn names(page: &Value) -> Vec<String> {
    page["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["client_name"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn appointments_are_paged_in_order_with_next_links() {
    let app = admin_app().await;
    for (name, date, time, resource) in [
        ("Eve", "2030-01-08", "10:00", "alice"),
        ("Ann", DAY, "10:00", "bob"),
        ("Cat", DAY, "11:00", "alice"),
        ("Bea", DAY, "10:00", "alice"),
        ("Dee", DAY, "16:00", "bob"),
    ] {
        book(&app, name, date, time, resource).await;
    }
    let mut seen = Vec::new();
    let mut next = Some("/admin/appointments?limit=2".to_owned());
    while let Some(link) = next {
        let page: Value = app.admin_get(&link).await.json().await.unwrap();
        assert!(page["appointments"].as_array().unwrap().len() <= 2);
        seen.extend(names(&page));
        next = page["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(&seen[2..], ["Cat", "Dee", "Eve"]);
    let mut first_two = seen[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["Ann", "Bea"], "same start: ordered by id");
}

#[actix_web::test]
async fn appointments_can_be_filtered() {
    let app = admin_app().await;
    let canceled = book(&app, "Ann Smith", DAY, "10:00", "alice").await;
    book(&app, "Bob Jones", DAY, "11:00", "bob").await;
    book(&app, "Ann Other", "2030-01-09", "11:00", "alice").await;
    app.client.post(app.url(&format!("/cancel/{canceled}"))).send().await.unwrap();
    let query = |q: &'static str| {
        let app = &app;
        async move {
            names(
                &app.admin_get(&format!("/admin/appointments?{q}"))
                    .await
                    .json::<Value>()
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(query("status=canceled").await, ["Ann Smith"]);
    assert_eq!(query("resource=bob").await, ["Bob Jones"]);
    assert_eq!(query("client=ann").await, ["Ann Smith", "Ann Other"]);
    assert_eq!(query("from=2030-01-08").await, ["Ann Other"]);
    assert_eq!(query("to=2030-01-07&status=scheduled").await, ["Bob Jones"]);
    for bad in ["status=lost", "limit=0", "limit=201", "cursor=nonsense", "from=tomorrow"] {
        assert_eq!(
            app.admin_get(&format!("/admin/appointments?{bad}")).await.status(),
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
}

#[actix_web::test]
async fn a_closure_blocks_its_slots_and_lists_the_appointments_inside() {
    let app = admin_app().await;
    let inside = book(&app, "Ann", DAY, "12:00", "alice").await;
    book(&app, "Bob", DAY, "12:00", "bob").await;
    let response = app
        .admin_post("/admin/closures", &json!({"resource": "alice", "from": "2030-01-07T11:00", "to": "2030-01-07T14:00", "reason": "Dentist"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let closure = &body["closure"];
    assert_eq!(
        (closure["resource"].as_str(), closure["reason"].as_str()),
        (Some("alice"), Some("Dentist"))
    );
    assert_eq!(
        (closure["from"].as_str(), closure["to"].as_str()),
        (Some("2030-01-07T11:00:00+00:00"), Some("2030-01-07T14:00:00+00:00"))
    );
    let affected: Vec<&str> = body["affected_appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(affected, [inside.as_str()]);
    assert_eq!(app.appointment(&inside).await["status"], "scheduled", "left for the operator");
    assert_eq!(app.slot_of("alice", DAY, "13:00", "").await.2.as_deref(), Some("closed"));
    assert_eq!(app.slot_of("bob", DAY, "13:00", "").await.2, None);
    let refused = app.schedule_with(DAY, "13:00", json!({"resource": "alice"})).await;
    let refused =
        assert_problem(refused, StatusCode::CONFLICT, "Time slot is not available.").await;
    assert_eq!(refused["reason"], "closed");
    assert_eq!(
        refused["detail"],
        "the resource is closed at that time (Dentist); the closure ends at 2030-01-07 14:00:00 \
         UTC; pick a time after it, or another resource: GET /availability?date=YYYY-MM-DD \
         (with the same resource and service) lists the slots that can be booked"
    );

    let listed: Value = app.admin_get("/admin/closures").await.json().await.unwrap();
    let id = listed["closures"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed["closures"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.admin_delete(&format!("/admin/closures/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.schedule_with(DAY, "13:00", json!({"resource": "alice"})).await.status(),
        StatusCode::CREATED
    );
    assert_problem(
        app.admin_delete(&format!("/admin/closures/{id}")).await,
        StatusCode::NOT_FOUND,
        "Closure not found.",
    )
    .await;
}

#[actix_web::test]
async fn a_business_closure_covers_whole_days_of_every_resource() {
    let app = admin_app().await;
    let response =
        app.admin_post("/admin/closures", &json!({"from": "2030-01-08", "to": "2030-01-09"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["closure"]["to"], "2030-01-10T00:00:00+00:00", "the last day is included");
    for date in ["2030-01-08", "2030-01-09"] {
        let slots = app.listing(date, "").await;
        assert!(slots.iter().all(|s| s["reason"] == "closed"), "{date}");
    }
    assert!(app.listing("2030-01-10", "").await.iter().all(|s| s["available"] == true));
}

#[actix_web::test]
async fn bad_closures_are_400() {
    let app = admin_app().await;
    for (body, message) in [
        (json!({"from": "2030-01-09", "to": "2030-01-08"}), "Invalid request."),
        (json!({"from": "2030-01-08T10:00", "to": "2030-01-08T10:00"}), "Invalid request."),
        (json!({"from": "soon", "to": "2030-01-08"}), "Invalid date or time format."),
        (
            json!({"resource": "carol", "from": "2030-01-08", "to": "2030-01-08"}),
            "Unknown resource.",
        ),
        (
            json!({"from": "2030-01-08", "to": "2030-01-08", "reason": "x".repeat(501)}),
            "Invalid request.",
        ),
        (
            json!({"from": "2030-01-08", "to": "2030-01-08", "reason": "Floods\u{0}"}),
            "Invalid request.",
        ),
    ] {
        assert_problem(
            app.admin_post("/admin/closures", &body).await,
            StatusCode::BAD_REQUEST,
            message,
        )
        .await;
    }
    let listed: Value = app.admin_get("/admin/closures").await.json().await.unwrap();
    assert_eq!(listed["closures"], json!([]));
}

#[actix_web::test]
async fn unknown_admin_paths_are_404_after_authentication() {
    let app = admin_app().await;
    assert_problem(app.admin_get("/admin/nothing").await, StatusCode::NOT_FOUND, "Not found.")
        .await;
    assert_eq!(app.get("/admin/nothing").await.status(), StatusCode::UNAUTHORIZED);
}

/// The history's entries of `id`.
async fn entries(app: &TestApp, id: &str) -> Vec<Value> {
    let history: Value =
        app.admin_get(&format!("/admin/appointments/{id}/history")).await.json().await.unwrap();
    history["entries"].as_array().unwrap().clone()
}

/// Each history entry of `id` as (change, actor, reason).
async fn changes(app: &TestApp, id: &str) -> Vec<(Value, Value, Value)> {
    entries(app, id)
        .await
        .into_iter()
        .map(|e| (e["change"].clone(), e["actor"].clone(), e["reason"].clone()))
        .collect()
}

#[actix_web::test]
async fn an_operator_moves_and_cancels_under_the_clients_rules_and_the_history_says_who() {
    let app = admin_app().await;
    let id = app.book(DAY, "09:00").await;
    let taken = app.book(DAY, "10:00").await;
    let moved = app
        .admin_post(
            &format!("/admin/appointments/{id}/move"),
            &json!({"date": DAY, "time": "09:30"}),
        )
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["message"], "Appointment rescheduled successfully.");
    assert_eq!(moved["appointment"]["time"], "09:30");
    // Capacity holds for operators too.
    let full = app
        .admin_post(
            &format!("/admin/appointments/{id}/move"),
            &json!({"date": DAY, "time": "10:00"}),
        )
        .await;
    assert_problem(full, StatusCode::CONFLICT, "New time slot is not available.").await;

    let canceled = app
        .admin_post(
            &format!("/admin/appointments/{id}/cancel"),
            &json!({"reason": "Practitioner ill"}),
        )
        .await;
    assert_eq!(canceled.status(), StatusCode::OK);
    let again = app.admin_post(&format!("/admin/appointments/{id}/cancel"), &json!({})).await;
    assert_problem(again, StatusCode::BAD_REQUEST, "Appointment is already canceled.").await;
    let seen = changes(&app, &id).await;
    assert_eq!(
        seen,
        [
            (json!("scheduled"), json!("client"), Value::Null),
            (json!("rescheduled"), json!("operator"), Value::Null),
            (json!("canceled"), json!("operator"), json!("Practitioner ill")),
        ]
    );
    assert_eq!(app.appointment(&taken).await["status"], "scheduled", "the other one is untouched");
    let from = &entries(&app, &id).await[1]["from"];
    assert_eq!(
        (&from["start"], &from["resource"], &from["service"]),
        (&json!(format!("{DAY}T09:00:00+00:00")), &moved["appointment"]["resource"], &Value::Null),
        "a move records the time, resource and service it left: {from}"
    );
}

/// Once an appointment has started, and not before (409), an operator records it completed or
/// a no-show, with a remark the history keeps; recording the same again answers the same.
/// Then it is final: the other conclusion, a cancel or a move answer 409, for operators and
/// clients alike. The listing filters by the new statuses.
#[actix_web::test]
async fn an_operator_records_how_a_started_appointment_ended_and_that_is_final() {
    let app = admin_app().await;
    let id = app.book(DAY, "09:00").await;
    let missed = app.book(DAY, "10:00").await;
    let complete = format!("/admin/appointments/{id}/complete");
    let early = app.admin_post(&complete, &json!({})).await;
    let early =
        assert_problem(early, StatusCode::CONFLICT, "The appointment has not started yet.").await;
    assert_eq!(early["type"], "/problems/appointment-not-started");
    assert!(early["detail"].as_str().unwrap().contains("2030-01-07T09:00:00+00:00"), "{early}");
    assert_eq!(app.appointment(&id).await["status"], "scheduled");

    app.set_time(&format!("{DAY}T09:20:00Z"));
    let done = app.admin_post(&complete, &json!({"reason": "Went well"})).await;
    assert_eq!(done.status(), StatusCode::OK);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["message"], "Appointment completed.");
    assert_eq!(done["appointment"]["status"], "completed");
    assert_eq!(done["appointment"]["updated_at"], format!("{DAY}T09:20:00Z"));
    let again = app.admin_post(&complete, &json!({})).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["appointment"], done["appointment"], "unchanged");

    let refused = [
        app.admin_post(&format!("/admin/appointments/{id}/no-show"), &json!({})).await,
        app.admin_post(&format!("/admin/appointments/{id}/cancel"), &json!({})).await,
        app.post_json(&format!("/cancel/{id}"), &json!({})).await,
        app.admin_post(
            &format!("/admin/appointments/{id}/move"),
            &json!({"date": "2030-01-08", "time": "09:00"}),
        )
        .await,
        app.post_json(
            &format!("/reschedule/{id}"),
            &json!({"date": "2030-01-08", "time": "09:00"}),
        )
        .await,
    ];
    for response in refused {
        let problem =
            assert_problem(response, StatusCode::CONFLICT, "The appointment is already completed.")
                .await;
        assert_eq!(problem["type"], "/problems/appointment-concluded");
    }
    assert_eq!(app.appointment(&id).await["status"], "completed");
    let seen = changes(&app, &id).await;
    assert_eq!(
        seen,
        [
            (json!("scheduled"), json!("client"), Value::Null),
            (json!("completed"), json!("operator"), json!("Went well")),
        ]
    );

    app.set_time(&format!("{DAY}T10:15:00Z"));
    let no_show = app
        .client
        .post(app.url(&format!("/admin/appointments/{missed}/no-show")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(no_show.status(), StatusCode::OK, "no body is no remark");
    let no_show: Value = no_show.json().await.unwrap();
    assert_eq!(no_show["message"], "Appointment marked a no-show.");
    let completed =
        app.admin_post(&format!("/admin/appointments/{missed}/complete"), &json!({})).await;
    assert_problem(completed, StatusCode::CONFLICT, "The appointment is already marked a no-show.")
        .await;
    let listed: Value =
        app.admin_get("/admin/appointments?status=no_show").await.json().await.unwrap();
    let ids: Vec<&Value> =
        listed["appointments"].as_array().unwrap().iter().map(|a| &a["id"]).collect();
    assert_eq!(ids, [&json!(missed)]);
    let bad = app.admin_get("/admin/appointments?status=done").await;
    let bad = assert_problem(bad, StatusCode::BAD_REQUEST, "Invalid request.").await;
    assert_eq!(bad["detail"], "status must be scheduled, canceled, completed or no_show");

    let canceled = app.book(DAY, "11:00").await;
    app.post_json(&format!("/cancel/{canceled}"), &json!({})).await;
    app.set_time(&format!("{DAY}T11:05:00Z"));
    let gone =
        app.admin_post(&format!("/admin/appointments/{canceled}/complete"), &json!({})).await;
    assert_problem(gone, StatusCode::BAD_REQUEST, "The appointment was canceled.").await;
    let unknown = app
        .admin_post("/admin/appointments/67e55044-10b1-426f-9247-bb680e5fe0c8/no-show", &json!({}))
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "Appointment not found.").await;
    let long = app.admin_post(&complete, &json!({"reason": "x".repeat(501)})).await;
    assert_eq!(long.status(), StatusCode::BAD_REQUEST);
}

/// An operator books for a client inside the minimum notice and past the horizon, which refuse
/// the client; never in the past, at a closed time or in a full slot. The answer is
/// `POST /schedule`'s, and the history says the operator booked it.
#[actix_web::test]
async fn an_operator_books_past_the_notice_and_horizon_but_never_a_full_or_closed_slot() {
    let app = spawn_app_with(|settings| {
        salon(settings);
        settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
        settings.schedule = settings
            .schedule
            .clone()
            .with_min_notice(chrono::Duration::hours(2))
            .with_horizon(Some(chrono::Duration::days(10)));
    })
    .await;
    // Now is 2030-01-01 08:00 (a Tuesday).
    let soon =
        json!({"client_name": "Ada", "date": "2030-01-01", "time": "09:00", "resource": "alice"});
    let client = app.post_json("/schedule", &soon).await;
    assert_problem(client, StatusCode::BAD_REQUEST, "The requested time is too soon to book.")
        .await;
    let booked = app.admin_post("/admin/appointments", &soon).await;
    assert_eq!(booked.status(), StatusCode::CREATED);
    let location = booked.headers()["location"].to_str().unwrap().to_owned();
    let booked: Value = booked.json().await.unwrap();
    assert_eq!(booked["message"], "Appointment scheduled successfully.");
    let id = booked["appointment_id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/appointment/{id}"));
    assert_eq!(app.appointment(&id).await["time"], "09:00");
    let by: Vec<Value> = entries(&app, &id).await.iter().map(|e| e["actor"].clone()).collect();
    assert_eq!(by, [json!("operator")]);

    let far =
        json!({"client_name": "Bo", "date": "2030-01-15", "time": "10:00", "resource": "alice"});
    let client = app.post_json("/schedule", &far).await;
    assert_problem(client, StatusCode::BAD_REQUEST, "The requested time is too far ahead to book.")
        .await;
    assert_eq!(app.admin_post("/admin/appointments", &far).await.status(), StatusCode::CREATED);

    let full = app.admin_post("/admin/appointments", &soon).await;
    assert_problem(full, StatusCode::CONFLICT, "Time slot is not available.").await;
    let past =
        json!({"client_name": "Cy", "date": "2030-01-01", "time": "07:30", "resource": "alice"});
    let past = app.admin_post("/admin/appointments", &past).await;
    assert_eq!(past.status(), StatusCode::BAD_REQUEST);
    let closure =
        json!({"resource": "alice", "from": "2030-01-02T09:00", "to": "2030-01-02T12:00"});
    assert_eq!(app.admin_post("/admin/closures", &closure).await.status(), StatusCode::CREATED);
    let closed =
        json!({"client_name": "Di", "date": "2030-01-02", "time": "10:00", "resource": "alice"});
    let closed = app.admin_post("/admin/appointments", &closed).await;
    let closed = assert_problem(closed, StatusCode::CONFLICT, "Time slot is not available.").await;
    assert_eq!(closed["reason"], "closed");
    let anonymous = app.post_json("/admin/appointments", &soon).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "Authentication required.").await;
}

#[actix_web::test]
async fn operator_actions_need_the_token_and_an_appointment() {
    let app = admin_app().await;
    let id = app.book(DAY, "09:00").await;
    let anonymous = app.post_json(&format!("/admin/appointments/{id}/cancel"), &json!({})).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "Authentication required.").await;
    assert_eq!(app.appointment(&id).await["status"], "scheduled");
    for path in [
        "/admin/appointments/67e55044-10b1-426f-9247-bb680e5fe0c8/cancel",
        "/admin/appointments/not-an-id/cancel",
    ] {
        let missing = app.admin_post(path, &json!({})).await;
        assert_problem(missing, StatusCode::NOT_FOUND, "Appointment not found.").await;
    }
    let missing = app
        .admin_post(
            "/admin/appointments/67e55044-10b1-426f-9247-bb680e5fe0c8/move",
            &json!({"date": DAY, "time": "09:30"}),
        )
        .await;
    assert_problem(missing, StatusCode::NOT_FOUND, "Appointment not found.").await;
}

/// A client filter with a control character matches no name (names have none) and is refused,
/// on every backend (PostgreSQL could not take a NUL at all).
#[actix_web::test]
async fn a_client_filter_with_a_control_character_is_400() {
    let app = admin_app().await;
    for filter in ["%00", "Ada%09", "%C2%9A"] {
        let refused = app.admin_get(&format!("/admin/appointments?client={filter}")).await;
        let body = assert_problem(refused, StatusCode::BAD_REQUEST, "Invalid request.").await;
        assert!(body["detail"].as_str().unwrap().contains("control character"), "{body}");
    }
    assert_eq!(app.admin_get("/admin/appointments?client=Ada").await.status(), StatusCode::OK);
}
