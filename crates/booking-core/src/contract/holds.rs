//! Holds: a place kept for a few minutes, converted into an appointment or released.

use chrono::Duration;

use super::*;
use crate::repository::HoldNotFound;

/// A hold counts against capacity until it expires, then stops counting by itself.
pub fn a_hold_takes_its_place_until_it_expires(repository: &dyn AppointmentRepository) {
    hold(repository, place("alice", Some("colour"), 7, 9, 1), 5).unwrap();
    assert_eq!(usage_at(repository, "alice", at(7, 10, 0)), Usage { booked: 0, held: 1 });
    assert_eq!(
        try_book(repository, place("alice", None, 7, 10, 1)),
        Err(BookFailure::Unavailable(Unavailable::Held))
    );
    assert_eq!(hold(repository, place("alice", None, 7, 10, 1), 5), Err(Unavailable::Held));
    let later = schedule(1).admission(now() + Duration::minutes(5), None);
    let expired =
        repository.usage(None, at(7, 10, 0), at(7, 10, 0), now() + Duration::minutes(5)).unwrap();
    assert_eq!(
        expired.get(&(slug("alice"), at(7, 10, 0))).copied().unwrap_or_default(),
        Usage::default()
    );
    book_on(repository, &booking(vec![place("alice", None, 7, 10, 1)]), &later).unwrap();
}

/// Converting a hold books its placement, releases the hold, and works once.
pub fn a_hold_converts_into_the_appointment_once(repository: &dyn AppointmentRepository) {
    let token = hold(repository, place("alice", Some("colour"), 7, 9, 1), 5).unwrap();
    let mut converting = booking(vec![place("alice", Some("colour"), 7, 9, 1)]);
    converting.hold = Some(token.clone());
    let appointment = book_on(repository, &converting, &admission()).unwrap();
    assert_eq!(appointment.service(), Some(&slug("colour")));
    assert_eq!(usage_at(repository, "alice", at(7, 9, 0)), Usage { booked: 1, held: 0 });
    converting.id = AppointmentId::random();
    assert!(matches!(
        book_on(repository, &converting, &admission()),
        Err(WriteError::Refused(BookFailure::HoldNotFound(HoldNotFound)))
    ));
    let expired = hold(repository, place("bob", None, 7, 9, 1), 1).unwrap();
    let mut late = booking(vec![place("bob", None, 7, 9, 1)]);
    late.hold = Some(expired);
    let after_expiry = schedule(1).admission(now() + Duration::minutes(1), None);
    assert!(matches!(
        book_on(repository, &late, &after_expiry),
        Err(WriteError::Refused(BookFailure::HoldNotFound(HoldNotFound)))
    ));
}

/// A hold cannot be used for another slot, and a refused conversion keeps the hold.
pub fn a_hold_converts_only_into_its_own_placement(repository: &dyn AppointmentRepository) {
    let token = hold(repository, place("alice", None, 7, 9, 1), 5).unwrap();
    let mut elsewhere = booking(vec![place("alice", None, 7, 10, 1)]);
    elsewhere.hold = Some(token);
    assert!(matches!(
        book_on(repository, &elsewhere, &admission()),
        Err(WriteError::Refused(BookFailure::HoldMismatch))
    ));
    assert_eq!(usage_at(repository, "alice", at(7, 9, 0)), Usage { booked: 0, held: 1 });
}

/// Releasing a hold frees its place at once; a second release finds nothing.
pub fn a_released_hold_frees_its_place(repository: &dyn AppointmentRepository) {
    let token = hold(repository, place("alice", None, 7, 9, 1), 5).unwrap();
    let released = repository.release_hold(token.clone(), now()).wait().unwrap().outcome;
    assert!(released.is_for(&place("alice", None, 7, 9, 1)));
    assert_eq!(usage_at(repository, "alice", at(7, 9, 0)), Usage::default());
    assert!(matches!(
        repository.release_hold(token, now()).wait(),
        Err(WriteError::Refused(HoldNotFound))
    ));
    book(repository, place("alice", None, 7, 9, 1));
}
