//! Reading the date and time fields of requests, strictly.

use booking_core::{catalog::Slug, service::SlotRequest};
use chrono::{NaiveDate, NaiveTime};

use crate::error::ApiError;

/// Where a request wants an appointment: the date and time fields, and an optional resource
/// and service.
pub fn slot_request(
    date_text: &str,
    time_text: &str,
    resource: Option<&str>,
    service: Option<&str>,
) -> Result<SlotRequest, ApiError> {
    Ok(SlotRequest {
        date: date("date", date_text)?,
        time: time("time", time_text)?,
        resource: resource.map(str::parse::<Slug>).transpose()?,
        service: service.map(str::parse::<Slug>).transpose()?,
    })
}

/// A date written `YYYY-MM-DD`.
pub fn date(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    let shaped = text.len() == 10
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    shaped.then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()).flatten().ok_or_else(|| {
        ApiError::invalid_format(format!(
            "{field} must be a calendar date written YYYY-MM-DD, got {text:?}"
        ))
    })
}

/// A time of day written `HH:MM`, 24-hour.
pub fn time(field: &str, text: &str) -> Result<NaiveTime, ApiError> {
    let parsed = match text.as_bytes() {
        [h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) => {
            let number = |a: &u8, b: &u8| u32::from(a - b'0') * 10 + u32::from(b - b'0');
            NaiveTime::from_hms_opt(number(h1, h2), number(m1, m2), 0)
        }
        _ => None,
    };
    parsed.ok_or_else(|| {
        ApiError::invalid_format(format!(
            "{field} must be a 24-hour time written HH:MM, got {text:?}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict_iso_calendar_dates() {
        assert_eq!(
            date("date", "2030-01-07").unwrap(),
            NaiveDate::from_ymd_opt(2030, 1, 7).unwrap()
        );
        for bad in
            ["2030-1-7", "07/01/2030", "2030-02-30", "2030-01-07T00:00", "", "２０３０-01-07"]
        {
            let error = date("date", bad).unwrap_err();
            assert!(
                error
                    .problem()
                    .detail
                    .starts_with("date must be a calendar date written YYYY-MM-DD"),
                "{bad}"
            );
        }
    }

    #[test]
    fn times_are_strict_24_hour_minutes() {
        assert_eq!(time("time", "09:30").unwrap(), NaiveTime::from_hms_opt(9, 30, 0).unwrap());
        assert_eq!(time("time", "23:59").unwrap(), NaiveTime::from_hms_opt(23, 59, 0).unwrap());
        for bad in ["9:30", "24:00", "09:60", "09:30:00", "9am", ""] {
            let error = time("time", bad).unwrap_err();
            assert_eq!(error.problem().message, "Invalid date or time format.", "{bad}");
        }
    }
}
