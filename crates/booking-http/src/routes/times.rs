//! How the API writes dates, times and instants: digits put straight into the response body,
//! with no strftime pattern to interpret and no string per field (a week's listing writes a few
//! thousand of them).

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Timelike, Utc};
use serde::{Serialize, Serializer};

/// A local date: `2030-01-07`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDate(pub NaiveDate);

/// A local time of day, to the minute: `09:30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime(pub NaiveTime);

/// An instant with the business's UTC offset, RFC 3339 to the second:
/// `2030-01-07T09:30:00+01:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zoned(pub DateTime<FixedOffset>);

/// An instant in UTC, RFC 3339 to the second: `2030-01-01T08:00:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InUtc(pub DateTime<Utc>);

/// Writes `value` as `N` decimal digits, zero-padded.
fn digits<const N: usize>(value: u32) -> [u8; N] {
    let mut out = [b'0'; N];
    let mut rest = value;
    for place in out.iter_mut().rev() {
        *place = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out
}

/// `YYYY-MM-DD`, or `None` for a year that four digits cannot hold.
fn date_bytes(date: NaiveDate) -> Option<[u8; 10]> {
    let year = u32::try_from(date.year()).ok().filter(|year| *year <= 9999)?;
    let mut out = [b'-'; 10];
    out[..4].copy_from_slice(&digits::<4>(year));
    out[5..7].copy_from_slice(&digits::<2>(date.month()));
    out[8..].copy_from_slice(&digits::<2>(date.day()));
    Some(out)
}

/// `HH:MM:SS`.
fn time_bytes(time: NaiveTime) -> [u8; 8] {
    let mut out = [b':'; 8];
    out[..2].copy_from_slice(&digits::<2>(time.hour()));
    out[3..5].copy_from_slice(&digits::<2>(time.minute()));
    out[6..].copy_from_slice(&digits::<2>(time.second()));
    out
}

/// Text of at most 25 ASCII bytes, on the stack.
struct Text {
    bytes: [u8; 25],
    len: usize,
}

impl Text {
    fn of(part: &[u8]) -> Self {
        let mut bytes = [0; 25];
        bytes[..part.len()].copy_from_slice(part);
        Self { bytes, len: part.len() }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written here.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// `date` `T` `time`, then the offset (`Z` for UTC when `z`, else `+HH:MM`); `None` for a year
/// that four digits cannot hold.
fn rfc3339(local: chrono::NaiveDateTime, offset_seconds: i32, z: bool) -> Option<Text> {
    let mut out = [0u8; 25];
    out[..10].copy_from_slice(&date_bytes(local.date())?);
    out[10] = b'T';
    out[11..19].copy_from_slice(&time_bytes(local.time()));
    if z {
        out[19] = b'Z';
        return Some(Text::of(&out[..20]));
    }
    out[19] = if offset_seconds < 0 { b'-' } else { b'+' };
    let minutes = offset_seconds.unsigned_abs() / 60;
    out[20..22].copy_from_slice(&digits::<2>(minutes / 60));
    out[22] = b':';
    out[23..].copy_from_slice(&digits::<2>(minutes % 60));
    Some(Text::of(&out))
}

/// How each type writes itself, or `None` when it falls back on chrono (years past 9999).
trait Written {
    fn text(&self) -> Option<Text>;
    fn fallback(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl Written for LocalDate {
    fn text(&self) -> Option<Text> {
        date_bytes(self.0).map(|bytes| Text::of(&bytes))
    }

    fn fallback(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Written for LocalTime {
    fn text(&self) -> Option<Text> {
        Some(Text::of(&time_bytes(self.0)[..5]))
    }

    fn fallback(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

impl Written for Zoned {
    fn text(&self) -> Option<Text> {
        rfc3339(self.0.naive_local(), self.0.offset().local_minus_utc(), false)
    }

    fn fallback(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
    }
}

impl Written for InUtc {
    fn text(&self) -> Option<Text> {
        rfc3339(self.0.naive_utc(), 0, true)
    }

    fn fallback(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }
}

macro_rules! written_as_text {
    ($($type:ty),*) => {
        $(
            impl fmt::Display for $type {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    match self.text() {
                        Some(text) => f.write_str(text.as_str()),
                        None => self.fallback(f),
                    }
                }
            }

            impl Serialize for $type {
                fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    match self.text() {
                        Some(text) => serializer.serialize_str(text.as_str()),
                        None => serializer.collect_str(self),
                    }
                }
            }
        )*
    };
}

written_as_text!(LocalDate, LocalTime, Zoned, InUtc);

#[cfg(test)]
mod tests {
    use chrono::{SecondsFormat, TimeZone};

    use super::*;

    #[test]
    fn written_as_chrono_writes_them() {
        let berlin = chrono_tz::Europe::Berlin;
        for text in ["2030-01-07T08:30:00Z", "2030-07-07T22:05:09Z", "0001-01-01T00:00:00Z"] {
            let at: DateTime<Utc> = text.parse().unwrap();
            let local = at.with_timezone(&berlin).fixed_offset();
            assert_eq!(Zoned(local).to_string(), local.to_rfc3339_opts(SecondsFormat::Secs, false));
            assert_eq!(InUtc(at).to_string(), at.to_rfc3339_opts(SecondsFormat::Secs, true));
            assert_eq!(
                LocalDate(local.date_naive()).to_string(),
                local.format("%Y-%m-%d").to_string()
            );
            assert_eq!(LocalTime(local.time()).to_string(), local.format("%H:%M").to_string());
        }
        let west = FixedOffset::west_opt(3 * 3600 + 30 * 60).unwrap();
        let newfoundland = west.with_ymd_and_hms(2030, 1, 7, 9, 0, 0).unwrap();
        assert_eq!(Zoned(newfoundland).to_string(), "2030-01-07T09:00:00-03:30");
        let far = NaiveDate::from_ymd_opt(12_345, 1, 1).unwrap();
        assert_eq!(LocalDate(far).to_string(), far.to_string(), "years past four digits");
    }

    #[test]
    fn serialized_as_json_strings() {
        let date = LocalDate(NaiveDate::from_ymd_opt(2030, 1, 7).unwrap());
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2030-01-07\"");
    }
}
