//! Idempotency keys: a repeat of a keyed request replays the appointment as its first write
//! left it; a key names one request.

use std::thread;

use super::*;
use crate::appointment::Status;

fn book_keyed(
    repository: &dyn AppointmentRepository,
    placement: Placement,
    key: &IdempotencyKey,
    fingerprint: &str,
    at: DateTime<Utc>,
) -> Result<Outcome<Written<Appointment>>, WriteError<BookFailure>> {
    let admission = schedule(1).admission(at, None);
    repository.book(booking(vec![placement]), admission, keyed(key, fingerprint, at)).wait()
}

/// Retries that arrive together (a client timing out and retrying at once) wait for the first
/// and replay its outcome; the slot has room for two, so a second booking would fit.
pub fn simultaneous_requests_with_one_key_do_the_work_once(repository: &dyn AppointmentRepository) {
    let key = IdempotencyKey::parse("book-together").unwrap();
    let outcomes: Vec<_> = thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let key = &key;
                scope.spawn(move || {
                    book_keyed(repository, place("alice", None, 7, 9, 2), key, "a", now()).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    let done: Vec<_> = outcomes.iter().filter_map(|o| o.clone().done()).collect();
    assert_eq!(done.len(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        if let Outcome::Replayed(appointment) = outcome {
            assert_eq!(appointment, &done[0].outcome);
        }
    }
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1, "booked once");
}

/// A repeat with the same key and request gets the first outcome; nothing is done twice.
pub fn a_repeated_key_replays_the_first_outcome_without_doing_the_work(
    repository: &dyn AppointmentRepository,
) {
    let key = IdempotencyKey::parse("book-once").unwrap();
    let first = book_keyed(repository, place("alice", None, 7, 9, 2), &key, "a", now()).unwrap();
    let Outcome::Done(booked) = first else { panic!("the first request did the work") };
    let again = book_keyed(repository, place("alice", None, 7, 9, 2), &key, "a", now()).unwrap();
    assert_eq!(again, Outcome::Replayed(booked.outcome.clone()));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1, "booked once");

    let cancel_key = IdempotencyKey::parse("cancel-once").unwrap();
    let cancel = || {
        repository.cancel(cancellation(booked.outcome.id(), now()), keyed(&cancel_key, "c", now()))
    };
    let canceled = cancel().wait().unwrap().done().unwrap();
    assert_eq!(
        cancel().wait().unwrap(),
        Outcome::Replayed(canceled.outcome),
        "not 'already canceled'"
    );

    let other = book(repository, place("alice", None, 7, 10, 1));
    let move_key = IdempotencyKey::parse("move-once").unwrap();
    let to = place("alice", None, 7, 11, 1);
    let reschedule = || {
        repository.reschedule(
            other.id(),
            to.clone(),
            admission(),
            Actor::Client,
            keyed(&move_key, "m", now()),
        )
    };
    let moved = reschedule().wait().unwrap().done().unwrap();
    assert_eq!(reschedule().wait().unwrap(), Outcome::Replayed(moved.outcome));
}

/// What a replay gives is the appointment as the keyed write left it, not as it is now.
pub fn a_replay_is_the_appointment_as_its_write_left_it(repository: &dyn AppointmentRepository) {
    let key = IdempotencyKey::parse("book-then-cancel").unwrap();
    let booked = book_keyed(repository, place("bob", Some("colour"), 7, 9, 1), &key, "b", now())
        .unwrap()
        .done()
        .unwrap()
        .outcome;
    cancel_on(repository, booked.id(), now()).unwrap();
    let replayed =
        book_keyed(repository, place("bob", Some("colour"), 7, 9, 1), &key, "b", now()).unwrap();
    assert_eq!(replayed, Outcome::Replayed(booked.clone()));
    assert_eq!(booked.status(), Status::Scheduled, "as booked, though canceled since");
    assert_eq!(booked_at(repository, "bob", at(7, 9, 0)), 0);
}

/// The same key with a different request is refused and changes nothing.
pub fn a_key_used_for_another_request_is_refused(repository: &dyn AppointmentRepository) {
    let key = IdempotencyKey::parse("shared").unwrap();
    book_keyed(repository, place("alice", None, 7, 9, 1), &key, "first", now()).unwrap();
    let reused = book_keyed(repository, place("alice", None, 7, 10, 1), &key, "second", now());
    assert!(matches!(reused, Err(WriteError::KeyReused)), "{reused:?}");
    assert_eq!(booked_at(repository, "alice", at(7, 10, 0)), 0);
    let booked = book(repository, place("alice", None, 7, 11, 1));
    let canceled =
        repository.cancel(cancellation(booked.id(), now()), keyed(&key, "first", now())).wait();
    assert!(matches!(canceled, Err(WriteError::KeyReused)), "another operation: {canceled:?}");
    assert_eq!(booked_at(repository, "alice", at(7, 11, 0)), 1);
}

/// Only successful writes remember their key: a refused request may be retried with it.
pub fn a_refused_write_stores_no_answer(repository: &dyn AppointmentRepository) {
    let taken = book(repository, place("alice", None, 7, 9, 1));
    let key = IdempotencyKey::parse("retry-me").unwrap();
    let refused = book_keyed(repository, place("alice", None, 7, 9, 1), &key, "same", now());
    assert!(matches!(refused, Err(WriteError::Refused(_))));
    cancel_on(repository, taken.id(), now()).unwrap();
    let retried =
        book_keyed(repository, place("alice", None, 7, 9, 1), &key, "same", now()).unwrap();
    assert!(matches!(retried, Outcome::Done(_)));
}

/// After its lifetime a key is new again.
pub fn keys_are_forgotten_after_their_lifetime(repository: &dyn AppointmentRepository) {
    let key = IdempotencyKey::parse("old").unwrap();
    book_keyed(repository, place("alice", None, 7, 9, 1), &key, "first", now()).unwrap();
    let a_day_later = now() + Duration::hours(24);
    let fresh = book_keyed(repository, place("alice", None, 7, 10, 1), &key, "second", a_day_later)
        .unwrap();
    assert!(matches!(fresh, Outcome::Done(_)));
}

/// How many keys a sweep of records made by `before` forgets (holds left alone).
fn forget(repository: &dyn AppointmentRepository, before: DateTime<Utc>, most: u32) -> u64 {
    let expired = Expired {
        keys_made_by: before,
        holds_ended_by: now() - Duration::days(1),
        deliveries_settled_by: now() - Duration::days(1),
        most,
    };
    let forgotten = repository.forget_expired(expired).wait().unwrap();
    assert_eq!(forgotten.holds, 0);
    forgotten.keys
}

/// Keyed writes leave other keys' records alone, however old; the sweep forgets records made
/// at or before its cutoff, oldest first, at most as many as asked, and a forgotten key is
/// free for a new request.
pub fn expired_keys_are_forgotten_by_the_sweep_alone(repository: &dyn AppointmentRepository) {
    let keys: Vec<IdempotencyKey> =
        ["a", "b", "c"].iter().map(|k| IdempotencyKey::parse(k).unwrap()).collect();
    for (minutes, key) in (0..).zip(&keys) {
        let made = now() + Duration::minutes(minutes);
        book_keyed(repository, place("alice", None, 7, 9 + minutes as u32, 1), key, "first", made)
            .unwrap();
    }
    let next_day = now() + Duration::days(1) + Duration::minutes(5);
    let other = IdempotencyKey::parse("d").unwrap();
    book_keyed(repository, place("bob", None, 7, 9, 1), &other, "first", next_day).unwrap();
    let cutoff = now() + Duration::minutes(1);
    assert_eq!(forget(repository, cutoff, 1), 1, "the oldest, and only one");
    // "b" is still remembered (its lifetime has not run out at a minute past its making):
    let replayed = book_keyed(
        repository,
        place("alice", None, 7, 10, 1),
        &keys[1],
        "first",
        now() + Duration::minutes(2),
    )
    .unwrap();
    assert!(matches!(replayed, Outcome::Replayed(_)), "the sweep took the younger key first");
    assert_eq!(forget(repository, cutoff, 10), 1, "then the other one due");
    assert_eq!(forget(repository, cutoff, 10), 0);
    let later = next_day - Duration::minutes(1);
    assert_eq!(forget(repository, later, 10), 1, "c; d is younger");
    let fresh =
        book_keyed(repository, place("bob", None, 7, 10, 1), &keys[0], "second", next_day).unwrap();
    assert!(matches!(fresh, Outcome::Done(_)), "a forgotten key names a new request");
}
