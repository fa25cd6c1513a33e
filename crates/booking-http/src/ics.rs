//! iCalendar text (RFC 5545) for appointments: a file a client adds to their calendar, and the
//! feed an operator's calendar subscribes to. Times are written in UTC (`DTSTART:...Z`), which
//! every calendar shows in its own zone, so no VTIMEZONE is needed.

use chrono::{DateTime, Utc};

/// The longest content line, in octets, line break excluded (RFC 5545 section 3.1).
const MAX_LINE_OCTETS: usize = 75;

/// A VCALENDAR being written; [`Calendar::finish`] closes it.
#[derive(Debug)]
pub struct Calendar {
    text: String,
}

/// Whether an event still takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// It takes place.
    Confirmed,
    /// It was canceled.
    Cancelled,
}

/// One VEVENT.
#[derive(Debug)]
pub struct Event<'a> {
    /// The same for every version of the event (across moves and the cancel).
    pub uid: String,
    /// Grows with every change, so calendars replace what they had.
    pub sequence: u32,
    /// When it was booked.
    pub created: DateTime<Utc>,
    /// When it last changed (also the DTSTAMP: the information is as of then).
    pub modified: DateTime<Utc>,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// The title.
    pub summary: &'a str,
    /// More text, if any.
    pub description: Option<&'a str>,
    /// Whether it takes place.
    pub status: EventStatus,
    /// In a scheduling message: who organizes it and who attends.
    pub parties: Option<Parties<'a>>,
}

/// The organizer and the attendee of an event sent as a scheduling message (RFC 5546 requires
/// both in a REQUEST or CANCEL).
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    /// The business: its name and address.
    pub organizer: (&'a str, &'a str),
    /// The client: their name and address.
    pub attendee: (&'a str, &'a str),
}

/// What a scheduling message asks of the calendar that reads it (RFC 5546).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Add the event, or replace it with this version (a higher SEQUENCE).
    Request,
    /// Remove it.
    Cancel,
}

impl Method {
    /// The value of `METHOD`, and of the `method` parameter of its `text/calendar` part.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Cancel => "CANCEL",
        }
    }
}

impl Calendar {
    /// A calendar with `properties` (name and value, the value already in iCalendar form)
    /// after the required ones. Without a `METHOD` (files and feeds, not scheduling messages),
    /// each event's DTSTAMP is when its information last changed; a scheduling message
    /// ([`Calendar::scheduling`]) is made for that change, so the same instant is when the
    /// message was made.
    pub fn new(properties: &[(&str, &str)]) -> Self {
        let mut calendar = Self { text: String::new() };
        calendar.line("BEGIN", "VCALENDAR");
        calendar.line("VERSION", "2.0");
        calendar.line(
            "PRODID",
            concat!("-//booking-service//booking-http ", env!("CARGO_PKG_VERSION"), "//EN"),
        );
        calendar.line("CALSCALE", "GREGORIAN");
        for (name, value) in properties {
            calendar.line(name, value);
        }
        calendar
    }

    /// A scheduling message sent by mail: a calendar with one `METHOD`, whose events name their
    /// organizer and attendee.
    pub fn scheduling(method: Method) -> Self {
        Self::new(&[("METHOD", method.as_str())])
    }

    /// Adds `event`.
    pub fn event(&mut self, event: &Event<'_>) {
        self.line("BEGIN", "VEVENT");
        self.line("UID", &text(&event.uid));
        self.line("SEQUENCE", &event.sequence.to_string());
        self.line("DTSTAMP", &instant(event.modified));
        self.line("CREATED", &instant(event.created));
        self.line("LAST-MODIFIED", &instant(event.modified));
        self.line("DTSTART", &instant(event.start));
        self.line("DTEND", &instant(event.end));
        self.line("SUMMARY", &text(event.summary));
        if let Some(description) = event.description {
            self.line("DESCRIPTION", &text(description));
        }
        let status = match event.status {
            EventStatus::Confirmed => "CONFIRMED",
            EventStatus::Cancelled => "CANCELLED",
        };
        self.line("STATUS", status);
        // A canceled appointment no longer makes its time busy.
        let transparency = match event.status {
            EventStatus::Confirmed => "OPAQUE",
            EventStatus::Cancelled => "TRANSPARENT",
        };
        self.line("TRANSP", transparency);
        if let Some(parties) = event.parties {
            let (name, address) = parties.organizer;
            self.line(&format!("ORGANIZER;CN={}", parameter(name)), &mailto(address));
            let (name, address) = parties.attendee;
            self.line(
                &format!("ATTENDEE;CN={};ROLE=REQ-PARTICIPANT", parameter(name)),
                &mailto(address),
            );
        }
        self.line("END", "VEVENT");
    }

    /// The calendar's text, closed.
    pub fn finish(mut self) -> String {
        self.line("END", "VCALENDAR");
        self.text
    }

    /// Writes `name:value` as content lines: folded after 75 octets (never inside a
    /// character), each ended by CRLF.
    fn line(&mut self, name: &str, value: &str) {
        let mut room = MAX_LINE_OCTETS;
        for (n, character) in name.chars().chain([':']).chain(value.chars()).enumerate() {
            let width = character.len_utf8();
            if width > room && n > 0 {
                // The continuation's leading space takes one octet of its 75.
                self.text.push_str("\r\n ");
                room = MAX_LINE_OCTETS - 1;
            }
            self.text.push(character);
            room = room.saturating_sub(width);
        }
        self.text.push_str("\r\n");
    }
}

/// A UTC instant as a DATE-TIME value (`20300107T093000Z`).
fn instant(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// `address` as a `mailto:` URI (RFC 6068): the characters a URI reserves, or may not hold,
/// percent-encoded.
fn mailto(address: &str) -> String {
    let mut uri = String::from("mailto:");
    for byte in address.bytes() {
        if byte.is_ascii_alphanumeric() || b"@.-_~!$'*+".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// `raw` as a quoted parameter value: double quotes and control characters, which a quoted
/// value may not hold, left out.
fn parameter(raw: &str) -> String {
    let inner: String = raw.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    format!("\"{inner}\"")
}

/// `raw` as a TEXT value: backslashes, semicolons, commas and line breaks escaped; other control
/// characters (which TEXT may not hold) left out.
pub fn text(raw: &str) -> String {
    let mut value = String::with_capacity(raw.len());
    let mut characters = raw.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\\' => value.push_str("\\\\"),
            ';' => value.push_str("\\;"),
            ',' => value.push_str("\\,"),
            '\r' if characters.peek() == Some(&'\n') => {}
            '\n' | '\r' => value.push_str("\\n"),
            '\t' => value.push('\t'),
            control if control.is_control() => {}
            other => value.push(other),
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "")
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_a_character() {
        let mut calendar = Calendar::new(&[]);
        let summary = "Ñ".repeat(60) + &"a".repeat(50);
        calendar.line("SUMMARY", &summary);
        let text = calendar.finish();
        for line in text.split("\r\n") {
            assert!(line.len() <= MAX_LINE_OCTETS, "{} octets: {line:?}", line.len());
        }
        assert!(unfold(&text).contains(&format!("\r\nSUMMARY:{summary}\r\n")), "{text}");
        assert!(text.contains("\r\n Ñ") || text.contains("\r\n a"), "folded: {text}");
    }

    #[test]
    fn addresses_become_mailto_uris() {
        assert_eq!(mailto("ada@example.com"), "mailto:ada@example.com");
        assert_eq!(mailto("a%b?c#d/e@example.com"), "mailto:a%25b%3Fc%23d%2Fe@example.com");
        assert_eq!(mailto("a&b=c{d}@x.example"), "mailto:a%26b%3Dc%7Bd%7D@x.example");
    }

    #[test]
    fn text_values_escape_what_ical_reserves() {
        assert_eq!(text("a\\b;c,d\r\ne\nf\u{7}g\th"), "a\\\\b\\;c\\,d\\ne\\nfg\th");
    }

    #[test]
    fn instants_are_utc_date_times() {
        let at: DateTime<Utc> = "2030-01-07T09:30:05Z".parse().unwrap_or_default();
        assert_eq!(instant(at), "20300107T093005Z");
    }
}
