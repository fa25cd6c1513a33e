//! Closures: periods in which a resource, or the business, takes no bookings.

use super::*;

/// A closure refuses new bookings inside it and lists, without touching, those already there.
pub fn closures_block_bookings_and_list_what_they_cover(repository: &dyn AppointmentRepository) {
    let inside = book(repository, place("alice", None, 7, 12, 1));
    let other_resource = book(repository, place("bob", None, 7, 12, 1));
    let closed = repository
        .add_closure(closure(Some("alice"), at(7, 11, 0), at(7, 14, 0)))
        .wait()
        .unwrap()
        .outcome;
    assert_eq!(closed.covered, std::slice::from_ref(&inside));
    assert_eq!(repository.get(inside.id()).unwrap(), Some(inside));
    assert_eq!(
        try_book(repository, place("alice", None, 7, 13, 1)),
        Err(BookFailure::Unavailable(Unavailable::Closed {
            reason: Some("Holiday".to_owned()),
            until: at(7, 14, 0)
        }))
    );
    book(repository, place("bob", None, 7, 13, 1));
    let everyone =
        repository.add_closure(closure(None, at(8, 0, 0), at(9, 0, 0))).wait().unwrap().outcome;
    assert!(everyone.covered.is_empty());
    assert_eq!(
        try_book(repository, place("bob", None, 8, 9, 1)),
        Err(BookFailure::Unavailable(Unavailable::Closed {
            reason: Some("Holiday".to_owned()),
            until: at(9, 0, 0)
        }))
    );
    assert_eq!(repository.get(other_resource.id()).unwrap(), Some(other_resource));
}

/// Closures are found by overlap, read back whole, and can be removed once.
pub fn closures_are_listed_by_overlap_and_removed(repository: &dyn AppointmentRepository) {
    let first = closure(Some("alice"), at(7, 11, 0), at(7, 14, 0));
    let second = closure(None, at(8, 0, 0), at(9, 0, 0));
    repository.add_closure(second.clone()).wait().unwrap();
    repository.add_closure(first.clone()).wait().unwrap();
    assert_eq!(
        repository.closures(at(1, 0, 0), at(31, 0, 0)).unwrap(),
        [first.clone(), second.clone()]
    );
    assert_eq!(repository.closures(at(7, 14, 0), at(8, 0, 0)).unwrap(), []);
    assert_eq!(repository.closures(at(7, 13, 0), at(8, 0, 30)).unwrap().len(), 2);
    assert_eq!(repository.remove_closure(first.id, now()).wait().unwrap().outcome, first);
    assert!(matches!(
        repository.remove_closure(first.id, now()).wait(),
        Err(WriteError::Refused(_))
    ));
    book(repository, place("alice", None, 7, 12, 1));
}
