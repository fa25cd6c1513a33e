//! The repository contract: behaviour every [`AppointmentRepository`] must show, written once and
//! run against every store with [`repository_contract_tests!`](crate::repository_contract_tests).
//!
//! Each check takes a fresh, empty repository and panics when the contract is broken.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failed check"
)]

use std::{collections::BTreeMap, thread};

use chrono::{DateTime, Duration, Utc};

use crate::{
    appointment::{Appointment, AppointmentId, CancelRefusal, RescheduleRefusal, Status},
    availability::{Admission, Unavailable},
    client::{ClientName, Notes},
    repository::{AppointmentRepository, CancelFailure, RescheduleFailure, WriteError},
    schedule::{Capacity, Schedule, Slot, SlotLength},
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
            canceling_gives_the_place_back,
            canceling_twice_or_unknown_is_refused,
            a_started_appointment_cannot_be_canceled,
            rescheduling_moves_the_place,
            rescheduling_into_a_full_slot_changes_nothing,
            rescheduling_to_the_same_slot_is_a_no_op_even_when_full,
            a_canceled_appointment_cannot_be_rescheduled,
            counts_cover_an_inclusive_range_of_scheduled_appointments,
            counts_always_match_the_scheduled_appointments,
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

fn slot(day: u32, hour: u32) -> Slot {
    let start: DateTime<Utc> = format!("2030-01-{day:02}T{hour:02}:00:00Z").parse().unwrap();
    Slot::new(start, start + Duration::minutes(30)).unwrap()
}

fn admission(capacity: u32) -> Admission {
    Schedule::new(
        chrono_tz::UTC,
        Default::default(),
        SlotLength::from_minutes(30).unwrap(),
        Capacity::new(capacity).unwrap(),
    )
    .admission(now())
}

fn appointment(name: &str, slot: Slot) -> Appointment {
    Appointment::schedule(
        AppointmentId::random(),
        ClientName::parse(name).unwrap(),
        None,
        slot,
        now(),
    )
}

fn book(
    repository: &dyn AppointmentRepository,
    slot: Slot,
    capacity: u32,
) -> Result<Appointment, Unavailable> {
    let appointment = appointment("Ada", slot);
    match repository.book(&appointment, &admission(capacity)) {
        Ok(()) => Ok(appointment),
        Err(WriteError::Refused(why)) => Err(why),
        Err(WriteError::Storage(error)) => panic!("storage failed: {error:?}"),
    }
}

fn count_at(repository: &dyn AppointmentRepository, slot: Slot) -> u32 {
    let counts = repository.booked_counts(slot.start(), slot.start()).unwrap();
    counts.get(&slot.start()).copied().unwrap_or(0)
}

/// A stored appointment comes back exactly as it went in, and no field is invented.
pub fn a_booking_reads_back_with_every_field(repository: &dyn AppointmentRepository) {
    let with_notes = Appointment::schedule(
        AppointmentId::random(),
        ClientName::parse("José Ñúñez-O’Brien").unwrap(),
        Notes::parse("First visit.\nBring the forms.").unwrap(),
        slot(7, 9),
        now() + Duration::milliseconds(1500),
    );
    let without_notes = appointment("李小龍", slot(7, 10));
    for appointment in [&with_notes, &without_notes] {
        repository.book(appointment, &admission(1)).unwrap();
        assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(appointment));
    }
}

/// `get` of an id never stored is `None`, not an error.
pub fn an_unknown_id_is_not_found(repository: &dyn AppointmentRepository) {
    assert_eq!(repository.get(AppointmentId::random()).unwrap(), None);
}

/// A slot of capacity 2 takes two bookings and refuses the third as full.
pub fn a_slot_takes_no_more_than_its_capacity(repository: &dyn AppointmentRepository) {
    book(repository, slot(7, 9), 2).unwrap();
    book(repository, slot(7, 9), 2).unwrap();
    let full = book(repository, slot(7, 9), 2);
    assert_eq!(full, Err(Unavailable::Full { capacity: Capacity::new(2).unwrap() }));
    assert_eq!(count_at(repository, slot(7, 9)), 2);
}

/// The store applies the whole admission rule, not only capacity.
pub fn the_admission_rule_is_applied_in_the_write(repository: &dyn AppointmentRepository) {
    let past = Slot::new(now() - Duration::hours(1), now() - Duration::minutes(30)).unwrap();
    assert_eq!(book(repository, past, 1), Err(Unavailable::Past));
    assert_eq!(count_at(repository, past), 0);
}

/// A canceled appointment frees its place for someone else.
pub fn canceling_gives_the_place_back(repository: &dyn AppointmentRepository) {
    let first = book(repository, slot(7, 9), 1).unwrap();
    let later = now() + Duration::minutes(5);
    let canceled = repository.cancel(first.id(), later).unwrap();
    assert_eq!(canceled.status(), Status::Canceled);
    assert_eq!(canceled.updated_at(), later);
    assert_eq!(repository.get(first.id()).unwrap(), Some(canceled));
    assert_eq!(count_at(repository, slot(7, 9)), 0);
    book(repository, slot(7, 9), 1).unwrap();
    assert_eq!(count_at(repository, slot(7, 9)), 1);
}

/// Canceling twice, or canceling what does not exist, is refused and changes nothing.
pub fn canceling_twice_or_unknown_is_refused(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, slot(7, 9), 1).unwrap();
    let canceled = repository.cancel(appointment.id(), now()).unwrap();
    assert!(matches!(
        repository.cancel(appointment.id(), now()),
        Err(WriteError::Refused(CancelFailure::Refused(CancelRefusal::AlreadyCanceled)))
    ));
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(canceled));
    assert!(matches!(
        repository.cancel(AppointmentId::random(), now()),
        Err(WriteError::Refused(CancelFailure::NotFound))
    ));
}

/// Once an appointment has started it stays as it is.
pub fn a_started_appointment_cannot_be_canceled(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, slot(7, 9), 1).unwrap();
    assert!(matches!(
        repository.cancel(appointment.id(), slot(7, 9).start()),
        Err(WriteError::Refused(CancelFailure::Refused(CancelRefusal::AlreadyStarted)))
    ));
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(appointment));
    assert_eq!(count_at(repository, slot(7, 9)), 1);
}

/// Moving an appointment frees the old slot and takes the new one.
pub fn rescheduling_moves_the_place(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, slot(7, 9), 1).unwrap();
    let moved = repository.reschedule(appointment.id(), slot(8, 11), &admission(1)).unwrap();
    assert_eq!(moved.slot(), slot(8, 11));
    assert_eq!(moved.status(), Status::Scheduled);
    assert_eq!(moved.created_at(), appointment.created_at());
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(moved));
    assert_eq!(count_at(repository, slot(7, 9)), 0);
    assert_eq!(count_at(repository, slot(8, 11)), 1);
    book(repository, slot(7, 9), 1).unwrap();
}

/// A move into a full slot is refused and leaves both slots and the appointment as they were.
pub fn rescheduling_into_a_full_slot_changes_nothing(repository: &dyn AppointmentRepository) {
    let mover = book(repository, slot(7, 9), 1).unwrap();
    book(repository, slot(7, 10), 1).unwrap();
    assert!(matches!(
        repository.reschedule(mover.id(), slot(7, 10), &admission(1)),
        Err(WriteError::Refused(RescheduleFailure::Unavailable(Unavailable::Full { .. })))
    ));
    let past = Slot::new(now() - Duration::hours(1), now() - Duration::minutes(30)).unwrap();
    assert!(matches!(
        repository.reschedule(mover.id(), past, &admission(1)),
        Err(WriteError::Refused(RescheduleFailure::Unavailable(Unavailable::Past)))
    ));
    assert_eq!(repository.get(mover.id()).unwrap(), Some(mover));
    assert_eq!(count_at(repository, slot(7, 9)), 1);
    assert_eq!(count_at(repository, slot(7, 10)), 1);
}

/// Asking to move to the slot already held succeeds and changes nothing, even in a full slot.
pub fn rescheduling_to_the_same_slot_is_a_no_op_even_when_full(
    repository: &dyn AppointmentRepository,
) {
    let appointment = book(repository, slot(7, 9), 1).unwrap();
    let same = repository.reschedule(appointment.id(), slot(7, 9), &admission(1)).unwrap();
    assert_eq!(same, appointment);
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(appointment));
    assert_eq!(count_at(repository, slot(7, 9)), 1);
}

/// Canceled appointments stay canceled; unknown ids are not found.
pub fn a_canceled_appointment_cannot_be_rescheduled(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, slot(7, 9), 1).unwrap();
    let canceled = repository.cancel(appointment.id(), now()).unwrap();
    assert!(matches!(
        repository.reschedule(appointment.id(), slot(7, 10), &admission(1)),
        Err(WriteError::Refused(RescheduleFailure::Refused(RescheduleRefusal::Canceled)))
    ));
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(canceled));
    assert_eq!(count_at(repository, slot(7, 10)), 0);
    assert!(matches!(
        repository.reschedule(AppointmentId::random(), slot(7, 10), &admission(1)),
        Err(WriteError::Refused(RescheduleFailure::NotFound))
    ));
}

/// Counts include both ends of the range and only scheduled appointments.
pub fn counts_cover_an_inclusive_range_of_scheduled_appointments(
    repository: &dyn AppointmentRepository,
) {
    for (day, hour) in [(7, 9), (7, 9), (7, 12), (8, 9), (9, 9)] {
        book(repository, slot(day, hour), 5).unwrap();
    }
    let canceled = book(repository, slot(7, 12), 5).unwrap();
    repository.cancel(canceled.id(), now()).unwrap();
    let counts = repository.booked_counts(slot(7, 9).start(), slot(8, 9).start()).unwrap();
    let nonzero: BTreeMap<_, _> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
    let expected = BTreeMap::from([
        (slot(7, 9).start(), 2),
        (slot(7, 12).start(), 1),
        (slot(8, 9).start(), 1),
    ]);
    assert_eq!(nonzero, expected);
}

/// After a mixed run of writes, the counts equal the scheduled appointments, slot by slot.
pub fn counts_always_match_the_scheduled_appointments(repository: &dyn AppointmentRepository) {
    let mut ids = Vec::new();
    for step in 0..40u32 {
        let target = slot(7 + step % 3, 9 + step % 4);
        match step % 5 {
            0..=2 => ids.extend(book(repository, target, 2).ok().map(|a| a.id())),
            3 => {
                if let Some(id) = ids.get(step as usize % ids.len().max(1)) {
                    let _refused_or_done = repository.cancel(*id, now());
                }
            }
            _ => {
                if let Some(id) = ids.get(step as usize * 7 % ids.len().max(1)) {
                    let _refused_or_done = repository.reschedule(*id, target, &admission(2));
                }
            }
        }
    }
    let mut expected: BTreeMap<DateTime<Utc>, u32> = BTreeMap::new();
    for id in &ids {
        let appointment = repository.get(*id).unwrap().unwrap();
        if appointment.status() == Status::Scheduled {
            *expected.entry(appointment.slot().start()).or_default() += 1;
        }
    }
    let counts = repository.booked_counts(slot(1, 0).start(), slot(31, 23).start()).unwrap();
    let nonzero: BTreeMap<_, _> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(nonzero, expected);
    assert!(expected.values().all(|n| *n <= 2), "capacity exceeded: {expected:?}");
}

/// Many threads booking one slot at once: exactly `capacity` succeed.
pub fn concurrent_bookings_never_overfill_a_slot(repository: &dyn AppointmentRepository) {
    let outcomes: Vec<bool> = thread::scope(|scope| {
        let handles: Vec<_> =
            (0..16).map(|_| scope.spawn(|| book(repository, slot(7, 9), 3).is_ok())).collect();
        handles.into_iter().map(|handle| handle.join().expect("booking thread panicked")).collect()
    });
    assert_eq!(outcomes.iter().filter(|booked| **booked).count(), 3);
    assert_eq!(count_at(repository, slot(7, 9)), 3);
}

/// A working store reports itself healthy.
pub fn a_healthy_store_says_so(repository: &dyn AppointmentRepository) {
    repository.check_health().unwrap();
}
