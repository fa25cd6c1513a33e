//! The webhook outbox: every recorded change queues a delivery for each subscribed endpoint in
//! its own write, and workers claim them one attempt at a time, in order per endpoint.

use chrono::Duration;

use super::*;
use crate::{
    appointment::{Conclusion, Status},
    history::{Left, Reason, Transition},
    notification::Plan,
    repository::{Concluding, Expired},
    webhook::{
        Attempt, ClaimRequest, Claimed, Delivery, DeliveryState, Endpoint, EndpointId,
        EndpointNotFound, EventType, MAX_ENDPOINTS, Secret, Settlement, Subscription,
        TooManyEndpoints,
    },
};

fn endpoint(repository: &dyn AppointmentRepository, events: Option<&[EventType]>) -> Endpoint {
    let subscription = Subscription::new(events.map(|e| e.iter().copied().collect())).unwrap();
    let endpoint = Endpoint {
        id: EndpointId::random(),
        url: "https://crm.example/hooks".to_owned(),
        subscription,
        secret: Secret::new("whsec_c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0ISE=".to_owned()),
        created_at: now(),
    };
    repository.add_endpoint(endpoint).wait().unwrap()
}

fn deliveries(repository: &dyn AppointmentRepository, endpoint: &Endpoint) -> Vec<Delivery> {
    repository.deliveries(endpoint.id, 100).unwrap().expect("the endpoint is registered")
}

/// Claims at `at`, leasing for a minute.
fn claim(repository: &dyn AppointmentRepository, at: DateTime<Utc>) -> Vec<Claimed> {
    let request = ClaimRequest { now: at, lease_until: at + Duration::minutes(1), most: 10 };
    repository.claim(request).wait().unwrap()
}

fn settle(
    repository: &dyn AppointmentRepository,
    claimed: &Claimed,
    result: Attempt,
    retry_at: Option<DateTime<Utc>>,
) -> bool {
    let settlement = Settlement {
        delivery: claimed.delivery,
        attempt: claimed.attempt,
        result,
        at: now(),
        retry_at,
    };
    repository.settle(settlement).wait().unwrap()
}

fn delivered() -> Attempt {
    Attempt::Delivered
}

fn failed() -> Attempt {
    Attempt::Failed { error: "the endpoint answered 503".to_owned() }
}

/// Book, move and cancel: an endpoint for every event gets three deliveries, one for cancels
/// gets one, with the same message id; a refused write and a change made before an endpoint
/// was registered queue nothing for it.
pub fn each_change_queues_a_delivery_for_each_subscribed_endpoint(
    repository: &dyn AppointmentRepository,
) {
    let everything = endpoint(repository, None);
    let cancels = endpoint(repository, Some(&[EventType::Canceled]));
    let booked = book(repository, place("alice", None, 7, 9, 1));
    let later = now() + Duration::minutes(1);
    let moved = place("alice", None, 7, 10, 1);
    reschedule_on(repository, booked.id(), &moved, &schedule(1).admission(later, None)).unwrap();
    cancel_on(repository, booked.id(), later).unwrap();
    cancel_on(repository, booked.id(), later).unwrap_err();

    let all = deliveries(repository, &everything);
    let events: Vec<_> = all.iter().map(|d| d.event).collect();
    assert_eq!(events, [EventType::Canceled, EventType::Rescheduled, EventType::Scheduled]);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id && w[0].message > w[1].message), "{all:?}");
    for delivery in &all {
        assert_eq!(delivery.appointment, booked.id());
        assert_eq!(delivery.state, DeliveryState::Pending);
        assert_eq!((delivery.attempts, &delivery.last_error), (0, &None));
        assert_eq!(delivery.next_attempt_at, Some(delivery.event_at), "due at once");
    }
    assert_eq!(all[0].event_at, later);
    let only = deliveries(repository, &cancels);
    assert_eq!(only.len(), 1, "{only:?}");
    assert_eq!((only[0].event, only[0].message), (EventType::Canceled, all[0].message));

    let late = endpoint(repository, None);
    assert_eq!(deliveries(repository, &late), []);
    assert_eq!(repository.deliveries(EndpointId::random(), 100).unwrap(), None);
    let listed: Vec<EndpointId> = repository.endpoints().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(listed, [everything.id, cancels.id, late.id], "oldest first");
}

/// A claim takes the oldest pending delivery of each endpoint, counting the attempt; nobody
/// claims it again until its lease ends, the next one waits until it is settled, and a
/// settlement for an attempt that is no longer the latest changes nothing.
pub fn claims_take_each_endpoints_oldest_delivery_once(repository: &dyn AppointmentRepository) {
    let first = endpoint(repository, None);
    let second = endpoint(repository, None);
    let one = book(repository, place("alice", None, 7, 9, 1));
    let two = book(repository, place("alice", None, 7, 10, 1));

    let claimed = claim(repository, now());
    let heads: Vec<_> = claimed.iter().map(|c| (c.endpoint, c.attempt)).collect();
    assert_eq!(heads.len(), 2, "{claimed:?}");
    assert!(heads.contains(&(first.id, 1)) && heads.contains(&(second.id, 1)), "{heads:?}");
    assert!(claimed.iter().all(|c| c.message.appointment.id() == one.id()), "{claimed:?}");
    let mine = claimed.iter().find(|c| c.endpoint == first.id).unwrap();
    assert_eq!((mine.url.as_str(), &mine.secret), (first.url.as_str(), &first.secret));
    assert_eq!(claim(repository, now() + Duration::seconds(59)), [], "leased, and in order");

    let after_lease = now() + Duration::minutes(2);
    let again = claim(repository, after_lease);
    let retaken = again.iter().find(|c| c.endpoint == first.id).unwrap();
    assert_eq!((retaken.delivery, retaken.attempt), (mine.delivery, 2));
    assert!(!settle(repository, mine, delivered(), None), "attempt 1 is no longer the latest");
    assert!(settle(repository, retaken, delivered(), None));
    assert!(!settle(repository, retaken, delivered(), None), "settled once");
    let next = claim(repository, after_lease);
    assert_eq!(next.len(), 1, "the second endpoint's head is still leased: {next:?}");
    assert_eq!((next[0].endpoint, next[0].message.appointment.id()), (first.id, two.id()));

    let shown = deliveries(repository, &first);
    assert_eq!(shown[1].state, DeliveryState::Delivered);
    assert_eq!((shown[1].attempts, &shown[1].last_error), (2, &None));
    assert_eq!(shown[1].next_attempt_at, None);
    assert_eq!((shown[0].state, shown[0].attempts), (DeliveryState::Pending, 1));
}

/// A failed attempt is pending again from its retry time, with its status and error shown; once
/// there is no retry left it fails for good, and the endpoint's next delivery goes ahead.
pub fn failed_attempts_retry_and_then_fail_for_good(repository: &dyn AppointmentRepository) {
    let hook = endpoint(repository, Some(&[EventType::Scheduled]));
    book(repository, place("alice", None, 7, 9, 1));
    let second = book(repository, place("alice", None, 7, 10, 1));

    let claimed = claim(repository, now());
    let retry_at = now() + Duration::seconds(30);
    assert!(settle(repository, &claimed[0], failed(), Some(retry_at)));
    let shown = &deliveries(repository, &hook)[1];
    assert_eq!((shown.state, shown.attempts), (DeliveryState::Pending, 1));
    assert_eq!(shown.last_error.as_deref(), Some("the endpoint answered 503"));
    assert_eq!(shown.next_attempt_at, Some(retry_at));
    assert_eq!(claim(repository, retry_at - Duration::seconds(1)), [], "not due yet");

    let retried = claim(repository, retry_at);
    assert_eq!((retried[0].delivery, retried[0].attempt), (claimed[0].delivery, 2));
    let no_answer = Attempt::Failed { error: "timed out".to_owned() };
    assert!(settle(repository, &retried[0], no_answer, None));
    let shown = &deliveries(repository, &hook)[1];
    assert_eq!((shown.state, shown.attempts), (DeliveryState::Failed, 2));
    assert_eq!(shown.next_attempt_at, None);
    assert_eq!(shown.last_error.as_deref(), Some("timed out"));

    let next = claim(repository, retry_at);
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].message.appointment.id(), second.id());
}

/// Each message shows the appointment as its change left it, with who made it, why, and where
/// a move came from; a hold's conversion and a keyed cancel queue theirs as plain writes do.
pub fn each_message_shows_the_appointment_as_its_change_left_it(
    repository: &dyn AppointmentRepository,
) {
    endpoint(repository, None);
    let token = hold(repository, place("bob", None, 7, 9, 1), 5).unwrap();
    let held = Booking { hold: Some(token), ..booking(vec![place("bob", None, 7, 9, 1)]) };
    let booked = book_on(repository, &held, &admission()).unwrap();
    let later = now() + Duration::minutes(1);
    let ten = place("bob", None, 7, 10, 1);
    let admission_later = schedule(1).admission(later, None);
    repository.reschedule(booked.id(), ten, admission_later, Actor::Operator, None).wait().unwrap();
    let reason = Reason::parse("Feeling ill").unwrap();
    let cancel = Cancellation { reason: reason.clone(), ..cancellation(booked.id(), later) };
    let key = IdempotencyKey::parse("cancel-hook").unwrap();
    repository.cancel(cancel, keyed(&key, "c", later)).wait().unwrap();

    let mut messages = Vec::new();
    for _ in 0..3 {
        let claimed = claim(repository, later);
        assert_eq!(claimed.len(), 1, "{claimed:?}");
        assert!(settle(repository, &claimed[0], delivered(), None));
        messages.push(claimed[0].message.clone());
    }
    let [scheduled, moved, canceled] = &messages[..] else { unreachable!() };
    let (nine, ten) = (place("bob", None, 7, 9, 1).slot, place("bob", None, 7, 10, 1).slot);
    assert_eq!(
        (scheduled.event, scheduled.at, scheduled.from),
        (EventType::Scheduled, now(), None)
    );
    assert_eq!(scheduled.appointment.slot(), nine);
    assert_eq!(scheduled.appointment.status(), Status::Scheduled);
    assert_eq!(scheduled.appointment.updated_at(), now());
    assert_eq!(scheduled.appointment.client_name(), booked.client_name());
    assert_eq!(
        (moved.event, moved.from, moved.by),
        (EventType::Rescheduled, Some(nine), Actor::Operator)
    );
    assert_eq!((moved.appointment.slot(), moved.appointment.updated_at()), (ten, later));
    assert_eq!(moved.left, Some(Left { resource: slug("bob"), service: None }));
    assert_eq!((scheduled.left.as_ref(), canceled.left.as_ref()), (None, None));
    assert_eq!(moved.appointment.status(), Status::Scheduled);
    assert_eq!((canceled.event, &canceled.reason), (EventType::Canceled, &reason));
    assert_eq!(
        (canceled.appointment.slot(), canceled.appointment.status()),
        (ten, Status::Canceled)
    );
    assert!(scheduled.id < moved.id && moved.id < canceled.id, "{messages:?}");
    assert!(repository.history(booked.id()).unwrap().is_some_and(|h| h.len() == 3));
    assert_eq!(
        repository.history(booked.id()).unwrap().unwrap()[1].change,
        Transition::Rescheduled { from: nine }
    );
}

/// Recording how an appointment ended queues `appointment.no_show` or `appointment.completed`
/// for its subscribers, showing the appointment with its final status, who recorded it and why;
/// it queues no message to the client, whatever the plan.
pub fn a_conclusion_is_recorded_and_queued_but_mails_nobody(
    repository: &dyn AppointmentRepository,
) {
    let plan = Plan { reminders: "3600s".parse().unwrap() };
    repository.plan_notifications(Some(plan), now()).wait().unwrap();
    let everything = endpoint(repository, None);
    let completions = endpoint(repository, Some(&[EventType::Completed]));
    let missed = book(repository, place("alice", None, 7, 9, 1));
    let attended = book(repository, place("bob", None, 7, 9, 1));
    let mail = repository.notifications(None, 100).unwrap();
    assert_eq!(mail.len(), 4, "confirmations and reminders: {mail:?}");

    let during = at(7, 9, 20);
    let reason = Reason::parse("Called twice, no answer").unwrap();
    let no_show = Concluding {
        id: missed.id(),
        conclusion: Conclusion::NoShow,
        now: during,
        by: Actor::Operator,
        reason: reason.clone(),
    };
    repository.conclude(no_show).wait().unwrap();
    conclude_on(repository, attended.id(), Conclusion::Completed, during).unwrap();
    assert_eq!(repository.notifications(None, 100).unwrap(), mail, "nothing for the clients");

    let events: Vec<_> = deliveries(repository, &everything).iter().map(|d| d.event).collect();
    let expected =
        [EventType::Completed, EventType::NoShow, EventType::Scheduled, EventType::Scheduled];
    assert_eq!(events, expected);
    let only = deliveries(repository, &completions);
    assert_eq!(
        only.iter().map(|d| (d.event, d.appointment)).collect::<Vec<_>>(),
        [(EventType::Completed, attended.id())]
    );

    let mut messages = Vec::new();
    loop {
        let claimed = claim(repository, during);
        if claimed.is_empty() {
            break;
        }
        for claim in claimed.iter().filter(|c| c.endpoint == everything.id) {
            messages.push(claim.message.clone());
        }
        for claim in &claimed {
            assert!(settle(repository, claim, delivered(), None));
        }
    }
    let shown: Vec<_> = messages[2..]
        .iter()
        .map(|m| (m.event, m.appointment.status(), m.by, m.reason.clone(), m.at))
        .collect();
    assert_eq!(
        shown,
        [
            (EventType::NoShow, Status::NoShow, Actor::Operator, reason, during),
            (EventType::Completed, Status::Completed, Actor::Operator, None, during),
        ]
    );
}

/// Removing an endpoint removes its deliveries; an unknown one is not found; no more than
/// [`MAX_ENDPOINTS`] are registered.
pub fn endpoints_are_removed_with_their_deliveries_and_capped(
    repository: &dyn AppointmentRepository,
) {
    let gone = endpoint(repository, None);
    let kept = endpoint(repository, None);
    book(repository, place("alice", None, 7, 9, 1));
    let removed = repository.remove_endpoint(gone.id).wait().unwrap();
    assert_eq!(removed.id, gone.id);
    assert_eq!(repository.deliveries(gone.id, 100).unwrap(), None);
    let claimed = claim(repository, now());
    assert!(claimed.iter().all(|c| c.endpoint == kept.id) && claimed.len() == 1, "{claimed:?}");
    let again = repository.remove_endpoint(gone.id).wait();
    assert!(matches!(again, Err(WriteError::Refused(EndpointNotFound))), "{again:?}");

    for _ in 1..MAX_ENDPOINTS {
        endpoint(repository, None);
    }
    assert_eq!(repository.endpoints().unwrap().len(), MAX_ENDPOINTS);
    let extra = Endpoint { id: EndpointId::random(), ..gone };
    let refused = repository.add_endpoint(extra).wait();
    assert!(matches!(refused, Err(WriteError::Refused(TooManyEndpoints))), "{refused:?}");
}

/// The sweep forgets deliveries delivered or failed at or before its cutoff, first settled
/// first, and never a pending one.
pub fn settled_deliveries_are_forgotten_by_the_sweep(repository: &dyn AppointmentRepository) {
    let hook = endpoint(repository, None);
    for hour in [9, 10, 11] {
        book(repository, place("alice", None, 7, hour, 1));
    }
    let first = claim(repository, now());
    assert!(settle(repository, &first[0], delivered(), None));
    let second = claim(repository, now());
    assert!(settle(repository, &second[0], failed(), None));
    let third = claim(repository, now());
    assert!(settle(repository, &third[0], failed(), Some(now() + Duration::hours(1))));

    let sweep = |settled_by, most| {
        let expired = Expired {
            keys_made_by: now() - Duration::days(1),
            holds_ended_by: now() - Duration::days(1),
            deliveries_settled_by: settled_by,
            most,
        };
        repository.forget_expired(expired).wait().unwrap().deliveries
    };
    assert_eq!(sweep(now() - Duration::seconds(1), 10), 0, "settled after the cutoff");
    assert_eq!(sweep(now(), 1), 1, "at most as many as asked");
    assert_eq!(sweep(now() + Duration::days(1), 10), 1, "the other settled one");
    let left = deliveries(repository, &hook);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!((left[0].id, left[0].state), (third[0].delivery, DeliveryState::Pending));
}
