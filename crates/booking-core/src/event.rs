//! Domain events: what happened, as one committed write tells it. A write returns its event with
//! its outcome; what must not be lost (history, a webhook outbox) is written from it in the same
//! transaction, and what only informs (metrics) follows the commit.

use chrono::{DateTime, Utc};

use crate::{
    appointment::{Appointment, AppointmentId, Conclusion},
    closure::Closure,
    history::{Actor, Entry, Left, Reason, Transition},
    hold::Hold,
    units::Slot,
};

/// Something that happened, when, who made it happen and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When it happened (the write's time).
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
    /// Who made it happen.
    pub by: Actor,
    /// Why, when they said.
    pub reason: Option<Reason>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// An appointment was booked.
    Scheduled(Appointment),
    /// An appointment moved; `from` is the time it had before, `left` its resource and service
    /// before.
    Rescheduled {
        /// The appointment as it is now.
        appointment: Appointment,
        /// The time it had before.
        from: Slot,
        /// The resource and service it had before.
        left: Left,
    },
    /// An appointment was canceled.
    Canceled(Appointment),
    /// An appointment that had started was recorded as having taken place, or not.
    Concluded {
        /// The appointment as it is now.
        appointment: Appointment,
        /// How it ended.
        conclusion: Conclusion,
    },
    /// A slot was held.
    HoldTaken(Hold),
    /// A hold was released before it expired.
    HoldReleased(Hold),
    /// A resource or the business was closed for a period.
    ClosureAdded(Closure),
    /// A closure was removed.
    ClosureRemoved(Closure),
}

impl Event {
    /// An event at `at`, made by `by`, with no reason given.
    pub fn new(at: DateTime<Utc>, kind: EventKind, by: Actor) -> Self {
        Self { at, kind, by, reason: None }
    }

    /// The same event, with the reason its maker gave.
    pub fn because(self, reason: Option<Reason>) -> Self {
        Self { reason, ..self }
    }

    /// What this event adds to an appointment's history, and whose; `None` for an event that
    /// is not an appointment's.
    pub fn entry(&self) -> Option<(AppointmentId, Entry)> {
        let (appointment, change, left) = match &self.kind {
            EventKind::Scheduled(appointment) => (appointment, Transition::Scheduled, None),
            EventKind::Rescheduled { appointment, from, left } => {
                (appointment, Transition::Rescheduled { from: *from }, Some(left.clone()))
            }
            EventKind::Canceled(appointment) => (appointment, Transition::Canceled, None),
            EventKind::Concluded { appointment, conclusion } => {
                (appointment, Transition::concluded(*conclusion), None)
            }
            EventKind::HoldTaken(_)
            | EventKind::HoldReleased(_)
            | EventKind::ClosureAdded(_)
            | EventKind::ClosureRemoved(_) => return None,
        };
        let entry = Entry {
            at: self.at,
            change,
            slot: appointment.slot(),
            by: self.by,
            reason: self.reason.clone(),
            left,
        };
        Some((appointment.id(), entry))
    }

    /// A stable, dotted name: `appointment.scheduled`, `appointment.rescheduled`,
    /// `appointment.canceled`, `appointment.completed`, `appointment.no_show`, `hold.taken`,
    /// `hold.released`, `closure.added` or `closure.removed`.
    pub fn name(&self) -> &'static str {
        match self.kind {
            EventKind::Scheduled(_) => "appointment.scheduled",
            EventKind::Rescheduled { .. } => "appointment.rescheduled",
            EventKind::Canceled(_) => "appointment.canceled",
            EventKind::Concluded { conclusion: Conclusion::Completed, .. } => {
                "appointment.completed"
            }
            EventKind::Concluded { conclusion: Conclusion::NoShow, .. } => "appointment.no_show",
            EventKind::HoldTaken(_) => "hold.taken",
            EventKind::HoldReleased(_) => "hold.released",
            EventKind::ClosureAdded(_) => "closure.added",
            EventKind::ClosureRemoved(_) => "closure.removed",
        }
    }
}
