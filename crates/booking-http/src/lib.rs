//! The booking service's HTTP API: configuration, the actix-web application and its handlers.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod config;
pub mod config_file;
pub mod cors;
pub mod error;
pub mod events;
pub mod ics;
pub mod language;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod outbox;
pub mod panics;
pub mod request_id;
pub mod routes;
pub mod startup;
pub mod sweep;
pub mod telemetry;
pub mod webhooks;
