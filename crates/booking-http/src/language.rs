//! The business's language (`BOOKING_LANGUAGE`): the words of the messages sent to clients and
//! of the calendar events written for them. English unless set.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

/// A language the service writes in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Language {
    /// `en`
    #[default]
    English,
    /// `de`
    German,
}

/// A language code the service has no words for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no words for the language {0:?}; use en (English) or de (German)")]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "en" => Ok(Self::English),
            "de" => Ok(Self::German),
            _ => Err(UnknownLanguage(text.to_owned())),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Language {
    /// The code, as `Content-Language` and `lang` attributes write it.
    pub fn code(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::German => "de",
        }
    }

    /// The words.
    pub fn words(self) -> &'static Words {
        match self {
            Self::English => &ENGLISH,
            Self::German => &GERMAN,
        }
    }

    /// A day in words, in `zone`: "Monday, 7 January 2030" or "Montag, 7. Januar 2030".
    pub fn date(self, at: DateTime<Utc>, zone: Tz) -> String {
        let local = at.with_timezone(&zone);
        let words = self.words();
        let weekday = words.weekdays[local.weekday().num_days_from_monday() as usize];
        let month = words.months[local.month0() as usize];
        match self {
            Self::English => format!("{weekday}, {} {month} {}", local.day(), local.year()),
            Self::German => format!("{weekday}, {}. {month} {}", local.day(), local.year()),
        }
    }

    /// A time of day in `zone`, on the 24-hour clock: "09:30".
    pub fn time(self, at: DateTime<Utc>, zone: Tz) -> String {
        let local = at.with_timezone(&zone);
        format!("{:02}:{:02}", local.hour(), local.minute())
    }

    /// A span of time in `zone`, with the zone named: "Monday, 7 January 2030, 09:30–10:00
    /// (Europe/Berlin)".
    pub fn period(self, start: DateTime<Utc>, end: DateTime<Utc>, zone: Tz) -> String {
        let same_day =
            start.with_timezone(&zone).date_naive() == end.with_timezone(&zone).date_naive();
        let until = if same_day {
            self.time(end, zone)
        } else {
            format!("{}, {}", self.date(end, zone), self.time(end, zone))
        };
        format!("{}, {}–{until} ({})", self.date(start, zone), self.time(start, zone), zone.name())
    }

    /// What was booked, by name: "Haircut with Alice", or "Appointment with Alice".
    pub fn booked_what(self, service: Option<&str>, resource: &str) -> String {
        let words = self.words();
        let what = service.unwrap_or(words.appointment);
        format!("{what} {} {resource}", words.with)
    }
}

/// The words of one language.
#[derive(Debug)]
pub struct Words {
    /// "Appointment", when no service was named.
    pub appointment: &'static str,
    /// "with", as in "Haircut with Alice".
    pub with: &'static str,
    /// Monday first.
    pub weekdays: [&'static str; 7],
    /// January first.
    pub months: [&'static str; 12],
    /// The greeting before the client's name ("Hello").
    pub hello: &'static str,
    /// Subjects and first sentences, by kind.
    pub confirmation: Phrases,
    /// A move.
    pub moved: Phrases,
    /// A cancel.
    pub canceled: Phrases,
    /// A reminder.
    pub reminder: Phrases,
    /// The labels of the details.
    pub label_what: &'static str,
    /// "When".
    pub label_when: &'static str,
    /// "Before" (a move's previous time).
    pub label_before: &'static str,
    /// "Reason".
    pub label_reason: &'static str,
    /// The sentence before the manage link.
    pub manage: &'static str,
    /// The sentence about the attached calendar file.
    pub attached: &'static str,
    /// The sign-off before the business's name.
    pub regards: &'static str,
}

/// A kind of message's subject and first sentence; `{what}` and `{when}` are filled in.
#[derive(Debug)]
pub struct Phrases {
    /// The subject line.
    pub subject: &'static str,
    /// The first sentence.
    pub intro: &'static str,
}

static ENGLISH: Words = Words {
    appointment: "Appointment",
    with: "with",
    weekdays: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    hello: "Hello",
    confirmation: Phrases {
        subject: "Booked: {what}, {when}",
        intro: "Your appointment is booked.",
    },
    moved: Phrases {
        subject: "Moved: {what}, now {when}",
        intro: "Your appointment has moved to a new time.",
    },
    canceled: Phrases {
        subject: "Canceled: {what}, {when}",
        intro: "Your appointment is canceled.",
    },
    reminder: Phrases {
        subject: "Reminder: {what}, {when}",
        intro: "This is a reminder of your appointment.",
    },
    label_what: "What",
    label_when: "When",
    label_before: "Before",
    label_reason: "Reason",
    manage: "To move or cancel it:",
    attached: "The attached calendar file updates your calendar.",
    regards: "Kind regards,",
};

static GERMAN: Words = Words {
    appointment: "Termin",
    with: "bei",
    weekdays: ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    months: [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    hello: "Hallo",
    confirmation: Phrases { subject: "Gebucht: {what}, {when}", intro: "Ihr Termin ist gebucht." },
    moved: Phrases {
        subject: "Verschoben: {what}, jetzt {when}",
        intro: "Ihr Termin wurde verschoben.",
    },
    canceled: Phrases { subject: "Abgesagt: {what}, {when}", intro: "Ihr Termin ist abgesagt." },
    reminder: Phrases {
        subject: "Erinnerung: {what}, {when}",
        intro: "Wir erinnern Sie an Ihren Termin.",
    },
    label_what: "Was",
    label_when: "Wann",
    label_before: "Vorher",
    label_reason: "Grund",
    manage: "Zum Verschieben oder Absagen:",
    attached: "Die angehängte Kalenderdatei aktualisiert Ihren Kalender.",
    regards: "Mit freundlichen Grüßen",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_the_business_zone_with_the_zone_named() {
        let start: DateTime<Utc> = "2030-01-07T08:30:00Z".parse().unwrap_or_default();
        let end = start + chrono::Duration::minutes(30);
        let berlin: Tz = "Europe/Berlin".parse().unwrap_or(Tz::UTC);
        assert_eq!(
            Language::English.period(start, end, berlin),
            "Monday, 7 January 2030, 09:30–10:00 (Europe/Berlin)"
        );
        assert_eq!(
            Language::German.period(start, end, berlin),
            "Montag, 7. Januar 2030, 09:30–10:00 (Europe/Berlin)"
        );
        let overnight =
            Language::English.period(start, start + chrono::Duration::hours(16), berlin);
        assert_eq!(
            overnight,
            "Monday, 7 January 2030, 09:30–Tuesday, 8 January 2030, 01:30 (Europe/Berlin)"
        );
    }

    #[test]
    fn languages_are_read_by_their_codes() {
        assert_eq!("DE".parse(), Ok(Language::German));
        assert_eq!(" en ".parse(), Ok(Language::English));
        assert!("fr".parse::<Language>().is_err());
        assert_eq!(Language::German.booked_what(None, "Alice"), "Termin bei Alice");
        assert_eq!(Language::English.booked_what(Some("Haircut"), "Alice"), "Haircut with Alice");
    }
}
