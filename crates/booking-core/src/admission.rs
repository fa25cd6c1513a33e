//! The one rule that decides whether a placement can be booked: [`Admission::check`]. The
//! availability listing applies it to the counts it reads, and every store applies it to the
//! counts it reads inside the transaction that takes the slots, so the two cannot disagree.
//! (PostgreSQL's one-statement booking states the stored half of it again in SQL; the
//! contract suite and property tests hold the two to the same answers.)

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use crate::{catalog::Slug, closure::Closure, placement::Placement, units::Capacity};

/// What takes up a slot of a resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Scheduled appointments (buffers included).
    pub booked: u32,
    /// Holds that have not expired.
    pub held: u32,
}

/// Usage of each slot of each resource; slots with none may be missing.
pub type UsageMap = BTreeMap<(Slug, DateTime<Utc>), Usage>;

/// Why a slot cannot take a booking now.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Unavailable {
    /// It has started or is over.
    #[error("the requested time is in the past")]
    Past,
    /// It starts sooner than the minimum notice allows.
    #[error("bookings need notice: the earliest bookable start is {earliest}")]
    TooSoon {
        /// The earliest start that can be booked now.
        earliest: DateTime<Utc>,
    },
    /// It starts further ahead than the booking horizon.
    #[error("bookings open at most until {latest}")]
    BeyondHorizon {
        /// The latest start that can be booked now.
        latest: DateTime<Utc>,
    },
    /// The service would not fit inside opening hours from this slot.
    #[error("the appointment would not fit inside opening hours")]
    OutsideHours,
    /// The resource or the business is closed then.
    #[error("the resource is closed at that time{}; the closure ends at {until}", reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Closed {
        /// The closure's reason, if it gives one.
        reason: Option<String>,
        /// When the closure ends.
        until: DateTime<Utc>,
    },
    /// Every place is taken or held; held places come free if their holds expire.
    #[error("every place in this slot is held for another client")]
    Held,
    /// Every place in it is taken.
    #[error("{}", match capacity.get() {
        1 => "the slot is already booked".to_owned(),
        n => format!("all {n} places in this slot are booked"),
    })]
    Full {
        /// The slot's capacity.
        capacity: Capacity,
    },
    /// It was placed by a version of the calendar that another change has replaced since: it
    /// may no longer be a slot, or have another capacity.
    #[error("the business's calendar changed while this request was handled; send it again")]
    CalendarChanged,
}

impl Unavailable {
    /// A stable, machine-readable name: `past`, `too_soon`, `beyond_horizon`, `outside_hours`,
    /// `closed`, `held`, `full` or `calendar_changed`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Past => "past",
            Self::TooSoon { .. } => "too_soon",
            Self::BeyondHorizon { .. } => "beyond_horizon",
            Self::OutsideHours => "outside_hours",
            Self::Closed { .. } => "closed",
            Self::Held => "held",
            Self::Full { .. } => "full",
            Self::CalendarChanged => "calendar_changed",
        }
    }
}

/// The rule, fixed at one moment, that decides whether a placement can be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    now: DateTime<Utc>,
    earliest: DateTime<Utc>,
    latest: Option<DateTime<Utc>>,
    /// How long before its start an appointment can no longer be moved by whoever moves it.
    change_notice: Duration,
}

impl Admission {
    pub(crate) fn new(
        now: DateTime<Utc>,
        earliest: DateTime<Utc>,
        latest: Option<DateTime<Utc>>,
    ) -> Self {
        Self { now, earliest, latest, change_notice: Duration::zero() }
    }

    /// The rule at `now` with no minimum notice and no horizon: only the past is refused by
    /// time (an operator booking for a client).
    pub(crate) fn future_only(now: DateTime<Utc>) -> Self {
        Self { now, earliest: now, latest: None, change_notice: Duration::zero() }
    }

    /// The same rule, for a mover held to `notice`: an appointment that starts sooner than that
    /// stays where it is (the business's cancellation notice, for a client).
    pub(crate) fn with_change_notice(self, notice: Duration) -> Self {
        Self { change_notice: notice, ..self }
    }

    /// How long before its start an appointment can no longer be moved under this rule.
    pub fn change_notice(&self) -> Duration {
        self.change_notice
    }

    /// The moment the rule was fixed at.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Whether `placement` can be booked, given the closures that may cover it and the usage of
    /// its resource's slots. Checks, in order: past, notice, horizon, closures, then every slot
    /// it takes (buffers included) for a free place.
    pub fn check(
        &self,
        placement: &Placement,
        closures: &[Closure],
        usage: &UsageMap,
    ) -> Result<(), Unavailable> {
        self.check_time(placement.slot.start())?;
        if let Some(closure) =
            closures.iter().find(|c| c.blocks(&placement.resource, placement.slot))
        {
            return Err(Unavailable::Closed {
                reason: closure.reason.clone(),
                until: closure.period.end(),
            });
        }
        let capacity = placement.capacity;
        let mut held = false;
        for start in &placement.occupied {
            let usage =
                usage.get(&(placement.resource.clone(), *start)).copied().unwrap_or_default();
            if !capacity.admits(usage.booked) {
                return Err(Unavailable::Full { capacity });
            }
            held |= !capacity.admits(usage.booked + usage.held);
        }
        if held { Err(Unavailable::Held) } else { Ok(()) }
    }

    /// The part of [`Admission::check`] that depends on nothing stored, so a request that can
    /// never succeed is refused before any store is asked.
    pub fn check_time(&self, start: DateTime<Utc>) -> Result<(), Unavailable> {
        if start <= self.now {
            return Err(Unavailable::Past);
        }
        if start < self.earliest {
            return Err(Unavailable::TooSoon { earliest: self.earliest });
        }
        if let Some(latest) = self.latest.filter(|latest| start > *latest) {
            return Err(Unavailable::BeyondHorizon { latest });
        }
        Ok(())
    }
}
