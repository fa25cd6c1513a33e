//! `GET /docs`: the API reference page, served from the binary with its own
//! Content-Security-Policy, and used in a real browser, keyboard included.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    browser::{ARROW_DOWN, Browser, ENTER, TAB},
    helpers::spawn_app,
    process::Server,
};

const REDOC: &[u8] = include_bytes!("../../assets/docs/redoc.standalone.js");

/// The vendored bundle is the release its README names, byte for byte (the checksum there).
#[test]
fn the_vendored_bundle_is_the_published_release() {
    let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/docs");
    let readme = std::fs::read_to_string(format!("{assets}/README.md")).unwrap();
    let published = readme
        .split("`redoc.standalone.js`: ")
        .nth(1)
        .and_then(|rest| rest.split("sha256 `").nth(1))
        .and_then(|rest| rest.split('`').next())
        .unwrap();
    let Ok(output) = std::process::Command::new("sha256sum")
        .arg(format!("{assets}/redoc.standalone.js"))
        .output()
    else {
        panic!("sha256sum (coreutils) is needed to check the bundle");
    };
    let actual = String::from_utf8_lossy(&output.stdout);
    assert_eq!(actual.split_whitespace().next(), Some(published), "the bundle was changed");
}

#[actix_web::test]
async fn the_page_and_its_scripts_come_from_the_binary_under_their_own_policy() {
    let app = spawn_app().await;
    let page = app.get("/docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert_eq!(policy, booking_http::routes::docs::CONTENT_SECURITY_POLICY);
    for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'"] {
        assert!(policy.contains(directive), "{policy}");
    }
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script src="/docs/redoc.standalone.js"></script>"#), "{html}");
    assert!(!html.contains("://"), "the page names no other origin: {html}");

    let bundle = app.get("/docs/redoc.standalone.js").await;
    assert_eq!(bundle.headers()["content-type"], "text/javascript; charset=utf-8");
    let etag = bundle.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(bundle.bytes().await.unwrap(), REDOC, "the vendored bundle, as the binary holds it");
    let again = app
        .client
        .get(app.url("/docs/redoc.standalone.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.unwrap().is_empty());
    let init = app.get("/docs/init.js").await;
    assert_eq!(init.status(), StatusCode::OK);
    assert!(init.text().await.unwrap().contains("Redoc.init("));

    let root: Value = app.get("/").await.json().await.unwrap();
    assert_eq!(root["links"]["docs"], "/docs");
    let openapi: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(openapi["paths"]["/docs"]["get"].is_object(), "the page is in the API's description");
}

/// In Chromium: the reference renders every operation from /openapi.json; a person reaches the
/// search box with Tab, types, picks the result with the arrow key and Enter, and lands on the
/// operation; and the page asked nothing of any origin but the server's.
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn the_reference_works_in_a_browser_with_the_keyboard_and_fetches_nothing_elsewhere() {
    let directory = tempfile::tempdir().unwrap();
    let server = Server::start(&directory.path().join("docs.db"));
    let browser = Browser::start().await;
    browser.open(&server.url("/docs")).await;
    let operations = browser
        .wait_for(
            "the operations to render",
            "const items = document.querySelectorAll('li[data-item-id*=\"/operation/\"]');
             return items.length > 10 ? items.length : null;",
        )
        .await;
    let documented = {
        let openapi: Value =
            reqwest::get(server.url("/openapi.json")).await.unwrap().json().await.unwrap();
        openapi["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>()
    };
    assert_eq!(operations.as_u64(), Some(documented as u64), "every operation is in the menu");

    let mut tabs = 0;
    while browser
        .run("return document.activeElement.matches('input.search-input')", json!([]))
        .await
        != Value::Bool(true)
    {
        assert!(tabs < 20, "Tab never reached the search box");
        browser.type_keys(TAB).await;
        tabs += 1;
    }
    browser.type_keys("hold a slot").await;
    let found = browser
        .wait_for(
            "a search result",
            "const hit = document.querySelector('[data-role=\"search:results\"] li[role=menuitem]');
             return hit && hit.getAttribute('aria-label');",
        )
        .await;
    assert!(found.as_str().unwrap_or_default().starts_with("Hold a slot"), "{found}");
    browser.screenshot("docs-search").await;
    browser.type_keys(&format!("{ARROW_DOWN}{ENTER}")).await;
    browser
        .wait_for(
            "the operation to open",
            "return location.hash.includes('operation/create') ? location.hash : null;",
        )
        .await;
    let shot = browser.screenshot("docs").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "an empty screenshot");

    let requests = browser.close().await;
    let origin = server.url("");
    let elsewhere: Vec<_> =
        requests.iter().filter(|(url, _)| !url.starts_with(&format!("{origin}/"))).collect();
    assert!(elsewhere.is_empty(), "the page asked other origins: {elsewhere:?}");
    // The navigation itself is the browser's request, not the page's.
    for path in ["/docs/redoc.standalone.js", "/docs/init.js", "/openapi.json"] {
        let url = format!("{origin}{path}");
        assert!(requests.iter().any(|(asked, _)| *asked == url), "{url} not in {requests:?}");
    }
}
