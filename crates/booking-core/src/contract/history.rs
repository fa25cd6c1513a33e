//! History: every write that changes an appointment records the change, who made it and why,
//! with the change itself; a refused, replayed or empty write records nothing.

use chrono::Duration;

use super::*;
use crate::history::{Entry, Left, Reason, Transition};

fn history_of(repository: &dyn AppointmentRepository, id: AppointmentId) -> Vec<Entry> {
    repository.history(id).unwrap().unwrap_or_else(|| panic!("{id} has no history"))
}

fn entry(at: DateTime<Utc>, change: Transition, slot: Slot, by: Actor) -> Entry {
    Entry { at, change, slot, by, reason: None, left: None }
}

/// A move's entry: from `from` on the resource and for the service `left` names.
fn move_entry(
    at: DateTime<Utc>,
    from: Slot,
    slot: Slot,
    by: Actor,
    left: (&str, Option<&str>),
) -> Entry {
    let left = Left { resource: slug(left.0), service: left.1.map(slug) };
    Entry { left: Some(left), ..entry(at, Transition::Rescheduled { from }, slot, by) }
}

/// Book, move, move to the same slot, cancel: three entries, in order, each with its time,
/// its actor and its reason.
pub fn the_history_lists_each_change_in_order(repository: &dyn AppointmentRepository) {
    let colour = |hour| place("alice", Some("colour"), 7, hour, 1);
    let booked = book(repository, colour(9));
    let (first, second) = (now() + Duration::minutes(1), now() + Duration::minutes(2));
    let moved = repository
        .reschedule(
            booked.id(),
            colour(10),
            schedule(1).admission(first, None),
            Actor::Operator,
            None,
        )
        .wait()
        .map(done)
        .unwrap();
    reschedule_on(repository, booked.id(), &colour(10), &admission()).unwrap();
    let reason = Reason::parse("Feeling ill").unwrap();
    let cancel = Cancellation { reason: reason.clone(), ..cancellation(booked.id(), second) };
    repository.cancel(cancel, None).wait().unwrap();

    let (nine, ten) = (booked.slot(), moved.outcome.slot());
    assert_eq!(
        history_of(repository, booked.id()),
        [
            entry(now(), Transition::Scheduled, nine, Actor::Client),
            move_entry(first, nine, ten, Actor::Operator, ("alice", Some("colour"))),
            Entry { reason, ..entry(second, Transition::Canceled, ten, Actor::Client) },
        ]
    );
    assert_eq!(repository.history(AppointmentId::random()).unwrap(), None);
}

/// A write that is refused, or replayed for a key already used, adds nothing to the history.
pub fn refused_and_replayed_writes_add_no_history(repository: &dyn AppointmentRepository) {
    let booked = book(repository, place("alice", None, 7, 9, 1));
    let other = book(repository, place("alice", None, 7, 10, 1));
    let started = booked.slot().start() + Duration::seconds(1);
    cancel_on(repository, booked.id(), started).unwrap_err();
    reschedule_on(repository, booked.id(), &place("alice", None, 7, 10, 1), &admission())
        .unwrap_err();
    assert_eq!(history_of(repository, booked.id()).len(), 1, "refused writes");

    let key = IdempotencyKey::parse("cancel-once").unwrap();
    for _ in 0..2 {
        repository.cancel(cancellation(other.id(), now()), keyed(&key, "c", now())).wait().unwrap();
    }
    cancel_on(repository, other.id(), now()).unwrap_err();
    let changes: Vec<_> = history_of(repository, other.id()).iter().map(|e| e.change).collect();
    assert_eq!(changes, [Transition::Scheduled, Transition::Canceled], "one cancel");

    let key = IdempotencyKey::parse("book-once").unwrap();
    let keyed_booking = booking(vec![place("bob", None, 7, 9, 1)]);
    let first = repository.book(keyed_booking.clone(), admission(), keyed(&key, "b", now()));
    let first = first.wait().unwrap().done().unwrap().outcome;
    let replayed = repository.book(keyed_booking, admission(), keyed(&key, "b", now())).wait();
    assert!(matches!(replayed, Ok(Outcome::Replayed(_))), "{replayed:?}");
    assert_eq!(history_of(repository, first.id()).len(), 1, "replayed booking");
}

/// A booking that converts a hold, a keyed booking, a keyed cancel and a keyed move record
/// their changes as plain ones do (a store may write each of them another way).
pub fn every_way_of_writing_records_its_change(repository: &dyn AppointmentRepository) {
    let token = hold(repository, place("alice", None, 7, 9, 1), 5).unwrap();
    let converting = Booking { hold: Some(token), ..booking(vec![place("alice", None, 7, 9, 1)]) };
    let converted = book_on(repository, &converting, &admission()).unwrap();

    let key = |name: &str| IdempotencyKey::parse(name).unwrap();
    let keyed_booking = booking(vec![place("bob", None, 7, 9, 1)]);
    let booked = repository.book(keyed_booking, admission(), keyed(&key("b"), "b", now()));
    let booked = booked.wait().unwrap().done().unwrap().outcome;
    let to = place("bob", None, 7, 10, 1);
    let moving = repository.reschedule(
        booked.id(),
        to,
        admission(),
        Actor::Client,
        keyed(&key("m"), "m", now()),
    );
    let moved = moving.wait().unwrap().done().unwrap().outcome;
    let reason = Reason::parse("Double-booked myself").unwrap();
    let cancel = Cancellation { reason: reason.clone(), ..cancellation(booked.id(), now()) };
    repository.cancel(cancel, keyed(&key("c"), "c", now())).wait().unwrap();

    assert_eq!(
        history_of(repository, converted.id()),
        [entry(now(), Transition::Scheduled, converted.slot(), Actor::Client)]
    );
    assert_eq!(
        history_of(repository, booked.id()),
        [
            entry(now(), Transition::Scheduled, booked.slot(), Actor::Client),
            move_entry(now(), booked.slot(), moved.slot(), Actor::Client, ("bob", None)),
            Entry { reason, ..entry(now(), Transition::Canceled, moved.slot(), Actor::Client) },
        ]
    );
}

/// `histories` answers for several appointments at once what `history` answers for each, and
/// nothing for an id without entries.
pub fn histories_answer_for_many_at_once(repository: &dyn AppointmentRepository) {
    let booked: Vec<Appointment> =
        (9..12).map(|hour| book(repository, place("alice", None, 7, hour, 1))).collect();
    reschedule_on(repository, booked[1].id(), &place("alice", None, 7, 14, 1), &admission())
        .unwrap();
    cancel_on(repository, booked[2].id(), now()).unwrap();
    let mut ids: Vec<AppointmentId> = booked.iter().map(Appointment::id).collect();
    ids.push(AppointmentId::random());
    let histories = repository.histories(&ids).unwrap();
    assert_eq!(histories.len(), 3, "{histories:?}");
    for appointment in &booked {
        assert_eq!(
            histories.get(&appointment.id()),
            Some(&history_of(repository, appointment.id()))
        );
    }
    let revisions: Vec<u32> = booked.iter().map(|a| Entry::revision(&histories[&a.id()])).collect();
    assert_eq!(revisions, [0, 1, 1]);
}
