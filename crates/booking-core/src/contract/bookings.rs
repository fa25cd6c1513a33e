//! Booking: what is stored, capacity, the admission rule, candidates, long appointments.

use std::thread;

use chrono::Duration;

use super::*;
use crate::client::Notes;

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
    let contact = stored.contact();
    assert_eq!(contact.email.as_ref().map(|e| e.as_str()), Some("ada@example.com"));
    assert_eq!(contact.phone.as_ref().map(|p| p.as_str()), Some("+442079460958"));
    assert_eq!(repository.get(stored.id()).unwrap().as_ref(), Some(&stored));
    let no_contact = Booking {
        contact: crate::contact::Contact::default(),
        ..booking(vec![place("alice", None, 7, 10, 1)])
    };
    let plain = book_on(repository, &no_contact, &admission()).unwrap();
    assert_eq!(plain.service(), None);
    assert_eq!(plain.notes(), None);
    assert_eq!(plain.contact(), &crate::contact::Contact::default());
    assert_eq!(repository.get(plain.id()).unwrap(), Some(plain));
}

/// `find` answers what `get` reads, for stored and unknown ids, many asked at once.
pub fn find_answers_as_get_does(repository: &dyn AppointmentRepository) {
    let stored: Vec<_> =
        (9..13).map(|hour| book(repository, place("alice", None, 7, hour, 1))).collect();
    let unknown = AppointmentId::random();
    let asked: Vec<_> = stored
        .iter()
        .map(|appointment| (appointment.id(), repository.find(appointment.id())))
        .chain([(unknown, repository.find(unknown))])
        .collect();
    for (id, found) in asked {
        assert_eq!(found.wait().unwrap(), repository.get(id).unwrap(), "{id}");
    }
    assert_eq!(repository.find(unknown).wait().unwrap(), None);
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

/// When every candidate is refused, the answer is the first candidate's refusal, whichever part
/// of the rule gave it (its time, or what is stored), with its own capacity.
pub fn a_refused_list_names_the_first_candidates_refusal(repository: &dyn AppointmentRepository) {
    let past = || {
        let mut past = place("alice", None, 1, 7, 1);
        past.occupied = vec![past.slot.start()];
        past
    };
    book(repository, place("bob", None, 7, 9, 1));
    book(repository, place("alice", None, 7, 10, 2));
    book(repository, place("alice", None, 7, 10, 2));
    book(repository, place("bob", None, 7, 10, 1));
    let refused = |candidates| match book_on(repository, &booking(candidates), &admission()) {
        Err(WriteError::Refused(BookFailure::Unavailable(why))) => why,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refused(vec![past(), place("bob", None, 7, 9, 1)]), Unavailable::Past);
    assert_eq!(
        refused(vec![place("bob", None, 7, 9, 1), past()]),
        Unavailable::Full { capacity: Capacity::new(1).unwrap() }
    );
    assert_eq!(
        refused(vec![place("alice", None, 7, 10, 2), place("bob", None, 7, 10, 1)]),
        Unavailable::Full { capacity: Capacity::new(2).unwrap() }
    );
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
    repository.check_writable(now()).wait().unwrap();
    // The probe changes nothing a client sees.
    let every = crate::repository::AppointmentQuery { limit: 10, ..Default::default() };
    assert!(repository.appointments(&every).unwrap().is_empty());
}
