//! Notifications: the messages a client who gave an email address receives about their
//! appointment (a confirmation, a move, a cancel, and reminders before it), queued in the same
//! outbox as webhooks.
//!
//! Whether messages are queued, and which reminders, is a [`Plan`] the store keeps (servers set
//! it as they start). With a plan in force, every change an appointment's history records
//! queues, in the transaction that records it, the message telling of it and (unless it was a
//! cancel) a reminder for each of the plan's lead times, due that long before the appointment;
//! the reminders queued for its previous time are dropped. So there is no message for a change
//! that rolled back, and no change without its message. A worker claims the due messages, sends
//! them, and settles each one, as it does webhook deliveries.

use std::{convert::Infallible, fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::{
    appointment::AppointmentId,
    contact::Email,
    history::Transition,
    pending::Pending,
    storage::StorageError,
    webhook::{ClaimRequest, Message, Settlement, parse_delay},
};

/// The most notifications one listing shows, newest first.
pub const MAX_NOTIFICATIONS_LISTED: usize = 100;

/// What a notification tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotificationKind {
    /// The appointment was booked.
    Confirmation,
    /// It moved to another time.
    Moved,
    /// It was canceled.
    Canceled,
    /// It is coming up.
    Reminder,
}

impl NotificationKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [Self; 4] = [Self::Confirmation, Self::Moved, Self::Canceled, Self::Reminder];

    /// The name stored and shown: `confirmation`, `moved`, `canceled` or `reminder`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Moved => "moved",
            Self::Canceled => "canceled",
            Self::Reminder => "reminder",
        }
    }

    /// The message telling the client of a history entry's change; none for how the
    /// business recorded an appointment's end (completed or a no-show), which the client
    /// already knows.
    pub fn of(change: Transition) -> Option<Self> {
        match change {
            Transition::Scheduled => Some(Self::Confirmation),
            Transition::Rescheduled { .. } => Some(Self::Moved),
            Transition::Canceled => Some(Self::Canceled),
            Transition::Completed | Transition::NoShow => None,
        }
    }
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a notification kind's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown notification kind {0:?}; expected confirmation, moved, canceled or reminder")]
pub struct UnknownNotificationKind(pub String);

impl FromStr for NotificationKind {
    type Err = UnknownNotificationKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownNotificationKind(text.to_owned()))
    }
}

/// A notification's identifier, in the order notifications were queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NotificationId(pub i64);

/// Where a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationState {
    /// Waiting for its time, or for its next attempt.
    Pending,
    /// The mail server took it.
    Sent,
    /// Every attempt failed, or the mail server refused it for good: the dead letters.
    Failed,
    /// A reminder that came due only once its appointment had started (the service was down,
    /// or the mail server was), or whose appointment changed after it was queued: not sent.
    Skipped,
}

impl NotificationState {
    /// Every state.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Sent, Self::Failed, Self::Skipped];

    /// The name stored and shown: `pending`, `sent`, `failed` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// A name that is not a notification state's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown notification state {0:?}; expected pending, sent, failed or skipped")]
pub struct UnknownNotificationState(pub String);

impl FromStr for NotificationState {
    type Err = UnknownNotificationState;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| UnknownNotificationState(text.to_owned()))
    }
}

/// A notification as its listing shows it (without its recipient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Its id.
    pub id: NotificationId,
    /// What it tells.
    pub kind: NotificationKind,
    /// The appointment it is about.
    pub appointment: AppointmentId,
    /// For a reminder, how long before the appointment it is due.
    pub remind_before: Option<Duration>,
    /// Where it is.
    pub state: NotificationState,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed, or why it was skipped.
    pub last_error: Option<String>,
    /// When it was first due: the change's time, or the reminder's.
    pub due_at: DateTime<Utc>,
    /// When the next attempt is due; `None` once it is settled.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// How long before their appointment reminders go out: at most [`Reminders::MOST`] lead
/// times, each from one second to 30 days, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reminders(Vec<Duration>);

/// Text that is not a list of reminders.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RemindersError {
    /// A lead time that is not a number and a unit.
    #[error(
        "{0:?} is not a lead time; write a whole number and a unit (s, m, h or d), at most 30 \
         days, e.g. 24h or 24h,2h"
    )]
    Lead(String),
    /// Too many.
    #[error("{0} reminders are listed; at most {most} are allowed", most = Reminders::MOST)]
    TooMany(usize),
}

impl Reminders {
    /// The most reminders per appointment.
    pub const MOST: usize = 5;

    /// The lead times, longest first.
    pub fn leads(&self) -> &[Duration] {
        &self.0
    }
}

impl FromStr for Reminders {
    type Err = RemindersError;

    /// Lead times separated by commas, each a whole number and a unit (`s`, `m`, `h`, `d`):
    /// `24h,2h`. An empty text means no reminders.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut leads = Vec::new();
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let lead = parse_delay(part).ok_or_else(|| RemindersError::Lead(part.to_owned()))?;
            if !leads.contains(&lead) {
                leads.push(lead);
            }
        }
        if leads.len() > Self::MOST {
            return Err(RemindersError::TooMany(leads.len()));
        }
        leads.sort_unstable_by(|a, b| b.cmp(a));
        Ok(Self(leads))
    }
}

/// Which notifications the store queues: every change's message, and these reminders. No plan
/// (mail is off) queues nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The reminders each appointment gets.
    pub reminders: Reminders,
}

/// What setting a plan changed in the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Planned {
    /// Whether a plan was in force before (mail was on).
    pub was_on: bool,
    /// Reminders queued for appointments booked before, for lead times the plan adds (only
    /// those still to come).
    pub reminders_queued: u64,
    /// Pending reminders dropped, for lead times the plan no longer has.
    pub reminders_dropped: u64,
}

/// A notification claimed for one attempt: nobody else attempts it until the claim's lease
/// ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedNotification {
    /// The notification.
    pub notification: NotificationId,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// What it tells.
    pub kind: NotificationKind,
    /// For a reminder, how long before the appointment it was due.
    pub remind_before: Option<Duration>,
    /// Where it goes.
    pub to: Email,
    /// The change it tells of (for a reminder, the change that gave the appointment its time),
    /// with the appointment as that change left it.
    pub message: Message,
    /// The appointment's revision as of that change: a calendar file's `SEQUENCE`.
    pub revision: u32,
}

/// Where notifications are kept, beside the appointments they tell of. Every store that records
/// appointment history queues, in the transaction that records an entry and while a [`Plan`] is
/// in force, the entry's message and its reminders, for an appointment with an email address.
pub trait Notifications: Send + Sync + fmt::Debug {
    /// Puts `plan` in force (`None`: queue nothing from now on) as of `now`; the plan in force
    /// already changes nothing. A new plan drops the pending reminders for lead times it no
    /// longer has, and gives appointments still to come the reminders it adds whose time is
    /// still to come (never one already sent for the appointment's time). Without a plan,
    /// pending reminders are kept: whoever sends them next still can.
    fn plan_notifications(
        &self,
        plan: Option<Plan>,
        now: DateTime<Utc>,
    ) -> Pending<Planned, Infallible>;

    /// The newest notifications (at most `most`, newest first), of every state or of `state`.
    fn notifications(
        &self,
        state: Option<NotificationState>,
        most: usize,
    ) -> Result<Vec<Notification>, StorageError>;

    /// Claims, for one attempt each, pending notifications due by `request.now` and claimed by
    /// nobody else: only the oldest due one of each appointment, so a client receives them in
    /// the order they were queued. Due reminders whose appointment has started, or changed
    /// since they were queued (a reminder being sent as the appointment moved), are skipped
    /// rather than claimed. A claim counts its attempt and leases the notification until
    /// `request.lease_until`.
    fn claim_notifications(
        &self,
        request: ClaimRequest,
    ) -> Pending<Vec<ClaimedNotification>, Infallible>;

    /// Records how an attempt went, as [`Outbox::settle`](crate::webhook::Outbox::settle) does
    /// for webhooks: sent, pending again until `retry_at`, or failed.
    fn settle_notification(
        &self,
        settlement: Settlement<NotificationId>,
    ) -> Pending<bool, Infallible>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_are_read_longest_first_without_repeats() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        assert_eq!("2h, 24h,2h".parse(), Ok(Reminders(vec![hours(24), hours(2)])));
        assert_eq!("".parse(), Ok(Reminders::default()));
        for bad in ["24", "0h", "31d", "1w", "h"] {
            assert_eq!(bad.parse::<Reminders>(), Err(RemindersError::Lead(bad.to_owned())));
        }
        assert_eq!("1h,2h,3h,4h,5h,6h".parse::<Reminders>(), Err(RemindersError::TooMany(6)));
    }

    #[test]
    fn kinds_and_states_read_back_what_they_write() {
        for kind in NotificationKind::ALL {
            assert_eq!(kind.as_str().parse(), Ok(kind));
        }
        for state in NotificationState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
        }
        assert!("delivered".parse::<NotificationState>().is_err());
        assert_eq!(NotificationKind::of(Transition::Canceled), Some(NotificationKind::Canceled));
        assert_eq!(NotificationKind::of(Transition::Completed), None);
        assert_eq!(NotificationKind::of(Transition::NoShow), None);
    }
}
