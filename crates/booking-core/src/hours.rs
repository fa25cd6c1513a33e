//! Weekly opening hours: for each weekday, the time ranges in which appointments can take place.

use std::{fmt, str::FromStr};

use chrono::{NaiveTime, Timelike, Weekday};
use thiserror::Error;

const MINUTES_PER_DAY: u16 = 24 * 60;
const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// A local time of day in whole minutes since midnight, `0..=1440` (1440 is the end of the day,
/// written `24:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayMinute(u16);

impl DayMinute {
    /// The minute of a time of day; seconds are dropped.
    pub fn of(time: NaiveTime) -> Self {
        // hour() < 24 and minute() < 60, so the value is below 1440 and fits in u16.
        Self((time.hour() * 60 + time.minute()) as u16)
    }

    /// A minute of the day; values past the end of the day are the end of the day (`24:00`).
    pub fn clamped(minutes: u16) -> Self {
        Self(minutes.min(MINUTES_PER_DAY))
    }

    /// Minutes since midnight.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The time of day, or `None` for `24:00`.
    pub fn to_time(self) -> Option<NaiveTime> {
        NaiveTime::from_hms_opt(u32::from(self.0 / 60), u32::from(self.0 % 60), 0)
    }

    fn parse(text: &str) -> Option<Self> {
        let (hours, minutes) = text.split_once(':')?;
        if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
            return None;
        }
        let hours: u16 = hours.parse().ok()?;
        let minutes: u16 = minutes.parse().ok()?;
        let value = hours.checked_mul(60)?.checked_add(minutes)?;
        (minutes < 60 && value <= MINUTES_PER_DAY).then_some(Self(value))
    }
}

impl fmt::Display for DayMinute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A half-open range of local time, `start..end`, within one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    start: DayMinute,
    end: DayMinute,
}

impl TimeRange {
    /// A range that starts before it ends.
    pub fn new(start: DayMinute, end: DayMinute) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }

    /// Where the range starts.
    pub fn start(self) -> DayMinute {
        self.start
    }

    /// Where the range ends (exclusive).
    pub fn end(self) -> DayMinute {
        self.end
    }

    /// Whether `minute` lies in `start..end`.
    pub fn contains(self, minute: DayMinute) -> bool {
        self.start <= minute && minute < self.end
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// The most opening ranges one day may have (its hours then still write in under 1000
/// characters, which the stores allow).
pub const MAX_RANGES: usize = 10;

/// Opening hours for each day of the week; a day with no ranges is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyHours {
    /// Indexed by days from Monday; each day's ranges are sorted and do not overlap.
    days: [Vec<TimeRange>; 7],
}

/// Why opening hours could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HoursError {
    /// A time range that is not `HH:MM-HH:MM` with start before end.
    #[error(
        "'{0}' is not a time range; write HH:MM-HH:MM with the start before the end, e.g. 09:00-17:00"
    )]
    InvalidRange(String),
    /// A day name that is not one of mon, tue, wed, thu, fri, sat, sun.
    #[error("'{0}' is not a day; use mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri")]
    InvalidDay(String),
    /// A part with days but no time ranges.
    #[error("'{0}' names days but no hours; write e.g. 'mon-fri 09:00-17:00'")]
    MissingHours(String),
    /// Two ranges of one day overlap.
    #[error("on {day} the ranges {first} and {second} overlap")]
    Overlap {
        /// The day.
        day: Weekday,
        /// The earlier range.
        first: TimeRange,
        /// The range that overlaps it.
        second: TimeRange,
    },
    /// Two ranges of one date overlap.
    #[error("the ranges {first} and {second} overlap")]
    RangesOverlap {
        /// The earlier range.
        first: TimeRange,
        /// The range that overlaps it.
        second: TimeRange,
    },
    /// More ranges on one day than hours may have.
    #[error("at most {MAX_RANGES} opening ranges a day")]
    TooManyRanges,
    /// The business would never be open.
    #[error("opening hours must open on at least one day")]
    NeverOpen,
}

impl WeeklyHours {
    /// The same ranges on every day of the week.
    pub fn every_day(ranges: Vec<TimeRange>) -> Result<Self, HoursError> {
        Self::from_days(std::array::from_fn(|_| ranges.clone()))
    }

    /// Hours for each day, indexed by days from Monday.
    pub fn from_days(mut days: [Vec<TimeRange>; 7]) -> Result<Self, HoursError> {
        for (day, ranges) in WEEKDAYS.iter().zip(days.iter_mut()) {
            if ranges.len() > MAX_RANGES {
                return Err(HoursError::TooManyRanges);
            }
            ranges.sort_by_key(|range| range.start);
            if let Some(pair) = ranges.windows(2).find(|pair| pair[1].start < pair[0].end) {
                return Err(HoursError::Overlap { day: *day, first: pair[0], second: pair[1] });
            }
        }
        if days.iter().all(Vec::is_empty) {
            return Err(HoursError::NeverOpen);
        }
        Ok(Self { days })
    }

    /// Each weekday from Monday with its ranges.
    pub fn days(&self) -> impl Iterator<Item = (Weekday, &[TimeRange])> {
        WEEKDAYS.into_iter().zip(self.days.iter().map(Vec::as_slice))
    }

    /// The ranges of one weekday, sorted.
    pub fn on(&self, day: Weekday) -> &[TimeRange] {
        &self.days[day.num_days_from_monday() as usize]
    }
}

/// One date's hours, replacing its weekday's: ranges sorted and apart, or none (closed all
/// day). Written as `11:00-12:00,14:00-16:00`, or `closed`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayHours(Vec<TimeRange>);

impl DayHours {
    /// The ranges, sorted; empty when closed all day.
    pub fn ranges(&self) -> &[TimeRange] {
        &self.0
    }
}

impl FromStr for DayHours {
    type Err = HoursError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("closed") {
            return Ok(Self::default());
        }
        let mut ranges = parse_ranges(text)?;
        if ranges.len() > MAX_RANGES {
            return Err(HoursError::TooManyRanges);
        }
        ranges.sort_by_key(|range| range.start);
        if let Some(pair) = ranges.windows(2).find(|pair| pair[1].start < pair[0].end) {
            return Err(HoursError::RangesOverlap { first: pair[0], second: pair[1] });
        }
        Ok(Self(ranges))
    }
}

impl fmt::Display for DayHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("closed");
        }
        let ranges: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&ranges.join(","))
    }
}

impl Default for WeeklyHours {
    /// Every day, 09:00 to 17:00.
    fn default() -> Self {
        let nine_to_five = TimeRange { start: DayMinute(9 * 60), end: DayMinute(17 * 60) };
        Self { days: std::array::from_fn(|_| vec![nine_to_five]) }
    }
}

/// Reads opening hours written as `09:00-17:00` (every day) or as day groups separated by `;`,
/// each a list of days or day ranges and a list of time ranges:
/// `mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00`. Days not named are closed.
impl FromStr for WeeklyHours {
    type Err = HoursError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if !text.contains(char::is_alphabetic) {
            return Self::every_day(parse_ranges(text)?);
        }
        let mut days: [Vec<TimeRange>; 7] = Default::default();
        for group in text.split(';').map(str::trim).filter(|group| !group.is_empty()) {
            let (day_list, ranges) = group
                .split_once(char::is_whitespace)
                .ok_or_else(|| HoursError::MissingHours(group.to_owned()))?;
            let ranges = parse_ranges(ranges)?;
            for day in parse_days(day_list)? {
                days[day.num_days_from_monday() as usize].extend(ranges.iter().copied());
            }
        }
        Self::from_days(days)
    }
}

impl fmt::Display for WeeklyHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges_of = |ranges: &[TimeRange]| {
            ranges.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
        };
        if self.days.iter().all(|day| *day == self.days[0]) {
            return f.write_str(&ranges_of(&self.days[0]));
        }
        // Consecutive days with the same ranges make one group: `mon-fri 09:00-17:00`.
        let mut groups: Vec<String> = Vec::new();
        let mut day = 0;
        while day < 7 {
            let ranges = &self.days[day];
            let last = (day..7).take_while(|d| self.days[*d] == *ranges).last().unwrap_or(day);
            if !ranges.is_empty() {
                let days = match last - day {
                    0 => day_name(WEEKDAYS[day]).to_owned(),
                    _ => format!("{}-{}", day_name(WEEKDAYS[day]), day_name(WEEKDAYS[last])),
                };
                groups.push(format!("{days} {}", ranges_of(ranges)));
            }
            day = last + 1;
        }
        f.write_str(&groups.join("; "))
    }
}

fn parse_ranges(text: &str) -> Result<Vec<TimeRange>, HoursError> {
    text.split(',')
        .map(str::trim)
        .map(|range| {
            range
                .split_once('-')
                .and_then(|(start, end)| {
                    TimeRange::new(DayMinute::parse(start.trim())?, DayMinute::parse(end.trim())?)
                })
                .ok_or_else(|| HoursError::InvalidRange(range.to_owned()))
        })
        .collect()
}

fn parse_days(text: &str) -> Result<Vec<Weekday>, HoursError> {
    let mut days = Vec::new();
    for item in text.split(',').map(str::trim) {
        let day = |name: &str| {
            WEEKDAYS
                .into_iter()
                .find(|day| day_name(*day).eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| HoursError::InvalidDay(name.trim().to_owned()))
        };
        match item.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (day(first)?, day(last)?);
                let span = (last.num_days_from_monday() + 7 - first.num_days_from_monday()) % 7;
                days.extend((0..=span).scan(first, |current, _| {
                    let this = *current;
                    *current = current.succ();
                    Some(this)
                }));
            }
            None => days.push(day(item)?),
        }
    }
    Ok(days)
}

fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> TimeRange {
        parse_ranges(text).unwrap()[0]
    }

    #[test]
    fn one_range_applies_to_every_day() {
        let hours: WeeklyHours = "08:30-12:00".parse().unwrap();
        for day in WEEKDAYS {
            assert_eq!(hours.on(day), &[range("08:30-12:00")]);
        }
        assert_eq!(hours.to_string(), "08:30-12:00");
    }

    #[test]
    fn day_groups_with_breaks_and_closed_days() {
        let hours: WeeklyHours =
            "mon-fri 13:00-17:00, 09:00-12:00; sat 10:00-14:00".parse().unwrap();
        assert_eq!(hours.on(Weekday::Wed), &[range("09:00-12:00"), range("13:00-17:00")]);
        assert_eq!(hours.on(Weekday::Sat), &[range("10:00-14:00")]);
        assert!(hours.on(Weekday::Sun).is_empty());
        assert_eq!(hours.to_string(), "mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00");
        assert_eq!(hours.to_string().parse::<WeeklyHours>(), Ok(hours));
        let apart: WeeklyHours =
            "mon,wed 09:00-10:00; thu 09:00-10:00; sun 08:00-09:00".parse().unwrap();
        assert_eq!(apart.to_string(), "mon 09:00-10:00; wed-thu 09:00-10:00; sun 08:00-09:00");
        assert_eq!(apart.to_string().parse::<WeeklyHours>(), Ok(apart));
    }

    #[test]
    fn day_ranges_wrap_around_the_week_and_lists_work() {
        let hours: WeeklyHours = "sat-mon 10:00-11:00; wed,FRI 12:00-24:00".parse().unwrap();
        let open: Vec<Weekday> =
            WEEKDAYS.into_iter().filter(|d| !hours.on(*d).is_empty()).collect();
        assert_eq!(open, [Weekday::Mon, Weekday::Wed, Weekday::Fri, Weekday::Sat, Weekday::Sun]);
        assert_eq!(hours.on(Weekday::Fri)[0].end().to_time(), None);
    }

    #[test]
    fn bad_hours_say_what_is_wrong() {
        assert_eq!(
            "17:00-09:00".parse::<WeeklyHours>(),
            Err(HoursError::InvalidRange("17:00-09:00".into()))
        );
        assert_eq!("9-17".parse::<WeeklyHours>(), Err(HoursError::InvalidRange("9-17".into())));
        assert_eq!(
            "09:00-24:01".parse::<WeeklyHours>(),
            Err(HoursError::InvalidRange("09:00-24:01".into()))
        );
        assert_eq!(
            "mon-fry 09:00-10:00".parse::<WeeklyHours>(),
            Err(HoursError::InvalidDay("fry".into()))
        );
        assert_eq!("mon".parse::<WeeklyHours>(), Err(HoursError::MissingHours("mon".into())));
        assert!(matches!(
            "09:00-12:00,11:00-13:00".parse::<WeeklyHours>(),
            Err(HoursError::Overlap { day: Weekday::Mon, .. })
        ));
        assert_eq!("".parse::<WeeklyHours>(), Err(HoursError::InvalidRange(String::new())));
    }

    #[test]
    fn the_default_is_nine_to_five_every_day() {
        assert_eq!(WeeklyHours::default(), "09:00-17:00".parse().unwrap());
    }

    #[test]
    fn a_date_has_sorted_ranges_or_is_closed() {
        let hours: DayHours = "14:00-16:00, 11:00-12:00".parse().unwrap();
        assert_eq!(hours.ranges(), &[range("11:00-12:00"), range("14:00-16:00")]);
        assert_eq!(hours.to_string(), "11:00-12:00,14:00-16:00");
        let closed: DayHours = "Closed".parse().unwrap();
        assert!(closed.ranges().is_empty());
        assert_eq!(closed.to_string().parse::<DayHours>(), Ok(closed));
        assert!(matches!(
            "09:00-12:00,11:00-13:00".parse::<DayHours>(),
            Err(HoursError::RangesOverlap { .. })
        ));
        assert_eq!(
            "mon 09:00-10:00".parse::<DayHours>(),
            Err(HoursError::InvalidRange("mon 09:00-10:00".into()))
        );
    }

    /// Hours have at most ten ranges a day, so that the most they can be still writes in
    /// under the 1000 characters a store keeps.
    #[test]
    fn a_day_has_at_most_ten_ranges() {
        let ranges = |n: usize| {
            (0..n).map(|h| format!("{:02}:00-{:02}:30", h + 8, h + 8)).collect::<Vec<_>>().join(",")
        };
        assert_eq!(ranges(11).parse::<DayHours>(), Err(HoursError::TooManyRanges));
        assert_eq!(ranges(11).parse::<WeeklyHours>(), Err(HoursError::TooManyRanges));
        let twice = format!("mon {}; mon 20:00-21:00", ranges(10));
        assert_eq!(twice.parse::<WeeklyHours>(), Err(HoursError::TooManyRanges));
        // Every day its own ten ranges: no two days alike, so none share a group.
        let week: WeeklyHours = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .enumerate()
            .map(|(i, day)| format!("{day} {},23:{:02}-23:59", ranges(9), i * 5))
            .collect::<Vec<_>>()
            .join("; ")
            .parse()
            .unwrap();
        assert!(week.to_string().len() < 1000, "{}", week.to_string().len());
    }
}
