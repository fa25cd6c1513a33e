//! The appointment booking domain, free of I/O: a business's schedule, which slots exist and
//! which can be booked, the appointment state machine, and the storage port that stores
//! implement.
//!
//! ```
//! use std::sync::Arc;
//! use booking_core::{
//!     clock::ManualClock, memory::InMemoryRepository, schedule::Schedule,
//!     service::{BookRequest, BookingService, SlotRequest}, client::ClientName,
//! };
//!
//! let clock = Arc::new(ManualClock::new("2030-01-01T00:00:00Z".parse().unwrap()));
//! let service = BookingService::new(Arc::new(InMemoryRepository::new()), clock, Schedule::default());
//! let appointment = service.book(BookRequest {
//!     client_name: ClientName::parse("Ada Lovelace").unwrap(),
//!     notes: None,
//!     contact: Default::default(),
//!     slot: SlotRequest {
//!         date: "2030-01-02".parse().unwrap(),
//!         time: "10:00:00".parse().unwrap(),
//!         resource: None,
//!         service: None,
//!     },
//!     hold: None,
//! }, None).unwrap().wait().unwrap().done().unwrap();
//! assert_eq!(service.appointment(appointment.outcome.id()).unwrap(), Some(appointment.outcome));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admission;
pub mod appointment;
pub mod availability;
pub mod calendar;
pub mod catalog;
pub mod change;
pub mod client;
pub mod clock;
pub mod closure;
pub mod contact;
#[cfg(any(test, feature = "contract"))]
pub mod contract;
pub mod event;
pub mod history;
pub mod hold;
pub mod hours;
pub mod idempotency;
pub mod memory;
pub mod notification;
pub mod pending;
pub mod placement;
pub mod repository;
pub mod schedule;
pub mod service;
pub mod storage;
pub mod stranded;
pub mod units;
pub mod webhook;
