//! Properties that must hold for any schedule and any sequence of requests.
#![expect(clippy::unwrap_used, reason = "test code")]

use std::{collections::HashMap, num::NonZeroU16, sync::Arc};

use booking_core::{
    appointment::{AppointmentId, Status},
    availability::DateRange,
    catalog::{Resource, Service, Slug},
    client::ClientName,
    clock::ManualClock,
    memory::InMemoryRepository,
    repository::BookFailure,
    schedule::Schedule,
    service::{BookRequest, BookingService, PlacementError, SlotRequest},
    storage::WriteError,
    units::{Capacity, Slot, SlotLength},
};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use proptest::prelude::*;

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
        slot: SlotRequest { date, time, resource: resource.map(slug), service: service.map(slug) },
        hold: None,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Book { day: u32, slot: u32, resource: Option<&'static str>, long: bool },
    Hold { day: u32, slot: u32 },
    Cancel { pick: usize },
    Reschedule { pick: usize, day: u32, slot: u32 },
    Wait { minutes: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    let resource = prop_oneof![Just(None), Just(Some("alice")), Just(Some("bob"))];
    prop_oneof![
        4 => (0..7u32, 0..6u32, resource, any::<bool>()).prop_map(|(day, slot, resource, long)| Op::Book { day, slot, resource, long }),
        1 => (0..7u32, 0..6u32).prop_map(|(day, slot)| Op::Hold { day, slot }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        2 => (any::<usize>(), 0..7u32, 0..6u32).prop_map(|(pick, day, slot)| Op::Reschedule { pick, day, slot }),
        1 => (0..600i64).prop_map(|minutes| Op::Wait { minutes }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// No sequence of bookings, holds, cancellations, moves and waiting overfills a slot of any
    /// resource, and nothing canceled ever comes back.
    #[test]
    fn capacity_holds_and_cancellation_is_final(capacity in 1..4u32, ops in prop::collection::vec(op(), 1..60)) {
        let clock = Arc::new(ManualClock::new("2030-03-24T12:00:00Z".parse().unwrap()));
        let service = BookingService::new(Arc::new(InMemoryRepository::new()), clock.clone(), schedule(capacity, 0, None));
        let mut ids: Vec<AppointmentId> = Vec::new();
        let mut canceled: HashMap<AppointmentId, DateTime<Utc>> = HashMap::new();
        for op in ops {
            match op {
                Op::Book { day: d, slot, resource, long } => {
                    let service_slug = long.then_some("long");
                    if let Ok(Ok(booked)) = service.book(request(day(d), time(slot), resource, service_slug), None).map(|p| p.wait()) {
                        ids.push(booked.done().unwrap().outcome.id());
                    }
                }
                Op::Hold { day: d, slot } => {
                    let _held_or_refused = service.hold(&request(day(d), time(slot), None, None).slot, None).map(|p| p.wait());
                }
                Op::Cancel { pick } if !ids.is_empty() => {
                    if let Ok(outcome) = service.cancel(ids[pick % ids.len()], None).wait() {
                        let appointment = outcome.done().unwrap().outcome;
                        canceled.insert(appointment.id(), appointment.slot().start());
                    }
                }
                Op::Reschedule { pick, day: d, slot } if !ids.is_empty() => {
                    let id = ids[pick % ids.len()];
                    let moved = service.reschedule(id, day(d), time(slot), None).map(|p| p.wait());
                    prop_assert!(!(canceled.contains_key(&id) && matches!(moved, Ok(Ok(_)))), "a canceled appointment moved");
                }
                Op::Wait { minutes } => clock.advance(Duration::minutes(minutes)),
                Op::Cancel { .. } | Op::Reschedule { .. } => {}
            }
            let listing = service.availability(DateRange::new(day(0), day(6)).unwrap(), None, None).unwrap();
            for slot in &listing.slots {
                let limit = if slot.resource.as_str() == "alice" { capacity } else { 1 };
                prop_assert!(slot.usage.booked <= limit, "{:?} holds {} > {}", slot.slot, slot.usage.booked, limit);
                prop_assert!(slot.usage.booked + slot.usage.held <= limit, "{:?} over capacity with holds", slot.slot);
            }
            for (id, start) in &canceled {
                let appointment = service.appointment(*id).unwrap().unwrap();
                prop_assert_eq!(appointment.status(), Status::Canceled);
                prop_assert_eq!(appointment.slot().start(), *start);
            }
        }
    }

    /// Every slot the listing calls available can be booked at that moment, and every slot it
    /// calls unavailable is refused for the reason it gave, for any resource and service.
    #[test]
    fn listing_and_booking_agree(
        capacity in 1..3u32,
        notice_hours in 0..30i64,
        horizon_days in prop::option::of(1..6i64),
        minutes_after_start in 0..(7 * 24 * 60i64),
        long in any::<bool>(),
        prebooked in prop::collection::vec((0..7u32, 0..6u32, any::<bool>()), 0..30),
        closure in prop::option::of((0..7u32, 0..6u32, 1..4u32, any::<bool>())),
    ) {
        let start: DateTime<Utc> = "2030-03-25T00:00:00Z".parse().unwrap();
        let clock = Arc::new(ManualClock::new(start - Duration::days(1)));
        let repository = Arc::new(InMemoryRepository::new());
        let filler = BookingService::new(repository.clone(), clock.clone(), schedule(capacity, 0, None));
        for (d, slot, hold) in prebooked {
            if hold {
                let _held_or_refused = filler.hold(&request(day(d), time(slot), None, None).slot, None).map(|p| p.wait());
            } else {
                let _full_or_booked = filler.book(request(day(d), time(slot), None, Some("long")), None).map(|p| p.wait());
            }
        }
        if let Some((d, slot, length, everyone)) = closure {
            let from = filler.schedule().instant_of(day(d).and_time(time(slot))).unwrap();
            let period = Slot::new(from, from + Duration::minutes(30 * i64::from(length))).unwrap();
            filler.close((!everyone).then(|| slug("alice")), period, None).unwrap().wait().unwrap();
        }
        // The same store, seen at a later moment through the schedule under test.
        clock.set(start + Duration::minutes(minutes_after_start));
        let service = BookingService::new(repository, clock, schedule(capacity, notice_hours, horizon_days));
        let service_slug = long.then(|| slug("long"));
        let listing = service.availability(DateRange::new(day(0), day(6)).unwrap(), None, service_slug.as_ref()).unwrap();
        for listed in listing.slots {
            let outcome = service
                .book(request(listed.date, listed.time, Some(listed.resource.as_str()), long.then_some("long")), None)
                .map(|pending| pending.wait().map(|outcome| outcome.done().unwrap().outcome));
            match (listed.status, outcome) {
                (Ok(()), Ok(Ok(appointment))) => {
                    prop_assert_eq!(appointment.slot().start(), listed.slot.start());
                    // Give the places back so that the next slot is tried against the store
                    // the listing saw.
                    service.cancel(appointment.id(), None).wait().unwrap();
                }
                (Err(reason), Ok(Err(WriteError::Refused(BookFailure::Unavailable(refused))))) => prop_assert_eq!(reason, refused),
                (Err(reason), Err(PlacementError::Unavailable(refused))) => prop_assert_eq!(reason, refused),
                (Err(reason), Err(PlacementError::InvalidSlot(_))) => {
                    prop_assert_eq!(reason.reason(), "outside_hours");
                }
                (listed, outcome) => prop_assert!(false, "listed {:?} but booking gave {:?}", listed, outcome),
            }
        }
    }
}
