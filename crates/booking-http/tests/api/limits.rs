use std::{
    io::{Read, Write},
    net::{IpAddr, TcpStream},
    num::NonZeroU32,
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, DAY, TestApp, assert_problem, spawn_app, spawn_app_with};

async fn limited_app(per_minute: u32, trusted: &[&str]) -> TestApp {
    let trusted: Vec<IpAddr> = trusted.iter().map(|a| a.parse().unwrap()).collect();
    spawn_app_with(move |settings| {
        settings.rate_limit = NonZeroU32::new(per_minute);
        settings.trusted_proxies = trusted;
        settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
    })
    .await
}

#[actix_web::test]
async fn writes_over_the_rate_limit_get_429_with_retry_after() {
    let app = limited_app(3, &[]).await;
    for time in ["09:00", "09:30", "10:00"] {
        assert_eq!(app.schedule("Ada", DAY, time).await.status(), StatusCode::CREATED);
    }
    let response = app.schedule("Ada", DAY, "10:30").await;
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "Too many requests.").await;
    assert_eq!(app.slot(DAY, "10:30").await, (0, true, None), "nothing was written");
    assert_eq!(
        app.get(&format!("/availability?date={DAY}")).await.status(),
        StatusCode::OK,
        "reads are not limited"
    );
    let admin =
        app.admin_post("/admin/closures", &json!({"from": "2030-02-01", "to": "2030-02-01"})).await;
    assert_eq!(admin.status(), StatusCode::CREATED, "the operator is not limited");
    // Another client has its own allowance.
    let other = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let response = other
        .post(app.url("/schedule"))
        .json(&json!({"client_name": "Grace", "date": DAY, "time": "10:30"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_limited() {
    let app = limited_app(1, &["127.0.0.1"]).await;
    let book = |client: &'static str, time: &'static str| {
        let request = app
            .client
            .post(app.url("/schedule"))
            .header("x-forwarded-for", client)
            .json(&json!({"client_name": "Ada", "date": DAY, "time": time}));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(book("198.51.100.7", "09:00").await, StatusCode::CREATED);
    assert_eq!(book("198.51.100.7", "09:30").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        book("203.0.113.9, 198.51.100.8", "09:30").await,
        StatusCode::CREATED,
        "the nearest hop counts"
    );
    assert_eq!(book("198.51.100.8", "10:00").await, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn forwarded_headers_from_untrusted_peers_are_ignored() {
    let app = limited_app(1, &[]).await;
    let mut statuses = Vec::new();
    for (forwarded, time) in [("198.51.100.1", "09:00"), ("198.51.100.2", "09:30")] {
        let response = app
            .client
            .post(app.url("/schedule"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"client_name": "Ada", "date": DAY, "time": time}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS]);
}

#[actix_web::test]
async fn oversized_headers_are_431_problems() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-padding", "a".repeat(20_000))
        .send()
        .await
        .unwrap();
    let body = assert_problem(
        response,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "Request headers are too large.",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("at most 16384"), "{body}");
    let fine = app
        .client
        .get(app.url("/healthz"))
        .header("x-padding", "a".repeat(8_000))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), StatusCode::OK);
}

#[actix_web::test]
async fn deeply_nested_json_is_harmless() {
    let app = spawn_app().await;
    // Unknown fields are skipped without recursing, however deep.
    let deep =
        format!(r#"{{"client_name": "Ada", "extra": {}{}}}"#, "[".repeat(5_000), "]".repeat(5_000));
    let body = assert_problem(
        app.post_raw("/schedule", "application/json", deep).await,
        StatusCode::BAD_REQUEST,
        "Invalid request.",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("missing field `date`"), "{body}");
    // Where a value is read, nesting stops at the first wrong type.
    let deep_value =
        format!(r#"{{"client_name": {}{}}}"#, "{\"a\":".repeat(2_000), "}".repeat(2_000));
    let body = assert_problem(
        app.post_raw("/schedule", "application/json", deep_value).await,
        StatusCode::BAD_REQUEST,
        "Invalid request.",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("invalid type: map"), "{body}");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_client_that_sends_its_headers_too_slowly_is_cut_off() {
    let app = spawn_app_with(|settings| settings.client_timeout = Duration::from_millis(300)).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let answer = actix_web::rt::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(address).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        socket.write_all(b"POST /schedule HTTP/1.1\r\nHost: x\r\n").unwrap();
        let mut answer = String::new();
        // The server answers 408 and closes; read_to_string returns at the close.
        socket.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}
