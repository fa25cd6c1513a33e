//! The repository contract: behaviour every [`AppointmentRepository`] must show, written once and
//! run against every store with [`repository_contract_tests!`](crate::repository_contract_tests).
//!
//! Each check takes a fresh, empty repository and panics when the contract is broken. The checks
//! live in one file per area; the macro holds the one list of them, and a test fails if a public
//! check in those files is missing from it.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failed check"
)]

mod bookings;
mod calendars;
mod changes;
mod closures;
mod history;
mod holds;
mod keys;
mod listings;
mod notifications;
pub mod properties;
mod webhooks;
mod written;

use std::num::NonZeroU16;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

pub use self::{
    bookings::*, calendars::*, changes::*, closures::*, history::*, holds::*, keys::*, listings::*,
    notifications::*, webhooks::*, written::*,
};
use crate::{
    admission::{Admission, Unavailable, Usage},
    appointment::{Appointment, AppointmentId, Conclusion},
    catalog::{Resource, Service, Slug},
    client::ClientName,
    closure::{Closure, ClosureId},
    contact::{Contact, Email, Phone},
    history::Actor,
    hold::HoldToken,
    idempotency::{Idempotency, IdempotencyKey, Outcome},
    placement::Placement,
    repository::{
        AppointmentRepository, BookFailure, Booking, CancelFailure, Cancellation, ConcludeFailure,
        Concluding, Expired, HoldFailure, HoldRequest, RescheduleFailure, Written,
    },
    schedule::Schedule,
    storage::WriteError,
    units::{Capacity, Slot, SlotLength},
};

/// Generates one `#[test]` per contract check; `$make` builds a fresh, empty repository (or
/// anything that dereferences to one) for each. `#[$attribute] $make` puts the attribute (such
/// as `#[ignore = "needs a database"]`) on every test.
#[macro_export]
macro_rules! repository_contract_tests {
    (#[$attribute:meta] $make:expr) => {
        $crate::repository_contract_tests!(@checks (@each [$attribute] $make));
    };
    ($make:expr) => {
        // `cfg(all())` is always true: the attribute that changes nothing.
        $crate::repository_contract_tests!(@checks (@each [cfg(all())] $make));
    };
    // The one list of checks, handed to the mode in parentheses.
    (@checks ($($mode:tt)*)) => {
        $crate::repository_contract_tests! { $($mode)*;
            a_booking_reads_back_with_every_field,
            an_unknown_id_is_not_found,
            find_answers_as_get_does,
            a_slot_takes_no_more_than_its_capacity,
            the_admission_rule_is_applied_in_the_write,
            the_first_free_candidate_is_booked,
            a_refused_list_names_the_first_candidates_refusal,
            a_long_appointment_needs_every_slot_and_its_buffers,
            concurrent_bookings_never_overfill_a_slot,
            a_healthy_store_says_so,
            canceling_gives_the_places_back,
            canceling_twice_or_unknown_is_refused,
            a_started_appointment_cannot_be_canceled,
            within_the_notice_nothing_is_canceled_or_moved,
            rescheduling_moves_every_place,
            rescheduling_to_another_resource_moves_every_place,
            rescheduling_to_another_service_takes_its_places,
            rescheduling_may_overlap_its_own_places,
            rescheduling_into_a_full_slot_changes_nothing,
            rescheduling_to_the_same_slot_is_a_no_op_even_when_full,
            a_canceled_appointment_cannot_be_rescheduled,
            a_started_appointment_is_concluded_once_and_keeps_its_places,
            a_conclusion_is_recorded_and_queued_but_mails_nobody,
            usage_covers_an_inclusive_range_of_scheduled_appointments,
            usage_always_matches_the_scheduled_appointments,
            appointments_are_listed_in_order_with_filters_and_cursor,
            a_hold_takes_its_place_until_it_expires,
            a_hold_converts_into_the_appointment_once,
            a_hold_converts_only_into_its_own_placement,
            a_conversion_refused_by_a_closure_keeps_the_hold,
            a_released_hold_frees_its_place,
            a_holder_has_at_most_its_quota_of_active_holds,
            expired_holds_are_forgotten_by_the_sweep_alone,
            closures_block_bookings_and_list_what_they_cover,
            closures_are_listed_by_overlap_and_removed,
            a_repeated_key_replays_the_first_outcome_without_doing_the_work,
            a_replay_is_the_appointment_as_its_write_left_it,
            a_key_used_for_another_request_is_refused,
            simultaneous_requests_with_one_key_do_the_work_once,
            a_refused_write_stores_no_answer,
            keys_are_forgotten_after_their_lifetime,
            expired_keys_are_forgotten_by_the_sweep_alone,
            every_write_reports_what_it_changed_and_what_happened,
            the_history_lists_each_change_in_order,
            refused_and_replayed_writes_add_no_history,
            every_way_of_writing_records_its_change,
            histories_answer_for_many_at_once,
            each_change_queues_a_delivery_for_each_subscribed_endpoint,
            claims_take_each_endpoints_oldest_delivery_once,
            failed_attempts_retry_and_then_fail_for_good,
            each_message_shows_the_appointment_as_its_change_left_it,
            endpoints_are_removed_with_their_deliveries_and_capped,
            settled_deliveries_are_forgotten_by_the_sweep,
            nothing_is_queued_without_a_plan_or_an_address,
            each_change_queues_its_message_and_the_reminders_follow_it,
            claims_take_each_appointments_oldest_notification_once,
            reminders_come_due_at_their_time_and_are_skipped_once_started,
            a_new_plan_drops_and_adds_reminders_once,
            a_reminder_in_flight_when_its_appointment_moves_is_not_sent_again,
            failed_notifications_are_listed_and_forgotten,
            a_write_changes_the_usage_of_exactly_the_slots_it_reports,
            a_calendar_is_stored_by_version_and_read_back,
            a_calendar_that_strands_or_overbooks_is_refused,
            a_placement_under_a_replaced_calendar_is_refused
        }
    };
    (@each [$attribute:meta] $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            #[$attribute]
            fn $check() {
                let repository = $make;
                $crate::contract::$check(&*repository);
            }
        )*
    };
    (@names; $($check:ident),* $(,)?) => {
        [$(stringify!($check)),*]
    };
}

/// Registers an endpoint for every event on `repository`, so that its writes queue webhook
/// deliveries: for stores' own tests of the outbox.
pub fn subscribe_everything(repository: &dyn AppointmentRepository) {
    let endpoint = crate::webhook::Endpoint {
        id: crate::webhook::EndpointId::random(),
        url: "https://crm.example/hooks".to_owned(),
        subscription: crate::webhook::Subscription::All,
        secret: crate::webhook::Secret::new("whsec_c2VjcmV0".to_owned()),
        created_at: now(),
    };
    repository.add_endpoint(endpoint).wait().unwrap();
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
    admission_at(now())
}

fn admission_at(now: DateTime<Utc>) -> Admission {
    schedule(1).admission(now, None)
}

fn booking(candidates: Vec<Placement>) -> Booking {
    Booking {
        id: AppointmentId::random(),
        client_name: ClientName::parse("Ada").unwrap(),
        notes: None,
        // Every store keeps the contact details and gives them back, on every path.
        contact: Contact {
            email: Email::parse("ada@example.com").unwrap(),
            phone: Phone::parse("+44 20 7946 0958").unwrap(),
        },
        candidates,
        hold: None,
        by: Actor::Client,
    }
}

/// The client's cancellation of `id` at `now`, with no reason given.
fn cancellation(id: AppointmentId, now: DateTime<Utc>) -> Cancellation {
    Cancellation { id, now, by: Actor::Client, reason: None, notice: Duration::zero() }
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
    repository.book(booking.clone(), *admission, None).wait().map(|o| done(o).outcome)
}

fn cancel_on(
    repository: &dyn AppointmentRepository,
    id: AppointmentId,
    now: DateTime<Utc>,
) -> Result<Written<Appointment>, WriteError<CancelFailure>> {
    repository.cancel(cancellation(id, now), None).wait().map(done)
}

/// The operator's record, at `now`, that `id` ended as `conclusion`.
fn conclude_on(
    repository: &dyn AppointmentRepository,
    id: AppointmentId,
    conclusion: Conclusion,
    now: DateTime<Utc>,
) -> Result<Written<Appointment>, WriteError<ConcludeFailure>> {
    let concluding = Concluding { id, conclusion, now, by: Actor::Operator, reason: None };
    repository.conclude(concluding).wait()
}

fn reschedule_on(
    repository: &dyn AppointmentRepository,
    id: AppointmentId,
    to: &Placement,
    admission: &Admission,
) -> Result<Written<Appointment>, WriteError<RescheduleFailure>> {
    repository.reschedule(id, to.clone(), *admission, Actor::Client, None).wait().map(done)
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

fn hold_request(placement: Placement, minutes: i64) -> HoldRequest {
    HoldRequest {
        token: HoldToken::random(),
        candidates: vec![placement],
        expires_at: now() + Duration::minutes(minutes),
        quota: None,
    }
}

fn hold(
    repository: &dyn AppointmentRepository,
    placement: Placement,
    minutes: i64,
) -> Result<HoldToken, HoldFailure> {
    hold_as(repository, hold_request(placement, minutes), &admission())
}

fn hold_as(
    repository: &dyn AppointmentRepository,
    request: HoldRequest,
    admission: &Admission,
) -> Result<HoldToken, HoldFailure> {
    match repository.hold(request, *admission).wait() {
        Ok(hold) => Ok(hold.outcome.token),
        Err(WriteError::Refused(why)) => Err(why),
        Err(other) => panic!("unexpected failure: {other:?}"),
    }
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

fn keyed(key: &IdempotencyKey, fingerprint: &str, at: DateTime<Utc>) -> Option<Idempotency> {
    Some(Idempotency {
        key: key.clone(),
        fingerprint: fingerprint.to_owned(),
        now: at,
        lifetime: Duration::hours(24),
    })
}

#[cfg(test)]
mod tests {
    /// A public check written in an area file but left out of the macro's list would never
    /// run; this finds it.
    #[test]
    fn every_check_is_in_the_list() {
        let listed = crate::repository_contract_tests!(@checks (@names));
        let areas = [
            include_str!("bookings.rs"),
            include_str!("calendars.rs"),
            include_str!("changes.rs"),
            include_str!("closures.rs"),
            include_str!("history.rs"),
            include_str!("holds.rs"),
            include_str!("keys.rs"),
            include_str!("listings.rs"),
            include_str!("notifications.rs"),
            include_str!("webhooks.rs"),
            include_str!("written.rs"),
        ];
        let written: Vec<&str> = areas
            .iter()
            .flat_map(|source| source.lines())
            .filter_map(|line| line.strip_prefix("pub fn "))
            .filter_map(|rest| rest.split('(').next())
            .collect();
        let mut missing: Vec<_> = written.iter().filter(|name| !listed.contains(name)).collect();
        missing.sort();
        assert!(missing.is_empty(), "checks missing from repository_contract_tests!: {missing:?}");
        assert_eq!(written.len(), listed.len(), "a listed check is written nowhere, or twice");
    }
}
