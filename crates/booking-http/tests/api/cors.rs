//! Cross-origin calls (`BOOKING_CORS_ORIGINS`): a business's own site may call the API from
//! the browser; other origins get no CORS headers; nothing changes while it is off.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{DAY, TestApp, spawn_app, spawn_app_with};

const SITE: &str = "https://clinic.example";

async fn with_site() -> TestApp {
    spawn_app_with(|settings| settings.cors_origins = vec![SITE.parse().unwrap()]).await
}

async fn preflight(app: &TestApp, origin: &str, method: &str, headers: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url("/schedule"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

/// Books 09:00 on [`DAY`] for `name` from a page of `origin`.
async fn book_from(app: &TestApp, origin: &str, name: &str) -> reqwest::Response {
    app.client
        .post(app.url("/schedule"))
        .header("origin", origin)
        .json(&json!({"client_name": name, "date": DAY, "time": "09:00"}))
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|value| value.to_str().unwrap())
}

#[actix_web::test]
async fn a_preflight_from_the_site_allows_a_booking_with_its_headers() {
    let app = with_site().await;
    let response = preflight(&app, SITE, "POST", "content-type,idempotency-key,x-request-id").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(SITE));
    let methods = header(&response, "access-control-allow-methods").unwrap().to_owned();
    assert!(methods.contains("POST") && methods.contains("DELETE"), "{methods}");
    let allowed = header(&response, "access-control-allow-headers").unwrap().to_lowercase();
    for name in ["idempotency-key", "content-type", "x-request-id"] {
        assert!(allowed.contains(name), "{name} not in {allowed}");
    }
    assert_eq!(header(&response, "access-control-max-age"), Some("3600"));
    assert_eq!(header(&response, "access-control-allow-credentials"), None, "no credentials");
}

#[actix_web::test]
async fn the_sites_requests_are_answered_with_the_headers_a_page_may_read() {
    let app = with_site().await;
    let response = book_from(&app, SITE, "Ann").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(SITE));
    let exposed = header(&response, "access-control-expose-headers").unwrap().to_lowercase();
    for name in ["location", "retry-after", "idempotent-replayed", "x-request-id"] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }
    // A refusal is readable too: the page can show why.
    let taken = book_from(&app, SITE, "Bo").await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    assert_eq!(header(&taken, "access-control-allow-origin"), Some(SITE));
}

#[actix_web::test]
async fn another_origin_gets_no_cors_headers_and_its_preflight_is_refused() {
    let app = with_site().await;
    let refused = preflight(&app, "https://elsewhere.example", "POST", "content-type").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
    let odd_header = preflight(&app, SITE, "POST", "x-unknown").await;
    assert_eq!(odd_header.status(), StatusCode::BAD_REQUEST);
    // A request that names another origin is still served (the server's own pages send their
    // origin with every POST), without CORS headers: that origin's browser keeps the answer
    // from its page.
    assert_served_without_cors(&app, "https://elsewhere.example").await;
}

#[actix_web::test]
async fn without_origins_there_is_no_cors_at_all() {
    let app = spawn_app().await;
    let response = preflight(&app, SITE, "POST", "content-type").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_served_without_cors(&app, SITE).await;
}

/// A listing asked for from a page of `origin` is served, with no CORS headers.
async fn assert_served_without_cors(app: &TestApp, origin: &str) {
    let listing = app
        .client
        .get(app.url(&format!("/availability?date={DAY}")))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), StatusCode::OK);
    assert_eq!(header(&listing, "access-control-allow-origin"), None);
}

#[actix_web::test]
async fn the_site_may_open_the_availability_stream() {
    let app = with_site().await;
    let stream = app
        .client
        .get(app.url(&format!("/availability/stream?date={DAY}")))
        .header("origin", SITE)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(header(&stream, "access-control-allow-origin"), Some(SITE));
}
