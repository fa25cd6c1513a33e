//! The pages: `/book`, `/book/manage/{id}` and `/admin`, served from the binary with their own
//! Content-Security-Policy, and used in a real browser the way people use them: with the
//! mouse, with the keyboard only, at 360 and 1280 pixels wide, while others book.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    browser::{Browser, ENTER, TAB},
    helpers::{
        ADMIN_TOKEN, DAY, TestApp, assert_problem, salon, schedule, spawn_app, spawn_app_with,
    },
};

const PAGES: [&str; 3] = ["/book", "/book/manage/67e55044-10b1-426f-9247-bb680e5fe0c8", "/admin"];

#[actix_web::test]
async fn each_page_is_served_with_a_policy_that_allows_only_its_own_origin() {
    let app = spawn_app().await;
    for path in PAGES {
        let page = app.get(path).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let policy = page.headers()["content-security-policy"].to_str().unwrap();
        assert_eq!(policy, booking_http::routes::pages::CONTENT_SECURITY_POLICY);
        for directive in [
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        let html = page.text().await.unwrap();
        assert!(!html.contains("<style") && !html.contains(" style="), "{path}: inline style");
        assert!(!html.contains("<script>"), "{path}: inline script");
        assert!(html.contains(r#"<html lang="en">"#), "{path}");
    }
    // The API keeps the policy that loads nothing.
    let api = app.get("/resources").await;
    assert_eq!(
        api.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[actix_web::test]
async fn the_pages_files_are_served_and_revalidated_and_nothing_else_is() {
    let app = spawn_app().await;
    let script = app.get("/pages/book.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
    let etag = script.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("\"pages-"), "{etag}");
    let again = app
        .client
        .get(app.url("/pages/pages.css"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "one ETag for the pages' files");
    let style = app.get("/pages/pages.css").await;
    assert_eq!(style.headers()["content-type"], "text/css; charset=utf-8");
    for path in ["/pages/nothing.js", "/pages/..%2Fbook.html", "/pages/book.html"] {
        assert_problem(app.get(path).await, StatusCode::NOT_FOUND, "Not found.").await;
    }
}

#[actix_web::test]
async fn the_dashboard_page_is_public_and_the_admin_api_still_asks_for_the_token() {
    let app =
        spawn_app_with(|settings| settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap())).await;
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK);
    let api = app.get("/admin/appointments").await;
    assert_problem(api, StatusCode::UNAUTHORIZED, "Authentication required.").await;
    let openapi: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in ["/book", "/book/manage/{id}", "/admin"] {
        assert!(openapi["paths"][path]["get"].is_object(), "{path} is not described");
    }
}

/// The salon, with the admin API on.
async fn salon_with_admin() -> TestApp {
    spawn_app_with(|settings| {
        salon(settings);
        settings.admin_token = Some(ADMIN_TOKEN.parse().unwrap());
    })
    .await
}

/// The selector of the slot button at `time` on [`DAY`].
fn slot(time: &str) -> String {
    format!("button[data-slot=\"{DAY}T{time}\"]")
}

/// The page's slot button at `time` on [`DAY`], as a script expression.
fn slot_js(time: &str) -> String {
    format!("document.querySelector('{}')", slot(time))
}

/// Waits for the week to be drawn, with the slot at `time` free.
async fn wait_for_free(browser: &Browser, time: &str) {
    let script = format!("const b = {}; return b && !b.disabled;", slot_js(time));
    browser.wait_for(&format!("{time} to be offered"), &script).await;
}

/// The appointment id the confirmation shows, once it shows.
async fn confirmation(browser: &Browser) -> String {
    let id = browser
        .wait_for(
            "the confirmation",
            "const done = document.getElementById('done');
             return !done.hidden && done.dataset.appointmentId;",
        )
        .await;
    id.as_str().unwrap().to_owned()
}

async fn assert_accessible(browser: &Browser, page: &str) {
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "{page}: serious or critical violations: {violations:#?}");
}

async fn assert_no_other_origin(browser: Browser, app: &TestApp) {
    let requests = browser.close().await;
    let elsewhere: Vec<_> =
        requests.iter().filter(|(url, _)| !url.starts_with(&format!("{}/", app.address))).collect();
    assert!(elsewhere.is_empty(), "a page asked other origins: {elsewhere:?}");
}

/// A client picks the service and resource, holds a slot, types their details and books;
/// the confirmation links the calendar file and the manage page, and the API has the
/// booking as typed.
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn a_client_books_end_to_end_through_the_page() {
    let app = salon_with_admin().await;
    let browser = Browser::start().await;
    browser.open(&app.url(&format!("/book?date={DAY}"))).await;
    browser
        .wait_for(
            "the services",
            "return document.querySelectorAll('#service option').length === 2;",
        )
        .await;
    browser.run("const s = document.getElementById('service'); s.value = 'colouring'; s.dispatchEvent(new Event('change')); return null;", json!([])).await;
    browser
        .wait_for(
            "a choice of resource",
            "return !document.getElementById('resource-field').hidden;",
        )
        .await;
    browser.run("const s = document.getElementById('resource'); s.value = 'bob'; s.dispatchEvent(new Event('change')); return null;", json!([])).await;
    // Bob opens at 10:00: no 09:00 slot for him.
    wait_for_free(&browser, "10:00").await;
    let nine = browser.run(&format!("return {} === null;", slot_js("09:00")), json!([])).await;
    assert_eq!(nine, true, "Bob has no 09:00");
    let texts = browser
        .run(&format!("return ['10:00', '10:30'].map((t) => document.querySelector(`button[data-slot=\"{DAY}T${{t}}\"]`).textContent);"), json!([]))
        .await;
    assert_eq!(texts, json!(["10:00", "10:30"]), "a free slot shows its time, and nothing else");
    browser.screenshot("book-week-1280").await;
    assert_accessible(&browser, "/book").await;

    browser.click(&slot("10:00")).await;
    browser
        .wait_for("the details form", "return !document.getElementById('details').hidden;")
        .await;
    let held = app.listing(DAY, "&resource=bob&service=colouring").await;
    let ten = held.iter().find(|s| s["time"] == "10:00").unwrap();
    assert_eq!(ten["held"], 1, "the page holds the slot while the client types: {ten}");
    let said =
        browser.run("return document.getElementById('status').textContent;", json!([])).await;
    assert!(
        !said.as_str().unwrap().contains("just taken"),
        "the client's own hold is no news: {said}"
    );
    browser.type_into("#client_name", "Zoë Ångström").await;
    browser.type_into("#email", "zoe@example.com").await;
    browser.type_into("#phone", "+44 20 7946 0958").await;
    browser.type_into("#notes", "First visit").await;
    assert_accessible(&browser, "/book, details").await;
    browser.click("#booking button[type=submit]").await;
    let id = confirmation(&browser).await;
    browser.screenshot("book-confirmation-1280").await;

    let appointment = app.appointment(&id).await;
    assert_eq!(appointment["client_name"], "Zoë Ångström");
    assert_eq!(appointment["resource"], "bob");
    assert_eq!(appointment["service"], "colouring");
    assert_eq!(
        (appointment["date"].as_str(), appointment["time"].as_str()),
        (Some(DAY), Some("10:00"))
    );
    assert_eq!(appointment["email"], "zoe@example.com");
    assert_eq!(appointment["phone"], "+442079460958");
    assert_eq!(appointment["notes"], "First visit");
    let links = browser
        .run("return [document.getElementById('ics').getAttribute('href'), document.getElementById('manage').getAttribute('href')];", json!([]))
        .await;
    assert_eq!(
        links,
        json!([format!("/appointment/{id}/calendar.ics"), format!("/book/manage/{id}")])
    );
    assert_eq!(app.get(&format!("/appointment/{id}/calendar.ics")).await.status(), StatusCode::OK);
    assert_no_other_origin(browser, &app).await;
}

/// A booking made elsewhere while the page is open disables its slot where it stands,
/// without a reload, and the page says so in its live region.
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn a_slot_booked_elsewhere_is_disabled_without_a_reload() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.open(&app.url(&format!("/book?date={DAY}"))).await;
    wait_for_free(&browser, "11:00").await;
    // A reload would lose this mark. The client has the focus on 11:00, about to choose it.
    browser.run("window.sameDocument = true; return null;", json!([])).await;
    browser.run(&format!("{}.focus(); return null;", slot_js("11:00")), json!([])).await;
    let started = std::time::Instant::now();
    app.book(DAY, "11:00").await;
    let selector = slot_js("11:00");
    browser.wait_for("11:00 to be disabled", &format!("return {selector}.disabled;")).await;
    let took = started.elapsed();
    let state = browser
        .run(&format!("return [window.sameDocument === true, {selector}.getAttribute('aria-label'), document.getElementById('status').textContent];"), json!([]))
        .await;
    assert_eq!(state[0], true, "the page was reloaded");
    assert!(state[1].as_str().unwrap().ends_with(": taken"), "{state}");
    assert!(state[2].as_str().unwrap().contains("was just taken"), "{state}");
    let focused =
        browser.run("return document.activeElement.dataset.slot ?? null;", json!([])).await;
    assert_eq!(focused, format!("{DAY}T11:30"), "the focus moves on to the next free slot");
    // Seen through WebDriver's polling, every 100 ms; the goal is a second.
    eprintln!("the slot was disabled {took:?} after the booking was acknowledged");
}

/// A server with no stream to spare refuses the page's: the page shows the slots as they are,
/// says the times may be out of date, and goes live again once a stream is free.
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn a_page_refused_a_stream_shows_the_slots_and_goes_live_later() {
    let app = spawn_app_with(|settings| {
        settings.max_streams = 1;
        settings.stream_heartbeat = std::time::Duration::from_millis(200);
    })
    .await;
    // Someone else holds the one stream.
    let other = app
        .client
        .get(app.url(&format!("/availability/stream?date={DAY}")))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    let browser = Browser::start().await;
    browser.open(&app.url(&format!("/book?date={DAY}"))).await;
    wait_for_free(&browser, "09:00").await;
    browser
        .wait_for(
            "the pause said",
            "return document.getElementById('status').textContent.includes('may be out of date');",
        )
        .await;
    drop(other);
    // The browser asks again after the refusal's retry (5 to 15 seconds).
    browser
        .wait_for(
            "live again",
            "return document.getElementById('status').textContent === 'Live updates are back.';",
        )
        .await;
    app.book(DAY, "09:00").await;
    browser
        .wait_for("09:00 disabled live", &format!("return {}.disabled;", slot_js("09:00")))
        .await;
}

/// A double click on a slot makes one hold, not two (a second would keep the slot from
/// everyone until it expired).
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn a_double_click_holds_a_slot_once() {
    let app =
        spawn_app_with(|settings| settings.schedule = schedule(chrono_tz::UTC, "09:00-17:00", 2))
            .await;
    let browser = Browser::start().await;
    browser.open(&app.url(&format!("/book?date={DAY}"))).await;
    wait_for_free(&browser, "09:00").await;
    browser
        .run(
            &format!("const b = {}; b.click(); b.click(); return null;", slot_js("09:00")),
            json!([]),
        )
        .await;
    browser
        .wait_for("the details form", "return !document.getElementById('details').hidden;")
        .await;
    let listing = app.listing(DAY, "").await;
    let nine = listing.iter().find(|s| s["time"] == "09:00").unwrap();
    assert_eq!(nine["held"], 1, "{nine}");
    browser.click("#change").await;
    let released = crate::helpers::eventually(
        || async { app.listing(DAY, "").await },
        |slots| slots.iter().any(|s| s["time"] == "09:00" && s["held"] == 0),
    )
    .await;
    assert!(
        released.iter().any(|s| s["time"] == "09:00" && s["held"] == 0),
        "Choose another time releases the hold"
    );
}

/// Tab to a free slot, Enter, type a name, Enter: booked, with no mouse.
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn a_client_books_with_the_keyboard_only() {
    let app = spawn_app().await;
    app.book(DAY, "09:00").await;
    let browser = Browser::start().await;
    browser.open(&app.url(&format!("/book?date={DAY}"))).await;
    wait_for_free(&browser, "09:30").await;
    let mut tabs = 0;
    // The first free slot of the week: Monday 09:30 (09:00 is taken, and disabled buttons
    // take no focus).
    while browser
        .run("return document.activeElement.dataset.slot ?? null;", json!([]))
        .await
        .is_null()
    {
        assert!(tabs < 20, "Tab never reached a slot");
        browser.type_keys(TAB).await;
        tabs += 1;
    }
    let focused = browser.run("return document.activeElement.dataset.slot;", json!([])).await;
    assert_eq!(focused, format!("{DAY}T09:30"));
    let ring = browser
        .run("return getComputedStyle(document.activeElement).outlineStyle;", json!([]))
        .await;
    assert_eq!(ring, "solid", "the focused slot shows a focus ring");
    browser.type_keys(ENTER).await;
    browser
        .wait_for(
            "the name field to have the focus",
            "return document.activeElement.id === 'client_name';",
        )
        .await;
    browser.type_keys(&format!("Grace Hopper{ENTER}")).await;
    let id = confirmation(&browser).await;
    let on = browser.run("return document.activeElement.id;", json!([])).await;
    assert_eq!(on, "done-title", "the focus moves to the confirmation");
    let appointment = app.appointment(&id).await;
    assert_eq!(
        (appointment["client_name"].as_str(), appointment["time"].as_str()),
        (Some("Grace Hopper"), Some("09:30"))
    );
}

/// A client whose clock is not the business's sees both: the business's time zone is named,
/// and each slot shows the client's own time beside the business's.
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn a_client_in_another_time_zone_sees_their_own_times_beside() {
    let app = spawn_app_with(|settings| {
        settings.schedule = schedule(chrono_tz::Pacific::Auckland, "09:00-17:00", 1);
    })
    .await;
    // The browser runs in UTC (see Browser::start).
    let browser = Browser::start().await;
    browser.open(&app.url(&format!("/book?date={DAY}"))).await;
    wait_for_free(&browser, "09:00").await;
    let shown = browser
        .run(
            &format!(
                "return [document.querySelector('.zones').textContent, {}.textContent];",
                slot_js("09:00")
            ),
            json!([]),
        )
        .await;
    let zones = shown[0].as_str().unwrap();
    assert!(zones.contains("Pacific/Auckland") && zones.contains("(UTC)"), "{zones}");
    // 09:00 in Auckland's summer (UTC+13) is 20:00 UTC the day before.
    assert_eq!(shown[1], "09:0020:00 yours");
    // The next week, and back.
    browser.click("nav.weeks button:last-child").await;
    browser
        .wait_for(
            "the next week",
            "return document.querySelector('button[data-slot=\"2030-01-14T09:00\"]') !== null;",
        )
        .await;
    browser.click("nav.weeks button:first-child").await;
    wait_for_free(&browser, "09:00").await;
}

/// At 360 pixels wide the week is one column and nothing runs off the side.
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn the_pages_fit_a_phone() {
    let app = salon_with_admin().await;
    app.book(DAY, "09:00").await;
    let browser = Browser::start().await;
    browser.resize(360, 780).await;
    for (path, name) in
        [(format!("/book?date={DAY}"), "book"), (format!("/admin?date={DAY}"), "admin")]
    {
        browser.open(&app.url(&path)).await;
        browser
            .wait_for(
                "the page to draw",
                "return document.querySelector('main').offsetHeight > 100;",
            )
            .await;
        if name == "book" {
            wait_for_free(&browser, "09:30").await;
        } else {
            browser.type_into("#token", &format!("{ADMIN_TOKEN}{ENTER}")).await;
            browser
                .wait_for(
                    "the agenda",
                    "return document.querySelector('li[data-appointment-id]') !== null;",
                )
                .await;
        }
        let width = browser.run("return [document.documentElement.clientWidth, document.documentElement.scrollWidth];", json!([])).await;
        let widest = browser
            .run(
                "const limit = document.documentElement.clientWidth;
                 return [...document.querySelectorAll('body *')]
                   .filter((e) => e.getBoundingClientRect().right > limit)
                   .map((e) => `${e.tagName}#${e.id}.${e.className}`).slice(0, 5);",
                json!([]),
            )
            .await;
        assert!(
            width[1].as_u64() <= width[0].as_u64(),
            "{path} scrolls sideways at 360 px: {width}; too wide: {widest}"
        );
        browser.screenshot(&format!("{name}-360")).await;
    }
}

/// The operator signs in, sees the day's appointments per resource, cancels one with a
/// reason (recorded as the operator's) and sees a booking made elsewhere appear.
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn the_dashboard_cancels_an_appointment_and_follows_new_ones() {
    let app = salon_with_admin().await;
    let ann = book_as(&app, "Ann Example", "alice", "09:00").await;
    let browser = Browser::start().await;
    browser.open(&app.url(&format!("/admin?date={DAY}"))).await;
    browser.wait_for("the sign-in form", "return !document.getElementById('signin').hidden;").await;
    assert_accessible(&browser, "/admin, sign in").await;
    browser.type_into("#token", &format!("not-the-admin-token{ENTER}")).await;
    browser
        .wait_for("the wrong token refused", "return document.getElementById('error').textContent.startsWith('That is not the admin token');")
        .await;
    let kept =
        browser.run("return sessionStorage.getItem('booking-admin-token');", json!([])).await;
    assert_eq!(kept, Value::Null, "a wrong token is not kept");
    browser.run("document.getElementById('token').value = ''; return null;", json!([])).await;
    browser.type_into("#token", &format!("{ADMIN_TOKEN}{ENTER}")).await;
    let row = format!("li[data-appointment-id=\"{ann}\"]");
    browser
        .wait_for("Ann in the agenda", &format!("return document.querySelector('{row}') !== null;"))
        .await;
    let stored = browser.run("return sessionStorage.getItem('booking-admin-token') !== null && !location.href.includes('token');", json!([])).await;
    assert_eq!(stored, true, "the token is kept in sessionStorage, never in the URL");
    assert_accessible(&browser, "/admin").await;

    // Live: a booking through the API shows up without a reload.
    let bea = book_as(&app, "Bea Example", "bob", "10:00").await;
    browser
        .wait_for(
            "Bea in the agenda",
            &format!(
                "return document.querySelector('li[data-appointment-id=\"{bea}\"]') !== null;"
            ),
        )
        .await;
    browser.screenshot("admin-1280").await;

    browser.click(&format!("#cancel-{ann}")).await;
    browser
        .wait_for(
            "the cancel form",
            &format!("return document.activeElement.id === 'reason-{ann}';"),
        )
        .await;
    browser.type_keys(&format!("The practitioner is ill{ENTER}")).await;
    browser
        .wait_for("Ann shown canceled", &format!("const li = document.querySelector('li[data-appointment-id=\"{ann}\"]'); return li && li.classList.contains('canceled');"))
        .await;
    assert_eq!(app.appointment(&ann).await["status"], "canceled");
    let on = browser
        .wait_for(
            "the focus back in the agenda",
            "return document.activeElement.id === 'agenda-title';",
        )
        .await;
    assert_eq!(on, true);
    let history: Value =
        app.admin_get(&format!("/admin/appointments/{ann}/history")).await.json().await.unwrap();
    let last = history["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["change"].as_str(), last["actor"].as_str()),
        (Some("canceled"), Some("operator")),
        "{last}"
    );
    assert_eq!(last["reason"], "The practitioner is ill");

    // Move Bea to 11:00, with Alice, for a haircut. Date and time inputs are typed in the
    // browser's locale's format, so the test sets the time as the picker would; the resource
    // and the service are chosen from the keyboard, and the services follow the resource.
    browser.click(&format!("#move-{bea}")).await;
    browser
        .run(
            &format!(
                "const t = document.getElementById('time-{bea}'); t.value = '11:00'; return null;"
            ),
            json!([]),
        )
        .await;
    let with = browser
        .run(&format!("return document.getElementById('move-resource-{bea}').value;"), json!([]))
        .await;
    assert_eq!(with, "bob", "the move form starts where the appointment is");
    browser
        .run(
            &format!("document.getElementById('move-resource-{bea}').focus(); return null;"),
            json!([]),
        )
        .await;
    browser.type_keys("Alice").await;
    let offered = browser
        .run(&format!("return [...document.getElementById('move-service-{bea}').options].map((o) => o.value);"), json!([]))
        .await;
    assert_eq!(offered, json!(["", "haircut", "colouring"]), "what Alice offers");
    browser
        .run(
            &format!("document.getElementById('move-service-{bea}').focus(); return null;"),
            json!([]),
        )
        .await;
    browser.type_keys("Haircut").await;
    browser.screenshot("admin-move").await;
    browser.click(&format!("li[data-appointment-id=\"{bea}\"] form button[type=submit]")).await;
    browser
        .wait_for("Bea at 11:00", &format!("const li = document.querySelector('li[data-appointment-id=\"{bea}\"]'); return li && li.querySelector('.when').textContent.startsWith('11:00');"))
        .await;
    assert_eq!(app.appointment(&bea).await["time"], "11:00");
    let moved = app.appointment(&bea).await;
    assert_eq!((&moved["resource"], &moved["service"]), (&json!("alice"), &json!("haircut")));
    browser
        .wait_for(
            "the focus back on Move",
            &format!("return document.activeElement.id === 'move-{bea}';"),
        )
        .await;

    // Close Bob for the afternoon: the closure is listed, and the morning's booking is not in it.
    browser
        .run(&format!("document.getElementById('closure-resource').value = 'bob'; document.getElementById('closure-from').value = '{DAY}T13:00'; document.getElementById('closure-to').value = '{DAY}T18:00'; return null;"), json!([]))
        .await;
    browser.type_into("#closure-reason", "Training").await;
    browser.click("#closure-form button[type=submit]").await;
    browser
        .wait_for(
            "the closure listed",
            "return document.getElementById('closure-list').textContent.includes('Training');",
        )
        .await;
    let closures: Value = app.admin_get("/admin/closures").await.json().await.unwrap();
    assert_eq!(closures["closures"][0]["resource"], "bob", "{closures}");
    assert_eq!(closures["closures"][0]["reason"], "Training", "{closures}");
    assert_no_other_origin(browser, &app).await;
}

/// From the confirmation's link, a client moves the booking to a free time, then cancels it.
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn a_client_moves_and_cancels_from_the_manage_page() {
    let app = spawn_app().await;
    let id = app.book(DAY, "09:00").await;
    let browser = Browser::start().await;
    browser.open(&app.url(&format!("/book/manage/{id}"))).await;
    browser.wait_for("the booking", "return !document.getElementById('actions').hidden;").await;
    assert_accessible(&browser, "/book/manage").await;
    browser.click("#move").await;
    wait_for_free(&browser, "14:00").await;
    let own = browser
        .run(&format!("return {}.classList.contains('mine');", slot_js("09:00")), json!([]))
        .await;
    assert_eq!(own, true, "the current time is marked as the client's");
    browser.click(&slot("14:00")).await;
    browser.click("#move-yes").await;
    browser
        .wait_for(
            "the move",
            "return document.getElementById('status').textContent.startsWith('Moved');",
        )
        .await;
    assert_eq!(app.appointment(&id).await["time"], "14:00");
    browser.screenshot("manage-1280").await;

    browser.click("#cancel").await;
    browser.type_into("#reason", "Feeling better").await;
    browser.click("#cancel-form button[type=submit]").await;
    browser
        .wait_for(
            "the cancel",
            "return document.getElementById('state').textContent.includes('canceled');",
        )
        .await;
    assert_eq!(app.appointment(&id).await["status"], "canceled");
    let gone = browser
        .run("return getComputedStyle(document.getElementById('actions')).display;", json!([]))
        .await;
    assert_eq!(gone, "none", "a canceled booking offers no move or cancel");
    assert_no_other_origin(browser, &app).await;
}

/// Once an appointment has started, the operator records it completed from the keyboard, with a
/// remark: the row shows it, with no action left, and the client's page says it took place.
/// One that has not started is refused with the server's reason, and stays as it was.
#[actix_web::test]
#[ignore = "needs Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver); run with --include-ignored"]
async fn the_dashboard_records_how_a_started_appointment_ended() {
    let app = salon_with_admin().await;
    let ann = book_as(&app, "Ann Example", "alice", "09:00").await;
    let bea = book_as(&app, "Bea Example", "bob", "10:00").await;
    app.set_time(&format!("{DAY}T09:10:00Z"));
    let browser = Browser::start().await;
    browser.open(&app.url(&format!("/admin?date={DAY}"))).await;
    browser.wait_for("the sign-in form", "return !document.getElementById('signin').hidden;").await;
    browser.type_into("#token", &format!("{ADMIN_TOKEN}{ENTER}")).await;
    browser
        .wait_for(
            "Ann's buttons",
            &format!("return document.getElementById('complete-{ann}') !== null;"),
        )
        .await;

    browser
        .run(&format!("document.getElementById('complete-{ann}').focus(); return null;"), json!([]))
        .await;
    browser.type_keys(ENTER).await;
    browser
        .wait_for("the remark", &format!("return document.activeElement.id === 'remark-{ann}';"))
        .await;
    browser.type_keys(&format!("Went well{ENTER}")).await;
    let row = format!("document.querySelector('li[data-appointment-id=\"{ann}\"]')");
    browser
        .wait_for("Ann shown completed", &format!("const li = {row}; return li !== null && li.querySelector('.badge')?.textContent === 'completed';"))
        .await;
    let actions =
        browser.run(&format!("return {row}.querySelectorAll('button').length;"), json!([])).await;
    assert_eq!(actions, 0, "a completed appointment offers no action");
    assert_eq!(app.appointment(&ann).await["status"], "completed");
    let history: Value =
        app.admin_get(&format!("/admin/appointments/{ann}/history")).await.json().await.unwrap();
    let last = history["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["change"], &last["actor"], &last["reason"]),
        (&json!("completed"), &json!("operator"), &json!("Went well"))
    );

    browser.click(&format!("#no-show-{bea}")).await;
    browser
        .wait_for("the remark", &format!("return document.activeElement.id === 'remark-{bea}';"))
        .await;
    browser.type_keys(ENTER).await;
    browser
        .wait_for("the refusal", "return document.getElementById('error').textContent.includes('The appointment has not started yet.');")
        .await;
    assert_eq!(app.appointment(&bea).await["status"], "scheduled");
    assert_accessible(&browser, "/admin, a completed appointment").await;
    browser.screenshot("admin-concluded").await;

    browser.open(&app.url(&format!("/book/manage/{ann}"))).await;
    browser
        .wait_for("the client's page", "return document.getElementById('state').textContent === 'This appointment took place.';")
        .await;
    let gone = browser
        .run("return getComputedStyle(document.getElementById('actions')).display;", json!([]))
        .await;
    assert_eq!(gone, "none", "a completed booking offers no move or cancel");
    assert_no_other_origin(browser, &app).await;
}

async fn book_as(app: &TestApp, name: &str, resource: &str, time: &str) -> String {
    let response = app
        .post_json(
            "/schedule",
            &json!({"client_name": name, "date": DAY, "time": time, "resource": resource}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["appointment_id"].as_str().unwrap().to_owned()
}
