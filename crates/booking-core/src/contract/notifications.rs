//! Notifications: under a plan, each recorded change queues its message and the appointment's
//! reminders in its own write; workers claim them one attempt at a time, in order per
//! appointment, and reminders that come due too late are skipped.

use std::time::Duration as Lead;

use chrono::Duration;

use super::*;
use crate::{
    appointment::Status,
    notification::{
        ClaimedNotification, Notification, NotificationId, NotificationKind, NotificationState,
        Plan, Planned,
    },
    repository::Expired,
    webhook::{Attempt, ClaimRequest, Settlement},
};

const HOUR: Lead = Lead::from_secs(3600);
const DAY: Lead = Lead::from_secs(86_400);

fn plan(repository: &dyn AppointmentRepository, leads: &[Lead], at: DateTime<Utc>) -> Planned {
    let text: Vec<String> = leads.iter().map(|lead| format!("{}s", lead.as_secs())).collect();
    let plan = Plan { reminders: text.join(",").parse().unwrap() };
    repository.plan_notifications(Some(plan), at).wait().unwrap()
}

fn listed(
    repository: &dyn AppointmentRepository,
    state: Option<NotificationState>,
) -> Vec<Notification> {
    repository.notifications(state, 100).unwrap()
}

fn kinds(notifications: &[Notification]) -> Vec<NotificationKind> {
    notifications.iter().map(|n| n.kind).collect()
}

fn claim(repository: &dyn AppointmentRepository, at: DateTime<Utc>) -> Vec<ClaimedNotification> {
    let request = ClaimRequest { now: at, lease_until: at + Duration::minutes(1), most: 10 };
    repository.claim_notifications(request).wait().unwrap()
}

fn settle(
    repository: &dyn AppointmentRepository,
    claimed: &ClaimedNotification,
    result: Attempt,
    at: DateTime<Utc>,
    retry_at: Option<DateTime<Utc>>,
) -> bool {
    let settlement: Settlement<NotificationId> = Settlement {
        delivery: claimed.notification,
        attempt: claimed.attempt,
        result,
        at,
        retry_at,
    };
    repository.settle_notification(settlement).wait().unwrap()
}

fn sent(repository: &dyn AppointmentRepository, claimed: &ClaimedNotification) {
    assert!(settle(repository, claimed, Attempt::Delivered, now(), None));
}

fn refused() -> Attempt {
    Attempt::Failed { error: "the mail server refused it: 550 no such mailbox".to_owned() }
}

/// Without a plan nothing is queued; a plan gives appointments still to come their reminders,
/// and queues nothing for a client without an address.
pub fn nothing_is_queued_without_a_plan_or_an_address(repository: &dyn AppointmentRepository) {
    let booked = book(repository, place("alice", None, 7, 9, 1));
    assert!(listed(repository, None).is_empty());

    let planned = plan(repository, &[DAY], now());
    assert_eq!(planned, Planned { was_on: false, reminders_queued: 1, reminders_dropped: 0 });
    let queued = listed(repository, None);
    assert_eq!(kinds(&queued), [NotificationKind::Reminder]);
    assert_eq!(queued[0].appointment, booked.id());
    assert_eq!(queued[0].due_at, at(6, 9, 0));
    assert_eq!(queued[0].remind_before, Some(DAY));

    let mut anonymous = booking(vec![place("alice", None, 8, 9, 1)]);
    anonymous.contact = Contact::default();
    book_on(repository, &anonymous, &admission()).unwrap();
    assert_eq!(listed(repository, None).len(), 1, "no address, nothing queued");
}

/// Book, move, cancel: each change queues its message; the reminders follow the appointment's
/// time and go with the cancel; a reminder whose time has passed when the change is made is
/// not queued.
pub fn each_change_queues_its_message_and_the_reminders_follow_it(
    repository: &dyn AppointmentRepository,
) {
    plan(repository, &[DAY, HOUR], now());
    let booked = book(repository, place("alice", None, 7, 9, 1));
    let pending = listed(repository, Some(NotificationState::Pending));
    assert_eq!(
        kinds(&pending),
        [NotificationKind::Reminder, NotificationKind::Reminder, NotificationKind::Confirmation]
    );
    let dues: Vec<_> = pending.iter().map(|n| n.due_at).collect();
    assert_eq!(dues, [at(7, 8, 0), at(6, 9, 0), now()]);

    let later = now() + Duration::minutes(1);
    let moved = place("alice", None, 7, 10, 1);
    reschedule_on(repository, booked.id(), &moved, &schedule(1).admission(later, None)).unwrap();
    let pending = listed(repository, Some(NotificationState::Pending));
    let reminders: Vec<_> =
        pending.iter().filter(|n| n.kind == NotificationKind::Reminder).map(|n| n.due_at).collect();
    assert_eq!(reminders, [at(7, 9, 0), at(6, 10, 0)], "reminders for the new time only");
    assert!(pending.iter().any(|n| n.kind == NotificationKind::Moved && n.due_at == later));

    cancel_on(repository, booked.id(), later).unwrap();
    let pending = listed(repository, Some(NotificationState::Pending));
    assert_eq!(
        kinds(&pending),
        [NotificationKind::Canceled, NotificationKind::Moved, NotificationKind::Confirmation]
    );
    assert!(pending.iter().all(|n| n.appointment == booked.id()));

    // Booked 90 minutes before it starts: the day-ahead reminder's time has passed.
    let soon = book_on(
        repository,
        &booking(vec![place("alice", None, 1, 9, 1)]),
        &schedule(1).admission(at(1, 7, 30), None),
    )
    .unwrap();
    let reminders: Vec<_> = listed(repository, None)
        .into_iter()
        .filter(|n| n.appointment == soon.id() && n.kind == NotificationKind::Reminder)
        .map(|n| n.remind_before)
        .collect();
    assert_eq!(reminders, [Some(HOUR)]);
}

/// A claim takes each appointment's oldest due notification, once, with what it needs: the
/// address, the appointment as the change left it and its revision; the next waits for it.
pub fn claims_take_each_appointments_oldest_notification_once(
    repository: &dyn AppointmentRepository,
) {
    plan(repository, &[], now());
    let first = book(repository, place("alice", None, 7, 9, 1));
    let second = book(repository, place("alice", None, 7, 10, 1));
    let later = now() + Duration::minutes(1);
    reschedule_on(
        repository,
        first.id(),
        &place("alice", None, 7, 11, 1),
        &schedule(1).admission(later, None),
    )
    .unwrap();

    let claimed = claim(repository, later);
    let about: Vec<_> = claimed.iter().map(|c| (c.message.appointment.id(), c.kind)).collect();
    assert_eq!(
        about,
        [
            (first.id(), NotificationKind::Confirmation),
            (second.id(), NotificationKind::Confirmation)
        ]
    );
    let confirmation = &claimed[0];
    assert_eq!(confirmation.attempt, 1);
    assert_eq!(confirmation.to.as_str(), "ada@example.com");
    assert_eq!(confirmation.revision, 0);
    assert_eq!(confirmation.message.appointment.slot().start(), at(7, 9, 0), "as booked");
    assert!(claim(repository, later).is_empty(), "leased, and the move waits for it");

    sent(repository, confirmation);
    let moved = claim(repository, later);
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].kind, NotificationKind::Moved);
    assert_eq!(moved[0].revision, 1);
    assert_eq!(moved[0].message.appointment.slot().start(), at(7, 11, 0));
    assert_eq!(moved[0].message.from.map(|slot| slot.start()), Some(at(7, 9, 0)));
    let states: Vec<_> = listed(repository, None).iter().map(|n| n.state).collect();
    assert_eq!(
        states,
        [NotificationState::Pending, NotificationState::Pending, NotificationState::Sent]
    );
}

/// A reminder is claimed from its time on, even long after it (the service was down), until
/// its appointment starts; from then on it is skipped, not sent.
pub fn reminders_come_due_at_their_time_and_are_skipped_once_started(
    repository: &dyn AppointmentRepository,
) {
    plan(repository, &[DAY], now());
    let booked = book(repository, place("alice", None, 7, 9, 1));
    for claimed in claim(repository, now()) {
        sent(repository, &claimed);
    }
    assert!(claim(repository, at(6, 8, 59)).is_empty(), "not yet due");
    let reminder = claim(repository, at(7, 8, 0));
    assert_eq!(reminder.len(), 1, "due since yesterday, claimed before it starts");
    assert_eq!(reminder[0].kind, NotificationKind::Reminder);
    assert_eq!(reminder[0].remind_before, Some(DAY));
    assert_eq!(reminder[0].message.appointment.id(), booked.id());
    assert_eq!(reminder[0].message.appointment.status(), Status::Scheduled);
    assert!(settle(repository, &reminder[0], refused(), at(7, 8, 0), Some(at(7, 9, 0))));

    assert!(claim(repository, at(7, 9, 0)).is_empty(), "the appointment has started");
    let reminder = &listed(repository, None)[0];
    assert_eq!(reminder.state, NotificationState::Skipped);
    assert_eq!(reminder.next_attempt_at, None);
    assert!(reminder.last_error.as_deref().is_some_and(|e| e.contains("started")), "{reminder:?}");
}

/// Putting a plan in force again changes only what differs: reminders for lead times it drops
/// go, and those it adds are queued once, never a second time for a reminder already sent.
/// Turning mail off queues nothing more, and keeps the reminders queued.
pub fn a_new_plan_drops_and_adds_reminders_once(repository: &dyn AppointmentRepository) {
    plan(repository, &[DAY], now());
    book(repository, place("alice", None, 7, 9, 1));
    let same = Planned { was_on: true, ..Planned::default() };
    assert_eq!(plan(repository, &[DAY], now()), same);
    assert_eq!(
        plan(repository, &[HOUR], now()),
        Planned { was_on: true, reminders_queued: 1, reminders_dropped: 1 }
    );
    let off = repository.plan_notifications(None, now()).wait().unwrap();
    assert_eq!(off, same);
    book(repository, place("alice", None, 8, 9, 1));
    let kept = kinds(&listed(repository, None));
    assert_eq!(kept, [NotificationKind::Reminder, NotificationKind::Confirmation], "the first's");

    // The second was booked while mail was off: it gets its reminder now.
    let on = plan(repository, &[HOUR], now());
    assert_eq!(on, Planned { was_on: false, reminders_queued: 1, reminders_dropped: 0 });
    for claimed in claim(repository, at(7, 8, 0)) {
        sent(repository, &claimed);
    }
    let reminder = claim(repository, at(7, 8, 0));
    assert_eq!(reminder.len(), 1);
    sent(repository, &reminder[0]);
    let again = plan(repository, &[HOUR, DAY], at(7, 8, 0));
    assert_eq!(again.reminders_queued, 1, "the second's day-ahead one; the first's is sent");
}

/// A reminder being sent as its appointment moves is not dropped by the move (it holds up the
/// move's message until it is settled), and is not sent again if that attempt failed.
pub fn a_reminder_in_flight_when_its_appointment_moves_is_not_sent_again(
    repository: &dyn AppointmentRepository,
) {
    plan(repository, &[DAY], now());
    let booked = book(repository, place("alice", None, 7, 9, 1));
    for claimed in claim(repository, now()) {
        sent(repository, &claimed);
    }
    let due = at(6, 9, 0);
    let reminder = claim(repository, due);
    assert_eq!(reminder.len(), 1);
    let moved = place("alice", None, 7, 11, 1);
    reschedule_on(repository, booked.id(), &moved, &schedule(1).admission(due, None)).unwrap();
    assert!(claim(repository, due).is_empty(), "the move waits for the reminder in flight");
    // Retried an hour on: it must not hold the move's message back that long.
    let retry = Some(due + Duration::hours(1));
    assert!(settle(repository, &reminder[0], refused(), due, retry));

    let next = claim(repository, due);
    let kinds: Vec<_> = next.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [NotificationKind::Moved], "the old reminder is not retried");
    let old = listed(repository, None).into_iter().find(|n| n.id == reminder[0].notification);
    assert_eq!(old.map(|n| n.state), Some(NotificationState::Skipped));
    sent(repository, &next[0]);
    let new = claim(repository, at(6, 11, 0));
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].message.appointment.slot().start(), at(7, 11, 0));
}

/// A refused notification fails for good when it gets no retry, is listed among the failed,
/// and is forgotten by the sweep once settled long enough ago; a stale settlement is ignored.
pub fn failed_notifications_are_listed_and_forgotten(repository: &dyn AppointmentRepository) {
    plan(repository, &[], now());
    book(repository, place("alice", None, 7, 9, 1));
    let claimed = claim(repository, now());
    assert!(settle(repository, &claimed[0], refused(), now(), Some(now())));
    let again = claim(repository, now());
    assert_eq!(again[0].attempt, 2);
    assert!(!settle(repository, &claimed[0], Attempt::Delivered, now(), None), "stale");
    assert!(settle(repository, &again[0], refused(), now(), None));

    let failed = listed(repository, Some(NotificationState::Failed));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 2);
    assert_eq!(failed[0].next_attempt_at, None);
    assert!(failed[0].last_error.as_deref().is_some_and(|e| e.contains("550")));
    assert!(listed(repository, Some(NotificationState::Sent)).is_empty());

    let sweep =
        |by| Expired { keys_made_by: by, holds_ended_by: by, deliveries_settled_by: by, most: 10 };
    let kept = repository.forget_expired(sweep(now() - Duration::seconds(1))).wait().unwrap();
    assert_eq!(kept.notifications, 0);
    let forgotten = repository.forget_expired(sweep(now())).wait().unwrap();
    assert_eq!(forgotten.notifications, 1);
    assert!(listed(repository, None).is_empty());
}
