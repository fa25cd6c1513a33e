//! The booking use cases: what the HTTP API (or any other front end) calls.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime};
use thiserror::Error;

use crate::{
    appointment::{Appointment, AppointmentId, RescheduleRefusal},
    availability::{Availability, BookedCounts, DateRange, Unavailable},
    client::{ClientName, Notes},
    clock::Clock,
    repository::{
        AppointmentRepository, CancelFailure, RescheduleFailure, StorageError, WriteError,
    },
    schedule::{Schedule, SlotError},
};

/// A client's request for an appointment, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookRequest {
    /// Who books.
    pub client_name: ClientName,
    /// What they want the business to know.
    pub notes: Option<Notes>,
    /// The local date of the slot.
    pub date: NaiveDate,
    /// The local start time of the slot.
    pub time: NaiveTime,
}

/// Why a booking was not made.
#[derive(Debug, Error)]
pub enum BookError {
    /// No slot starts at that local date and time.
    #[error(transparent)]
    InvalidSlot(#[from] SlotError),
    /// The slot cannot take a booking now.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The store failed; nothing was booked.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why an appointment was not canceled.
pub type CancelError = WriteError<CancelFailure>;

/// Why an appointment was not moved.
#[derive(Debug, Error)]
pub enum RescheduleError {
    /// No slot starts at that local date and time.
    #[error(transparent)]
    InvalidSlot(#[from] SlotError),
    /// No appointment has the id.
    #[error("appointment not found")]
    NotFound,
    /// The appointment's state forbids it.
    #[error(transparent)]
    Refused(#[from] RescheduleRefusal),
    /// The new slot cannot take it.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The store failed; nothing changed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<WriteError<RescheduleFailure>> for RescheduleError {
    fn from(error: WriteError<RescheduleFailure>) -> Self {
        match error {
            WriteError::Refused(RescheduleFailure::NotFound) => Self::NotFound,
            WriteError::Refused(RescheduleFailure::Refused(refusal)) => Self::Refused(refusal),
            WriteError::Refused(RescheduleFailure::Unavailable(why)) => Self::Unavailable(why),
            WriteError::Storage(error) => Self::Storage(error),
        }
    }
}

/// The booking service: the schedule's rules over a repository, at the clock's time.
#[derive(Debug, Clone)]
pub struct BookingService {
    repository: Arc<dyn AppointmentRepository>,
    clock: Arc<dyn Clock>,
    schedule: Schedule,
}

impl BookingService {
    /// A service over `repository`, following `schedule`, telling time by `clock`.
    pub fn new(
        repository: Arc<dyn AppointmentRepository>,
        clock: Arc<dyn Clock>,
        schedule: Schedule,
    ) -> Self {
        Self { repository, clock, schedule }
    }

    /// The schedule the service follows.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Books the slot at the requested local date and time, if it has room.
    pub fn book(&self, request: BookRequest) -> Result<Appointment, BookError> {
        let slot = self.schedule.slot_at(request.date, request.time)?;
        let now = self.clock.now();
        let admission = self.schedule.admission(now);
        admission.check_time(slot.start())?;
        let appointment = Appointment::schedule(
            AppointmentId::random(),
            request.client_name,
            request.notes,
            slot,
            now,
        );
        self.repository.book(&appointment, &admission).map_err(|error| match error {
            WriteError::Refused(why) => BookError::Unavailable(why),
            WriteError::Storage(error) => BookError::Storage(error),
        })?;
        Ok(appointment)
    }

    /// Cancels an appointment that has not started.
    pub fn cancel(&self, id: AppointmentId) -> Result<Appointment, CancelError> {
        self.repository.cancel(id, self.clock.now())
    }

    /// Moves an appointment to the slot at a local date and time, or leaves it where it is.
    pub fn reschedule(
        &self,
        id: AppointmentId,
        date: NaiveDate,
        time: NaiveTime,
    ) -> Result<Appointment, RescheduleError> {
        let to = self.schedule.slot_at(date, time)?;
        let admission = self.schedule.admission(self.clock.now());
        Ok(self.repository.reschedule(id, to, &admission)?)
    }

    /// One appointment.
    pub fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        self.repository.get(id)
    }

    /// Every slot of the range with its counts and whether it can be booked now.
    pub fn availability(&self, range: DateRange) -> Result<Availability, StorageError> {
        let slots = Availability::slots_of(&self.schedule, range);
        let booked = match Availability::span(&slots) {
            Some((from, to)) => self.repository.booked_counts(from, to)?,
            None => BookedCounts::new(),
        };
        let admission = self.schedule.admission(self.clock.now());
        Ok(Availability::compute(range, slots, &admission, &booked))
    }

    /// Whether the store can serve requests.
    pub fn check_health(&self) -> Result<(), StorageError> {
        self.repository.check_health()
    }
}
