//! Black-box tests of the HTTP API: each test starts the application on its own port and its own
//! SQLite file, and talks to it over HTTP.
#![expect(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod appointment;
mod availability;
mod cancel;
mod errors;
mod helpers;
mod meta;
mod process;
mod reschedule;
mod schedule;
