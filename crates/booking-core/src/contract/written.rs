//! What every write reports: the slots whose usage it changed and the domain event, decided
//! once by the write itself.

use std::collections::BTreeSet;

use chrono::Duration;

use super::*;
use crate::{
    change::Change,
    event::{Event, EventKind},
    history::{Left, Reason},
};

fn slots(resource: &str, starts: &[DateTime<Utc>], again_at: Option<DateTime<Utc>>) -> Change {
    Change::Slots { resource: slug(resource), starts: starts.to_vec(), again_at }
}

/// Each kind of write names the slots it changed and says what happened, and when.
pub fn every_write_reports_what_it_changed_and_what_happened(
    repository: &dyn AppointmentRepository,
) {
    let colour = |hour| place("alice", Some("colour"), 7, hour, 1);
    let booked = repository.book(booking(vec![colour(9)]), admission(), None).wait().unwrap();
    let booked = done(booked);
    let appointment = booked.outcome.clone();
    assert_eq!(booked.changed, slots("alice", appointment.occupied(), None));
    assert_eq!(
        booked.event,
        Some(Event::new(now(), EventKind::Scheduled(appointment.clone()), Actor::Client))
    );

    let later = now() + Duration::minutes(1);
    let moved = repository
        .reschedule(
            appointment.id(),
            colour(10),
            schedule(1).admission(later, None),
            Actor::Operator,
            None,
        )
        .wait()
        .unwrap();
    let moved = done(moved);
    let touched = [at(7, 9, 0), at(7, 9, 30), at(7, 11, 0), at(7, 11, 30)];
    assert_eq!(moved.changed, slots("alice", &touched, None), "places left and taken, not kept");
    assert_eq!(
        moved.event,
        Some(Event::new(
            later,
            EventKind::Rescheduled {
                appointment: moved.outcome.clone(),
                from: appointment.slot(),
                left: Left::of(&appointment),
            },
            Actor::Operator,
        ))
    );
    let unchanged = reschedule_on(repository, appointment.id(), &colour(10), &admission()).unwrap();
    assert_eq!((unchanged.changed, unchanged.event), (Change::Nothing, None));

    let reason = Reason::parse("Moved away").unwrap();
    let cancellation =
        Cancellation { reason: reason.clone(), ..cancellation(appointment.id(), later) };
    let canceled = done(repository.cancel(cancellation, None).wait().unwrap());
    assert_eq!(canceled.changed, slots("alice", moved.outcome.occupied(), None));
    assert_eq!(
        canceled.event,
        Some(
            Event::new(later, EventKind::Canceled(canceled.outcome.clone()), Actor::Client)
                .because(reason)
        )
    );

    let held = repository.hold(hold_request(place("bob", None, 7, 9, 1), 5), admission()).wait();
    let held = held.unwrap();
    let expires = now() + Duration::minutes(5);
    assert_eq!(held.changed, slots("bob", &[at(7, 9, 0)], Some(expires)));
    assert_eq!(
        held.event,
        Some(Event::new(now(), EventKind::HoldTaken(held.outcome.clone()), Actor::Client))
    );
    let released = repository.release_hold(held.outcome.token.clone(), later).wait().unwrap();
    assert_eq!(released.changed, slots("bob", &[at(7, 9, 0)], None));
    assert_eq!(
        released.event,
        Some(Event::new(later, EventKind::HoldReleased(held.outcome), Actor::Client))
    );

    let closure = closure(None, at(8, 0, 0), at(9, 0, 0));
    let closed = repository.add_closure(closure.clone()).wait().unwrap();
    assert_eq!(closed.changed, Change::Everything);
    assert_eq!(
        closed.event,
        Some(Event::new(now(), EventKind::ClosureAdded(closure.clone()), Actor::Operator))
    );
    let reopened = repository.remove_closure(closure.id, later).wait().unwrap();
    assert_eq!(reopened.changed, Change::Everything);
    assert_eq!(
        reopened.event,
        Some(Event::new(later, EventKind::ClosureRemoved(closure), Actor::Operator))
    );
}

/// The slots whose usage differs before and after a write are exactly the ones it reports.
pub fn a_write_changes_the_usage_of_exactly_the_slots_it_reports(
    repository: &dyn AppointmentRepository,
) {
    let usage_now = || repository.usage(None, at(7, 0, 0), at(8, 0, 0), now()).unwrap();
    let check = |before: crate::admission::UsageMap, changed: &Change| {
        let after = usage_now();
        let keys: BTreeSet<_> = before.keys().chain(after.keys()).cloned().collect();
        let differing: BTreeSet<_> = keys
            .into_iter()
            .filter(|key| {
                before.get(key).copied().unwrap_or_default()
                    != after.get(key).copied().unwrap_or_default()
            })
            .collect();
        let reported: BTreeSet<_> = match changed {
            Change::Slots { resource, starts, .. } => {
                starts.iter().map(|start| (resource.clone(), *start)).collect()
            }
            other => panic!("a write of places reported {other:?}"),
        };
        assert_eq!(differing, reported);
    };
    book(repository, place("alice", None, 7, 11, 2));
    let before = usage_now();
    let booked = done(
        repository
            .book(booking(vec![place("alice", Some("colour"), 7, 10, 2)]), admission(), None)
            .wait()
            .unwrap(),
    );
    check(before, &booked.changed);
    let before = usage_now();
    let moved = reschedule_on(
        repository,
        booked.outcome.id(),
        &place("alice", Some("colour"), 7, 11, 2),
        &admission(),
    )
    .unwrap();
    check(before, &moved.changed);
    let before = usage_now();
    let held = repository.hold(hold_request(place("alice", None, 7, 15, 2), 5), admission()).wait();
    check(before, &held.unwrap().changed);
    let before = usage_now();
    check(before, &cancel_on(repository, booked.outcome.id(), now()).unwrap().changed);
}
