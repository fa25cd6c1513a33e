//! An [`AppointmentRepository`] kept in memory: for tests, demos and embedding where nothing
//! needs to outlive the process.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
};

use chrono::{DateTime, Utc};

use crate::{
    appointment::{Appointment, AppointmentId, Move},
    availability::{Admission, BookedCounts, Unavailable},
    repository::{
        AppointmentRepository, CancelFailure, RescheduleFailure, StorageError, WriteError,
    },
    schedule::Slot,
};

/// Appointments in a map behind one lock; every method is atomic because it holds the lock
/// from its check to its write.
#[derive(Debug, Default)]
pub struct InMemoryRepository {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    appointments: HashMap<AppointmentId, Appointment>,
    booked: BookedCounts,
}

impl State {
    fn booked_at(&self, start: DateTime<Utc>) -> u32 {
        self.booked.get(&start).copied().unwrap_or(0)
    }

    fn take_place(&mut self, start: DateTime<Utc>) {
        *self.booked.entry(start).or_default() += 1;
    }

    fn give_back_place(&mut self, start: DateTime<Utc>) {
        if let Some(count) = self.booked.get_mut(&start) {
            *count -= 1;
            if *count == 0 {
                self.booked.remove(&start);
            }
        }
    }
}

impl InMemoryRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, StorageError> {
        // Every method finishes its checks before it changes anything, so a panic while the lock
        // was held cannot have left a half-done change; still, refuse to guess.
        self.state.lock().map_err(|_| StorageError::fault("the in-memory store's lock is poisoned"))
    }
}

impl AppointmentRepository for InMemoryRepository {
    fn book(
        &self,
        appointment: &Appointment,
        admission: &Admission,
    ) -> Result<(), WriteError<Unavailable>> {
        let mut state = self.state()?;
        let start = appointment.slot().start();
        admission.check(start, state.booked_at(start)).map_err(WriteError::Refused)?;
        state.take_place(start);
        state.appointments.insert(appointment.id(), appointment.clone());
        Ok(())
    }

    fn cancel(
        &self,
        id: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<Appointment, WriteError<CancelFailure>> {
        let mut state = self.state()?;
        let mut appointment = state
            .appointments
            .get(&id)
            .cloned()
            .ok_or(WriteError::Refused(CancelFailure::NotFound))?;
        appointment.cancel(now).map_err(|refusal| WriteError::Refused(refusal.into()))?;
        state.give_back_place(appointment.slot().start());
        state.appointments.insert(id, appointment.clone());
        Ok(appointment)
    }

    fn reschedule(
        &self,
        id: AppointmentId,
        to: Slot,
        admission: &Admission,
    ) -> Result<Appointment, WriteError<RescheduleFailure>> {
        let mut state = self.state()?;
        let mut appointment = state
            .appointments
            .get(&id)
            .cloned()
            .ok_or(WriteError::Refused(RescheduleFailure::NotFound))?;
        let refused = |failure: RescheduleFailure| WriteError::Refused(failure);
        match appointment.reschedule(to, admission.now()).map_err(|r| refused(r.into()))? {
            Move::Unchanged => {}
            Move::Moved { from } => {
                admission
                    .check(to.start(), state.booked_at(to.start()))
                    .map_err(|u| refused(u.into()))?;
                state.give_back_place(from.start());
                state.take_place(to.start());
                state.appointments.insert(id, appointment.clone());
            }
        }
        Ok(appointment)
    }

    fn get(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        Ok(self.state()?.appointments.get(&id).cloned())
    }

    fn booked_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BookedCounts, StorageError> {
        let state = self.state()?;
        Ok(state.booked.range(from..=to).map(|(start, count)| (*start, *count)).collect())
    }

    fn check_health(&self) -> Result<(), StorageError> {
        self.state().map(drop)
    }
}

#[cfg(test)]
mod tests {
    crate::repository_contract_tests!(Box::new(super::InMemoryRepository::new()));
}
