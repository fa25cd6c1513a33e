//! Canceling and moving appointments, and recording how they ended.

use chrono::Duration;

use super::*;
use crate::{
    appointment::{CancelRefusal, ConcludeRefusal, RescheduleRefusal, Status},
    change::Change,
    event::Event,
    history::{Left, Transition},
};

/// A canceled appointment frees every place it took.
pub fn canceling_gives_the_places_back(repository: &dyn AppointmentRepository) {
    let first = book(repository, place("alice", Some("colour"), 7, 9, 1));
    let later = now() + Duration::minutes(5);
    let canceled = cancel_on(repository, first.id(), later).unwrap().outcome;
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
    let canceled = cancel_on(repository, appointment.id(), now()).unwrap().outcome;
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

/// Once an appointment has started it stays as it is: from its first instant, to the
/// millisecond (stores count time in whole seconds; the rule does not).
pub fn a_started_appointment_cannot_be_canceled(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, place("alice", None, 7, 9, 1));
    let half_a_second = Duration::milliseconds(500);
    for now in [at(7, 9, 0), at(7, 9, 0) + half_a_second] {
        assert!(matches!(
            cancel_on(repository, appointment.id(), now),
            Err(WriteError::Refused(CancelFailure::Refused(CancelRefusal::AlreadyStarted)))
        ));
    }
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&appointment));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1);
    let canceled = cancel_on(repository, appointment.id(), at(7, 9, 0) - half_a_second)
        .expect("half a second before its start, it has not started")
        .outcome;
    assert_eq!(canceled.status(), Status::Canceled);
    assert_eq!(canceled.updated_at(), at(7, 8, 59) + Duration::seconds(59));
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(canceled));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 0);
}

/// Within the cancellation notice before its start an appointment is neither canceled nor
/// moved, and keeps its places; asking for the place it holds still answers unchanged; at the
/// deadline itself it is canceled. The refusal names the deadline.
pub fn within_the_notice_nothing_is_canceled_or_moved(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, place("alice", None, 7, 9, 1));
    let notice = Duration::hours(2);
    let deadline = at(7, 7, 0);
    let late = deadline + Duration::seconds(1);
    let cancel = |now| Cancellation { notice, ..cancellation(appointment.id(), now) };
    assert!(matches!(
        repository.cancel(cancel(late), None).wait(),
        Err(WriteError::Refused(CancelFailure::Refused(CancelRefusal::TooLate { deadline: d })))
            if d == deadline
    ));
    let held_to = |now| admission_at(now).with_change_notice(notice);
    let elsewhere = place("alice", None, 8, 9, 1);
    assert!(matches!(
        repository.reschedule(appointment.id(), elsewhere, held_to(late), Actor::Client, None).wait(),
        Err(WriteError::Refused(RescheduleFailure::Refused(RescheduleRefusal::TooLate { deadline: d })))
            if d == deadline
    ));
    let same = place("alice", None, 7, 9, 1);
    let unchanged =
        repository.reschedule(appointment.id(), same, held_to(late), Actor::Client, None).wait();
    assert_eq!(unchanged.unwrap().done().unwrap().outcome, appointment);
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&appointment));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1);
    let canceled = repository.cancel(cancel(deadline), None).wait().unwrap().done().unwrap();
    assert_eq!(canceled.outcome.status(), Status::Canceled);
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 0);
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
    .unwrap()
    .outcome;
    assert_eq!(moved.slot().start(), at(8, 11, 0));
    assert_eq!(moved.status(), Status::Scheduled);
    assert_eq!(moved.created_at(), appointment.created_at());
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&moved));
    assert!(appointment.occupied().iter().all(|s| booked_at(repository, "alice", *s) == 0));
    assert!(moved.occupied().iter().all(|s| booked_at(repository, "alice", *s) == 1));
}

/// A move to another resource frees the old resource's places and takes the new one's, and
/// reports that every listing must be read again; a full slot there refuses it and leaves
/// everything as it was.
pub fn rescheduling_to_another_resource_moves_every_place(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, place("alice", Some("colour"), 7, 9, 1));
    let blocker = book(repository, place("bob", None, 8, 9, 1));
    assert!(matches!(
        reschedule_on(
            repository,
            appointment.id(),
            &place("bob", Some("colour"), 8, 9, 1),
            &admission()
        ),
        Err(WriteError::Refused(RescheduleFailure::Unavailable(Unavailable::Full { .. })))
    ));
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&appointment));
    let to = place("bob", Some("colour"), 7, 9, 1);
    let moved = reschedule_on(repository, appointment.id(), &to, &admission()).unwrap();
    // Two resources' slots changed: every listing reads again.
    assert_eq!(moved.changed, crate::change::Change::Everything);
    let moved = moved.outcome;
    assert_eq!((moved.resource(), moved.slot()), (&slug("bob"), to.slot));
    assert_eq!(moved.service(), Some(&slug("colour")));
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&moved));
    assert!(appointment.occupied().iter().all(|s| booked_at(repository, "alice", *s) == 0));
    assert!(moved.occupied().iter().all(|s| booked_at(repository, "bob", *s) == 1));
    assert_eq!(booked_at(repository, "bob", blocker.slot().start()), 1);
    let history = repository.history(appointment.id()).unwrap().unwrap();
    let left = Left { resource: slug("alice"), service: Some(slug("colour")) };
    assert_eq!(history.last().and_then(|entry| entry.left.clone()), Some(left), "where it left");
}

/// A move to another service, even at the same time, takes the places that service needs and
/// records it; when they are not free nothing changes. A key replays the move as it was.
pub fn rescheduling_to_another_service_takes_its_places(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, place("alice", Some("cut"), 7, 9, 1));
    let blocker = book(repository, place("alice", None, 7, 10, 1));
    let longer = place("alice", Some("colour"), 7, 9, 1);
    assert!(matches!(
        reschedule_on(repository, appointment.id(), &longer, &admission()),
        Err(WriteError::Refused(RescheduleFailure::Unavailable(Unavailable::Full { .. })))
    ));
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&appointment));
    cancel_on(repository, blocker.id(), now()).unwrap();
    let key = IdempotencyKey::parse("longer").unwrap();
    let keyed_move = || {
        let to = longer.clone();
        repository.reschedule(
            appointment.id(),
            to,
            admission(),
            Actor::Client,
            keyed(&key, "m", now()),
        )
    };
    let moved = done(keyed_move().wait().unwrap()).outcome;
    assert_eq!((moved.service(), moved.slot()), (Some(&slug("colour")), longer.slot));
    assert_eq!(moved.occupied(), longer.occupied);
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&moved));
    assert!(longer.occupied.iter().all(|s| booked_at(repository, "alice", *s) == 1));
    let replayed = keyed_move().wait().unwrap();
    assert!(matches!(replayed, Outcome::Replayed(ref a) if a == &moved), "{replayed:?}");
    let again = reschedule_on(repository, appointment.id(), &longer, &admission()).unwrap();
    assert_eq!((again.event, again.outcome), (None, moved), "the place it holds: unchanged");
    let history = repository.history(appointment.id()).unwrap().unwrap();
    let left = Left { resource: slug("alice"), service: Some(slug("cut")) };
    assert_eq!(history.last().and_then(|entry| entry.left.clone()), Some(left), "what it left");
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
    .unwrap()
    .outcome;
    assert_eq!(moved.slot().start(), at(7, 10, 0));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 0);
    for start in moved.occupied() {
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
    assert_eq!(same.outcome, appointment);
    assert_eq!(repository.get(appointment.id()).unwrap(), Some(appointment));
    assert_eq!(booked_at(repository, "alice", at(7, 9, 0)), 1);
}

/// Canceled appointments stay canceled; unknown ids are not found.
pub fn a_canceled_appointment_cannot_be_rescheduled(repository: &dyn AppointmentRepository) {
    let appointment = book(repository, place("alice", None, 7, 9, 1));
    let canceled = cancel_on(repository, appointment.id(), now()).unwrap().outcome;
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

/// Once it has started, and not before, an appointment is recorded as completed or a no-show:
/// it keeps its places (no availability changes), and stays as it is: recording the same again
/// changes nothing, the other conclusion, a cancel and a move are refused. A canceled or
/// unknown appointment is refused.
pub fn a_started_appointment_is_concluded_once_and_keeps_its_places(
    repository: &dyn AppointmentRepository,
) {
    let appointment = book(repository, place("alice", Some("colour"), 7, 9, 1));
    let early = at(7, 8, 59) + Duration::seconds(59);
    assert!(matches!(
        conclude_on(repository, appointment.id(), Conclusion::Completed, early),
        Err(WriteError::Refused(ConcludeFailure::Refused(ConcludeRefusal::NotStarted { starts_at })))
            if starts_at == at(7, 9, 0)
    ));
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&appointment));

    let during = at(7, 9, 20);
    let written = conclude_on(repository, appointment.id(), Conclusion::Completed, during).unwrap();
    let completed = written.outcome;
    assert_eq!((completed.status(), completed.updated_at()), (Status::Completed, during));
    assert_eq!(
        (completed.slot(), completed.occupied()),
        (appointment.slot(), appointment.occupied())
    );
    assert_eq!(written.changed, Change::Nothing);
    assert_eq!(written.event.as_ref().map(Event::name), Some("appointment.completed"));
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&completed));
    for start in appointment.occupied() {
        assert_eq!(booked_at(repository, "alice", *start), 1, "it keeps its places");
    }

    let later = at(7, 12, 0);
    let again = conclude_on(repository, appointment.id(), Conclusion::Completed, later).unwrap();
    assert_eq!(
        (&again.outcome, &again.event, &again.changed),
        (&completed, &None, &Change::Nothing)
    );
    let finished = Conclusion::Completed;
    assert!(matches!(
        conclude_on(repository, appointment.id(), Conclusion::NoShow, later),
        Err(WriteError::Refused(ConcludeFailure::Refused(ConcludeRefusal::Concluded(c)))) if c == finished
    ));
    assert!(matches!(
        cancel_on(repository, appointment.id(), later),
        Err(WriteError::Refused(CancelFailure::Refused(CancelRefusal::Concluded(c)))) if c == finished
    ));
    let elsewhere = place("alice", Some("colour"), 8, 9, 1);
    assert!(matches!(
        reschedule_on(repository, appointment.id(), &elsewhere, &admission_at(early)),
        Err(WriteError::Refused(RescheduleFailure::Refused(RescheduleRefusal::Concluded(c)))) if c == finished
    ));
    assert_eq!(repository.get(appointment.id()).unwrap().as_ref(), Some(&completed));
    let history = repository.history(appointment.id()).unwrap().unwrap();
    let changes: Vec<_> = history.iter().map(|e| (e.change, e.at, e.by)).collect();
    assert_eq!(
        changes,
        [
            (Transition::Scheduled, now(), Actor::Client),
            (Transition::Completed, during, Actor::Operator)
        ]
    );

    let missed = book(repository, place("bob", None, 7, 9, 1));
    let no_show = conclude_on(repository, missed.id(), Conclusion::NoShow, during).unwrap();
    assert_eq!(no_show.outcome.status(), Status::NoShow);
    assert_eq!(no_show.event.as_ref().map(Event::name), Some("appointment.no_show"));
    assert_eq!(booked_at(repository, "bob", at(7, 9, 0)), 1);

    let canceled = book(repository, place("bob", None, 8, 9, 1));
    cancel_on(repository, canceled.id(), now()).unwrap();
    assert!(matches!(
        conclude_on(repository, canceled.id(), Conclusion::Completed, at(8, 10, 0)),
        Err(WriteError::Refused(ConcludeFailure::Refused(ConcludeRefusal::Canceled)))
    ));
    assert!(matches!(
        conclude_on(repository, AppointmentId::random(), Conclusion::Completed, during),
        Err(WriteError::Refused(ConcludeFailure::NotFound))
    ));
}
