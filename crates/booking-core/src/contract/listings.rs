//! Reading back: usage of a span of slots, and the operator's listing of appointments.

use std::collections::BTreeMap;

use super::*;
use crate::{appointment::Status, repository::AppointmentQuery};

/// Usage includes both ends of the range, and the appointments that keep their places (all
/// but canceled ones).
pub fn usage_covers_an_inclusive_range_of_scheduled_appointments(
    repository: &dyn AppointmentRepository,
) {
    for (resource, day, hour) in
        [("alice", 7, 9), ("alice", 7, 9), ("alice", 7, 12), ("bob", 8, 9), ("alice", 9, 9)]
    {
        book(repository, place(resource, None, day, hour, 5));
    }
    let canceled = book(repository, place("alice", None, 7, 12, 5));
    cancel_on(repository, canceled.id(), now()).unwrap();
    let usage = repository.usage(None, at(7, 9, 0), at(8, 9, 0), now()).unwrap();
    let booked: BTreeMap<_, _> =
        usage.into_iter().filter(|(_, u)| u.booked > 0).map(|(key, u)| (key, u.booked)).collect();
    let expected = BTreeMap::from([
        ((slug("alice"), at(7, 9, 0)), 2),
        ((slug("alice"), at(7, 12, 0)), 1),
        ((slug("bob"), at(8, 9, 0)), 1),
    ]);
    assert_eq!(booked, expected);
    hold(repository, place("bob", None, 8, 9, 5), 5).unwrap_err();
    hold(repository, place("bob", None, 8, 10, 5), 5).unwrap();
    let bob = repository.usage(Some(&slug("bob")), at(7, 0, 0), at(9, 23, 0), now()).unwrap();
    let bob: BTreeMap<_, _> = bob.into_iter().filter(|(_, u)| *u != Usage::default()).collect();
    assert_eq!(
        bob,
        BTreeMap::from([
            ((slug("bob"), at(8, 9, 0)), Usage { booked: 1, held: 0 }),
            ((slug("bob"), at(8, 10, 0)), Usage { booked: 0, held: 1 }),
        ]),
        "one resource's usage, holds included"
    );
}

/// After a mixed run of writes, usage equals the places the appointments that keep them take:
/// scheduled ones, and those recorded afterwards as completed or a no-show.
pub fn usage_always_matches_the_scheduled_appointments(repository: &dyn AppointmentRepository) {
    let mut ids = Vec::new();
    for step in 0..40u32 {
        let service = if step % 3 == 0 { Some("colour") } else { None };
        let target =
            place(["alice", "bob"][step as usize % 2], service, 7 + step % 3, 9 + step % 4, 2);
        match step % 5 {
            0..=2 => ids.extend(try_book(repository, target).ok().map(|a| a.id())),
            3 => {
                if let Some(id) = ids.get(step as usize % ids.len().max(1)) {
                    let _refused_or_done = cancel_on(repository, *id, now());
                }
            }
            _ => {
                if let Some(id) = ids.get(step as usize * 7 % ids.len().max(1)) {
                    let _refused_or_done = reschedule_on(repository, *id, &target, &admission());
                }
            }
        }
    }
    // Once every one has started, some are recorded as how they ended (a canceled one is
    // refused, and changes nothing).
    for (n, id) in ids.iter().enumerate().filter(|(n, _)| n % 3 != 0) {
        let conclusion = if n % 2 == 0 { Conclusion::Completed } else { Conclusion::NoShow };
        let _refused_or_done = conclude_on(repository, *id, conclusion, at(10, 0, 0));
    }
    let mut expected: BTreeMap<(Slug, DateTime<Utc>), u32> = BTreeMap::new();
    for id in &ids {
        let appointment = repository.get(*id).unwrap().unwrap();
        if appointment.status().occupies() {
            for start in appointment.occupied() {
                *expected.entry((appointment.resource().clone(), *start)).or_default() += 1;
            }
        }
    }
    let usage = repository.usage(None, at(1, 0, 0), at(31, 23, 30), now()).unwrap();
    let booked: BTreeMap<_, _> =
        usage.into_iter().filter(|(_, u)| u.booked > 0).map(|(key, u)| (key, u.booked)).collect();
    assert_eq!(booked, expected);
    for ((resource, _), count) in &expected {
        assert!(
            *count <= if resource.as_str() == "alice" { 2 } else { 1 },
            "capacity exceeded: {expected:?}"
        );
    }
}

/// The operator's listing: ordered by start then id, filtered, and continued after a cursor.
pub fn appointments_are_listed_in_order_with_filters_and_cursor(
    repository: &dyn AppointmentRepository,
) {
    let mut made = Vec::new();
    for (resource, day, hour) in [("alice", 8, 9), ("bob", 7, 9), ("alice", 7, 10), ("alice", 7, 9)]
    {
        made.push(book(repository, place(resource, None, day, hour, 1)));
    }
    let canceled = cancel_on(repository, made[2].id(), now()).unwrap().outcome;
    let all =
        repository.appointments(&AppointmentQuery { limit: 10, ..Default::default() }).unwrap();
    let mut expected: Vec<_> = made.iter().map(|a| (a.slot().start(), a.id())).collect();
    expected.sort();
    assert_eq!(all.iter().map(|a| (a.slot().start(), a.id())).collect::<Vec<_>>(), expected);
    let page =
        repository.appointments(&AppointmentQuery { limit: 2, ..Default::default() }).unwrap();
    let last = page.last().unwrap();
    let rest = repository
        .appointments(&AppointmentQuery {
            limit: 10,
            after: Some((last.slot().start(), last.id())),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.len() + rest.len(), 4);
    assert_eq!(rest.first().map(|a| (a.slot().start(), a.id())), Some(expected[2]));
    let alice_scheduled = repository
        .appointments(&AppointmentQuery {
            resource: Some(slug("alice")),
            status: Some(Status::Scheduled),
            from: Some(at(7, 0, 0)),
            to: Some(at(8, 0, 0)),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(alice_scheduled, [made[3].clone()]);
    let by_name = repository
        .appointments(&AppointmentQuery {
            client: Some("AD".to_owned()),
            status: Some(Status::Canceled),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_name, [canceled]);
}
