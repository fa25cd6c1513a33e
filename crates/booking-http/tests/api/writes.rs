//! The write path as clients see it when the database cannot take a write.

use std::time::Duration;

use booking_store::test_support::SqliteWriteLock;
use reqwest::StatusCode;

use crate::helpers::{DAY, assert_problem, spawn_app_with};

/// Another process holds the database's write lock for longer than a write may wait: the
/// booking is answered 503 with `Retry-After` and never applied, not even once the lock is gone.
#[actix_web::test]
async fn a_write_that_cannot_get_the_lock_in_time_is_503_and_never_applied() {
    let app = spawn_app_with(|settings| {
        settings.store.busy_timeout = Duration::from_millis(100);
    })
    .await;
    let lock = SqliteWriteLock::take(&app.database);
    let response = app.schedule("Ada Lovelace", DAY, "10:00").await;
    assert_eq!(response.headers()["retry-after"], "1");
    let body = assert_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service temporarily unavailable.",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("nothing was changed"), "{body}");
    drop(lock);
    // A later write goes through, and the refused one was not kept for later.
    app.book(DAY, "11:00").await;
    assert_eq!(app.slot(DAY, "10:00").await.0, 0);
    assert_eq!(app.slot(DAY, "11:00").await.0, 1);
}
