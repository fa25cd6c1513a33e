//! Which slots can be booked. [`Admission::check`] is the one rule that decides it: the
//! availability listing applies it to the counts it reads, and every store applies it to the
//! count it reads inside the transaction that takes the slot, so the two cannot disagree.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use thiserror::Error;

use crate::schedule::{Capacity, Schedule, Slot};

/// How many scheduled appointments start at each instant.
pub type BookedCounts = BTreeMap<DateTime<Utc>, u32>;

/// Why a slot cannot take a booking now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Unavailable {
    /// It has started or is over.
    #[error("the requested time is in the past")]
    Past,
    /// It starts sooner than the minimum notice allows.
    #[error("bookings need notice: the earliest bookable start is {earliest}")]
    TooSoon {
        /// The earliest start that can be booked now.
        earliest: DateTime<Utc>,
    },
    /// It starts further ahead than the booking horizon.
    #[error("bookings open at most until {latest}")]
    BeyondHorizon {
        /// The latest start that can be booked now.
        latest: DateTime<Utc>,
    },
    /// Every place in it is taken.
    #[error("{}", match capacity.get() {
        1 => "the slot is already booked".to_owned(),
        n => format!("all {n} places in this slot are booked"),
    })]
    Full {
        /// The slot's capacity.
        capacity: Capacity,
    },
}

impl Unavailable {
    /// A stable, machine-readable name: `past`, `too_soon`, `beyond_horizon` or `full`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Past => "past",
            Self::TooSoon { .. } => "too_soon",
            Self::BeyondHorizon { .. } => "beyond_horizon",
            Self::Full { .. } => "full",
        }
    }
}

/// The rule, fixed at one moment, that decides whether a slot takes one more booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    now: DateTime<Utc>,
    earliest: DateTime<Utc>,
    latest: Option<DateTime<Utc>>,
    capacity: Capacity,
}

impl Admission {
    pub(crate) fn new(
        now: DateTime<Utc>,
        earliest: DateTime<Utc>,
        latest: Option<DateTime<Utc>>,
        capacity: Capacity,
    ) -> Self {
        Self { now, earliest, latest, capacity }
    }

    /// The moment the rule was fixed at.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Appointments per slot.
    pub fn capacity(&self) -> Capacity {
        self.capacity
    }

    /// Whether a slot starting at `start`, already holding `booked` appointments, takes one more.
    pub fn check(&self, start: DateTime<Utc>, booked: u32) -> Result<(), Unavailable> {
        self.check_time(start)?;
        if !self.capacity.admits(booked) {
            return Err(Unavailable::Full { capacity: self.capacity });
        }
        Ok(())
    }

    /// The part of [`Admission::check`] that does not depend on other bookings, so a request
    /// that can never succeed is refused before any store is asked.
    pub fn check_time(&self, start: DateTime<Utc>) -> Result<(), Unavailable> {
        if start <= self.now {
            return Err(Unavailable::Past);
        }
        if start < self.earliest {
            return Err(Unavailable::TooSoon { earliest: self.earliest });
        }
        if let Some(latest) = self.latest.filter(|latest| start > *latest) {
            return Err(Unavailable::BeyondHorizon { latest });
        }
        Ok(())
    }
}

/// An inclusive range of local dates, at most [`DateRange::MAX_DAYS`] long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    from: NaiveDate,
    to: NaiveDate,
}

/// A date range that cannot be listed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DateRangeError {
    /// The end comes before the start.
    #[error("'to' ({to}) is before 'from' ({from})")]
    Reversed {
        /// The first date.
        from: NaiveDate,
        /// The last date.
        to: NaiveDate,
    },
    /// Too many days at once.
    #[error("the range covers {days} days; at most {max} can be listed at once", max = DateRange::MAX_DAYS)]
    TooLong {
        /// The number of days asked for.
        days: i64,
    },
}

impl DateRange {
    /// The most days one listing covers.
    pub const MAX_DAYS: i64 = 31;

    /// The dates from `from` to `to`, both included.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, DateRangeError> {
        if to < from {
            return Err(DateRangeError::Reversed { from, to });
        }
        let days = (to - from).num_days() + 1;
        if days > Self::MAX_DAYS {
            return Err(DateRangeError::TooLong { days });
        }
        Ok(Self { from, to })
    }

    /// One day.
    pub fn day(date: NaiveDate) -> Self {
        Self { from: date, to: date }
    }

    /// The first date.
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    /// The last date.
    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// Each date in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let to = self.to;
        self.from.iter_days().take_while(move |date| *date <= to)
    }
}

/// One slot in a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotAvailability {
    /// The slot.
    pub slot: Slot,
    /// How many appointments it holds.
    pub capacity: Capacity,
    /// How many are scheduled in it.
    pub booked: u32,
    /// `Ok` when a booking would be taken now, else why not.
    pub status: Result<(), Unavailable>,
}

/// Every slot of the range, each with its counts and whether it can be booked at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    /// The dates covered.
    pub range: DateRange,
    /// The slots, in time order.
    pub slots: Vec<SlotAvailability>,
}

impl Availability {
    /// The slots the range holds under `schedule`, without counts: what a store must count.
    pub fn slots_of(schedule: &Schedule, range: DateRange) -> Vec<Slot> {
        range.dates().flat_map(|date| schedule.slots_on(date)).collect()
    }

    /// The instants a store must count bookings between, both included; `None` when the range
    /// holds no slot.
    pub fn span(slots: &[Slot]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((slots.first()?.start(), slots.last()?.start()))
    }

    /// Applies the admission rule to every slot.
    pub fn compute(
        range: DateRange,
        slots: Vec<Slot>,
        admission: &Admission,
        booked: &BookedCounts,
    ) -> Self {
        let slots = slots
            .into_iter()
            .map(|slot| {
                let booked = booked.get(&slot.start()).copied().unwrap_or(0);
                SlotAvailability {
                    slot,
                    capacity: admission.capacity(),
                    booked,
                    status: admission.check(slot.start(), booked),
                }
            })
            .collect();
        Self { range, slots }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::schedule::SlotLength;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn schedule() -> Schedule {
        Schedule::new(
            chrono_tz::UTC,
            "09:00-11:00".parse().unwrap(),
            SlotLength::from_minutes(30).unwrap(),
            Capacity::new(2).unwrap(),
        )
    }

    #[test]
    fn the_rule_checks_past_notice_horizon_then_capacity() {
        let now = at("2030-01-07T09:10:00Z");
        let admission = schedule()
            .with_min_notice(Duration::hours(1))
            .with_horizon(Some(Duration::days(7)))
            .admission(now);
        assert_eq!(admission.check(at("2030-01-07T09:00:00Z"), 0), Err(Unavailable::Past));
        assert_eq!(admission.check(at("2030-01-07T09:10:00Z"), 0), Err(Unavailable::Past));
        assert_eq!(
            admission.check(at("2030-01-07T10:00:00Z"), 0),
            Err(Unavailable::TooSoon { earliest: at("2030-01-07T10:10:00Z") })
        );
        assert_eq!(admission.check(at("2030-01-07T10:30:00Z"), 1), Ok(()));
        assert_eq!(
            admission.check(at("2030-01-07T10:30:00Z"), 2),
            Err(Unavailable::Full { capacity: Capacity::new(2).unwrap() })
        );
        assert_eq!(admission.check(at("2030-01-14T09:10:00Z"), 0), Ok(()));
        assert_eq!(
            admission.check(at("2030-01-14T09:30:00Z"), 0),
            Err(Unavailable::BeyondHorizon { latest: at("2030-01-14T09:10:00Z") })
        );
    }

    #[test]
    fn reasons_are_stable_names() {
        let full = Unavailable::Full { capacity: Capacity::new(1).unwrap() };
        assert_eq!(full.reason(), "full");
        assert_eq!(Unavailable::Past.reason(), "past");
        assert_eq!(
            Unavailable::TooSoon { earliest: at("2030-01-01T00:00:00Z") }.reason(),
            "too_soon"
        );
        assert_eq!(
            Unavailable::BeyondHorizon { latest: at("2030-01-01T00:00:00Z") }.reason(),
            "beyond_horizon"
        );
    }

    #[test]
    fn a_listing_counts_each_slot_and_applies_the_rule() {
        let schedule = schedule();
        let range = DateRange::new(date("2030-01-07"), date("2030-01-08")).unwrap();
        let slots = Availability::slots_of(&schedule, range);
        assert_eq!(slots.len(), 8);
        assert_eq!(
            Availability::span(&slots),
            Some((at("2030-01-07T09:00:00Z"), at("2030-01-08T10:30:00Z")))
        );
        let booked =
            BookedCounts::from([(at("2030-01-07T09:30:00Z"), 1), (at("2030-01-07T10:00:00Z"), 2)]);
        let listing = Availability::compute(
            range,
            slots,
            &schedule.admission(at("2030-01-07T09:00:00Z")),
            &booked,
        );
        let summary: Vec<_> = listing
            .slots
            .iter()
            .take(4)
            .map(|s| (s.booked, s.status.map_err(Unavailable::reason)))
            .collect();
        assert_eq!(summary, [(0, Err("past")), (1, Ok(())), (2, Err("full")), (0, Ok(()))]);
    }

    #[test]
    fn ranges_are_ordered_and_at_most_31_days() {
        assert!(DateRange::new(date("2030-01-01"), date("2030-01-31")).is_ok());
        assert_eq!(
            DateRange::new(date("2030-01-01"), date("2030-02-01")),
            Err(DateRangeError::TooLong { days: 32 })
        );
        assert!(matches!(
            DateRange::new(date("2030-01-02"), date("2030-01-01")),
            Err(DateRangeError::Reversed { .. })
        ));
        assert_eq!(DateRange::day(date("2030-01-01")).dates().count(), 1);
    }
}
