//! Holds: a place kept for a few minutes, converted into an appointment or released.

use chrono::Duration;

use super::*;
use crate::{
    hold::HoldQuota,
    repository::{Expired, HoldFailure, HoldNotFound},
};

/// A hold counts against capacity until it expires, then stops counting by itself.
pub fn a_hold_takes_its_place_until_it_expires(repository: &dyn AppointmentRepository) {
    hold(repository, place("alice", Some("colour"), 7, 9, 1), 5).unwrap();
    assert_eq!(usage_at(repository, "alice", at(7, 10, 0)), Usage { booked: 0, held: 1 });
    assert_eq!(
        try_book(repository, place("alice", None, 7, 10, 1)),
        Err(BookFailure::Unavailable(Unavailable::Held))
    );
    assert_eq!(
        hold(repository, place("alice", None, 7, 10, 1), 5),
        Err(HoldFailure::Unavailable(Unavailable::Held))
    );
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

/// A conversion refused by what is stored (here a closure added after the hold was taken)
/// leaves the hold as it was: still holding its place, and still the client's to release.
pub fn a_conversion_refused_by_a_closure_keeps_the_hold(repository: &dyn AppointmentRepository) {
    let token = hold(repository, place("alice", Some("colour"), 7, 9, 1), 5).unwrap();
    repository.add_closure(closure(Some("alice"), at(7, 9, 0), at(7, 10, 0))).wait().unwrap();
    let mut converting = booking(vec![place("alice", Some("colour"), 7, 9, 1)]);
    converting.hold = Some(token.clone());
    assert!(matches!(
        book_on(repository, &converting, &admission()),
        Err(WriteError::Refused(BookFailure::Unavailable(Unavailable::Closed { .. })))
    ));
    for start in [at(7, 9, 0), at(7, 9, 30), at(7, 10, 0), at(7, 10, 30)] {
        assert_eq!(usage_at(repository, "alice", start), Usage { booked: 0, held: 1 }, "{start}");
    }
    let released = repository.release_hold(token, now()).wait().unwrap().outcome;
    assert!(released.is_for(&place("alice", Some("colour"), 7, 9, 1)));
    assert_eq!(usage_at(repository, "alice", at(7, 9, 0)), Usage::default());
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

/// A holder with a quota gets that many active holds and no more (the refusal says when the
/// first expires); released or expired holds stop counting; other holders, and requests
/// without a quota, are not affected.
pub fn a_holder_has_at_most_its_quota_of_active_holds(repository: &dyn AppointmentRepository) {
    let most = std::num::NonZeroU16::new(2).unwrap();
    let quota = |holder: &str| Some(HoldQuota { holder: holder.to_owned(), most });
    let request = |hour: u32, minutes: i64, holder: &str| HoldRequest {
        quota: quota(holder),
        ..hold_request(place("alice", None, 7, hour, 1), minutes)
    };
    let first = hold_as(repository, request(9, 3, "a"), &admission()).unwrap();
    hold_as(repository, request(10, 5, "a"), &admission()).unwrap();
    assert_eq!(
        hold_as(repository, request(11, 5, "a"), &admission()),
        Err(HoldFailure::TooMany { most, frees_at: now() + Duration::minutes(3) })
    );
    assert_eq!(usage_at(repository, "alice", at(7, 11, 0)), Usage::default(), "nothing held");
    hold_as(repository, request(11, 5, "b"), &admission()).unwrap();
    hold(repository, place("bob", None, 7, 9, 1), 5).unwrap();
    repository.release_hold(first, now()).wait().unwrap();
    let again = hold_as(repository, request(12, 5, "a"), &admission()).unwrap();
    assert_eq!(
        hold_as(repository, request(13, 5, "a"), &admission()),
        Err(HoldFailure::TooMany { most, frees_at: now() + Duration::minutes(5) })
    );
    let mut converting = booking(vec![place("alice", None, 7, 12, 1)]);
    converting.hold = Some(again);
    book_on(repository, &converting, &admission()).unwrap();
    hold_as(repository, request(13, 5, "a"), &admission()).unwrap();
    let later = schedule(1).admission(now() + Duration::minutes(5), None);
    let fresh = HoldRequest { expires_at: now() + Duration::minutes(10), ..request(14, 0, "a") };
    hold_as(repository, fresh, &later).unwrap();
    let another = HoldRequest { token: HoldToken::random(), ..request(15, 10, "a") };
    hold_as(repository, another, &later).unwrap();
}

/// Hold writes leave other holds alone, however long expired; the sweep forgets holds that
/// stopped counting by its cutoff, first ended first, at most as many as asked, and never an
/// active one.
pub fn expired_holds_are_forgotten_by_the_sweep_alone(repository: &dyn AppointmentRepository) {
    let sweep = |ended_by, most| {
        let expired = Expired {
            keys_made_by: now() - Duration::days(1),
            holds_ended_by: ended_by,
            deliveries_settled_by: now() - Duration::days(1),
            most,
        };
        let forgotten = repository.forget_expired(expired).wait().unwrap();
        assert_eq!(forgotten.keys, 0);
        forgotten.holds
    };
    for (hour, minutes) in [(9, 1), (10, 2), (11, 30)] {
        hold(repository, place("alice", None, 7, hour, 1), minutes).unwrap();
    }
    let later = schedule(1).admission(now() + Duration::minutes(5), None);
    let fresh = HoldRequest {
        expires_at: now() + Duration::minutes(10),
        ..hold_request(place("bob", None, 7, 9, 1), 0)
    };
    hold_as(repository, fresh, &later).unwrap();
    assert_eq!(sweep(now() + Duration::minutes(5), 1), 1, "the first ended, and only one");
    // Seen at the start, when both still counted: 9:00's is gone, 10:00's is not.
    assert_eq!(usage_at(repository, "alice", at(7, 9, 0)), Usage::default());
    assert_eq!(usage_at(repository, "alice", at(7, 10, 0)), Usage { booked: 0, held: 1 });
    assert_eq!(sweep(now() + Duration::minutes(5), 10), 1, "then the other one ended");
    assert_eq!(sweep(now() + Duration::minutes(5), 10), 0, "the others still count");
    assert_eq!(usage_at(repository, "alice", at(7, 11, 0)), Usage { booked: 0, held: 1 });
    assert_eq!(sweep(now() + Duration::minutes(30), 10), 2, "11:00 and bob's");
    assert_eq!(usage_at(repository, "alice", at(7, 11, 0)), Usage::default());
}
