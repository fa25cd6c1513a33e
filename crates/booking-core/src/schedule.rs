//! The business's schedule: its time zone, opening hours, slot length, capacity, and how far ahead
//! and how soon clients may book. It turns a local date and time into a [`Slot`].

use std::{fmt, num::NonZeroU32};

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use thiserror::Error;

use crate::{
    availability::Admission,
    hours::{DayMinute, TimeRange, WeeklyHours},
};

/// The length of every slot, in whole minutes (1 to 1440).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlotLength(u16);

/// A slot length out of range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("slot length must be between 1 and 1440 minutes, got {0}")]
pub struct SlotLengthError(pub u32);

impl SlotLength {
    /// A slot length in minutes.
    pub fn from_minutes(minutes: u32) -> Result<Self, SlotLengthError> {
        u16::try_from(minutes)
            .ok()
            .filter(|m| (1..=1440).contains(m))
            .map(Self)
            .ok_or(SlotLengthError(minutes))
    }

    /// The length in minutes.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// The length as a duration.
    pub fn duration(self) -> Duration {
        Duration::minutes(i64::from(self.0))
    }
}

/// How many appointments one slot holds (1 to 10 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capacity(NonZeroU32);

/// A capacity out of range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("capacity must be between 1 and {max}, got {0}", max = Capacity::MAX)]
pub struct CapacityError(pub u32);

impl Capacity {
    /// The largest capacity accepted.
    pub const MAX: u32 = 10_000;

    /// A capacity of `n` appointments per slot.
    pub fn new(n: u32) -> Result<Self, CapacityError> {
        NonZeroU32::new(n).filter(|n| n.get() <= Self::MAX).map(Self).ok_or(CapacityError(n))
    }

    /// The number of appointments a slot holds.
    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// Whether a slot that already holds `booked` appointments takes one more.
    pub fn admits(self, booked: u32) -> bool {
        booked < self.get()
    }
}

/// One bookable period: a start and an end instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Slot {
    /// A slot from `start` to `end`; `None` unless `start < end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }

    /// When the slot starts.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// When the slot ends.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }
}

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

/// Everything that decides which slots exist and which can be booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    time_zone: Tz,
    hours: WeeklyHours,
    slot_length: SlotLength,
    capacity: Capacity,
    horizon: Option<Duration>,
    min_notice: Duration,
}

impl Default for Schedule {
    /// UTC, 09:00-17:00 every day, 30-minute slots of capacity 1, no horizon, no notice.
    fn default() -> Self {
        Self {
            time_zone: Tz::UTC,
            hours: WeeklyHours::default(),
            slot_length: SlotLength(30),
            capacity: Capacity(NonZeroU32::MIN),
            horizon: None,
            min_notice: Duration::zero(),
        }
    }
}

impl Schedule {
    /// A schedule with no horizon and no minimum notice.
    pub fn new(
        time_zone: Tz,
        hours: WeeklyHours,
        slot_length: SlotLength,
        capacity: Capacity,
    ) -> Self {
        Self {
            time_zone,
            hours,
            slot_length,
            capacity,
            horizon: None,
            min_notice: Duration::zero(),
        }
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

    /// The business's time zone.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The weekly opening hours.
    pub fn hours(&self) -> &WeeklyHours {
        &self.hours
    }

    /// The slot length.
    pub fn slot_length(&self) -> SlotLength {
        self.slot_length
    }

    /// Appointments per slot.
    pub fn capacity(&self) -> Capacity {
        self.capacity
    }

    /// How far ahead bookings may be made, if limited.
    pub fn horizon(&self) -> Option<Duration> {
        self.horizon
    }

    /// The minimum notice.
    pub fn min_notice(&self) -> Duration {
        self.min_notice
    }

    /// The rule that decides, at `now`, whether a slot can take one more booking.
    pub fn admission(&self, now: DateTime<Utc>) -> Admission {
        Admission::new(now, now + self.min_notice, self.horizon.map(|h| now + h), self.capacity)
    }

    /// The slot that starts at a local date and time. A time in a daylight-saving overlap means
    /// its earlier occurrence.
    pub fn slot_at(&self, date: NaiveDate, time: NaiveTime) -> Result<Slot, SlotError> {
        let minute = DayMinute::of(time);
        let ranges = self.hours.on(date.weekday());
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
        let start = self.instant(date, time).ok_or(SlotError::NonexistentLocalTime {
            date,
            time,
            zone: self.time_zone,
        })?;
        Ok(Slot { start, end: start + self.slot_length.duration() })
    }

    /// Every slot of a local date, in order. Local times skipped by a daylight-saving change
    /// have no slot; repeated ones have one, at their earlier occurrence.
    pub fn slots_on(&self, date: NaiveDate) -> impl Iterator<Item = Slot> + '_ {
        let length = self.slot_length.minutes();
        self.hours.on(date.weekday()).iter().flat_map(move |range| {
            let starts = range.start().get()..=range.end().get().saturating_sub(length);
            starts.step_by(usize::from(length)).filter_map(move |minute| {
                let start = self.instant(date, minute_of(minute).to_time()?)?;
                Some(Slot { start, end: start + self.slot_length.duration() })
            })
        })
    }

    /// The local date and time at which an instant falls in the business's zone.
    pub fn local(&self, instant: DateTime<Utc>) -> chrono::NaiveDateTime {
        instant.with_timezone(&self.time_zone).naive_local()
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
        let starts: Vec<_> = schedule.slots_on(date("2030-01-07")).map(|s| s.start()).collect();
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
        let schedule = Schedule::default().clone();
        let weekdays_only = Schedule::new(
            schedule.time_zone(),
            "mon-fri 09:00-17:00".parse().unwrap(),
            schedule.slot_length(),
            schedule.capacity(),
        );
        let err = weekdays_only.slot_at(date("2030-01-06"), time("10:00")).unwrap_err();
        assert!(
            matches!(&err, SlotError::Closed { hours, .. } if hours.weekday == Weekday::Sun && hours.ranges.is_empty())
        );
        assert!(err.to_string().ends_with("(closed all day on Sun)"), "{err}");
        assert_eq!(weekdays_only.slots_on(date("2030-01-06")).count(), 0);
    }

    #[test]
    fn breaks_split_the_day() {
        let schedule = Schedule::new(
            Tz::UTC,
            "09:00-10:00,11:00-12:00".parse().unwrap(),
            SlotLength::from_minutes(60).unwrap(),
            Capacity::new(1).unwrap(),
        );
        assert_eq!(schedule.slots_on(date("2030-01-07")).count(), 2);
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
        let day: Vec<_> = berlin().slots_on(date("2030-03-31")).collect();
        assert_eq!(day.len(), 46, "two of 48 half hours are skipped");
    }

    #[test]
    fn a_local_time_in_the_autumn_overlap_is_its_earlier_occurrence() {
        // Berlin repeats 02:00-03:00 on 2030-10-27: first at +02:00, then at +01:00.
        let slot = berlin().slot_at(date("2030-10-27"), time("02:30")).unwrap();
        assert_eq!(slot.start(), utc("2030-10-27T00:30:00Z"));
        assert_eq!(slot.end(), utc("2030-10-27T01:00:00Z"));
        assert_eq!(berlin().local(slot.start()), date("2030-10-27").and_time(time("02:30")));
        assert_eq!(berlin().slots_on(date("2030-10-27")).count(), 48);
    }

    #[test]
    fn slots_follow_the_local_clock_across_zones() {
        let mut schedule = berlin();
        schedule.hours = "09:00-10:00".parse().unwrap();
        let winter = schedule.slot_at(date("2030-01-07"), time("09:00")).unwrap();
        let summer = schedule.slot_at(date("2030-07-08"), time("09:00")).unwrap();
        assert_eq!(winter.start(), utc("2030-01-07T08:00:00Z"));
        assert_eq!(summer.start(), utc("2030-07-08T07:00:00Z"));
    }

    #[test]
    fn lengths_and_capacities_are_bounded() {
        assert_eq!(SlotLength::from_minutes(0), Err(SlotLengthError(0)));
        assert_eq!(SlotLength::from_minutes(1441), Err(SlotLengthError(1441)));
        assert_eq!(SlotLength::from_minutes(1440).unwrap().minutes(), 1440);
        assert_eq!(Capacity::new(0), Err(CapacityError(0)));
        assert_eq!(Capacity::new(10_001), Err(CapacityError(10_001)));
        let two = Capacity::new(2).unwrap();
        assert!(two.admits(1));
        assert!(!two.admits(2));
    }
}
