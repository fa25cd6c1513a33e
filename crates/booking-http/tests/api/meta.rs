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
    assert_eq!(body["slot_minutes"], 30);
    assert_eq!(body["links"]["openapi"], "/openapi.json");
    assert_eq!(body["links"]["resources"], "/resources");
    assert_eq!(body["links"]["holds"], "/holds");
    assert_eq!(body["links"]["admin"], "/admin/appointments");
    assert_eq!(body["links"]["metrics"], "/metrics");
}

/// A server whose database reads but cannot take a write (here a trigger refuses it, as a full
/// disk would) is alive but not ready, and ready again once writes pass.
#[actix_web::test]
async fn readiness_fails_while_the_database_cannot_take_a_write() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    booking_store::test_support::sqlite_batch(
        &app.database,
        "CREATE TRIGGER refuse_writes BEFORE UPDATE ON readiness \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    );
    // A pass stands for a second, so load balancers asking often cost no more writes.
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK, "the pass just made stands");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let not_ready = app.get("/readyz").await;
    assert_eq!(not_ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(not_ready.headers()["retry-after"], "1");
    let problem: Value = not_ready.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("cannot take a write"), "{problem}");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(app.get("/resources").await.status(), StatusCode::OK, "reads still work");
    booking_store::test_support::sqlite_batch(&app.database, "DROP TRIGGER refuse_writes;");
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
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
    // Code generators and validators need each operation's id to be unique.
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids repeat: {ids:?}");
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            "/",
            "/admin",
            "/admin/appointments",
            "/admin/appointments/{id}/cancel",
            "/admin/appointments/{id}/complete",
            "/admin/appointments/{id}/history",
            "/admin/appointments/{id}/move",
            "/admin/appointments/{id}/no-show",
            "/admin/closures",
            "/admin/closures/{id}",
            "/admin/notifications",
            "/admin/resources",
            "/admin/resources/{slug}",
            "/admin/resources/{slug}/overrides",
            "/admin/resources/{slug}/overrides/{date}",
            "/admin/services",
            "/admin/services/{slug}",
            "/admin/webhooks",
            "/admin/webhooks/{id}",
            "/admin/webhooks/{id}/deliveries",
            "/appointment/{id}",
            "/appointment/{id}/calendar.ics",
            "/availability",
            "/availability/stream",
            "/book",
            "/book/manage/{id}",
            "/cancel/{id}",
            "/docs",
            "/feeds/{resource}.ics",
            "/healthz",
            "/holds",
            "/holds/{token}",
            "/metrics",
            "/openapi.json",
            "/readyz",
            "/reschedule/{id}",
            "/resources",
            "/schedule",
            "/services"
        ]
    );
    for (path, method, statuses) in [
        ("/schedule", "post", &["201", "400", "409", "413", "415", "503"][..]),
        ("/cancel/{id}", "post", &["200", "400", "404", "409", "503"]),
        ("/reschedule/{id}", "post", &["200", "400", "404", "409", "413", "415", "503"]),
        ("/appointment/{id}", "get", &["200", "404", "503"]),
        ("/admin/webhooks", "post", &["201", "400", "401", "409", "415", "503"]),
        ("/admin/webhooks/{id}/deliveries", "get", &["200", "401", "404", "503"]),
        ("/availability", "get", &["200", "400", "503"]),
        ("/availability/stream", "get", &["200", "400", "429", "503"]),
        ("/holds", "post", &["201", "400", "409", "413", "415", "429", "503"]),
        ("/holds/{token}", "delete", &["204", "404", "503"]),
        ("/admin/appointments", "get", &["200", "400", "401", "503"]),
        ("/admin/appointments", "post", &["201", "400", "401", "404", "409", "413", "415", "503"]),
        (
            "/admin/appointments/{id}/cancel",
            "post",
            &["200", "400", "401", "404", "409", "413", "415", "503"],
        ),
        (
            "/admin/appointments/{id}/complete",
            "post",
            &["200", "400", "401", "404", "409", "413", "415", "503"],
        ),
        (
            "/admin/appointments/{id}/no-show",
            "post",
            &["200", "400", "401", "404", "409", "413", "415", "503"],
        ),
        (
            "/admin/appointments/{id}/move",
            "post",
            &["200", "400", "401", "404", "409", "413", "503"],
        ),
        ("/admin/closures", "post", &["201", "400", "401", "503"]),
        ("/admin/closures", "get", &["200", "401", "503"]),
        ("/admin/closures/{id}", "delete", &["204", "401", "404", "503"]),
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
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for schema in [
        "HoldRequest",
        "HoldView",
        "Resources",
        "Services",
        "AppointmentsPage",
        "ClosureRequest",
        "ClosureCreated",
        "Closures",
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

/// Path parameters are the path's `{names}`, required; query parameters are optional. A query
/// parameter declared `in: path` makes validators reject the document and breaks generated
/// clients.
#[actix_web::test]
async fn every_parameter_is_declared_where_the_request_carries_it() {
    let app = spawn_app().await;
    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut queries = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let place = parameter["in"].as_str().unwrap();
                let in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(place == "path", in_path, "{method} {path}: {name} is in {place}");
                if in_path {
                    assert_eq!(parameter["required"], true, "{method} {path}: {name}");
                }
                if place == "query" {
                    assert_ne!(parameter["required"], true, "{method} {path}: {name}");
                    queries.push(format!("{method} {path} {name}"));
                }
            }
        }
    }
    for expected in
        ["get /availability date", "get /availability/stream from", "get /admin/appointments limit"]
    {
        assert!(queries.iter().any(|query| query == expected), "{expected} in {queries:?}");
    }
}

/// With BOOKING_METRICS_TOKEN set, /metrics needs it as a bearer token.
#[actix_web::test]
async fn metrics_can_require_a_token() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.metrics_token = Some("metrics-scraper-token".parse().unwrap());
    })
    .await;
    let client = reqwest::Client::new();
    let refused = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let wrong = client.get(app.url("/metrics")).bearer_auth("not-the-token-at-all").send();
    assert_eq!(wrong.await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let scraped = client.get(app.url("/metrics")).bearer_auth("metrics-scraper-token").send();
    let scraped = scraped.await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.text().await.unwrap().contains("booking_http_requests_total"));
}

/// What middleware adds is documented: 429 with Retry-After on rate-limited writes,
/// Retry-After on every 503, Idempotent-Replayed on keyed writes' answers.
#[actix_web::test]
async fn the_document_describes_rate_limits_retries_and_replays() {
    let app = spawn_app().await;
    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    let paths = &document["paths"];
    for (path, method) in [
        ("/schedule", "post"),
        ("/cancel/{id}", "post"),
        ("/reschedule/{id}", "post"),
        ("/holds", "post"),
        ("/holds/{token}", "delete"),
    ] {
        let limited = &paths[path][method]["responses"]["429"];
        assert!(limited["headers"]["Retry-After"].is_object(), "{method} {path}: {limited}");
        assert!(limited["content"]["application/problem+json"].is_object(), "{method} {path}");
    }
    let admin = &paths["/admin/appointments"]["get"]["responses"]["429"]["description"];
    assert!(admin.as_str().unwrap().contains("admin tokens"), "{admin}");
    for (path, operations) in paths.as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if let Some(unavailable) = operation["responses"].get("503") {
                assert!(unavailable["headers"]["Retry-After"].is_object(), "{method} {path}");
            }
        }
    }
    for (path, status) in
        [("/schedule", "201"), ("/cancel/{id}", "200"), ("/reschedule/{id}", "200")]
    {
        let answer = &paths[path]["post"]["responses"][status];
        assert!(answer["headers"]["Idempotent-Replayed"].is_object(), "{path}: {answer}");
    }
}
