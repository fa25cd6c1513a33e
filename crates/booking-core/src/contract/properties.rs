//! Properties that must hold for any schedule and any sequence of requests, on any store: run
//! against each with [`repository_property_tests!`](crate::repository_property_tests).
//!
//! The stores differ in how they judge a write (the in-memory one in Rust, the SQL ones in a
//! transaction that reads what it locks); these properties are what makes them one rule: what
//! the listing offers is exactly what booking accepts, and no sequence of writes overfills a
//! slot or brings back a canceled appointment.

use std::{any::Any, collections::HashMap, num::NonZeroU16, sync::Arc};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};

use crate::{
    appointment::{AppointmentId, Status},
    availability::DateRange,
    catalog::{Resource, Service, Slug},
    client::ClientName,
    clock::ManualClock,
    repository::{AppointmentRepository, BookFailure},
    schedule::Schedule,
    service::{BookRequest, BookingService, PlacementError, SlotRequest},
    storage::WriteError,
    units::{Capacity, Slot, SlotLength},
};

/// A fresh, empty store, and whatever must live as long as it (its directory, its schema).
pub type Fresh = (Arc<dyn AppointmentRepository>, Box<dyn Any>);

/// Generates one `#[test]` per property, each running `$cases` cases against a fresh store
/// made by `$make` (an expression of type [`Fresh`]); `#[$attribute]` goes on every test.
#[macro_export]
macro_rules! repository_property_tests {
    (#[$attribute:meta] cases = $cases:expr, $make:expr) => {
        #[test]
        #[$attribute]
        fn capacity_holds_and_cancellation_is_final() {
            $crate::contract::properties::capacity_holds_and_cancellation_is_final($cases, || {
                $make
            });
        }

        #[test]
        #[$attribute]
        fn listing_and_booking_agree() {
            $crate::contract::properties::listing_and_booking_agree($cases, || $make);
        }
    };
    (cases = $cases:expr, $make:expr) => {
        // `cfg(all())` is always true: the attribute that changes nothing.
        $crate::repository_property_tests!(
            #[cfg(all())]
            cases = $cases,
            $make
        );
    };
}

const FIRST_DAY: &str = "2030-03-25";

fn day(offset: u32) -> NaiveDate {
    FIRST_DAY.parse::<NaiveDate>().unwrap() + Duration::days(i64::from(offset))
}

/// Opening hours 09:00-12:00, so a slot index picks one of six half-hour starts.
fn time(index: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(9 + index / 2, (index % 2) * 30, 0).unwrap()
}

fn slug(text: &str) -> Slug {
    text.parse().unwrap()
}

/// Berlin (the week around 2030-03-31 crosses a daylight-saving change); resources `alice`
/// (capacity `capacity`) and `bob` (capacity 1); service `long`: two slots and a cleanup slot.
fn schedule(capacity: u32, notice_hours: i64, horizon_days: Option<i64>) -> Schedule {
    let resource = |name: &str, capacity: u32| Resource {
        slug: slug(name),
        name: name.to_owned(),
        hours: "09:00-12:00".parse().unwrap(),
        capacity: Capacity::new(capacity).unwrap(),
    };
    let long = Service {
        slug: slug("long"),
        name: "Long".to_owned(),
        slots: NonZeroU16::new(2).unwrap(),
        resources: vec![slug("bob"), slug("alice")],
        buffer_before: 0,
        buffer_after: 1,
        min_notice: None,
        horizon: None,
    };
    Schedule::new(
        chrono_tz::Europe::Berlin,
        Default::default(),
        SlotLength::from_minutes(30).unwrap(),
        Capacity::new(1).unwrap(),
    )
    .with_catalog(vec![resource("alice", capacity), resource("bob", 1)], vec![long])
    .unwrap()
    .with_min_notice(Duration::hours(notice_hours))
    .with_horizon(horizon_days.map(Duration::days))
}

fn request(
    date: NaiveDate,
    time: NaiveTime,
    resource: Option<&str>,
    service: Option<&str>,
) -> BookRequest {
    BookRequest {
        client_name: ClientName::parse("Prop Tester").unwrap(),
        notes: None,
        contact: Default::default(),
        slot: SlotRequest { date, time, resource: resource.map(slug), service: service.map(slug) },
        hold: None,
    }
}

/// One request of a generated sequence.
#[derive(Debug, Clone)]
pub enum Op {
    /// Book a slot (of a resource, or any), for one slot or the long service.
    Book {
        /// Day offset from the first day.
        day: u32,
        /// Slot index.
        slot: u32,
        /// The resource asked for.
        resource: Option<&'static str>,
        /// Whether for the long service.
        long: bool,
    },
    /// Hold a slot.
    Hold {
        /// Day offset.
        day: u32,
        /// Slot index.
        slot: u32,
    },
    /// Cancel one of the appointments booked so far.
    Cancel {
        /// Which (modulo how many).
        pick: usize,
    },
    /// Move one of the appointments booked so far.
    Reschedule {
        /// Which (modulo how many).
        pick: usize,
        /// Day offset.
        day: u32,
        /// Slot index.
        slot: u32,
    },
    /// Let time pass.
    Wait {
        /// How long.
        minutes: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let resource = prop_oneof![Just(None), Just(Some("alice")), Just(Some("bob"))];
    prop_oneof![
        4 => (0..7u32, 0..6u32, resource, any::<bool>())
            .prop_map(|(day, slot, resource, long)| Op::Book { day, slot, resource, long }),
        1 => (0..7u32, 0..6u32).prop_map(|(day, slot)| Op::Hold { day, slot }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        2 => (any::<usize>(), 0..7u32, 0..6u32)
            .prop_map(|(pick, day, slot)| Op::Reschedule { pick, day, slot }),
        1 => (0..600i64).prop_map(|minutes| Op::Wait { minutes }),
    ]
}

/// Runs `property` for the `known` inputs, then for `cases` generated ones, each on a fresh
/// store from `make`; panics with the (smallest) failing input.
fn check<S: Strategy>(
    cases: u32,
    known: Vec<S::Value>,
    inputs: S,
    make: impl Fn() -> Fresh,
    property: impl Fn(Arc<dyn AppointmentRepository>, S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug + Clone,
{
    for input in known {
        let (repository, _keep) = make();
        if let Err(failure) = property(repository, input.clone()) {
            panic!("{failure}: {input:?}");
        }
    }
    // No regression file: these run in other crates, against stores where each shrinking step
    // makes a database; cases that once failed are written out in `KNOWN_SCENES`.
    let config =
        Config { cases, failure_persistence: None, max_shrink_iters: 256, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&inputs, |input| {
        let (repository, _keep) = make();
        property(repository, input)
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// No sequence of bookings, holds, cancellations, moves and waiting overfills a slot of any
/// resource, and nothing canceled ever comes back.
pub fn capacity_holds_and_cancellation_is_final(cases: u32, make: impl Fn() -> Fresh) {
    let inputs = (1..4u32, prop::collection::vec(op(), 1..60));
    check(cases, Vec::new(), inputs, make, |repository, (capacity, ops)| {
        let clock = Arc::new(ManualClock::new("2030-03-24T12:00:00Z".parse().unwrap()));
        let service = BookingService::new(repository, clock.clone(), schedule(capacity, 0, None));
        let mut ids: Vec<AppointmentId> = Vec::new();
        let mut canceled: HashMap<AppointmentId, DateTime<Utc>> = HashMap::new();
        for op in ops {
            match op {
                Op::Book { day: d, slot, resource, long } => {
                    let service_slug = long.then_some("long");
                    let booking = request(day(d), time(slot), resource, service_slug);
                    if let Ok(Ok(booked)) = service.book(booking, None).map(|p| p.wait()) {
                        ids.push(booked.done().unwrap().outcome.id());
                    }
                }
                Op::Hold { day: d, slot } => {
                    let slot = request(day(d), time(slot), None, None).slot;
                    let _held_or_refused = service.hold(&slot, None).map(|p| p.wait());
                }
                Op::Cancel { pick } if !ids.is_empty() => {
                    if let Ok(outcome) = service.cancel(ids[pick % ids.len()], None, None).wait() {
                        let appointment = outcome.done().unwrap().outcome;
                        canceled.insert(appointment.id(), appointment.slot().start());
                    }
                }
                Op::Reschedule { pick, day: d, slot } if !ids.is_empty() => {
                    let id = ids[pick % ids.len()];
                    let moved = service.reschedule(id, day(d), time(slot), None).map(|p| p.wait());
                    prop_assert!(
                        !(canceled.contains_key(&id) && matches!(moved, Ok(Ok(_)))),
                        "a canceled appointment moved"
                    );
                }
                Op::Wait { minutes } => clock.advance(Duration::minutes(minutes)),
                Op::Cancel { .. } | Op::Reschedule { .. } => {}
            }
            let week = DateRange::new(day(0), day(6)).unwrap();
            let listing = service.availability(week, None, None).unwrap();
            for slot in &listing.slots {
                let limit = if slot.resource.as_str() == "alice" { capacity } else { 1 };
                prop_assert!(
                    slot.usage.booked <= limit,
                    "{:?} holds {} > {}",
                    slot.slot,
                    slot.usage.booked,
                    limit
                );
                prop_assert!(
                    slot.usage.booked + slot.usage.held <= limit,
                    "{:?} over capacity with holds",
                    slot.slot
                );
            }
            for (id, start) in &canceled {
                let appointment = service.appointment(*id).unwrap().unwrap();
                prop_assert_eq!(appointment.status(), Status::Canceled);
                prop_assert_eq!(appointment.slot().start(), *start);
            }
        }
        Ok(())
    });
}

/// What a store holds before the listing is judged: bookings and holds made earlier, and
/// perhaps a closure.
#[derive(Debug, Clone)]
pub struct Scene {
    capacity: u32,
    notice_hours: i64,
    horizon_days: Option<i64>,
    minutes_after_start: i64,
    long: bool,
    prebooked: Vec<(u32, u32, bool)>,
    closure: Option<(u32, u32, u32, bool)>,
}

fn scene() -> impl Strategy<Value = Scene> {
    (
        1..3u32,
        0..30i64,
        prop::option::of(1..6i64),
        0..(7 * 24 * 60i64),
        any::<bool>(),
        prop::collection::vec((0..7u32, 0..6u32, any::<bool>()), 0..30),
        prop::option::of((0..7u32, 0..6u32, 1..4u32, any::<bool>())),
    )
        .prop_map(
            |(
                capacity,
                notice_hours,
                horizon_days,
                minutes_after_start,
                long,
                prebooked,
                closure,
            )| Scene {
                capacity,
                notice_hours,
                horizon_days,
                minutes_after_start,
                long,
                prebooked,
                closure,
            },
        )
}

/// Scenes that once broke the property (a long service on an empty store, judged at the first
/// instant of the week), tried before the generated ones.
fn known_scenes() -> Vec<Scene> {
    vec![Scene {
        capacity: 1,
        notice_hours: 0,
        horizon_days: None,
        minutes_after_start: 0,
        long: true,
        prebooked: Vec::new(),
        closure: None,
    }]
}

/// Every slot the listing calls available can be booked at that moment, and every slot it
/// calls unavailable is refused for the reason it gave, for any resource and service.
pub fn listing_and_booking_agree(cases: u32, make: impl Fn() -> Fresh) {
    check(cases, known_scenes(), scene(), make, |repository, scene| {
        let Scene { capacity, long, .. } = scene;
        let start: DateTime<Utc> = "2030-03-25T00:00:00Z".parse().unwrap();
        let clock = Arc::new(ManualClock::new(start - Duration::days(1)));
        let filler =
            BookingService::new(repository.clone(), clock.clone(), schedule(capacity, 0, None));
        for (d, slot, hold) in scene.prebooked {
            if hold {
                let slot = request(day(d), time(slot), None, None).slot;
                let _held_or_refused = filler.hold(&slot, None).map(|p| p.wait());
            } else {
                let booking = request(day(d), time(slot), None, Some("long"));
                let _full_or_booked = filler.book(booking, None).map(|p| p.wait());
            }
        }
        if let Some((d, slot, length, everyone)) = scene.closure {
            let from = filler.schedule().instant_of(day(d).and_time(time(slot))).unwrap();
            let period = Slot::new(from, from + Duration::minutes(30 * i64::from(length))).unwrap();
            filler.close((!everyone).then(|| slug("alice")), period, None).unwrap().wait().unwrap();
        }
        // The same store, seen at a later moment through the schedule under test.
        clock.set(start + Duration::minutes(scene.minutes_after_start));
        let judged = schedule(capacity, scene.notice_hours, scene.horizon_days);
        let service = BookingService::new(repository, clock, judged);
        let service_slug = long.then(|| slug("long"));
        let week = DateRange::new(day(0), day(6)).unwrap();
        let listing = service.availability(week, None, service_slug.as_ref()).unwrap();
        for listed in listing.slots {
            let booking = request(
                listed.date,
                listed.time,
                Some(listed.resource.as_str()),
                long.then_some("long"),
            );
            let outcome = service
                .book(booking, None)
                .map(|pending| pending.wait().map(|outcome| outcome.done().unwrap().outcome));
            match (listed.status, outcome) {
                (Ok(()), Ok(Ok(appointment))) => {
                    prop_assert_eq!(appointment.slot().start(), listed.slot.start());
                    // Give the places back so that the next slot is tried against the store
                    // the listing saw.
                    service.cancel(appointment.id(), None, None).wait().unwrap();
                }
                (Err(reason), Ok(Err(WriteError::Refused(BookFailure::Unavailable(refused))))) => {
                    prop_assert_eq!(reason, refused);
                }
                (Err(reason), Err(PlacementError::Unavailable(refused))) => {
                    prop_assert_eq!(reason, refused);
                }
                (Err(reason), Err(PlacementError::InvalidSlot(_))) => {
                    prop_assert_eq!(reason.reason(), "outside_hours");
                }
                (listed, outcome) => {
                    prop_assert!(false, "listed {:?} but booking gave {:?}", listed, outcome);
                }
            }
        }
        Ok(())
    });
}
