//! The calendar: stored whole, one version after another; a change checked, in its
//! transaction, against the version it replaces and every appointment that has not ended; and
//! every booking, move and hold against the stored version.

use super::*;
use crate::{
    calendar::{Calendar, CalendarChange, CalendarFailure, Override, StoredCalendar},
    stranded::Strand,
};

/// Stores `calendar` after version `after`, checked at `now`.
fn store_at(
    repository: &dyn AppointmentRepository,
    after: u64,
    calendar: Calendar,
    now: DateTime<Utc>,
) -> Result<StoredCalendar, WriteError<CalendarFailure>> {
    let stored = StoredCalendar { version: after + 1, calendar };
    let schedule = schedule(1).following(stored).unwrap();
    let change = CalendarChange { after, schedule, now };
    repository.store_calendar(change).wait().map(|written| {
        assert_eq!(written.changed, crate::change::Change::Everything, "every listing may change");
        written.outcome
    })
}

fn store(
    repository: &dyn AppointmentRepository,
    after: u64,
    calendar: Calendar,
) -> Result<StoredCalendar, WriteError<CalendarFailure>> {
    store_at(repository, after, calendar, now())
}

/// The placement made under calendar `version`.
fn under(version: u64, placement: Placement) -> Placement {
    Placement { calendar: version, ..placement }
}

/// A calendar reads back as it was stored, overrides, order and performers included; a change
/// made to an older version is refused and changes nothing.
pub fn a_calendar_is_stored_by_version_and_read_back(repository: &dyn AppointmentRepository) {
    assert_eq!(repository.calendar().unwrap(), None, "nothing is stored at first");
    let first = store(repository, 0, schedule(2).calendar()).unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(repository.calendar().unwrap(), Some(first.clone()));
    let mut next = first.calendar.clone();
    next.resources.reverse();
    next.resources[0].hours = "mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00".parse().unwrap();
    next.services[1].resources = vec![slug("bob")];
    next.services[1].min_notice = Some(Duration::hours(2));
    next.services[1].horizon = Some(Duration::days(30));
    next.overrides = vec![
        Override {
            resource: slug("alice"),
            date: "2030-01-12".parse().unwrap(),
            hours: "closed".parse().unwrap(),
        },
        Override {
            resource: slug("bob"),
            date: "2030-01-13".parse().unwrap(),
            hours: "10:00-11:00,14:00-15:00".parse().unwrap(),
        },
    ];
    let second = store(repository, 1, next.clone()).unwrap();
    assert_eq!(second, StoredCalendar { version: 2, calendar: next });
    assert_eq!(repository.calendar().unwrap(), Some(second.clone()));
    assert!(matches!(
        store(repository, 1, first.calendar),
        Err(WriteError::Refused(CalendarFailure::Stale { current: 2 }))
    ));
    assert_eq!(repository.calendar().unwrap(), Some(second), "a refused change stores nothing");
}

/// A calendar that would move an appointment that has not ended off its slots, or put more in
/// a slot than its capacity, is refused, naming them; one that has ended is not checked.
pub fn a_calendar_that_strands_or_overbooks_is_refused(repository: &dyn AppointmentRepository) {
    let one = book(repository, place("alice", None, 7, 9, 2));
    let two = book(repository, place("alice", None, 7, 9, 2));
    let ids = |failure: WriteError<CalendarFailure>| match failure {
        WriteError::Refused(CalendarFailure::Strands(found)) => {
            let mut ids: Vec<_> =
                found.iter().map(|s| (s.appointment.id(), s.strand.clone())).collect();
            ids.sort_by_key(|(id, _)| id.to_string());
            ids
        }
        other => panic!("expected stranded appointments, got {other:?}"),
    };
    let expected = |strand: Strand| {
        let mut both = vec![(one.id(), strand.clone()), (two.id(), strand)];
        both.sort_by_key(|(id, _)| id.to_string());
        both
    };
    let mut later = schedule(2).calendar();
    later.resources[0].hours = "10:00-24:00".parse().unwrap();
    let found = ids(store(repository, 0, later).unwrap_err());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|(_, strand)| matches!(strand, Strand::OffTheGrid(_))), "{found:?}");
    let found_ids: Vec<_> = found.iter().map(|(id, _)| *id).collect();
    let both: Vec<_> = expected(Strand::OtherSlots).into_iter().map(|(id, _)| id).collect();
    assert_eq!(found_ids, both);
    let smaller = schedule(1).calendar();
    assert_eq!(
        ids(store(repository, 0, smaller.clone()).unwrap_err()),
        expected(Strand::Overbooked { capacity: 1, booked: 2 })
    );
    assert_eq!(repository.calendar().unwrap(), None, "a refused change stores nothing");
    let after_they_ended = at(8, 0, 0);
    assert_eq!(store_at(repository, 0, smaller, after_they_ended).unwrap().version, 1);
}

/// Once a calendar is stored, a booking, move or hold placed under another version is refused
/// and takes nothing; one placed under the stored version is taken.
pub fn a_placement_under_a_replaced_calendar_is_refused(repository: &dyn AppointmentRepository) {
    store(repository, 0, schedule(1).calendar()).unwrap();
    let changed = Unavailable::CalendarChanged;
    let stale = place("alice", None, 7, 9, 1);
    assert_eq!(try_book(repository, stale.clone()), Err(BookFailure::Unavailable(changed.clone())));
    assert_eq!(hold(repository, stale, 5), Err(HoldFailure::Unavailable(changed)));
    assert_eq!(usage_at(repository, "alice", at(7, 9, 0)), Usage::default(), "nothing taken");
    let booked = book(repository, under(1, place("alice", None, 7, 9, 1)));
    assert!(matches!(
        reschedule_on(repository, booked.id(), &place("alice", None, 7, 10, 1), &admission()),
        Err(WriteError::Refused(RescheduleFailure::Unavailable(Unavailable::CalendarChanged)))
    ));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1, "the refused move moved nothing");
    let moved = reschedule_on(
        repository,
        booked.id(),
        &under(1, place("alice", None, 7, 10, 1)),
        &admission(),
    )
    .unwrap();
    assert_eq!(moved.outcome.slot().start(), at(7, 10, 0));
    assert_eq!(
        (booked_at(repository, "alice", at(7, 9, 0)), booked_at(repository, "alice", at(7, 10, 0))),
        (0, 1)
    );
    let token = hold(repository, under(1, place("bob", None, 7, 9, 1)), 5).unwrap();
    assert_eq!(usage_at(repository, "bob", at(7, 9, 0)).held, 1);

    // A hold taken under version 1 converts under version 2 (the same slots), and not by a
    // placement of version 1.
    let second = store(repository, 1, schedule(1).calendar()).unwrap();
    assert_eq!(second.version, 2);
    let converting = |version| Booking {
        hold: Some(token.clone()),
        ..booking(vec![under(version, place("bob", None, 7, 9, 1))])
    };
    assert!(matches!(
        book_on(repository, &converting(1), &admission()),
        Err(WriteError::Refused(BookFailure::Unavailable(Unavailable::CalendarChanged)))
    ));
    assert_eq!(usage_at(repository, "bob", at(7, 9, 0)).held, 1, "the hold stays");
    book_on(repository, &converting(2), &admission()).unwrap();
    assert_eq!(usage_at(repository, "bob", at(7, 9, 0)), Usage { booked: 1, held: 0 });
}
