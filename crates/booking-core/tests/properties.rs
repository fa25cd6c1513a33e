//! Properties that must hold for any schedule and any sequence of requests.
#![expect(clippy::unwrap_used, reason = "test code")]

use std::{collections::HashMap, sync::Arc};

use booking_core::{
    appointment::{AppointmentId, Status},
    availability::DateRange,
    client::ClientName,
    clock::ManualClock,
    memory::InMemoryRepository,
    schedule::{Capacity, Schedule, SlotLength},
    service::{BookError, BookRequest, BookingService},
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

fn service(
    repository: &Arc<InMemoryRepository>,
    capacity: u32,
    notice_hours: i64,
    horizon_days: Option<i64>,
    clock: &Arc<ManualClock>,
) -> BookingService {
    // Berlin, so the week around 2030-03-31 crosses a daylight-saving change.
    let schedule = Schedule::new(
        chrono_tz::Europe::Berlin,
        "09:00-12:00".parse().unwrap(),
        SlotLength::from_minutes(30).unwrap(),
        Capacity::new(capacity).unwrap(),
    )
    .with_min_notice(Duration::hours(notice_hours))
    .with_horizon(horizon_days.map(Duration::days));
    BookingService::new(repository.clone(), clock.clone(), schedule)
}

fn request(date: NaiveDate, time: NaiveTime) -> BookRequest {
    BookRequest { client_name: ClientName::parse("Prop Tester").unwrap(), notes: None, date, time }
}

#[derive(Debug, Clone)]
enum Op {
    Book { day: u32, slot: u32 },
    Cancel { pick: usize },
    Reschedule { pick: usize, day: u32, slot: u32 },
    Wait { minutes: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..7u32, 0..6u32).prop_map(|(day, slot)| Op::Book { day, slot }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        2 => (any::<usize>(), 0..7u32, 0..6u32).prop_map(|(pick, day, slot)| Op::Reschedule { pick, day, slot }),
        1 => (0..600i64).prop_map(|minutes| Op::Wait { minutes }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// No sequence of bookings, cancellations, moves and waiting overfills a slot, and nothing
    /// canceled ever comes back.
    #[test]
    fn capacity_holds_and_cancellation_is_final(capacity in 1..4u32, ops in prop::collection::vec(op(), 1..80)) {
        let clock = Arc::new(ManualClock::new("2030-03-24T12:00:00Z".parse().unwrap()));
        let service = service(&Arc::default(), capacity, 0, None, &clock);
        let mut ids: Vec<AppointmentId> = Vec::new();
        let mut canceled: HashMap<AppointmentId, DateTime<Utc>> = HashMap::new();
        for op in ops {
            match op {
                Op::Book { day: d, slot } => {
                    if let Ok(appointment) = service.book(request(day(d), time(slot))) {
                        ids.push(appointment.id());
                    }
                }
                Op::Cancel { pick } if !ids.is_empty() => {
                    if let Ok(appointment) = service.cancel(ids[pick % ids.len()]) {
                        canceled.insert(appointment.id(), appointment.slot().start());
                    }
                }
                Op::Reschedule { pick, day: d, slot } if !ids.is_empty() => {
                    let id = ids[pick % ids.len()];
                    let moved = service.reschedule(id, day(d), time(slot));
                    prop_assert!(!(canceled.contains_key(&id) && moved.is_ok()), "a canceled appointment moved");
                }
                Op::Wait { minutes } => clock.advance(Duration::minutes(minutes)),
                Op::Cancel { .. } | Op::Reschedule { .. } => {}
            }
            let listing = service.availability(DateRange::new(day(0), day(6)).unwrap()).unwrap();
            for slot in &listing.slots {
                prop_assert!(slot.booked <= capacity, "slot {:?} holds {} > {}", slot.slot, slot.booked, capacity);
            }
            for (id, start) in &canceled {
                let appointment = service.appointment(*id).unwrap().unwrap();
                prop_assert_eq!(appointment.status(), Status::Canceled);
                prop_assert_eq!(appointment.slot().start(), *start);
            }
        }
    }

    /// Every slot the listing calls available can be booked at that moment, and every slot it
    /// calls unavailable is refused for the reason it gave.
    #[test]
    fn listing_and_booking_agree(
        capacity in 1..3u32,
        notice_hours in 0..30i64,
        horizon_days in prop::option::of(1..6i64),
        minutes_after_start in 0..(7 * 24 * 60i64),
        prebooked in prop::collection::vec((0..7u32, 0..6u32), 0..30),
    ) {
        let start: DateTime<Utc> = "2030-03-25T00:00:00Z".parse().unwrap();
        let clock = Arc::new(ManualClock::new(start - Duration::days(1)));
        let repository = Arc::default();
        let filler = service(&repository, capacity, 0, None, &clock);
        for (d, slot) in prebooked {
            let _full_or_booked = filler.book(request(day(d), time(slot)));
        }
        // The same store, seen at a later moment through the schedule under test.
        clock.set(start + Duration::minutes(minutes_after_start));
        let service = service(&repository, capacity, notice_hours, horizon_days, &clock);
        let listing = service.availability(DateRange::new(day(0), day(6)).unwrap()).unwrap();
        for listed in listing.slots {
            let local = service.schedule().local(listed.slot.start());
            let outcome = service.book(request(local.date(), local.time()));
            match (listed.status, outcome) {
                (Ok(()), Ok(appointment)) => prop_assert_eq!(appointment.slot(), listed.slot),
                (Err(listed_reason), Err(BookError::Unavailable(refused))) => prop_assert_eq!(listed_reason, refused),
                (listed, outcome) => prop_assert!(false, "listed {:?} but booking gave {:?}", listed, outcome),
            }
        }
    }
}
