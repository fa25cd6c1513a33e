//! A notification as the email sent: one plain-text template and one HTML template for every
//! kind (the kind picks the subject and first sentence), in the business's language, with times
//! in its zone, and a calendar file (a scheduling message) for a booking, a move or a cancel.

use booking_core::{
    history::Actor,
    notification::{ClaimedNotification, NotificationKind},
    schedule::Schedule,
};
use lettre::{
    Message,
    message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType},
};

use super::settings::MailSettings;
use crate::{
    ics::{Calendar, Event, EventStatus, Method, Parties},
    language::{Language, Phrases, Words},
    routes::calendar::booked_what,
};

/// Why a notification cannot be written as an email: it never will be, so it is not retried.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The client's address is one mail cannot carry.
    #[error("the client's address cannot be mailed to: {0}")]
    Address(String),
    /// The message could not be built.
    #[error("the message could not be written: {0}")]
    Message(String),
}

/// What the templates fill in.
#[derive(Debug)]
struct Letter<'a> {
    language: Language,
    words: &'static Words,
    phrases: &'static Phrases,
    client: &'a str,
    what: String,
    when: String,
    before: Option<String>,
    reason: Option<&'a str>,
    manage: Option<String>,
    attached: bool,
    business: String,
}

/// The email telling `claimed`, as `settings` say, with times in `schedule`'s zone.
pub fn compose(
    claimed: &ClaimedNotification,
    settings: &MailSettings,
    schedule: &Schedule,
) -> Result<Message, ComposeError> {
    let language = settings.language;
    let words = language.words();
    let zone = schedule.time_zone();
    let message = &claimed.message;
    let appointment = &message.appointment;
    let slot = appointment.slot();
    let method = match claimed.kind {
        NotificationKind::Confirmation | NotificationKind::Moved => Some(Method::Request),
        NotificationKind::Canceled => Some(Method::Cancel),
        NotificationKind::Reminder => None,
    };
    let business = settings.from.name.clone().unwrap_or_else(|| settings.from.email.to_string());
    let letter = Letter {
        language,
        words,
        phrases: match claimed.kind {
            NotificationKind::Confirmation => &words.confirmation,
            NotificationKind::Moved => &words.moved,
            NotificationKind::Canceled => &words.canceled,
            NotificationKind::Reminder => &words.reminder,
        },
        client: appointment.client_name().as_str(),
        what: booked_what(appointment, schedule, language),
        when: language.period(slot.start(), slot.end(), zone),
        before: message.from.map(|from| language.period(from.start(), from.end(), zone)),
        // The client knows why they changed it; an operator's reason is news to them.
        reason: message
            .reason
            .as_ref()
            .filter(|_| message.by == Actor::Operator)
            .map(|reason| reason.as_str()),
        manage: settings
            .manage_url
            .as_ref()
            .filter(|_| claimed.kind != NotificationKind::Canceled)
            .map(|url| url.of(appointment.id())),
        attached: method.is_some(),
        business,
    };
    let to_address = claimed
        .to
        .as_str()
        .parse()
        .map_err(|e: lettre::address::AddressError| ComposeError::Address(e.to_string()))?;
    let to = Mailbox::new(Some(letter.client.to_owned()), to_address);
    let short_when =
        format!("{}, {}", language.date(slot.start(), zone), language.time(slot.start(), zone));
    let subject =
        letter.phrases.subject.replace("{what}", &letter.what).replace("{when}", &short_when);
    let body = MultiPart::alternative_plain_html(text(&letter), html(&letter));
    let body = match method {
        None => body,
        Some(method) => {
            let mut calendar = Calendar::scheduling(method);
            calendar.event(&Event {
                uid: appointment.id().to_string(),
                sequence: claimed.revision,
                created: appointment.created_at(),
                modified: message.at,
                start: slot.start(),
                end: slot.end(),
                summary: &letter.what,
                description: None,
                status: match method {
                    Method::Request => EventStatus::Confirmed,
                    Method::Cancel => EventStatus::Cancelled,
                },
                parties: Some(Parties {
                    organizer: (&letter.business, settings.from.email.as_ref()),
                    attendee: (letter.client, claimed.to.as_str()),
                }),
            });
            let kind = format!("text/calendar; method={}; charset=utf-8", method.as_str());
            let kind =
                ContentType::parse(&kind).map_err(|e| ComposeError::Message(e.to_string()))?;
            let calendar = calendar.finish();
            // Inline beside the text, where mail programs look for an invitation to show, and
            // attached, for those that only offer files.
            let body =
                body.singlepart(SinglePart::builder().header(kind.clone()).body(calendar.clone()));
            MultiPart::mixed().multipart(body).singlepart(attachment(calendar, kind))
        }
    };
    let domain = settings.from.email.domain();
    Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(subject)
        // The same on every attempt, so a client's mail program can drop a duplicate; the
        // appointment's id keeps it unique beyond this database's numbering.
        .message_id(Some(format!(
            "<notification-{}.{}@{domain}>",
            claimed.notification.0,
            appointment.id()
        )))
        .multipart(body)
        .map_err(|e| ComposeError::Message(e.to_string()))
}

fn attachment(calendar: String, kind: ContentType) -> SinglePart {
    Attachment::new("appointment.ics".to_owned()).body(calendar, kind)
}

/// The plain-text template.
fn text(letter: &Letter<'_>) -> String {
    let words = letter.words;
    let mut lines = vec![
        format!("{} {},", words.hello, letter.client),
        String::new(),
        letter.phrases.intro.to_owned(),
        String::new(),
        format!("{}: {}", words.label_what, letter.what),
        format!("{}: {}", words.label_when, letter.when),
    ];
    if let Some(before) = &letter.before {
        lines.push(format!("{}: {before}", words.label_before));
    }
    if let Some(reason) = letter.reason {
        lines.push(format!("{}: {reason}", words.label_reason));
    }
    if let Some(manage) = &letter.manage {
        lines.extend([String::new(), words.manage.to_owned(), manage.clone()]);
    }
    if letter.attached {
        lines.extend([String::new(), words.attached.to_owned()]);
    }
    lines.extend([String::new(), words.regards.to_owned(), letter.business.clone()]);
    lines.join("\n") + "\n"
}

/// The HTML template: the same as the text, every value escaped.
fn html(letter: &Letter<'_>) -> String {
    let words = letter.words;
    let mut details =
        vec![(words.label_what, letter.what.clone()), (words.label_when, letter.when.clone())];
    if let Some(before) = &letter.before {
        details.push((words.label_before, before.clone()));
    }
    if let Some(reason) = letter.reason {
        details.push((words.label_reason, reason.to_owned()));
    }
    let rows: String = details
        .iter()
        .map(|(label, value)| {
            format!(
                "<tr><th scope=\"row\" style=\"text-align:left;padding-right:1em\">{}</th><td>{}</td></tr>",
                escape(label),
                escape(value).replace('\n', "<br>")
            )
        })
        .collect();
    let manage = letter
        .manage
        .as_ref()
        .map(|url| {
            format!(
                "<p>{} <a href=\"{}\">{}</a></p>",
                escape(words.manage),
                escape(url),
                escape(url)
            )
        })
        .unwrap_or_default();
    let attached =
        if letter.attached { format!("<p>{}</p>", escape(words.attached)) } else { String::new() };
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;line-height:1.5;color:#1a1a1a\">\
         <p>{hello} {client},</p><p>{intro}</p><table>{rows}</table>{manage}{attached}\
         <p>{regards}<br>{business}</p></body></html>\n",
        lang = letter.language.code(),
        title = escape(&letter.what),
        hello = escape(words.hello),
        client = escape(letter.client),
        intro = escape(letter.phrases.intro),
        regards = escape(words.regards),
        business = escape(&letter.business),
    )
}

/// `raw` as HTML text or a quoted attribute value.
fn escape(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for character in raw.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use booking_core::{
        appointment::{Appointment, AppointmentId, AppointmentRecord, Status},
        client::ClientName,
        contact::{Contact, Email},
        history::Reason,
        notification::NotificationId,
        units::Slot,
        webhook::{EventType, Message, MessageId},
    };

    use super::*;
    use crate::mail::settings::{SmtpServer, sender};

    /// An operator's cancel of Ada's appointment, as the worker would claim it.
    fn canceled_by_the_salon(language: Language) -> (ClaimedNotification, MailSettings) {
        let at = |text: &str| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let slot = Slot::new(at("2030-01-07T09:00:00Z"), at("2030-01-07T09:30:00Z"));
        let email = Email::parse("ada@example.com").unwrap();
        let appointment = Appointment::from(AppointmentRecord {
            id: AppointmentId::random(),
            client_name: ClientName::parse("Ada Lovelace").unwrap(),
            notes: None,
            contact: Contact { email: email.clone(), phone: None },
            resource: "default".parse().unwrap(),
            service: None,
            slot: slot.unwrap(),
            occupied: Vec::new(),
            status: Status::Canceled,
            created_at: at("2030-01-01T08:00:00Z"),
            updated_at: at("2030-01-02T08:00:00Z"),
        });
        let claimed = ClaimedNotification {
            notification: NotificationId(7),
            attempt: 1,
            kind: NotificationKind::Canceled,
            remind_before: None,
            to: email.unwrap(),
            message: Message {
                id: MessageId(3),
                event: EventType::Canceled,
                at: at("2030-01-02T08:00:00Z"),
                appointment,
                from: None,
                left: None,
                by: Actor::Operator,
                reason: Reason::parse("Alice is ill <today> & tomorrow").unwrap(),
            },
            revision: 1,
        };
        let settings = MailSettings {
            server: SmtpServer::new("smtp://127.0.0.1:2525", None, None).unwrap(),
            from: sender("Salon <bookings@salon.example>").unwrap(),
            reminders: Default::default(),
            language,
            manage_url: None,
            retries: Default::default(),
        };
        (claimed, settings)
    }

    #[test]
    fn a_cancel_by_the_operator_says_why_in_the_business_language() {
        let (claimed, settings) = canceled_by_the_salon(Language::German);
        let written = compose(&claimed, &settings, &Schedule::default()).map(|m| m.formatted());
        let written = written.unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&written).unwrap();
        assert_eq!(
            parsed.subject(),
            Some("Abgesagt: Termin bei Default, Montag, 7. Januar 2030, 09:00")
        );
        let text = parsed.body_text(0).unwrap_or_default().replace("\r\n", "\n");
        assert!(text.starts_with("Hallo Ada Lovelace,\n\nIhr Termin ist abgesagt.\n"), "{text}");
        assert!(text.contains("Wann: Montag, 7. Januar 2030, 09:00–09:30 (UTC)\n"), "{text}");
        assert!(text.contains("Grund: Alice is ill <today> & tomorrow\n"), "{text}");
        let html = parsed.body_html(0).unwrap_or_default();
        assert!(html.contains("<html lang=\"de\">"), "{html}");
        assert!(html.contains("Alice is ill &lt;today&gt; &amp; tomorrow"), "escaped: {html}");
        let calendar = parsed.attachments().next().and_then(|part| part.text_contents());
        assert!(calendar.is_some_and(|c| c.contains("METHOD:CANCEL\r\n")), "{calendar:?}");
    }

    #[test]
    fn html_escapes_what_a_client_typed() {
        assert_eq!(
            escape("<b>\"Ada\" & 'Bob'</b>"),
            "&lt;b&gt;&quot;Ada&quot; &amp; &#39;Bob&#39;&lt;/b&gt;"
        );
    }
}
