//! The units every part of the schedule shares: how long a slot is, how many appointments it
//! holds, and one bookable period.

use std::num::NonZeroU32;

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

/// The length of every slot, in whole minutes (1 to 1440).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlotLength(u16);

/// A slot length out of range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("slot length must be between 1 and 1440 minutes, got {0}")]
pub struct SlotLengthError(pub u32);

impl SlotLength {
    /// A slot length in minutes.
    pub fn from_minutes(minutes: u32) -> Result<Self, SlotLengthError> {
        u16::try_from(minutes)
            .ok()
            .filter(|m| (1..=1440).contains(m))
            .map(Self)
            .ok_or(SlotLengthError(minutes))
    }

    /// The length in minutes.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// The length as a duration.
    pub fn duration(self) -> Duration {
        Duration::minutes(i64::from(self.0))
    }

    /// `minutes` (a service's length or buffer, as people give it) in slots of this length (0
    /// for 0).
    pub fn slots_in(self, minutes: u32) -> Result<u16, SlotsError> {
        let length = u32::from(self.0);
        if !minutes.is_multiple_of(length) {
            return Err(SlotsError::NotWhole { minutes, slot: self.0 });
        }
        u16::try_from(minutes / length).map_err(|_| SlotsError::TooLong { minutes })
    }
}

/// A length that is not a whole number of slots, or more slots than a service can count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SlotsError {
    /// Not a multiple of the slot length.
    #[error("{minutes} is not a whole number of {slot}-minute slots")]
    NotWhole {
        /// The length given.
        minutes: u32,
        /// The slot length, in minutes.
        slot: u16,
    },
    /// More slots than a service can count (65 535).
    #[error("{minutes} minutes is too long")]
    TooLong {
        /// The length given.
        minutes: u32,
    },
}

/// How many appointments one slot holds (1 to 10 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capacity(NonZeroU32);

/// A capacity out of range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("capacity must be between 1 and {max}, got {0}", max = Capacity::MAX)]
pub struct CapacityError(pub u32);

impl Capacity {
    /// The largest capacity accepted.
    pub const MAX: u32 = 10_000;

    /// A capacity of `n` appointments per slot.
    pub fn new(n: u32) -> Result<Self, CapacityError> {
        NonZeroU32::new(n).filter(|n| n.get() <= Self::MAX).map(Self).ok_or(CapacityError(n))
    }

    /// The number of appointments a slot holds.
    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// Whether a slot that already holds `booked` appointments takes one more.
    pub fn admits(self, booked: u32) -> bool {
        booked < self.get()
    }
}

/// One bookable period: a start and an end instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
}

impl Slot {
    /// A slot from `start` to `end`; `None` unless `start < end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }

    /// When the slot starts.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// When the slot ends.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }
}

impl Default for SlotLength {
    /// Half an hour.
    fn default() -> Self {
        Self(30)
    }
}

impl Capacity {
    /// One appointment per slot.
    pub const ONE: Self = Self(NonZeroU32::MIN);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_capacities_are_bounded() {
        assert_eq!(SlotLength::from_minutes(0), Err(SlotLengthError(0)));
        assert_eq!(SlotLength::from_minutes(1441), Err(SlotLengthError(1441)));
        assert_eq!(SlotLength::from_minutes(1440).unwrap().minutes(), 1440);
        assert_eq!(Capacity::new(0), Err(CapacityError(0)));
        assert_eq!(Capacity::new(10_001), Err(CapacityError(10_001)));
        let two = Capacity::new(2).unwrap();
        assert_eq!(Capacity::new(10_000).unwrap().get(), 10_000);
        assert!(two.admits(1));
        assert!(!two.admits(2));
    }

    #[test]
    fn whole_slots_count_and_others_say_why_not() {
        let thirty = SlotLength::from_minutes(30).unwrap();
        assert_eq!(thirty.slots_in(0), Ok(0));
        assert_eq!(thirty.slots_in(90), Ok(3));
        assert_eq!(thirty.slots_in(45), Err(SlotsError::NotWhole { minutes: 45, slot: 30 }));
        assert_eq!(
            thirty.slots_in(45).unwrap_err().to_string(),
            "45 is not a whole number of 30-minute slots"
        );
        let one = SlotLength::from_minutes(1).unwrap();
        assert_eq!(one.slots_in(70_000), Err(SlotsError::TooLong { minutes: 70_000 }));
    }
}
