//! Domain events: what happened, as one committed write tells it. A write returns its event with
//! its outcome; what must not be lost (history, a webhook outbox) is written from it in the same
//! transaction, and what only informs (metrics) follows the commit.

use chrono::{DateTime, Utc};

use crate::{appointment::Appointment, closure::Closure, hold::Hold, units::Slot};

/// Something that happened, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When it happened (the write's time).
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// An appointment was booked.
    Scheduled(Appointment),
    /// An appointment moved; `from` is the time it had before.
    Rescheduled {
        /// The appointment as it is now.
        appointment: Appointment,
        /// The time it had before.
        from: Slot,
    },
    /// An appointment was canceled.
    Canceled(Appointment),
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
    /// An event at `at`.
    pub fn new(at: DateTime<Utc>, kind: EventKind) -> Self {
        Self { at, kind }
    }

    /// A stable, dotted name: `appointment.scheduled`, `appointment.rescheduled`,
    /// `appointment.canceled`, `hold.taken`, `hold.released`, `closure.added` or
    /// `closure.removed`.
    pub fn name(&self) -> &'static str {
        match self.kind {
            EventKind::Scheduled(_) => "appointment.scheduled",
            EventKind::Rescheduled { .. } => "appointment.rescheduled",
            EventKind::Canceled(_) => "appointment.canceled",
            EventKind::HoldTaken(_) => "hold.taken",
            EventKind::HoldReleased(_) => "hold.released",
            EventKind::ClosureAdded(_) => "closure.added",
            EventKind::ClosureRemoved(_) => "closure.removed",
        }
    }
}
