//! Black-box tests of the HTTP API: each test starts the application on its own port and its own
//! SQLite file, and talks to it over HTTP.
#![expect(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod admin;
mod appointment;
mod availability;
mod browser;
mod calendar;
mod calendar_admin;
mod cancel;
mod catalog;
mod cors;
mod docs;
mod errors;
mod fuzz;
mod helpers;
mod history;
mod holds;
mod idempotency;
mod limits;
mod meta;
mod notifications;
mod pages;
#[cfg(feature = "postgres")]
mod postgres;
mod process;
mod request_ids;
mod reschedule;
mod schedule;
mod stream;
mod webhooks;
mod writes;
