//! An appointment's history: every change it went through, who made it and why, recorded by
//! the write that made it (in the same transaction), so no change goes unrecorded and no
//! record outlives a change that rolled back.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::{
    appointment::{Appointment, Conclusion, Status},
    catalog::Slug,
    client::{FreeTextFault, describe_char, free_text},
    units::Slot,
};

/// The longest reason accepted, in characters after trimming.
pub const MAX_REASON_CHARS: usize = 500;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The client, through the public API (or a page on top of it).
    Client,
    /// The business's staff, through the admin API.
    Operator,
    /// The service itself (an expiry, a sweep).
    System,
}

impl Actor {
    /// The name stored and shown: `client`, `operator` or `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Operator => "operator",
            Self::System => "system",
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an actor's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown actor {0:?}; expected client, operator or system")]
pub struct UnknownActor(pub String);

impl FromStr for Actor {
    type Err = UnknownActor;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "client" => Ok(Self::Client),
            "operator" => Ok(Self::Operator),
            "system" => Ok(Self::System),
            other => Err(UnknownActor(other.to_owned())),
        }
    }
}

/// Why a change was made, in the words of whoever made it: 1 to 500 characters, line breaks
/// and tabs allowed, no other control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reason(String);

/// Why a reason was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReasonError {
    /// Longer than [`MAX_REASON_CHARS`].
    #[error("reason is {length} characters long; at most {MAX_REASON_CHARS} are allowed")]
    TooLong {
        /// The length of the trimmed reason, in characters.
        length: usize,
    },
    /// A control character other than a line break or tab.
    #[error(
        "reason contains the control character {} at position {position}; only line breaks \
         and tabs are allowed",
        describe_char(*character)
    )]
    ControlCharacter {
        /// The offending character.
        character: char,
        /// Its position in the trimmed reason, counted in characters from 1.
        position: usize,
    },
}

impl Reason {
    /// Trims and validates a reason. One that is empty once trimmed is no reason (`None`).
    pub fn parse(raw: &str) -> Result<Option<Self>, ReasonError> {
        let reason = free_text(raw, MAX_REASON_CHARS).map_err(|fault| match fault {
            FreeTextFault::TooLong(length) => ReasonError::TooLong { length },
            FreeTextFault::Control(character, position) => {
                ReasonError::ControlCharacter { character, position }
            }
        })?;
        Ok(reason.map(|reason| Self(reason.to_owned())))
    }

    /// The reason as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a change did to an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// It was booked.
    Scheduled,
    /// It moved; `from` is the time it had before.
    Rescheduled {
        /// The time it had before.
        from: Slot,
    },
    /// It was canceled.
    Canceled,
    /// It took place, as the business recorded.
    Completed,
    /// The client did not come, as the business recorded.
    NoShow,
}

impl Transition {
    /// The name stored and shown: `scheduled`, `rescheduled`, `canceled`, `completed` or
    /// `no_show`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Rescheduled { .. } => "rescheduled",
            Self::Canceled => "canceled",
            Self::Completed => "completed",
            Self::NoShow => "no_show",
        }
    }

    /// The change that records `conclusion`.
    pub fn concluded(conclusion: Conclusion) -> Self {
        match conclusion {
            Conclusion::Completed => Self::Completed,
            Conclusion::NoShow => Self::NoShow,
        }
    }

    /// For a move, the time it left.
    pub fn moved_from(self) -> Option<Slot> {
        match self {
            Self::Rescheduled { from } => Some(from),
            Self::Scheduled | Self::Canceled | Self::Completed | Self::NoShow => None,
        }
    }

    /// Whether the change alters the appointment as a calendar shows it (its time, or that it
    /// takes place): a move or the cancel. How it ended, recorded afterwards, does not.
    pub fn revises(self) -> bool {
        match self {
            Self::Rescheduled { .. } | Self::Canceled => true,
            Self::Scheduled | Self::Completed | Self::NoShow => false,
        }
    }

    /// The status the appointment has once this change is made.
    pub fn status(self) -> Status {
        match self {
            Self::Scheduled | Self::Rescheduled { .. } => Status::Scheduled,
            Self::Canceled => Status::Canceled,
            Self::Completed => Status::Completed,
            Self::NoShow => Status::NoShow,
        }
    }
}

/// Where a move left from, besides its time: the resource and the service the appointment had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    /// The resource it was on.
    pub resource: Slug,
    /// The service it was for, if any.
    pub service: Option<Slug>,
}

impl Left {
    /// Where `appointment` is now, for a move about to leave it.
    pub fn of(appointment: &Appointment) -> Self {
        Self { resource: appointment.resource().clone(), service: appointment.service().cloned() }
    }
}

/// One change in an appointment's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When it was made (the write's time, whole seconds).
    pub at: DateTime<Utc>,
    /// What it did.
    pub change: Transition,
    /// The appointment's time once the change was made.
    pub slot: Slot,
    /// Who made it.
    pub by: Actor,
    /// Why, when they said.
    pub reason: Option<Reason>,
    /// For a move, the resource and service it left; `None` for other changes, and for moves
    /// recorded before stores kept them.
    pub left: Option<Left>,
}

impl Entry {
    /// How many times the appointment had changed since it was booked, as of the last of
    /// `entries`: the `SEQUENCE` a calendar file needs, which grows with every move and with
    /// the cancel (see [`Transition::revises`]).
    pub fn revision(entries: &[Entry]) -> u32 {
        let changes = entries.iter().filter(|e| e.change.revises()).count();
        u32::try_from(changes).unwrap_or(u32::MAX)
    }
}

/// An appointment with its revision: how many times it changed since it was booked (see
/// [`Entry::revision`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revised {
    /// The appointment.
    pub appointment: Appointment,
    /// Its changes since it was booked.
    pub revision: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_trimmed_and_an_empty_one_is_none() {
        assert_eq!(Reason::parse("  ill \n").map(|r| r.map(|r| r.0)), Ok(Some("ill".into())));
        assert_eq!(Reason::parse(" \t "), Ok(None));
        assert_eq!(
            Reason::parse("two\nlines\tand a tab").map(|r| r.map(|r| r.0)),
            Ok(Some("two\nlines\tand a tab".into()))
        );
    }

    #[test]
    fn a_reason_refuses_length_and_control_characters() {
        let long = "é".repeat(MAX_REASON_CHARS + 1);
        assert_eq!(Reason::parse(&long), Err(ReasonError::TooLong { length: 501 }));
        assert!(Reason::parse(&"é".repeat(MAX_REASON_CHARS)).is_ok());
        let refused = Reason::parse("ab\u{7}c");
        assert_eq!(refused, Err(ReasonError::ControlCharacter { character: '\u{7}', position: 3 }));
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("U+0007 at position 3"), "{message}");
    }

    #[test]
    fn actors_read_back_what_they_write() {
        for actor in [Actor::Client, Actor::Operator, Actor::System] {
            assert_eq!(actor.as_str().parse(), Ok(actor));
        }
        assert_eq!("staff".parse::<Actor>(), Err(UnknownActor("staff".into())));
    }

    #[test]
    fn the_revision_counts_the_changes_after_the_booking() {
        let slot = |h: u32| {
            let start: DateTime<Utc> =
                format!("2030-01-07T{h:02}:00:00Z").parse().unwrap_or_default();
            Slot::new(start, start + chrono::Duration::minutes(30))
        };
        let (Some(nine), Some(ten)) = (slot(9), slot(10)) else { unreachable!("valid slots") };
        let entry = |change| Entry {
            at: nine.start(),
            change,
            slot: ten,
            by: Actor::Client,
            reason: None,
            left: None,
        };
        let booked = entry(Transition::Scheduled);
        let moved = entry(Transition::Rescheduled { from: nine });
        let canceled = entry(Transition::Canceled);
        assert_eq!(Entry::revision(&[]), 0);
        assert_eq!(Entry::revision(std::slice::from_ref(&booked)), 0);
        assert_eq!(Entry::revision(&[booked.clone(), moved.clone()]), 1);
        assert_eq!(Entry::revision(&[booked.clone(), moved.clone(), canceled]), 2);
        let completed = entry(Transition::Completed);
        assert_eq!(Entry::revision(&[booked, moved, completed]), 1, "how it ended is no revision");
    }
}
