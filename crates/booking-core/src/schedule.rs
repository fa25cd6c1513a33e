//! The business's schedule: its time zone, opening hours, slot length, capacity, and how far ahead
//! and how soon clients may book. It turns a local date and time into a [`Slot`].

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
};

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use thiserror::Error;

use crate::{
    admission::Admission,
    catalog::{CatalogError, Resource, Service, Slug, validate},
    hours::{DayHours, DayMinute, TimeRange, WeeklyHours},
    placement::Placement,
    units::{Capacity, Slot, SlotLength},
};

/// Why a local date and time is not the start of a slot.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SlotError {
    /// The business is closed then.
    #[error("the business is closed at {date} {time} ({hours})", time = time.format("%H:%M"))]
    Closed {
        /// The requested date.
        date: NaiveDate,
        /// The requested time.
        time: NaiveTime,
        /// That day's opening hours, in words.
        hours: OpeningHoursOfDay,
    },
    /// Open, but slots do not start at that minute.
    #[error(
        "{time} is not the start of a slot: slots are {length} minutes long, so the nearest \
         starts are {before} and {after}",
        time = time.format("%H:%M")
    )]
    OffBoundary {
        /// The requested time.
        time: NaiveTime,
        /// The slot length in minutes.
        length: u16,
        /// The slot start before it.
        before: DayMinute,
        /// The slot start after it.
        after: DayMinute,
    },
    /// The service is longer than what is left of the opening range.
    #[error(
        "an appointment of {minutes} minutes starting at {time} would run past closing at {closes}",
        time = time.format("%H:%M")
    )]
    DoesNotFit {
        /// The requested time.
        time: NaiveTime,
        /// The appointment's length in minutes.
        minutes: u32,
        /// When the opening range ends.
        closes: DayMinute,
    },
    /// The local time is skipped when the clocks go forward.
    #[error(
        "{date} {time} does not exist in {zone}: the clocks skip it for daylight saving time",
        time = time.format("%H:%M")
    )]
    NonexistentLocalTime {
        /// The requested date.
        date: NaiveDate,
        /// The requested time.
        time: NaiveTime,
        /// The business's time zone.
        zone: Tz,
    },
}

/// One day's opening hours, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningHoursOfDay {
    /// The weekday.
    pub weekday: chrono::Weekday,
    /// Its ranges; empty when closed all day.
    pub ranges: Vec<TimeRange>,
}

impl fmt::Display for OpeningHoursOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ranges.is_empty() {
            return write!(f, "closed all day on {}", self.weekday);
        }
        let ranges: Vec<String> = self.ranges.iter().map(ToString::to_string).collect();
        write!(f, "opening hours on {}: {}", self.weekday, ranges.join(", "))
    }
}

/// Everything that decides which slots exist and which can be booked: the business's zone and
/// slot length, its resources and services, and how soon and how far ahead it takes bookings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    time_zone: Tz,
    slot_length: SlotLength,
    horizon: Option<Duration>,
    min_notice: Duration,
    cancel_notice: Duration,
    resources: Vec<Resource>,
    services: Vec<Service>,
    /// Dates whose hours replace their weekday's, by resource.
    overrides: HashMap<Slug, BTreeMap<NaiveDate, DayHours>>,
    /// The version of the stored calendar this schedule follows (0: none is stored yet).
    version: u64,
}

impl Default for Schedule {
    /// UTC, one resource open 09:00-17:00 every day, 30-minute slots of capacity 1, no horizon,
    /// no notice.
    fn default() -> Self {
        Self::new(Tz::UTC, WeeklyHours::default(), SlotLength::default(), Capacity::ONE)
    }
}

/// Why a request names no resource that could take it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChoiceError {
    /// No resource has the slug.
    #[error("there is no resource '{0}'; GET /resources lists them")]
    UnknownResource(Slug),
    /// No service has the slug.
    #[error("there is no service '{0}'; GET /services lists them")]
    UnknownService(Slug),
    /// The resource does not perform the service.
    #[error("resource '{resource}' does not perform service '{service}'")]
    NotPerformed {
        /// The resource asked for.
        resource: Slug,
        /// The service asked for.
        service: Slug,
    },
}

impl Schedule {
    /// A schedule with one resource, [`DEFAULT_RESOURCE`](crate::catalog::DEFAULT_RESOURCE), no services, no horizon and no
    /// minimum notice.
    pub fn new(
        time_zone: Tz,
        hours: WeeklyHours,
        slot_length: SlotLength,
        capacity: Capacity,
    ) -> Self {
        let resource = Resource {
            slug: Slug::default_resource(),
            name: "Default".to_owned(),
            hours,
            capacity,
        };
        Self {
            time_zone,
            slot_length,
            horizon: None,
            min_notice: Duration::zero(),
            cancel_notice: Duration::zero(),
            resources: vec![resource],
            services: Vec::new(),
            overrides: HashMap::new(),
            version: 0,
        }
    }

    /// Replaces the resources and services.
    pub fn with_catalog(
        mut self,
        resources: Vec<Resource>,
        services: Vec<Service>,
    ) -> Result<Self, CatalogError> {
        validate(&resources, &services)?;
        self.resources = resources;
        self.services = services;
        Ok(self)
    }

    /// This schedule's business rules over another calendar (see [`Schedule::following`]).
    pub(crate) fn with_calendar_parts(
        &self,
        time_zone: Tz,
        slot_length: SlotLength,
        resources: Vec<Resource>,
        services: Vec<Service>,
        overrides: HashMap<Slug, BTreeMap<NaiveDate, DayHours>>,
        version: u64,
    ) -> Self {
        Self { time_zone, slot_length, resources, services, overrides, version, ..self.clone() }
    }

    /// Bookings may start at most this far ahead of now.
    pub fn with_horizon(mut self, horizon: Option<Duration>) -> Self {
        self.horizon = horizon;
        self
    }

    /// Bookings must start at least this long after now.
    pub fn with_min_notice(mut self, notice: Duration) -> Self {
        self.min_notice = notice;
        self
    }

    /// With a cancellation notice: a client can no longer cancel or move an appointment that
    /// starts within `notice` (an operator still can).
    pub fn with_cancel_notice(mut self, notice: Duration) -> Self {
        self.cancel_notice = notice;
        self
    }

    /// The business's time zone.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The slot length.
    pub fn slot_length(&self) -> SlotLength {
        self.slot_length
    }

    /// How far ahead bookings may be made, if limited.
    pub fn horizon(&self) -> Option<Duration> {
        self.horizon
    }

    /// The minimum notice.
    pub fn min_notice(&self) -> Duration {
        self.min_notice
    }

    /// How long before its start a client can no longer cancel or move an appointment.
    pub fn cancel_notice(&self) -> Duration {
        self.cancel_notice
    }

    /// The resources, in the order they are chosen from.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// The services.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The dates of `resource` whose hours replace their weekday's, in order.
    pub fn overrides_of(&self, resource: &Slug) -> impl Iterator<Item = (NaiveDate, &DayHours)> {
        self.overrides.get(resource).into_iter().flatten().map(|(date, hours)| (*date, hours))
    }

    /// The version of the stored calendar this schedule follows; 0 before one is stored.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// A resource's opening ranges on a local date: the date's override, or its weekday's.
    pub fn ranges_on<'a>(&'a self, resource: &'a Resource, date: NaiveDate) -> &'a [TimeRange] {
        match self.overrides.get(&resource.slug).and_then(|dates| dates.get(&date)) {
            Some(hours) => hours.ranges(),
            None => resource.hours.on(date.weekday()),
        }
    }

    /// The resource with a slug.
    pub fn resource(&self, slug: &Slug) -> Result<&Resource, ChoiceError> {
        self.resources
            .iter()
            .find(|r| &r.slug == slug)
            .ok_or_else(|| ChoiceError::UnknownResource(slug.clone()))
    }

    /// The service with a slug.
    pub fn service(&self, slug: &Slug) -> Result<&Service, ChoiceError> {
        self.services
            .iter()
            .find(|s| &s.slug == slug)
            .ok_or_else(|| ChoiceError::UnknownService(slug.clone()))
    }

    /// The resources that may take a booking, in the order they are tried: the one asked for,
    /// or every resource that performs the service (every resource when there is no service).
    pub fn candidates(
        &self,
        resource: Option<&Slug>,
        service: Option<&Service>,
    ) -> Result<Vec<&Resource>, ChoiceError> {
        let performs = |r: &Resource| service.is_none_or(|s| s.resources.contains(&r.slug));
        match resource {
            Some(slug) => {
                let resource = self.resource(slug)?;
                match service {
                    Some(service) if !performs(resource) => Err(ChoiceError::NotPerformed {
                        resource: slug.clone(),
                        service: service.slug.clone(),
                    }),
                    _ => Ok(vec![resource]),
                }
            }
            None => Ok(match service {
                // In the service's order of preference.
                Some(service) => {
                    service.resources.iter().filter_map(|slug| self.resource(slug).ok()).collect()
                }
                None => self.resources.iter().collect(),
            }),
        }
    }

    /// The rule that decides, at `now`, whether a placement can be booked; a service's own
    /// notice and horizon replace the business's.
    pub fn admission(&self, now: DateTime<Utc>, service: Option<&Service>) -> Admission {
        let notice = service.and_then(|s| s.min_notice).unwrap_or(self.min_notice);
        let horizon = service.and_then(|s| s.horizon).or(self.horizon);
        Admission::new(now, now + notice, horizon.map(|h| now + h))
    }

    /// Where an appointment of `service` (one slot when `None`) starting at a local date and
    /// time on `resource` would sit. A time in a daylight-saving overlap means its earlier
    /// occurrence.
    pub fn place(
        &self,
        date: NaiveDate,
        time: NaiveTime,
        resource: &Resource,
        service: Option<&Service>,
    ) -> Result<Placement, SlotError> {
        let minute = DayMinute::of(time);
        let ranges = self.ranges_on(resource, date);
        let closed = || SlotError::Closed {
            date,
            time,
            hours: OpeningHoursOfDay { weekday: date.weekday(), ranges: ranges.to_vec() },
        };
        let range = ranges.iter().find(|range| range.contains(minute)).ok_or_else(closed)?;
        let length = self.slot_length.minutes();
        let offset = minute.get() - range.start().get();
        if !offset.is_multiple_of(length) {
            let before = range.start().get() + offset / length * length;
            return Err(SlotError::OffBoundary {
                time,
                length,
                before: minute_of(before),
                after: minute_of(before + length),
            });
        }
        if minute.get() + length > range.end().get() {
            return Err(closed());
        }
        let slots = service.map_or(1, |s| s.slots.get());
        let span = u32::from(slots) * u32::from(length);
        if u32::from(minute.get()) + span > u32::from(range.end().get()) {
            return Err(SlotError::DoesNotFit { time, minutes: span, closes: range.end() });
        }
        let start = self.instant(date, time).ok_or(SlotError::NonexistentLocalTime {
            date,
            time,
            zone: self.time_zone,
        })?;
        Ok(self.placement(start, slots, resource, service))
    }

    fn placement(
        &self,
        start: DateTime<Utc>,
        slots: u16,
        resource: &Resource,
        service: Option<&Service>,
    ) -> Placement {
        let step = self.slot_length.duration();
        let before = service.map_or(0, |s| i64::from(s.buffer_before));
        let after = service.map_or(0, |s| i64::from(s.buffer_after));
        let occupied =
            (-before..i64::from(slots) + after).map(|k| start + step * k as i32).collect();
        Placement {
            resource: resource.slug.clone(),
            service: service.map(|s| s.slug.clone()),
            slot: Slot { start, end: start + step * i32::from(slots) },
            occupied,
            capacity: resource.capacity,
            calendar: self.version,
        }
    }

    /// Every slot of a resource on a local date, in order. Local times skipped by a
    /// daylight-saving change have no slot; repeated ones have one, at their earlier occurrence.
    pub fn slots_on<'a>(
        &'a self,
        date: NaiveDate,
        resource: &'a Resource,
    ) -> impl Iterator<Item = (NaiveTime, Slot)> + 'a {
        let length = self.slot_length.minutes();
        self.ranges_on(resource, date).iter().flat_map(move |range| {
            let starts = range.start().get()..=range.end().get().saturating_sub(length);
            starts.step_by(usize::from(length)).filter_map(move |minute| {
                let time = minute_of(minute).to_time()?;
                let start = self.instant(date, time)?;
                Some((time, Slot { start, end: start + self.slot_length.duration() }))
            })
        })
    }

    /// The instant of a local date and time; `None` when a daylight-saving change skips it, the
    /// earlier occurrence when one repeats it.
    pub fn instant_of(&self, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
        self.instant(local.date(), local.time())
    }

    /// When a local date begins: its midnight, or the first minute after it that exists.
    pub fn start_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        (0..24 * 60)
            .find_map(|minute| self.instant(date, minute_of(minute).to_time()?))
            .unwrap_or_else(|| date.and_time(NaiveTime::MIN).and_utc())
    }

    fn instant(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        match self.time_zone.from_local_datetime(&date.and_time(time)) {
            LocalResult::Single(local) | LocalResult::Ambiguous(local, _) => {
                Some(local.with_timezone(&Utc))
            }
            LocalResult::None => None,
        }
    }
}

fn minute_of(value: u16) -> DayMinute {
    DayMinute::clamped(value)
}

#[cfg(test)]
mod tests {
    use chrono::Weekday;

    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    impl Schedule {
        fn slot_at(&self, date: NaiveDate, time: NaiveTime) -> Result<Slot, SlotError> {
            self.place(date, time, &self.resources[0], None).map(|p| p.slot)
        }

        fn day_slots(&self, date: NaiveDate) -> Vec<Slot> {
            self.slots_on(date, &self.resources[0]).map(|(_, slot)| slot).collect()
        }
    }

    fn berlin() -> Schedule {
        Schedule::new(
            chrono_tz::Europe::Berlin,
            "00:00-24:00".parse().unwrap(),
            SlotLength::from_minutes(30).unwrap(),
            Capacity::new(1).unwrap(),
        )
    }

    #[test]
    fn a_slot_starts_on_a_boundary_inside_opening_hours() {
        let schedule = Schedule::default();
        let slot = schedule.slot_at(date("2030-01-07"), time("09:30")).unwrap();
        assert_eq!(slot.start(), utc("2030-01-07T09:30:00Z"));
        assert_eq!(slot.end(), utc("2030-01-07T10:00:00Z"));
        assert!(schedule.slot_at(date("2030-01-07"), time("16:30")).is_ok());
    }

    #[test]
    fn times_outside_opening_hours_are_closed() {
        let schedule = Schedule::default();
        for t in ["08:30", "17:00", "23:59", "00:00"] {
            assert!(
                matches!(
                    schedule.slot_at(date("2030-01-07"), time(t)),
                    Err(SlotError::Closed { .. })
                ),
                "{t}"
            );
        }
        let err = schedule.slot_at(date("2030-01-07"), time("17:00")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the business is closed at 2030-01-07 17:00 (opening hours on Mon: 09:00-17:00)"
        );
    }

    #[test]
    fn a_slot_must_end_by_closing_time() {
        let schedule = Schedule::new(
            Tz::UTC,
            "09:00-10:45".parse().unwrap(),
            SlotLength::from_minutes(30).unwrap(),
            Capacity::new(1).unwrap(),
        );
        assert!(schedule.slot_at(date("2030-01-07"), time("10:00")).is_ok());
        assert!(matches!(
            schedule.slot_at(date("2030-01-07"), time("10:30")),
            Err(SlotError::Closed { .. })
        ));
        let starts: Vec<_> =
            schedule.day_slots(date("2030-01-07")).iter().map(|s| s.start()).collect();
        assert_eq!(
            starts,
            [utc("2030-01-07T09:00:00Z"), utc("2030-01-07T09:30:00Z"), utc("2030-01-07T10:00:00Z")]
        );
    }

    #[test]
    fn off_boundary_times_name_the_nearest_starts() {
        let err = Schedule::default().slot_at(date("2030-01-07"), time("09:15")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "09:15 is not the start of a slot: slots are 30 minutes long, so the nearest starts are 09:00 and 09:30"
        );
    }

    #[test]
    fn closed_days_say_so() {
        let weekdays_only = Schedule::new(
            Tz::UTC,
            "mon-fri 09:00-17:00".parse().unwrap(),
            SlotLength::from_minutes(30).unwrap(),
            Capacity::new(1).unwrap(),
        );
        let err = weekdays_only.slot_at(date("2030-01-06"), time("10:00")).unwrap_err();
        assert!(
            matches!(&err, SlotError::Closed { hours, .. } if hours.weekday == Weekday::Sun && hours.ranges.is_empty())
        );
        assert!(err.to_string().ends_with("(closed all day on Sun)"), "{err}");
        assert!(weekdays_only.day_slots(date("2030-01-06")).is_empty());
    }

    #[test]
    fn breaks_split_the_day() {
        let schedule = Schedule::new(
            Tz::UTC,
            "09:00-10:00,11:00-12:00".parse().unwrap(),
            SlotLength::from_minutes(60).unwrap(),
            Capacity::new(1).unwrap(),
        );
        assert_eq!(schedule.day_slots(date("2030-01-07")).len(), 2);
        assert!(matches!(
            schedule.slot_at(date("2030-01-07"), time("10:00")),
            Err(SlotError::Closed { .. })
        ));
    }

    #[test]
    fn a_local_time_in_the_spring_gap_does_not_exist() {
        // Berlin skips 02:00-03:00 on 2030-03-31.
        let err = berlin().slot_at(date("2030-03-31"), time("02:30")).unwrap_err();
        assert_eq!(
            err,
            SlotError::NonexistentLocalTime {
                date: date("2030-03-31"),
                time: time("02:30"),
                zone: chrono_tz::Europe::Berlin
            }
        );
        assert_eq!(
            err.to_string(),
            "2030-03-31 02:30 does not exist in Europe/Berlin: the clocks skip it for daylight saving time"
        );
        let day = berlin().day_slots(date("2030-03-31"));
        assert_eq!(day.len(), 46, "two of 48 half hours are skipped");
    }

    #[test]
    fn a_local_time_in_the_autumn_overlap_is_its_earlier_occurrence() {
        // Berlin repeats 02:00-03:00 on 2030-10-27: first at +02:00, then at +01:00.
        let slot = berlin().slot_at(date("2030-10-27"), time("02:30")).unwrap();
        assert_eq!(slot.start(), utc("2030-10-27T00:30:00Z"));
        assert_eq!(slot.end(), utc("2030-10-27T01:00:00Z"));
        let local = slot.start().with_timezone(&chrono_tz::Europe::Berlin).naive_local();
        assert_eq!(local, date("2030-10-27").and_time(time("02:30")));
        assert_eq!(berlin().day_slots(date("2030-10-27")).len(), 48);
    }

    #[test]
    fn slots_follow_the_local_clock_across_zones() {
        let mut schedule = berlin();
        schedule.resources[0].hours = "09:00-10:00".parse().unwrap();
        let winter = schedule.slot_at(date("2030-01-07"), time("09:00")).unwrap();
        let summer = schedule.slot_at(date("2030-07-08"), time("09:00")).unwrap();
        assert_eq!(winter.start(), utc("2030-01-07T08:00:00Z"));
        assert_eq!(summer.start(), utc("2030-07-08T07:00:00Z"));
    }

    #[test]
    fn a_day_starts_at_its_first_minute_that_exists() {
        // São Paulo skipped 00:00-01:00 on 2018-11-04.
        let mut schedule = berlin();
        schedule.time_zone = chrono_tz::America::Sao_Paulo;
        assert_eq!(schedule.start_of_day(date("2018-11-04")), utc("2018-11-04T03:00:00Z"));
        assert_eq!(schedule.start_of_day(date("2018-11-05")), utc("2018-11-05T02:00:00Z"));
        assert_eq!(berlin().start_of_day(date("2030-07-08")), utc("2030-07-07T22:00:00Z"));
        let gap = date("2018-11-04").and_time(time("00:30"));
        assert_eq!(schedule.instant_of(gap), None);
    }

    fn resource(name: &str, hours: &str) -> Resource {
        Resource {
            slug: name.parse().unwrap(),
            name: name.to_owned(),
            hours: hours.parse().unwrap(),
            capacity: Capacity::new(1).unwrap(),
        }
    }

    fn service(name: &str, slots: u16, before: u16, after: u16, resources: &[&str]) -> Service {
        Service {
            slug: name.parse().unwrap(),
            name: name.to_owned(),
            slots: std::num::NonZeroU16::new(slots).unwrap(),
            resources: resources.iter().map(|r| r.parse().unwrap()).collect(),
            buffer_before: before,
            buffer_after: after,
            min_notice: None,
            horizon: None,
        }
    }

    fn salon() -> Schedule {
        Schedule::default()
            .with_catalog(
                vec![resource("alice", "09:00-12:00,13:00-17:00"), resource("bob", "10:00-18:00")],
                vec![
                    service("colouring", 3, 1, 2, &["bob", "alice"]),
                    service("trim", 1, 0, 0, &["alice"]),
                ],
            )
            .unwrap()
    }

    #[test]
    fn a_long_service_takes_every_slot_and_its_buffers() {
        let schedule = salon();
        let bob = schedule.resource(&"bob".parse().unwrap()).unwrap();
        let colouring = schedule.service(&"colouring".parse().unwrap()).unwrap();
        let placement =
            schedule.place(date("2030-01-07"), time("11:00"), bob, Some(colouring)).unwrap();
        assert_eq!(
            placement.slot,
            Slot::new(utc("2030-01-07T11:00:00Z"), utc("2030-01-07T12:30:00Z")).unwrap()
        );
        let occupied: Vec<String> =
            placement.occupied.iter().map(|t| t.format("%H:%M").to_string()).collect();
        assert_eq!(occupied, ["10:30", "11:00", "11:30", "12:00", "12:30", "13:00"]);
    }

    #[test]
    fn a_service_must_fit_inside_one_opening_range() {
        let schedule = salon();
        let alice = schedule.resource(&"alice".parse().unwrap()).unwrap();
        let colouring = schedule.service(&"colouring".parse().unwrap()).unwrap();
        let error =
            schedule.place(date("2030-01-07"), time("11:00"), alice, Some(colouring)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "an appointment of 90 minutes starting at 11:00 would run past closing at 12:00"
        );
        assert!(schedule.place(date("2030-01-07"), time("13:00"), alice, Some(colouring)).is_ok());
    }

    #[test]
    fn candidates_follow_the_services_order_and_refuse_mismatches() {
        let schedule = salon();
        let colouring = schedule.service(&"colouring".parse().unwrap()).unwrap();
        let trim = schedule.service(&"trim".parse().unwrap()).unwrap();
        let names =
            |found: Vec<&Resource>| found.iter().map(|r| r.slug.to_string()).collect::<Vec<_>>();
        assert_eq!(names(schedule.candidates(None, Some(colouring)).unwrap()), ["bob", "alice"]);
        assert_eq!(names(schedule.candidates(None, None).unwrap()), ["alice", "bob"]);
        assert_eq!(
            schedule.candidates(Some(&"bob".parse().unwrap()), Some(trim)).unwrap_err().to_string(),
            "resource 'bob' does not perform service 'trim'"
        );
        assert!(matches!(
            schedule.candidates(Some(&"carol".parse().unwrap()), None),
            Err(ChoiceError::UnknownResource(_))
        ));
    }

    #[test]
    fn catalogs_must_hold_together() {
        let alice = resource("alice", "09:00-17:00");
        let base = Schedule::default();
        assert_eq!(base.clone().with_catalog(vec![], vec![]), Err(CatalogError::NoResources));
        assert!(matches!(
            base.clone().with_catalog(vec![alice.clone(), alice.clone()], vec![]),
            Err(CatalogError::DuplicateSlug(_))
        ));
        assert!(matches!(
            base.clone().with_catalog(vec![alice.clone()], vec![service("x", 1, 0, 0, &["bob"])]),
            Err(CatalogError::UnknownResource { .. })
        ));
        assert!(matches!(
            base.with_catalog(vec![alice], vec![service("x", 1, 0, 0, &[])]),
            Err(CatalogError::NoPerformer(_))
        ));
    }
}
