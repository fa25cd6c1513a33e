//! Which slots are free: every slot of a range of days on the chosen resources, each judged by
//! the admission rule ([`Admission::check`]) against the usage and closures read for the range.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use thiserror::Error;

use crate::{
    admission::{Admission, Unavailable, Usage, UsageMap},
    catalog::{Resource, Service, Slug},
    closure::Closure,
    placement::Placement,
    schedule::{Schedule, SlotError},
    units::{Capacity, Slot},
};

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

/// One slot in a listing: whether the service can start there on the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotAvailability {
    /// The resource.
    pub resource: Slug,
    /// The local date.
    pub date: NaiveDate,
    /// The local start time.
    pub time: NaiveTime,
    /// The slot (one slot long; see `placement` for the service's whole length).
    pub slot: Slot,
    /// Appointments per slot on the resource.
    pub capacity: Capacity,
    /// What takes up this slot now.
    pub usage: Usage,
    /// `Ok` when a booking would be taken now, else why not.
    pub status: Result<(), Unavailable>,
}

/// What a listing must read from the store: the placements it will judge, and the span of
/// instants their usage and closures cover.
#[derive(Debug, Clone)]
pub struct ListingPlan {
    range: DateRange,
    service: Option<Service>,
    entries: Vec<(Slug, NaiveDate, NaiveTime, Slot, Capacity, Option<Placement>)>,
}

impl ListingPlan {
    /// Every slot of `resources` in `range`, each with the placement of `service` (one slot when
    /// `None`) starting there, if the service fits inside opening hours from it.
    pub fn new(
        schedule: &Schedule,
        range: DateRange,
        resources: &[&Resource],
        service: Option<&Service>,
    ) -> Self {
        let mut entries = Vec::new();
        for resource in resources {
            for date in range.dates() {
                for (time, slot) in schedule.slots_on(date, resource) {
                    let placement = match schedule.place(date, time, resource, service) {
                        Ok(placement) => Some(placement),
                        Err(SlotError::DoesNotFit { .. } | SlotError::Closed { .. }) => None,
                        Err(
                            SlotError::OffBoundary { .. } | SlotError::NonexistentLocalTime { .. },
                        ) => continue,
                    };
                    entries.push((
                        resource.slug.clone(),
                        date,
                        time,
                        slot,
                        resource.capacity,
                        placement,
                    ));
                }
            }
        }
        entries.sort_by(|a, b| (a.3.start(), &a.0).cmp(&(b.3.start(), &b.0)));
        Self { range, service: service.cloned(), entries }
    }

    /// How many slots the listing covers.
    pub fn slot_count(&self) -> usize {
        self.entries.len()
    }

    /// The one resource the listing covers, if it covers only one.
    pub fn single_resource(&self) -> Option<&Slug> {
        let first = &self.entries.first()?.0;
        self.entries.iter().all(|entry| &entry.0 == first).then_some(first)
    }

    /// The service whose starts the listing judges, if any.
    pub fn service(&self) -> Option<&Service> {
        self.service.as_ref()
    }

    /// The first and last instants whose usage and closures the listing needs; `None` when it
    /// has no slot.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let instants = self.entries.iter().flat_map(|(_, _, _, slot, _, placement)| {
            let occupied = placement.iter().flat_map(|p| p.occupied.iter().copied());
            std::iter::once(slot.start()).chain(occupied)
        });
        let (first, last) =
            instants.fold(None, |span: Option<(DateTime<Utc>, DateTime<Utc>)>, at| match span {
                None => Some((at, at)),
                Some((first, last)) => Some((first.min(at), last.max(at))),
            })?;
        Some((first, last))
    }

    /// Applies the admission rule to every slot.
    pub fn judge(
        self,
        admission: &Admission,
        closures: &[Closure],
        usage: &UsageMap,
    ) -> Availability {
        let slots = self
            .entries
            .into_iter()
            .map(|(resource, date, time, slot, capacity, placement)| {
                let status = match &placement {
                    Some(placement) => admission.check(placement, closures, usage),
                    // Whatever the time, the service never fits here; booking says the same.
                    None => Err(Unavailable::OutsideHours),
                };
                let usage =
                    usage.get(&(resource.clone(), slot.start())).copied().unwrap_or_default();
                SlotAvailability { resource, date, time, slot, capacity, usage, status }
            })
            .collect();
        Availability { range: self.range, slots }
    }
}

/// Every slot of a range, each with its usage and whether it can be booked at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    /// The dates covered.
    pub range: DateRange,
    /// The slots, in time order (then by resource).
    pub slots: Vec<SlotAvailability>,
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU16;

    use chrono::Duration;

    use super::*;
    use crate::{closure::ClosureId, units::SlotLength};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn slug(text: &str) -> Slug {
        text.parse().unwrap()
    }

    /// One resource, `default`, open 09:00-11:00 with capacity 2; service `long` of 2 slots.
    fn schedule() -> Schedule {
        let base = Schedule::new(
            chrono_tz::UTC,
            "09:00-11:00".parse().unwrap(),
            SlotLength::from_minutes(30).unwrap(),
            Capacity::new(2).unwrap(),
        );
        let resources = base.resources().to_vec();
        let long = Service {
            slug: slug("long"),
            name: "Long".into(),
            slots: NonZeroU16::new(2).unwrap(),
            resources: vec![slug("default")],
            buffer_before: 0,
            buffer_after: 0,
            min_notice: Some(Duration::zero()),
            horizon: None,
        };
        base.with_catalog(resources, vec![long]).unwrap()
    }

    fn placement(schedule: &Schedule, day: &str, time: &str, service: Option<&str>) -> Placement {
        let service = service.map(|s| schedule.service(&slug(s)).unwrap());
        let time = NaiveTime::parse_from_str(time, "%H:%M").unwrap();
        schedule.place(date(day), time, &schedule.resources()[0], service).unwrap()
    }

    fn usage(entries: &[(&str, u32, u32)]) -> UsageMap {
        entries
            .iter()
            .map(|(start, booked, held)| {
                ((slug("default"), at(start)), Usage { booked: *booked, held: *held })
            })
            .collect()
    }

    #[test]
    fn the_rule_checks_past_notice_horizon_then_capacity() {
        let schedule =
            schedule().with_min_notice(Duration::hours(1)).with_horizon(Some(Duration::days(7)));
        let admission = schedule.admission(at("2030-01-07T09:10:00Z"), None);
        let check = |day: &str, time: &str, usage: &UsageMap| {
            admission.check(&placement(&schedule, day, time, None), &[], usage)
        };
        let none = UsageMap::new();
        assert_eq!(check("2030-01-07", "09:00", &none), Err(Unavailable::Past));
        assert_eq!(
            check("2030-01-07", "10:00", &none),
            Err(Unavailable::TooSoon { earliest: at("2030-01-07T10:10:00Z") })
        );
        assert_eq!(check("2030-01-07", "10:30", &usage(&[("2030-01-07T10:30:00Z", 1, 0)])), Ok(()));
        assert_eq!(
            check("2030-01-07", "10:30", &usage(&[("2030-01-07T10:30:00Z", 2, 0)])),
            Err(Unavailable::Full { capacity: Capacity::new(2).unwrap() })
        );
        assert_eq!(
            check("2030-01-07", "10:30", &usage(&[("2030-01-07T10:30:00Z", 1, 1)])),
            Err(Unavailable::Held)
        );
        assert_eq!(
            check("2030-01-14", "09:30", &none),
            Err(Unavailable::BeyondHorizon { latest: at("2030-01-14T09:10:00Z") })
        );
    }

    #[test]
    fn a_service_overrides_notice_and_needs_every_slot() {
        let schedule = schedule().with_min_notice(Duration::hours(5));
        let long = schedule.service(&slug("long")).unwrap();
        let admission = schedule.admission(at("2030-01-07T08:00:00Z"), Some(long));
        let placement = placement(&schedule, "2030-01-07", "09:00", Some("long"));
        assert_eq!(placement.occupied, [at("2030-01-07T09:00:00Z"), at("2030-01-07T09:30:00Z")]);
        assert_eq!(
            admission.check(&placement, &[], &UsageMap::new()),
            Ok(()),
            "the service needs no notice"
        );
        assert_eq!(
            admission.check(&placement, &[], &usage(&[("2030-01-07T09:30:00Z", 2, 0)])),
            Err(Unavailable::Full { capacity: Capacity::new(2).unwrap() })
        );
    }

    #[test]
    fn closures_refuse_before_capacity_is_looked_at() {
        let schedule = schedule();
        let placement = placement(&schedule, "2030-01-07", "09:00", None);
        let closure = Closure {
            id: ClosureId::random(),
            resource: None,
            period: Slot::new(at("2030-01-07T09:15:00Z"), at("2030-01-07T12:00:00Z")).unwrap(),
            reason: None,
            created_at: at("2030-01-01T00:00:00Z"),
        };
        let admission = schedule.admission(at("2030-01-01T00:00:00Z"), None);
        assert_eq!(
            admission.check(&placement, &[closure], &usage(&[("2030-01-07T09:00:00Z", 2, 0)])),
            Err(Unavailable::Closed { reason: None, until: at("2030-01-07T12:00:00Z") })
        );
    }

    #[test]
    fn reasons_are_stable_names() {
        let full = Unavailable::Full { capacity: Capacity::new(1).unwrap() };
        let names: Vec<_> = [
            Unavailable::Past,
            Unavailable::TooSoon { earliest: at("2030-01-01T00:00:00Z") },
            Unavailable::BeyondHorizon { latest: at("2030-01-01T00:00:00Z") },
            Unavailable::OutsideHours,
            Unavailable::Closed { reason: None, until: at("2030-01-01T00:00:00Z") },
            Unavailable::Held,
            full,
        ]
        .iter()
        .map(Unavailable::reason)
        .collect();
        assert_eq!(
            names,
            ["past", "too_soon", "beyond_horizon", "outside_hours", "closed", "held", "full"]
        );
    }

    #[test]
    fn a_listing_counts_each_slot_and_applies_the_rule() {
        let schedule = schedule();
        let range = DateRange::new(date("2030-01-07"), date("2030-01-08")).unwrap();
        let resources: Vec<&Resource> = schedule.resources().iter().collect();
        let plan = ListingPlan::new(&schedule, range, &resources, None);
        assert_eq!(plan.span(), Some((at("2030-01-07T09:00:00Z"), at("2030-01-08T10:30:00Z"))));
        let usage = usage(&[("2030-01-07T09:30:00Z", 1, 0), ("2030-01-07T10:00:00Z", 2, 0)]);
        let listing =
            plan.judge(&schedule.admission(at("2030-01-07T09:00:00Z"), None), &[], &usage);
        assert_eq!(listing.slots.len(), 8);
        let summary: Vec<_> = listing
            .slots
            .iter()
            .take(4)
            .map(|s| (s.usage.booked, s.status.as_ref().map_err(Unavailable::reason).copied()))
            .collect();
        assert_eq!(summary, [(0, Err("past")), (1, Ok(())), (2, Err("full")), (0, Ok(()))]);
    }

    #[test]
    fn a_long_service_cannot_start_where_it_would_not_fit() {
        let schedule = schedule();
        let long = schedule.service(&slug("long")).unwrap();
        let resources: Vec<&Resource> = schedule.resources().iter().collect();
        let plan =
            ListingPlan::new(&schedule, DateRange::day(date("2030-01-07")), &resources, Some(long));
        let listing = plan.judge(
            &schedule.admission(at("2030-01-01T00:00:00Z"), Some(long)),
            &[],
            &UsageMap::new(),
        );
        let reasons: Vec<_> = listing
            .slots
            .iter()
            .map(|s| s.status.as_ref().map_err(Unavailable::reason).copied())
            .collect();
        assert_eq!(reasons, [Ok(()), Ok(()), Ok(()), Err("outside_hours")]);
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
