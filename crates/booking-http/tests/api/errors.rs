use reqwest::StatusCode;

use crate::helpers::{DAY, assert_problem, spawn_app};

#[actix_web::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let body = assert_problem(
        app.post_raw("/schedule", "application/json", "{\"client_name\": ").await,
        StatusCode::BAD_REQUEST,
        "Invalid request.",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().starts_with("the body is not valid JSON"), "{body}");
}

#[actix_web::test]
async fn missing_or_wrongly_typed_fields_are_400_naming_the_field() {
    let app = spawn_app().await;
    for (json, field) in [
        (r#"{"client_name": "Ada", "time": "09:00"}"#, "date"),
        (r#"{"client_name": "Ada", "date": "2030-01-07", "time": 900}"#, "integer"),
        (r#"{"client_name": ["Ada"], "date": "2030-01-07", "time": "09:00"}"#, "sequence"),
        (r#"[1, 2]"#, "invalid type"),
    ] {
        let body = assert_problem(
            app.post_raw("/schedule", "application/json", json).await,
            StatusCode::BAD_REQUEST,
            "Invalid request.",
        )
        .await;
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("the JSON body does not have the expected fields")
                && detail.contains(field),
            "{detail}"
        );
    }
    assert_eq!(app.slot(DAY, "09:00").await.0, 0);
}

#[actix_web::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let form = "client_name=Ada&date=2030-01-07&time=09:00";
    assert_problem(
        app.post_raw("/schedule", "application/x-www-form-urlencoded", form).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type must be application/json.",
    )
    .await;
    let response = app.client.post(app.url("/schedule")).send().await.unwrap();
    assert_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type must be application/json.",
    )
    .await;
}

#[actix_web::test]
async fn a_body_over_16_kib_is_413_and_the_answer_arrives() {
    let app = spawn_app().await;
    let huge = format!(
        r#"{{"client_name": "Ada", "date": "{DAY}", "time": "09:00", "notes": "{}"}}"#,
        "n".repeat(20_000)
    );
    let body = assert_problem(
        app.post_raw("/schedule", "application/json", huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body is too large.",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("16384 bytes"), "{body}");
    // A body of unannounced length (chunked) is cut off at the same limit.
    let chunks =
        futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let response = app
        .client
        .post(app.url("/schedule"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.").await;
    assert_eq!(app.slot(DAY, "09:00").await.0, 0);
}

#[actix_web::test]
async fn unknown_paths_are_404_problems() {
    let app = spawn_app().await;
    let body =
        assert_problem(app.get("/appointments").await, StatusCode::NOT_FOUND, "Not found.").await;
    assert!(body["detail"].as_str().unwrap().contains("GET /appointments"), "{body}");
    assert_problem(
        app.client.delete(app.url("/nothing/here")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "Not found.",
    )
    .await;
}

#[actix_web::test]
async fn wrong_methods_are_405_problems_with_allow() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (reqwest::Method::GET, "/schedule", "POST"),
        (reqwest::Method::GET, "/cancel/x", "POST"),
        (reqwest::Method::DELETE, "/appointment/x", "GET"),
        (reqwest::Method::POST, "/availability", "GET"),
    ] {
        let response = app.client.request(method, app.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["allow"], allow, "{path}");
        assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed.").await;
    }
}

#[actix_web::test]
async fn every_response_carries_the_security_headers_and_no_server_banner() {
    let app = spawn_app().await;
    for path in ["/", "/nope", "/schedule", "/openapi.json"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(headers.get("server").is_none(), "{path} names its server");
    }
}
