//! Hostile and broken input: random bodies, fields and query strings against a running server.
//! Whatever arrives, the answer is a 2xx or a 4xx problem document, never a 5xx, and the server
//! keeps serving.
//!
//! A normal test run sends a few hundred cases per target; for a longer hunt, raise
//! `FUZZ_CASES`: `FUZZ_CASES=20000 cargo test -p booking-http --test api fuzz`. A failure
//! prints the request that caused it.

use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, TestRunner},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, salon, spawn_app_with};

/// Text that is sometimes valid, often nearly valid, and sometimes nonsense.
fn field() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("2030-01-07")),
        Just(json!("10:00")),
        Just(json!("alice")),
        Just(json!("colouring")),
        "[0-9:-]{0,12}".prop_map(Value::from),
        "\\PC{0,30}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!([])),
        Just(json!({"nested": {"deeper": [1, "x"]}})),
    ]
}

/// A JSON object with some of the fields the API reads, and some it does not.
fn body() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "client_name",
        "date",
        "time",
        "notes",
        "resource",
        "service",
        "hold",
        "from",
        "to",
        "reason",
        "extra",
    ]);
    prop::collection::btree_map(names, field(), 0..8)
        .prop_map(|map| Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

/// Raw bytes that are not JSON at all, or JSON of the wrong shape.
fn raw() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        "\\PC{0,100}".prop_map(String::into_bytes),
        Just(b"[]".to_vec()),
        Just(b"null".to_vec()),
        Just(b"{\"client_name\": \"\\ud800\"}".to_vec()),
        Just(b"{\"client_name\": 1e999}".to_vec()),
    ]
}

fn path() -> impl Strategy<Value = (Method, String)> {
    let id = prop_oneof![
        Just("67e55044-10b1-426f-9247-bb680e5fe0c8".to_owned()),
        "[a-zA-Z0-9%._~-]{0,40}"
    ];
    prop_oneof![
        Just((Method::POST, "/schedule".to_owned())),
        Just((Method::POST, "/holds".to_owned())),
        Just((Method::POST, "/admin/closures".to_owned())),
        id.clone().prop_map(|id| (Method::POST, format!("/reschedule/{id}"))),
        id.clone().prop_map(|id| (Method::POST, format!("/cancel/{id}"))),
        id.clone().prop_map(|id| (Method::DELETE, format!("/holds/{id}"))),
        id.prop_map(|id| (Method::GET, format!("/appointment/{id}"))),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "date", "from", "to", "resource", "service", "status", "client", "cursor", "limit",
    ]);
    let value = prop_oneof![
        Just("2030-01-07".to_owned()),
        Just("alice".to_owned()),
        "[a-zA-Z0-9%&=+._-]{0,20}"
    ];
    prop::collection::vec((key, value), 0..5).prop_map(|pairs| {
        pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
    })
}

async fn assert_sane(response: reqwest::Response, what: &str) {
    let status = response.status();
    assert!(status.is_success() || status.is_client_error(), "{what}: {status}");
    if status.is_client_error() {
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{what}: {status}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], status.as_u16(), "{what}");
        assert!(
            problem["message"].is_string() && problem["detail"].is_string(),
            "{what}: {problem}"
        );
    }
}

/// How many cases each target sends: `FUZZ_CASES`, or `default`.
fn cases(default: usize) -> usize {
    std::env::var("FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

fn sample<S: Strategy>(runner: &mut TestRunner, strategy: &S) -> S::Value {
    strategy.new_tree(runner).unwrap().current()
}

async fn app() -> TestApp {
    spawn_app_with(|settings| {
        salon(settings);
        settings.rate_limit = None;
        settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
    })
    .await
}

#[actix_web::test]
async fn random_json_bodies_get_2xx_or_4xx_problems() {
    let app = app().await;
    let mut runner = TestRunner::new(Config::default());
    for _ in 0..cases(400) {
        let ((method, path), body) = (sample(&mut runner, &path()), sample(&mut runner, &body()));
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_sane(response, &format!("{method} {path} {body}")).await;
    }
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn random_raw_bodies_get_4xx_problems() {
    let app = app().await;
    let mut runner = TestRunner::new(Config::default());
    for _ in 0..cases(300) {
        let ((method, path), bytes) = (sample(&mut runner, &path()), sample(&mut runner, &raw()));
        let content_type = if bytes.len() % 3 == 0 { "text/plain" } else { "application/json" };
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", content_type)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_sane(response, &format!("{method} {path} {:?}", String::from_utf8_lossy(&bytes)))
            .await;
    }
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn random_query_strings_get_2xx_or_4xx_problems() {
    let app = app().await;
    let mut runner = TestRunner::new(Config::default());
    for _ in 0..cases(300) {
        let query = sample(&mut runner, &query());
        for path in ["/availability", "/admin/appointments"] {
            let response = app
                .client
                .get(app.url(&format!("{path}?{query}")))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            assert_sane(response, &format!("{path}?{query}")).await;
        }
    }
}
