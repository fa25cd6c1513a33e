//! The repository contract: behaviour every [`AppointmentRepository`] must show, written once and
//! run against every store with [`repository_contract_tests!`](crate::repository_contract_tests).
//!
//! Each check takes a fresh, empty repository and panics when the contract is broken.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failed check"
)]

use std::{collections::BTreeMap, num::NonZeroU16, thread};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use crate::{
    appointment::{Appointment, AppointmentId, CancelRefusal, RescheduleRefusal, Status},
    availability::{Admission, Unavailable, Usage},
    catalog::{Resource, Service, Slug},
    client::{ClientName, Notes},
    closure::{Closure, ClosureId},
    hold::HoldToken,
    idempotency::{Idempotency, IdempotencyKey, Outcome, StoredResponse},
    repository::{
        AppointmentQuery, AppointmentRepository, BookFailure, Booking, CancelFailure, HoldNotFound,
        HoldRequest, RescheduleFailure, Rescheduled, WriteError,
    },
    schedule::{Capacity, Placement, Schedule, Slot, SlotLength},
};

/// Generates one `#[test]` per contract check; `$make` builds a fresh, empty repository (or
/// anything that dereferences to one) for each.
#[macro_export]
macro_rules! repository_contract_tests {
    ($make:expr) => {
        $crate::repository_contract_tests!(@each $make;
            a_booking_reads_back_with_every_field,
            an_unknown_id_is_not_found,
            a_slot_takes_no_more_than_its_capacity,
            the_admission_rule_is_applied_in_the_write,
            the_first_free_candidate_is_booked,
            a_long_appointment_needs_every_slot_and_its_buffers,
            canceling_gives_the_places_back,
            canceling_twice_or_unknown_is_refused,
            a_started_appointment_cannot_be_canceled,
            rescheduling_moves_every_place,
            rescheduling_may_overlap_its_own_places,
            rescheduling_into_a_full_slot_changes_nothing,
            rescheduling_to_the_same_slot_is_a_no_op_even_when_full,
            a_canceled_appointment_cannot_be_rescheduled,
            usage_covers_an_inclusive_range_of_scheduled_appointments,
            usage_always_matches_the_scheduled_appointments,
            a_hold_takes_its_place_until_it_expires,
            a_hold_converts_into_the_appointment_once,
            a_hold_converts_only_into_its_own_placement,
            a_released_hold_frees_its_place,
            closures_block_bookings_and_list_what_they_cover,
            closures_are_listed_by_overlap_and_removed,
            appointments_are_listed_in_order_with_filters_and_cursor,
            a_repeated_key_replays_the_first_answer_without_doing_the_work,
            a_key_used_for_another_request_is_refused,
            simultaneous_requests_with_one_key_do_the_work_once,
            a_refused_write_stores_no_answer,
            keys_are_forgotten_after_their_lifetime,
            concurrent_bookings_never_overfill_a_slot,
            a_healthy_store_says_so
        );
    };
    (@each $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let repository = $make;
                $crate::contract::$check(&*repository);
            }
        )*
    };
}

const NOW: &str = "2030-01-01T08:00:00Z";

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

fn slug(text: &str) -> Slug {
    text.parse().unwrap()
}

/// Resources `alice` (capacity `capacity`) and `bob` (capacity 1), open all day in UTC, with
/// 30-minute slots; services `cut` (1 slot), `colour` (3 slots, 1 slot of cleanup after).
fn schedule(capacity: u32) -> Schedule {
    let resource = |name: &str, capacity: u32| Resource {
        slug: slug(name),
        name: name.to_owned(),
        hours: "00:00-24:00".parse().unwrap(),
        capacity: Capacity::new(capacity).unwrap(),
    };
    let service = |name: &str, slots: u16, after: u16| Service {
        slug: slug(name),
        name: name.to_owned(),
        slots: NonZeroU16::new(slots).unwrap(),
        resources: vec![slug("alice"), slug("bob")],
        buffer_before: 0,
        buffer_after: after,
        min_notice: None,
        horizon: None,
    };
    Schedule::new(
        chrono_tz::UTC,
        Default::default(),
        SlotLength::from_minutes(30).unwrap(),
        Capacity::new(1).unwrap(),
    )
    .with_catalog(
        vec![resource("alice", capacity), resource("bob", 1)],
        vec![service("cut", 1, 0), service("colour", 3, 1)],
    )
    .unwrap()
}

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    format!("2030-01-{day:02}T{hour:02}:{minute:02}:00Z").parse().unwrap()
}

/// The placement of `service` (or one slot) on `resource` at the given UTC day and hour.
fn place(resource: &str, service: Option<&str>, day: u32, hour: u32, capacity: u32) -> Placement {
    let schedule = schedule(capacity);
    let resource = schedule.resource(&slug(resource)).unwrap().clone();
    let service = service.map(|s| schedule.service(&slug(s)).unwrap().clone());
    let date = NaiveDate::from_ymd_opt(2030, 1, day).unwrap();
    let time = NaiveTime::from_hms_opt(hour, 0, 0).unwrap();
    schedule.place(date, time, &resource, service.as_ref()).unwrap()
}

fn admission() -> Admission {
    schedule(1).admission(now(), None)
}

fn booking(candidates: Vec<Placement>) -> Booking {
    Booking {
        id: AppointmentId::random(),
        client_name: ClientName::parse("Ada").unwrap(),
        notes: None,
        candidates,
        hold: None,
    }
}

fn done<T>(outcome: Outcome<T>) -> T {
    match outcome {
        Outcome::Done(value) => value,
        Outcome::Replayed(stored) => panic!("replayed {stored:?} though no key was given"),
    }
}

fn book_on(
    repository: &dyn AppointmentRepository,
    booking: &Booking,
    admission: &Admission,
) -> Result<Appointment, WriteError<BookFailure>> {
    repository.book(booking, admission, None).map(done)
}

fn cancel_on(
    repository: &dyn AppointmentRepository,
    id: AppointmentId,
    now: DateTime<Utc>,
) -> Result<Appointment, WriteError<CancelFailure>> {
    repository.cancel(id, now, None).map(done)
}

fn reschedule_on(
    repository: &dyn AppointmentRepository,
    id: AppointmentId,
    to: &Placement,
    admission: &Admission,
) -> Result<Rescheduled, WriteError<RescheduleFailure>> {
    repository.reschedule(id, to, admission, None).map(done)
}

fn try_book(
    repository: &dyn AppointmentRepository,
    placement: Placement,
) -> Result<Appointment, BookFailure> {
    match book_on(repository, &booking(vec![placement]), &admission()) {
        Ok(appointment) => Ok(appointment),
        Err(WriteError::Refused(why)) => Err(why),
        Err(other) => panic!("unexpected failure: {other:?}"),
    }
}

fn book(repository: &dyn AppointmentRepository, placement: Placement) -> Appointment {
    try_book(repository, placement).unwrap()
}

fn usage_at(repository: &dyn AppointmentRepository, resource: &str, start: DateTime<Utc>) -> Usage {
    let usage = repository.usage(None, start, start, now()).unwrap();
    usage.get(&(slug(resource), start)).copied().unwrap_or_default()
}

fn booked_at(repository: &dyn AppointmentRepository, resource: &str, start: DateTime<Utc>) -> u32 {
    usage_at(repository, resource, start).booked
}

fn full(capacity: u32) -> BookFailure {
    BookFailure::Unavailable(Unavailable::Full { capacity: Capacity::new(capacity).unwrap() })
}

/// A stored appointment comes back exactly as it went in, and no field is invented.
pub fn a_booking_reads_back_with_every_field(repository: &dyn AppointmentRepository) {
    let mut with_notes = booking(vec![place("bob", Some("colour"), 7, 9, 1)]);
    with_notes.client_name = ClientName::parse("José Ñúñez-O’Brien").unwrap();
    with_notes.notes = Notes::parse("First visit.\nBring the forms.").unwrap();
    let later = schedule(1).admission(now() + Duration::milliseconds(1500), None);
    let stored = book_on(repository, &with_notes, &later).unwrap();
    assert_eq!(stored.client_name().as_str(), "José Ñúñez-O’Brien");
    assert_eq!(stored.resource(), &slug("bob"));
    assert_eq!(stored.service(), Some(&slug("colour")));
    assert_eq!(stored.occupied().len(), 4);
    assert_eq!(stored.created_at(), now() + Duration::seconds(1));
    assert_eq!(repository.get(stored.id()).unwrap().as_ref(), Some(&stored));
    let plain = book(repository, place("alice", None, 7, 10, 1));
    assert_eq!(plain.service(), None);
    assert_eq!(plain.notes(), None);
    assert_eq!(repository.get(plain.id()).unwrap(), Some(plain));
}

/// `get` of an id never stored is `None`, not an error.
pub fn an_unknown_id_is_not_found(repository: &dyn AppointmentRepository) {
    assert_eq!(repository.get(AppointmentId::random()).unwrap(), None);
}

/// A slot of capacity 2 takes two bookings and refuses the third as full.
pub fn a_slot_takes_no_more_than_its_capacity(repository: &dyn AppointmentRepository) {
    book(repository, place("alice", None, 7, 9, 2));
    book(repository, place("alice", None, 7, 9, 2));
    assert_eq!(try_book(repository, place("alice", None, 7, 9, 2)), Err(full(2)));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 2);
    assert_eq!(booked_at(repository, "bob", at(7, 9, 0)), 0);
}

/// The store applies the whole admission rule, not only capacity.
pub fn the_admission_rule_is_applied_in_the_write(repository: &dyn AppointmentRepository) {
    let mut past = place("alice", None, 1, 7, 1);
    past.occupied = vec![past.slot.start()];
    assert_eq!(try_book(repository, past), Err(BookFailure::Unavailable(Unavailable::Past)));
    assert_eq!(booked_at(repository, "alice", at(1, 7, 0)), 0);
}

/// Candidates are tried in order; the first with room wins, and a full list says why the first
/// was refused.
pub fn the_first_free_candidate_is_booked(repository: &dyn AppointmentRepository) {
    let both = || vec![place("alice", None, 7, 9, 1), place("bob", None, 7, 9, 1)];
    let first = book_on(repository, &booking(both()), &admission()).unwrap();
    let second = book_on(repository, &booking(both()), &admission()).unwrap();
    assert_eq!((first.resource().as_str(), second.resource().as_str()), ("alice", "bob"));
    assert!(matches!(
        book_on(repository, &booking(both()), &admission()),
        Err(WriteError::Refused(BookFailure::Unavailable(Unavailable::Full { .. })))
    ));
}

/// An appointment of several slots takes every one, and its buffer, or none.
pub fn a_long_appointment_needs_every_slot_and_its_buffers(repository: &dyn AppointmentRepository) {
    // colour at 10:00 takes 10:00, 10:30, 11:00 and the cleanup slot 11:30.
    book(repository, place("alice", None, 7, 11, 1));
    let refused = try_book(repository, place("alice", Some("colour"), 7, 10, 1));
    assert_eq!(refused, Err(full(1)));
    assert_eq!(booked_at(repository, "alice", at(7, 10, 0)), 0, "nothing half-written");
    let colour = book(repository, place("alice", Some("colour"), 7, 12, 1));
    for minute in [12 * 60, 12 * 60 + 30, 13 * 60, 13 * 60 + 30] {
        assert_eq!(booked_at(repository, "alice", at(7, minute / 60, minute % 60)), 1, "{minute}");
    }
    assert_eq!(booked_at(repository, "alice", at(7, 14, 0)), 0);
    // The cleanup slot blocks a one-slot booking too.
    let mut cleanup = place("alice", None, 7, 13, 1);
    cleanup.slot = Slot::new(at(7, 13, 30), at(7, 14, 0)).unwrap();
    cleanup.occupied = vec![at(7, 13, 30)];
    assert_eq!(try_book(repository, cleanup), Err(full(1)));
    assert_eq!(colour.slot(), Slot::new(at(7, 12, 0), at(7, 13, 30)).unwrap());
}

/// A canceled appointment frees every place it took.
pub fn canceling_gives_the_places_back(repository: &dyn AppointmentRepository) {
    let first = book(repository, place("alice", Some("colour"), 7, 9, 1));
    let later = now() + Duration::minutes(5);
    let canceled = cancel_on(repository, first.id(), later).unwrap();
    assert_eq!(canceled.status(), Status::Canceled);
    assert_eq!(canceled.updated_at(), later);
    assert_eq!(repository.get(first.id()).unwrap(), Some(canceled));
    for start in first.occupied() {
        assert_eq!(booked_at(repository, "alice", *start), 0);
    }
    book(repository, place("alice", Some("colour"), 7, 9, 1));
}

/// Canceling twice, or canceling what does not exist, is refused and changes nothing.
pub fn canceling_twice_or_unknown_is_refused(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, place("alice", None, 7, 9, 1));
    let canceled = cancel_on(repository, appointment.id(), now()).unwrap();
    assert!(matches!(
        cancel_on(repository, appointment.id(), now()),
        Err(WriteError::Refused(CancelFailure::Refused(CancelRefusal::AlreadyCanceled)))
    ));
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(canceled));
    assert!(matches!(
        cancel_on(repository, AppointmentId::random(), now()),
        Err(WriteError::Refused(CancelFailure::NotFound))
    ));
}

/// Once an appointment has started it stays as it is.
pub fn a_started_appointment_cannot_be_canceled(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, place("alice", None, 7, 9, 1));
    assert!(matches!(
        cancel_on(repository, appointment.id(), at(7, 9, 0)),
        Err(WriteError::Refused(CancelFailure::Refused(CancelRefusal::AlreadyStarted)))
    ));
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(appointment));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1);
}

/// Moving an appointment frees every old slot and takes every new one.
pub fn rescheduling_moves_every_place(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, place("alice", Some("colour"), 7, 9, 1));
    let moved = reschedule_on(
        repository,
        appointment.id(),
        &place("alice", Some("colour"), 8, 11, 1),
        &admission(),
    )
    .unwrap();
    assert_eq!(moved.released, appointment.occupied());
    assert_eq!(moved.appointment.slot().start(), at(8, 11, 0));
    assert_eq!(moved.appointment.status(), Status::Scheduled);
    assert_eq!(moved.appointment.created_at(), appointment.created_at());
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&moved.appointment));
    assert!(appointment.occupied().iter().all(|s| booked_at(repository, "alice", *s) == 0));
    assert!(moved.appointment.occupied().iter().all(|s| booked_at(repository, "alice", *s) == 1));
}

/// A move by one slot overlaps the appointment's own places, which do not count against it.
pub fn rescheduling_may_overlap_its_own_places(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, place("alice", Some("colour"), 7, 9, 1));
    let moved = reschedule_on(
        repository,
        appointment.id(),
        &place("alice", Some("colour"), 7, 10, 1),
        &admission(),
    )
    .unwrap();
    assert_eq!(moved.appointment.slot().start(), at(7, 10, 0));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 0);
    for start in moved.appointment.occupied() {
        assert_eq!(booked_at(repository, "alice", *start), 1);
    }
}

/// A move into a full slot is refused and leaves everything as it was.
pub fn rescheduling_into_a_full_slot_changes_nothing(repository: &dyn AppointmentRepository) {
    let mover = book(repository, place("alice", None, 7, 9, 1));
    book(repository, place("alice", None, 7, 10, 1));
    assert!(matches!(
        reschedule_on(repository, mover.id(), &place("alice", None, 7, 10, 1), &admission()),
        Err(WriteError::Refused(RescheduleFailure::Unavailable(Unavailable::Full { .. })))
    ));
    let mut past = place("alice", None, 1, 7, 1);
    past.occupied = vec![past.slot.start()];
    assert!(matches!(
        reschedule_on(repository, mover.id(), &past, &admission()),
        Err(WriteError::Refused(RescheduleFailure::Unavailable(Unavailable::Past)))
    ));
    assert_eq!(repository.get(mover.id()).unwrap(), Some(mover));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1);
    assert_eq!(booked_at(repository, "alice", at(7, 10, 0)), 1);
}

/// Asking to move to the slot already held succeeds and changes nothing, even in a full slot.
pub fn rescheduling_to_the_same_slot_is_a_no_op_even_when_full(
    repository: &dyn AppointmentRepository,
) {
    let appointment = book(repository, place("alice", None, 7, 9, 1));
    let same =
        reschedule_on(repository, appointment.id(), &place("alice", None, 7, 9, 1), &admission())
            .unwrap();
    assert_eq!(same.appointment, appointment);
    assert!(same.released.is_empty());
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(appointment));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1);
}

/// Canceled appointments stay canceled; unknown ids are not found.
pub fn a_canceled_appointment_cannot_be_rescheduled(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, place("alice", None, 7, 9, 1));
    let canceled = cancel_on(repository, appointment.id(), now()).unwrap();
    assert!(matches!(
        reschedule_on(repository, appointment.id(), &place("alice", None, 7, 10, 1), &admission()),
        Err(WriteError::Refused(RescheduleFailure::Refused(RescheduleRefusal::Canceled)))
    ));
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(canceled));
    assert_eq!(booked_at(repository, "alice", at(7, 10, 0)), 0);
    assert!(matches!(
        reschedule_on(
            repository,
            AppointmentId::random(),
            &place("alice", None, 7, 10, 1),
            &admission()
        ),
        Err(WriteError::Refused(RescheduleFailure::NotFound))
    ));
}

/// Usage includes both ends of the range and only scheduled appointments.
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

/// After a mixed run of writes, usage equals the places the scheduled appointments take.
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
    let mut expected: BTreeMap<(Slug, DateTime<Utc>), u32> = BTreeMap::new();
    for id in &ids {
        let appointment = repository.get(*id).unwrap().unwrap();
        if appointment.status() == Status::Scheduled {
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

fn hold(
    repository: &dyn AppointmentRepository,
    placement: Placement,
    minutes: i64,
) -> Result<HoldToken, Unavailable> {
    let request = HoldRequest {
        token: HoldToken::random(),
        candidates: vec![placement],
        expires_at: now() + Duration::minutes(minutes),
    };
    match repository.hold(&request, &admission()) {
        Ok(hold) => Ok(hold.token),
        Err(WriteError::Refused(why)) => Err(why),
        Err(other) => panic!("unexpected failure: {other:?}"),
    }
}

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
    let released = repository.release_hold(&token, now()).unwrap();
    assert!(released.is_for(&place("alice", None, 7, 9, 1)));
    assert_eq!(usage_at(repository, "alice", at(7, 9, 0)), Usage::default());
    assert!(matches!(
        repository.release_hold(&token, now()),
        Err(WriteError::Refused(HoldNotFound))
    ));
    book(repository, place("alice", None, 7, 9, 1));
}

fn closure(resource: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Closure {
    Closure {
        id: ClosureId::random(),
        resource: resource.map(slug),
        period: Slot::new(from, to).unwrap(),
        reason: Some("Holiday".to_owned()),
        created_at: now(),
    }
}

/// A closure refuses new bookings inside it and lists, without touching, those already there.
pub fn closures_block_bookings_and_list_what_they_cover(repository: &dyn AppointmentRepository) {
    let inside = book(repository, place("alice", None, 7, 12, 1));
    let other_resource = book(repository, place("bob", None, 7, 12, 1));
    let covered =
        repository.add_closure(&closure(Some("alice"), at(7, 11, 0), at(7, 14, 0))).unwrap();
    assert_eq!(covered, std::slice::from_ref(&inside));
    assert_eq!(repository.get(inside.id()).unwrap(), Some(inside));
    assert_eq!(
        try_book(repository, place("alice", None, 7, 13, 1)),
        Err(BookFailure::Unavailable(Unavailable::Closed))
    );
    book(repository, place("bob", None, 7, 13, 1));
    let everyone = repository.add_closure(&closure(None, at(8, 0, 0), at(9, 0, 0))).unwrap();
    assert!(everyone.is_empty());
    assert_eq!(
        try_book(repository, place("bob", None, 8, 9, 1)),
        Err(BookFailure::Unavailable(Unavailable::Closed))
    );
    assert_eq!(repository.get(other_resource.id()).unwrap(), Some(other_resource));
}

/// Closures are found by overlap, read back whole, and can be removed once.
pub fn closures_are_listed_by_overlap_and_removed(repository: &dyn AppointmentRepository) {
    let first = closure(Some("alice"), at(7, 11, 0), at(7, 14, 0));
    let second = closure(None, at(8, 0, 0), at(9, 0, 0));
    repository.add_closure(&second).unwrap();
    repository.add_closure(&first).unwrap();
    assert_eq!(
        repository.closures(at(1, 0, 0), at(31, 0, 0)).unwrap(),
        [first.clone(), second.clone()]
    );
    assert_eq!(repository.closures(at(7, 14, 0), at(8, 0, 0)).unwrap(), []);
    assert_eq!(repository.closures(at(7, 13, 0), at(8, 0, 30)).unwrap().len(), 2);
    assert_eq!(repository.remove_closure(first.id).unwrap(), first);
    assert!(matches!(repository.remove_closure(first.id), Err(WriteError::Refused(_))));
    book(repository, place("alice", None, 7, 12, 1));
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
    let canceled = cancel_on(repository, made[2].id(), now()).unwrap();
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

/// Many threads booking one slot at once: exactly `capacity` succeed.
pub fn concurrent_bookings_never_overfill_a_slot(repository: &dyn AppointmentRepository) {
    let outcomes: Vec<bool> = thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                scope
                    .spawn(|| try_book(repository, place("alice", Some("colour"), 7, 9, 3)).is_ok())
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("booking thread panicked")).collect()
    });
    assert_eq!(outcomes.iter().filter(|booked| **booked).count(), 3);
    assert_eq!(booked_at(repository, "alice", at(7, 10, 0)), 3);
}

/// A working store reports itself healthy.
pub fn a_healthy_store_says_so(repository: &dyn AppointmentRepository) {
    repository.check_health().unwrap();
}

fn render(appointment: &Appointment) -> StoredResponse {
    StoredResponse {
        status: 201,
        body: format!(
            "{{\"id\":\"{}\",\"status\":\"{}\"}}",
            appointment.id(),
            appointment.status().as_str()
        ),
        location: Some(format!("/appointment/{}", appointment.id())),
    }
}

fn keyed<'a>(
    key: &'a IdempotencyKey,
    fingerprint: &'a str,
    at: DateTime<Utc>,
) -> Option<Idempotency<'a>> {
    Some(Idempotency { key, fingerprint, now: at, lifetime: Duration::hours(24), render: &render })
}

/// Retries that arrive together (a client timing out and retrying at once) wait for the first
/// and replay its answer; the slot has room for two, so a second booking would fit.
pub fn simultaneous_requests_with_one_key_do_the_work_once(repository: &dyn AppointmentRepository) {
    let key = IdempotencyKey::parse("book-together").unwrap();
    let outcomes: Vec<_> = thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let key = &key;
                scope.spawn(move || {
                    repository
                        .book(
                            &booking(vec![place("alice", None, 7, 9, 2)]),
                            &admission(),
                            keyed(key, "POST /schedule {a}", now()),
                        )
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    let done: Vec<_> = outcomes.iter().filter_map(|o| o.clone().done()).collect();
    assert_eq!(done.len(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        if let Outcome::Replayed(stored) = outcome {
            assert_eq!(stored, &render(&done[0]));
        }
    }
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1, "booked once");
}

/// A repeat with the same key and request gets the stored answer; nothing is done twice.
pub fn a_repeated_key_replays_the_first_answer_without_doing_the_work(
    repository: &dyn AppointmentRepository,
) {
    let key = IdempotencyKey::parse("book-once").unwrap();
    let first = repository
        .book(
            &booking(vec![place("alice", None, 7, 9, 2)]),
            &admission(),
            keyed(&key, "POST /schedule {a}", now()),
        )
        .unwrap();
    let Outcome::Done(appointment) = first else { panic!("the first request did the work") };
    let again = repository
        .book(
            &booking(vec![place("alice", None, 7, 9, 2)]),
            &admission(),
            keyed(&key, "POST /schedule {a}", now()),
        )
        .unwrap();
    assert_eq!(again, Outcome::Replayed(render(&appointment)));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1, "booked once");

    let cancel_key = IdempotencyKey::parse("cancel-once").unwrap();
    let canceled = repository
        .cancel(appointment.id(), now(), keyed(&cancel_key, "POST /cancel", now()))
        .unwrap();
    let canceled = canceled.done().unwrap();
    let replayed = repository
        .cancel(appointment.id(), now(), keyed(&cancel_key, "POST /cancel", now()))
        .unwrap();
    assert_eq!(replayed, Outcome::Replayed(render(&canceled)), "not 'already canceled'");

    let other = book(repository, place("alice", None, 7, 10, 1));
    let move_key = IdempotencyKey::parse("move-once").unwrap();
    let to = place("alice", None, 7, 11, 1);
    let moved = repository
        .reschedule(other.id(), &to, &admission(), keyed(&move_key, "POST /reschedule", now()))
        .unwrap();
    let moved = moved.done().unwrap();
    let replayed = repository
        .reschedule(other.id(), &to, &admission(), keyed(&move_key, "POST /reschedule", now()))
        .unwrap();
    assert_eq!(replayed, Outcome::Replayed(render(&moved.appointment)));
}

/// The same key with a different request is refused and changes nothing.
pub fn a_key_used_for_another_request_is_refused(repository: &dyn AppointmentRepository) {
    let key = IdempotencyKey::parse("shared").unwrap();
    repository
        .book(
            &booking(vec![place("alice", None, 7, 9, 1)]),
            &admission(),
            keyed(&key, "first", now()),
        )
        .unwrap();
    let reused = repository.book(
        &booking(vec![place("alice", None, 7, 10, 1)]),
        &admission(),
        keyed(&key, "second", now()),
    );
    assert!(matches!(reused, Err(WriteError::KeyReused)), "{reused:?}");
    assert_eq!(booked_at(repository, "alice", at(7, 10, 0)), 0);
}

/// Only successful writes store an answer: a refused request may be retried with its key.
pub fn a_refused_write_stores_no_answer(repository: &dyn AppointmentRepository) {
    let taken = book(repository, place("alice", None, 7, 9, 1));
    let key = IdempotencyKey::parse("retry-me").unwrap();
    let refused = repository.book(
        &booking(vec![place("alice", None, 7, 9, 1)]),
        &admission(),
        keyed(&key, "same", now()),
    );
    assert!(matches!(refused, Err(WriteError::Refused(_))));
    cancel_on(repository, taken.id(), now()).unwrap();
    let retried = repository
        .book(
            &booking(vec![place("alice", None, 7, 9, 1)]),
            &admission(),
            keyed(&key, "same", now()),
        )
        .unwrap();
    assert!(matches!(retried, Outcome::Done(_)));
}

/// After its lifetime a key is new again.
pub fn keys_are_forgotten_after_their_lifetime(repository: &dyn AppointmentRepository) {
    let key = IdempotencyKey::parse("old").unwrap();
    repository
        .book(
            &booking(vec![place("alice", None, 7, 9, 1)]),
            &admission(),
            keyed(&key, "first", now()),
        )
        .unwrap();
    let a_day_later = now() + Duration::hours(24);
    let later = schedule(1).admission(a_day_later, None);
    let fresh = repository
        .book(
            &booking(vec![place("alice", None, 7, 10, 1)]),
            &later,
            keyed(&key, "second", a_day_later),
        )
        .unwrap();
    assert!(matches!(fresh, Outcome::Done(_)));
}
