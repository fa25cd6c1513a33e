//! Request ids: echoed, made up when missing, and carried by problem bodies.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn a_request_id_is_echoed_and_named_in_the_problem() {
    let app = spawn_app().await;
    let response = reqwest::Client::new()
        .get(app.url("/appointment/not-an-id"))
        .header("X-Request-Id", "support-ticket-77")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-request-id"], "support-ticket-77");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["request_id"], "support-ticket-77");
}

#[actix_web::test]
async fn without_one_each_request_gets_a_new_id_in_header_and_problem() {
    let app = spawn_app().await;
    let first = app.get("/healthz").await;
    let second = app.get("/healthz").await;
    let ids: Vec<String> = [&first, &second]
        .map(|response| response.headers()["x-request-id"].to_str().unwrap().to_owned())
        .to_vec();
    assert_ne!(ids[0], ids[1]);
    assert!(ids.iter().all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    let refused = app.post_json("/schedule", &serde_json::json!({"client_name": "Ada"})).await;
    let header = refused.headers()["x-request-id"].to_str().unwrap().to_owned();
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["request_id"], header.as_str());
}

#[actix_web::test]
async fn a_traceparent_lends_its_trace_id_and_unsafe_ids_are_replaced() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let traced = client
        .get(app.url("/healthz"))
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .send()
        .await
        .unwrap();
    assert_eq!(traced.headers()["x-request-id"], "0af7651916cd43dd8448eb211c80319c");
    let forged = client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "x\" status=500 forged=\"1")
        .send()
        .await
        .unwrap();
    let echoed = forged.headers()["x-request-id"].to_str().unwrap();
    assert!(!echoed.contains('"') && !echoed.contains(' '), "{echoed}");
}

/// Refusals made before routing (the rate limit) carry the id and the security headers too.
#[actix_web::test]
async fn a_rate_limited_request_names_its_id() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.rate_limit = std::num::NonZeroU32::new(1);
    })
    .await;
    let client = reqwest::Client::new();
    let mut last = None;
    for _ in 0..2 {
        last = Some(
            client
                .post(app.url("/cancel/00000000-0000-4000-8000-000000000000"))
                .header("X-Request-Id", "limited")
                .send()
                .await
                .unwrap(),
        );
    }
    let refused = last.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["x-request-id"], "limited");
    assert!(refused.headers().contains_key("content-security-policy"));
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["request_id"], "limited");
}
