//! The operator's calendar API: resources, services and date overrides under `/admin/`, each
//! change stored as the calendar's next version, refused when it would strand an appointment,
//! and seen at once by the public listings.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, DAY, TestApp, assert_problem, salon, spawn_app_with};

/// A Saturday after [`DAY`].
const SATURDAY: &str = "2030-01-12";

/// The salon (`alice` 09:00-17:00, `bob` 10:00-18:00; `haircut` by alice, `colouring` by bob
/// and alice), with the admin API on.
async fn admin_app() -> TestApp {
    spawn_app_with(|settings| {
        salon(settings);
        settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
    })
    .await
}

async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// The `Calendar-Version` of an answer.
fn version(response: &Response) -> u64 {
    response.headers()["calendar-version"].to_str().unwrap().parse().unwrap()
}

/// Adds `carol`, open weekdays 09:00-12:00, with `capacity`; answers the version written.
async fn add_carol(app: &TestApp, capacity: u32) -> u64 {
    let response = send(
        app,
        Method::POST,
        "/admin/resources",
        Some(json!({"slug": "carol", "name": "Carol", "capacity": capacity, "hours": "mon-fri 09:00-12:00"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    version(&response)
}

/// The local start times `/availability` lists for `resource` on `date`.
async fn times(app: &TestApp, date: &str, resource: &str) -> Vec<String> {
    app.listing(date, &format!("&resource={resource}"))
        .await
        .iter()
        .map(|slot| slot["time"].as_str().unwrap().to_owned())
        .collect()
}

/// Books `resource` at `DAY` `time` and answers the appointment's id.
async fn book_at(app: &TestApp, resource: &str, time: &str) -> String {
    let response = app.schedule_with(DAY, time, json!({"resource": resource})).await;
    assert_eq!(response.status(), StatusCode::CREATED, "booking {resource} at {time}");
    let body: Value = response.json().await.unwrap();
    body["appointment_id"].as_str().unwrap().to_owned()
}

/// The ids and reasons a stranding refusal lists, after checking its shape.
async fn stranded(response: Response) -> Vec<(String, String)> {
    let body =
        assert_problem(response, StatusCode::CONFLICT, "The change would strand appointments.")
            .await;
    assert_eq!(body["type"], "/problems/appointments-stranded", "{body}");
    let listed = body["stranded"].as_array().unwrap();
    assert_eq!(body["stranded_total"].as_u64(), Some(listed.len() as u64), "{body}");
    for entry in listed {
        for member in ["id", "start", "resource", "reason"] {
            assert!(entry[member].is_string(), "{member} in {entry}");
        }
    }
    let text = |value: &Value| value.as_str().unwrap().to_owned();
    listed.iter().map(|entry| (text(&entry["id"]), text(&entry["reason"]))).collect()
}

#[actix_web::test]
async fn a_new_resource_is_listed_and_bookable_at_once() {
    let app = admin_app().await;
    let before = version(&send(&app, Method::GET, "/admin/resources", None).await);
    let response = send(
        &app,
        Method::POST,
        "/admin/resources",
        Some(json!({"slug": "carol", "name": "Carol", "capacity": 2, "hours": "mon-fri 09:00-12:00"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/admin/resources/carol");
    let written = version(&response);
    assert_eq!(written, before + 1);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"resource": {"slug": "carol", "name": "Carol", "capacity": 2,
                            "hours": "mon-fri 09:00-12:00",
                            "overrides": []},
               "calendar_version": written})
    );

    let public: Value = app.get("/resources").await.json().await.unwrap();
    let carol = public["resources"].as_array().unwrap().iter().find(|r| r["slug"] == "carol");
    assert_eq!(carol.unwrap()["capacity"], 2, "{public}");
    assert_eq!(
        times(&app, DAY, "carol").await,
        ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    );
    book_at(&app, "carol", "09:00").await;

    let listed = send(&app, Method::GET, "/admin/resources", None).await;
    assert_eq!(version(&listed), written);
    let listed: Value = listed.json().await.unwrap();
    let slugs: Vec<&str> = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["alice", "bob", "carol"], "added last");
    let one: Value =
        send(&app, Method::GET, "/admin/resources/carol", None).await.json().await.unwrap();
    assert_eq!(one["resource"]["name"], "Carol");

    let again = send(
        &app,
        Method::POST,
        "/admin/resources",
        Some(json!({"slug": "carol", "name": "Carol", "hours": "09:00-17:00"})),
    )
    .await;
    let again =
        assert_problem(again, StatusCode::CONFLICT, "A resource with this slug exists.").await;
    assert_eq!(again["type"], "/problems/resource-exists");
    let missing = send(&app, Method::GET, "/admin/resources/dave", None).await;
    let missing = assert_problem(missing, StatusCode::NOT_FOUND, "Resource not found.").await;
    assert!(missing["detail"].as_str().unwrap().contains("'dave'"), "{missing}");
}

#[actix_web::test]
async fn a_resource_body_that_is_wrong_names_the_member() {
    let app = admin_app().await;
    for (body, member) in [
        (json!({"slug": "Carol", "name": "Carol", "hours": "09:00-17:00"}), "slug: 'Carol'"),
        (json!({"slug": "carol", "name": "Carol", "hours": "9-5"}), "hours: '9-5'"),
        (
            json!({"slug": "carol", "name": "Carol", "hours": "09:00-17:00", "capacity": 0}),
            "capacity",
        ),
        (json!({"slug": "carol", "name": "", "hours": "09:00-17:00"}), "name"),
        (json!({"slug": "carol", "name": "Carol", "hours": "09:00-09:20"}), "no slot"),
        (json!({"slug": "carol", "name": "Carol", "hours": "09:00-17:00", "colour": 1}), "colour"),
    ] {
        let response = send(&app, Method::POST, "/admin/resources", Some(body.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let problem: Value = response.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(member), "{body}: {detail}");
    }
    let public: Value = app.get("/resources").await.json().await.unwrap();
    assert_eq!(public["resources"].as_array().unwrap().len(), 2, "nothing was added");
}

#[actix_web::test]
async fn new_hours_change_the_slots_at_once() {
    let app = admin_app().await;
    let added = add_carol(&app, 1).await;
    let response = send(
        &app,
        Method::PATCH,
        "/admin/resources/carol",
        Some(json!({"hours": "mon-fri 13:00-15:00"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(version(&response), added + 1);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resource"]["name"], "Carol", "kept");
    assert_eq!(body["resource"]["capacity"], 1, "kept");
    assert_eq!(body["calendar_version"], added + 1);
    assert_eq!(times(&app, DAY, "carol").await, ["13:00", "13:30", "14:00", "14:30"]);
    let public: Value = app.get("/resources").await.json().await.unwrap();
    let carol = public["resources"].as_array().unwrap().iter().find(|r| r["slug"] == "carol");
    assert!(carol.unwrap()["opening_hours"].as_str().unwrap().contains("13:00-15:00"));

    let renamed =
        send(&app, Method::PATCH, "/admin/resources/carol", Some(json!({"slug": "caroline"})))
            .await;
    let renamed = assert_problem(renamed, StatusCode::BAD_REQUEST, "Invalid request.").await;
    assert!(renamed["detail"].as_str().unwrap().contains("a slug cannot change"), "{renamed}");
    let unknown =
        send(&app, Method::PATCH, "/admin/resources/dave", Some(json!({"capacity": 2}))).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "Resource not found.").await;
}

#[actix_web::test]
async fn an_override_opens_a_closed_day_with_exactly_its_slots_until_removed() {
    let app = admin_app().await;
    add_carol(&app, 1).await;
    assert_eq!(times(&app, SATURDAY, "carol").await, Vec::<String>::new(), "closed on Saturdays");
    let path = format!("/admin/resources/carol/overrides/{SATURDAY}");
    let response = send(&app, Method::PUT, &path, Some(json!({"hours": "11:00-12:00"}))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let set = version(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"resource": "carol", "date": SATURDAY, "hours": "11:00-12:00", "calendar_version": set})
    );
    assert_eq!(times(&app, SATURDAY, "carol").await, ["11:00", "11:30"]);
    let listed: Value = send(&app, Method::GET, "/admin/resources/carol/overrides", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["overrides"], json!([{"date": SATURDAY, "hours": "11:00-12:00"}]));
    let resource: Value =
        send(&app, Method::GET, "/admin/resources/carol", None).await.json().await.unwrap();
    assert_eq!(resource["resource"]["overrides"], listed["overrides"]);

    // A weekday closed all day.
    let closed = send(
        &app,
        Method::PUT,
        &format!("/admin/resources/carol/overrides/{DAY}"),
        Some(json!({"hours": "closed"})),
    )
    .await;
    assert_eq!(closed.json::<Value>().await.unwrap()["hours"], "closed");
    assert_eq!(times(&app, DAY, "carol").await, Vec::<String>::new());

    let removed = send(&app, Method::DELETE, &path, None).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(version(&removed), set + 2);
    assert_eq!(times(&app, SATURDAY, "carol").await, Vec::<String>::new());
    let again = send(&app, Method::DELETE, &path, None).await;
    let again = assert_problem(again, StatusCode::NOT_FOUND, "Override not found.").await;
    assert_eq!(again["type"], "/problems/override-not-found");

    for (path, body) in [
        ("/admin/resources/carol/overrides/2030-13-01", json!({"hours": "closed"})),
        (path.as_str(), json!({"hours": "noon"})),
    ] {
        let response = send(&app, Method::PUT, path, Some(body)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    let nobody = send(
        &app,
        Method::PUT,
        &format!("/admin/resources/dave/overrides/{SATURDAY}"),
        Some(json!({"hours": "closed"})),
    )
    .await;
    assert_problem(nobody, StatusCode::NOT_FOUND, "Resource not found.").await;
}

#[actix_web::test]
async fn a_service_is_added_changed_and_removed_in_whole_slots() {
    let app = admin_app().await;
    let response = send(
        &app,
        Method::POST,
        "/admin/services",
        Some(json!({"slug": "beard-trim", "name": "Beard trim", "minutes": 60,
                    "buffer_after_minutes": 30, "min_notice_minutes": 120, "resources": ["bob"]})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/admin/services/beard-trim");
    let written = version(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"service": {"slug": "beard-trim", "name": "Beard trim", "minutes": 60,
                           "buffer_before_minutes": 0, "buffer_after_minutes": 30,
                           "min_notice_minutes": 120, "horizon_days": null, "resources": ["bob"]},
               "calendar_version": written})
    );
    let public: Value = app.get("/services").await.json().await.unwrap();
    assert!(
        public["services"].as_array().unwrap().iter().any(|s| s["slug"] == "beard-trim"),
        "{public}"
    );
    let booked =
        app.schedule_with(DAY, "10:00", json!({"service": "beard-trim", "resource": "bob"})).await;
    let booked: Value = booked.json().await.unwrap();
    assert_eq!(booked["appointment"]["end"], "2030-01-07T11:00:00+00:00");

    let changed = send(
        &app,
        Method::PATCH,
        "/admin/services/beard-trim",
        Some(json!({"resources": ["bob", "alice"], "min_notice_minutes": null})),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["service"]["resources"], json!(["bob", "alice"]));
    assert_eq!(changed["service"]["min_notice_minutes"], Value::Null, "null removes it");
    assert_eq!(changed["service"]["minutes"], 60, "kept");

    // Its appointment has not ended: removing the service would strand it.
    let refused = send(&app, Method::DELETE, "/admin/services/beard-trim", None).await;
    let id = booked["appointment_id"].as_str().unwrap();
    let because = "its service 'beard-trim' is not configured".to_owned();
    assert_eq!(stranded(refused).await, [(id.to_owned(), because)]);
    app.client.post(app.url(&format!("/cancel/{id}"))).send().await.unwrap();
    let removed = send(&app, Method::DELETE, "/admin/services/beard-trim", None).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let gone = send(&app, Method::GET, "/admin/services/beard-trim", None).await;
    assert_problem(gone, StatusCode::NOT_FOUND, "Service not found.").await;
}

#[actix_web::test]
async fn a_service_not_in_whole_slots_is_refused_saying_so() {
    let app = admin_app().await;
    for (member, minutes) in [("minutes", 45), ("buffer_before_minutes", 10)] {
        let mut body =
            json!({"slug": "quick", "name": "Quick", "minutes": 30, "resources": ["alice"]});
        body[member] = json!(minutes);
        let response = send(&app, Method::POST, "/admin/services", Some(body)).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "Invalid request.").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!(
                "{member}: {minutes} is not a whole number of 30-minute slots"
            )),
            "{detail}"
        );
    }
    let none = send(
        &app,
        Method::POST,
        "/admin/services",
        Some(json!({"slug": "quick", "name": "Quick", "minutes": 0, "resources": ["alice"]})),
    )
    .await;
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);
    let public: Value = app.get("/services").await.json().await.unwrap();
    assert_eq!(public["services"].as_array().unwrap().len(), 2, "nothing was added");
}

#[actix_web::test]
async fn a_service_naming_an_unknown_resource_is_refused() {
    let app = admin_app().await;
    let response = send(
        &app,
        Method::POST,
        "/admin/services",
        Some(json!({"slug": "massage", "name": "Massage", "minutes": 60, "resources": ["alice", "dave"]})),
    )
    .await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST, "Unknown resource.").await;
    assert_eq!(problem["type"], "/problems/unknown-resource");
    assert!(problem["detail"].as_str().unwrap().contains("'dave'"), "{problem}");
    let none = send(
        &app,
        Method::POST,
        "/admin/services",
        Some(json!({"slug": "massage", "name": "Massage", "minutes": 60, "resources": []})),
    )
    .await;
    assert_problem(none, StatusCode::BAD_REQUEST, "Invalid calendar.").await;
    let gone = send(&app, Method::GET, "/admin/services/massage", None).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "nothing was added");
}

#[actix_web::test]
async fn a_resource_a_service_names_is_not_removed() {
    let app = admin_app().await;
    let response = send(&app, Method::DELETE, "/admin/resources/alice", None).await;
    let problem =
        assert_problem(response, StatusCode::CONFLICT, "Services still name this resource.").await;
    assert_eq!(problem["type"], "/problems/resource-in-use");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("haircut") && detail.contains("colouring"), "{detail}");
    assert_eq!(app.listing(DAY, "&resource=alice").await.len(), 16, "alice stays");
}

#[actix_web::test]
async fn a_resource_with_an_appointment_to_come_is_not_removed() {
    let app = admin_app().await;
    add_carol(&app, 1).await;
    let id = book_at(&app, "carol", "10:00").await;
    let response = send(&app, Method::DELETE, "/admin/resources/carol", None).await;
    let body = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], 409, "{body}");
    assert_eq!(body["stranded"][0]["id"], id.as_str(), "{body}");
    assert_eq!(body["stranded"][0]["start"], "2030-01-07T10:00:00+00:00");
    assert_eq!(body["stranded"][0]["resource"], "carol");
    assert_eq!(body["stranded"][0]["reason"], "its resource 'carol' is not configured");
    assert_eq!(body["stranded_total"], 1);
    assert_eq!(times(&app, DAY, "carol").await.len(), 6, "carol stays");

    app.client.post(app.url(&format!("/cancel/{id}"))).send().await.unwrap();
    let removed = send(&app, Method::DELETE, "/admin/resources/carol", None).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let public: Value = app.get("/resources").await.json().await.unwrap();
    assert!(public["resources"].as_array().unwrap().iter().all(|r| r["slug"] != "carol"));
    let unknown = app.get(&format!("/availability?date={DAY}&resource=carol")).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn shorter_hours_that_strand_an_appointment_are_refused() {
    let app = admin_app().await;
    let id = book_at(&app, "alice", "14:00").await;
    let before = version(&send(&app, Method::GET, "/admin/resources", None).await);
    let response =
        send(&app, Method::PATCH, "/admin/resources/alice", Some(json!({"hours": "09:00-12:00"})))
            .await;
    let found = stranded(response).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, id);
    assert!(found[0].1.starts_with("the business is closed at 2030-01-07 14:00"), "{found:?}");
    let after = send(&app, Method::GET, "/admin/resources/alice", None).await;
    assert_eq!(version(&after), before, "nothing was stored");
    let after: Value = after.json().await.unwrap();
    assert_eq!(after["resource"]["hours"], "09:00-17:00");

    // An override that closes its day strands it too; hours that keep it do not.
    let closing = send(
        &app,
        Method::PUT,
        &format!("/admin/resources/alice/overrides/{DAY}"),
        Some(json!({"hours": "09:00-12:00"})),
    )
    .await;
    let found = stranded(closing).await;
    assert_eq!(found.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    let keeping =
        send(&app, Method::PATCH, "/admin/resources/alice", Some(json!({"hours": "09:00-15:00"})))
            .await;
    assert_eq!(keeping.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_capacity_below_a_slots_bookings_is_refused() {
    let app = admin_app().await;
    add_carol(&app, 2).await;
    let first = book_at(&app, "carol", "09:00").await;
    let second = book_at(&app, "carol", "09:00").await;
    let response =
        send(&app, Method::PATCH, "/admin/resources/carol", Some(json!({"capacity": 1}))).await;
    let body =
        assert_problem(response, StatusCode::CONFLICT, "The change would strand appointments.")
            .await;
    let mut ids: Vec<&str> =
        body["stranded"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    let mut expected = [first.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "{body}");
    assert!(body["stranded"][0]["reason"].as_str().unwrap().contains("capacity of 1"), "{body}");
    assert_eq!(app.slot_of("carol", DAY, "09:00", "&resource=carol").await.0, 2);
    let listed: Value =
        send(&app, Method::GET, "/admin/resources/carol", None).await.json().await.unwrap();
    assert_eq!(listed["resource"]["capacity"], 2, "unchanged");
}

#[actix_web::test]
async fn every_calendar_route_needs_the_token() {
    let app = admin_app().await;
    for (method, path) in [
        (Method::GET, "/admin/resources"),
        (Method::POST, "/admin/resources"),
        (Method::GET, "/admin/resources/alice"),
        (Method::PATCH, "/admin/resources/alice"),
        (Method::DELETE, "/admin/resources/alice"),
        (Method::GET, "/admin/resources/alice/overrides"),
        (Method::PUT, "/admin/resources/alice/overrides/2030-01-12"),
        (Method::DELETE, "/admin/resources/alice/overrides/2030-01-12"),
        (Method::GET, "/admin/services"),
        (Method::POST, "/admin/services"),
        (Method::GET, "/admin/services/haircut"),
        (Method::PATCH, "/admin/services/haircut"),
        (Method::DELETE, "/admin/services/haircut"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .json(&json!({"hours": "closed", "capacity": 3}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{method} {path}");
        assert_problem(response, StatusCode::UNAUTHORIZED, "Authentication required.").await;
    }
    let resources: Value = app.get("/resources").await.json().await.unwrap();
    assert_eq!(resources["resources"][0]["capacity"], 1, "nothing changed");
    assert_eq!(resources["resources"].as_array().unwrap().len(), 2, "nothing was removed");
}
