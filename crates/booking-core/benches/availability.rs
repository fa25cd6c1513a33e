//! The availability computation and the booking decision, without any store: a month of 20
//! resources with 10 000 appointments.
#![expect(clippy::unwrap_used, reason = "benchmark fixtures")]

use std::{hint::black_box, sync::Arc};

use booking_core::{
    availability::DateRange,
    catalog::Resource,
    client::ClientName,
    clock::ManualClock,
    memory::InMemoryRepository,
    schedule::Schedule,
    service::{BookRequest, BookingService, SlotRequest},
    units::{Capacity, SlotLength},
};
use chrono::{NaiveDate, NaiveTime};
use criterion::{Criterion, criterion_group, criterion_main};

const RESOURCES: usize = 20;
const APPOINTMENTS: usize = 10_000;

fn salon() -> BookingService {
    let resources: Vec<Resource> = (0..RESOURCES)
        .map(|n| Resource {
            slug: format!("r{n}").parse().unwrap(),
            name: format!("Resource {n}"),
            hours: "mon-sat 08:00-12:00,13:00-19:00".parse().unwrap(),
            capacity: Capacity::new(1).unwrap(),
        })
        .collect();
    let schedule = Schedule::new(
        chrono_tz::Europe::Berlin,
        Default::default(),
        SlotLength::from_minutes(30).unwrap(),
        Capacity::new(1).unwrap(),
    )
    .with_catalog(resources, Vec::new())
    .unwrap();
    let clock = Arc::new(ManualClock::new("2030-01-01T00:00:00Z".parse().unwrap()));
    let service = BookingService::new(Arc::new(InMemoryRepository::new()), clock, schedule);
    // Fill every slot of every resource, day after day, until 10 000 are booked.
    let first: NaiveDate = "2030-01-07".parse().unwrap();
    let schedule = service.schedule().clone();
    let mut booked = 0;
    'days: for date in first.iter_days().take(60) {
        for resource in schedule.resources() {
            for (time, _) in schedule.slots_on(date, resource) {
                let request = BookRequest {
                    client_name: ClientName::parse("Bench").unwrap(),
                    notes: None,
                    contact: Default::default(),
                    slot: SlotRequest {
                        date,
                        time,
                        resource: Some(resource.slug.clone()),
                        service: None,
                    },
                    hold: None,
                };
                service.book(request, None).unwrap().wait().unwrap();
                booked += 1;
                if booked == APPOINTMENTS {
                    break 'days;
                }
            }
        }
    }
    service
}

fn benches(c: &mut Criterion) {
    let service = salon();
    let month =
        DateRange::new("2030-01-07".parse().unwrap(), "2030-02-05".parse().unwrap()).unwrap();
    c.bench_function("availability: a month, 20 resources, 10k appointments", |b| {
        b.iter(|| black_box(service.availability(black_box(month), None, None).unwrap()))
    });
    let week =
        DateRange::new("2030-01-07".parse().unwrap(), "2030-01-13".parse().unwrap()).unwrap();
    let plan = service.plan_availability(week, None, None).unwrap();
    let (usage, closures) = service.read_availability(&plan).unwrap();
    c.bench_function("availability: judging a week (no store)", |b| {
        b.iter(|| black_box(service.judge(plan.clone(), black_box(&usage), &closures)))
    });
    let schedule = service.schedule();
    let resource = &schedule.resources()[3];
    let admission = schedule.admission("2030-01-01T00:00:00Z".parse().unwrap(), None);
    c.bench_function("booking decision: place and admit one slot", |b| {
        b.iter(|| {
            let placement = schedule
                .place(
                    black_box("2030-01-08".parse().unwrap()),
                    NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
                    resource,
                    None,
                )
                .unwrap();
            black_box(admission.check(&placement, &closures, &usage))
        })
    });
}

criterion_group!(availability, benches);
criterion_main!(availability);
