//! An appointment and its life: scheduled, perhaps moved, then canceled before it starts, or
//! once it has started, completed or marked a no-show; each of those three is final.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use thiserror::Error;
use uuid::Uuid;

use crate::{
    catalog::Slug,
    client::{ClientName, Notes},
    contact::Contact,
    placement::Placement,
    units::Slot,
};

/// An appointment's identifier: a random (version 4) UUID, so that knowing one id tells nothing
/// about any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppointmentId(Uuid);

/// Text that is not an appointment id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "'{0}' is not an appointment id; ids are UUIDs such as 67e55044-10b1-426f-9247-bb680e5fe0c8"
)]
pub struct AppointmentIdError(pub String);

impl AppointmentId {
    /// A new random id.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The id as a UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for AppointmentId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl FromStr for AppointmentId {
    type Err = AppointmentIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::try_parse(text).map(Self).map_err(|_| AppointmentIdError(text.to_owned()))
    }
}

impl fmt::Display for AppointmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Where an appointment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Holds its slot.
    Scheduled,
    /// Gave its slot back; final.
    Canceled,
    /// Took place, as the business recorded once it had started; final.
    Completed,
    /// The client did not come, as the business recorded once it had started; final.
    NoShow,
}

/// Text that is not a status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("'{0}' is not an appointment status")]
pub struct StatusError(pub String);

impl Status {
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Scheduled, Self::Canceled, Self::Completed, Self::NoShow];

    /// The status as stored and shown: `scheduled`, `canceled`, `completed` or `no_show`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Canceled => "canceled",
            Self::Completed => "completed",
            Self::NoShow => "no_show",
        }
    }

    /// Whether the appointment keeps its places: every status but `canceled` (a completed or
    /// no-show appointment keeps the time it had).
    pub fn occupies(self) -> bool {
        self != Self::Canceled
    }
}

impl FromStr for Status {
    type Err = StatusError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| StatusError(text.to_owned()))
    }
}

/// Why an appointment cannot be canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CancelRefusal {
    /// It was canceled before.
    #[error("the appointment is already canceled")]
    AlreadyCanceled,
    /// It has already begun.
    #[error("the appointment has already started")]
    AlreadyStarted,
    /// It took place, or the client did not come, and the business recorded which.
    #[error("the appointment is already {0}")]
    Concluded(Conclusion),
    /// It starts too soon: the business's cancellation notice ended at `deadline`.
    #[error("the appointment could be canceled until {deadline}")]
    TooLate {
        /// The last moment it could be canceled (its start less the notice).
        deadline: DateTime<Utc>,
    },
}

/// Why an appointment cannot be moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RescheduleRefusal {
    /// Canceled appointments stay canceled.
    #[error("a canceled appointment cannot be rescheduled")]
    Canceled,
    /// It has already begun.
    #[error("the appointment has already started")]
    AlreadyStarted,
    /// It took place, or the client did not come, and the business recorded which.
    #[error("the appointment is already {0}")]
    Concluded(Conclusion),
    /// It starts too soon: the business's cancellation notice ended at `deadline`.
    #[error("the appointment could be moved until {deadline}")]
    TooLate {
        /// The last moment it could be moved (its start less the notice).
        deadline: DateTime<Utc>,
    },
}

/// How an appointment that has started ended, as the business records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conclusion {
    /// It took place.
    Completed,
    /// The client did not come.
    NoShow,
}

impl Conclusion {
    /// The status it leaves the appointment in.
    pub fn status(self) -> Status {
        match self {
            Self::Completed => Status::Completed,
            Self::NoShow => Status::NoShow,
        }
    }

    /// The conclusion a status records, if it records one.
    pub fn of(status: Status) -> Option<Self> {
        match status {
            Status::Completed => Some(Self::Completed),
            Status::NoShow => Some(Self::NoShow),
            Status::Scheduled | Status::Canceled => None,
        }
    }
}

impl fmt::Display for Conclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Completed => "completed",
            Self::NoShow => "marked a no-show",
        })
    }
}

/// Why an appointment cannot be concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ConcludeRefusal {
    /// It was canceled.
    #[error("the appointment was canceled")]
    Canceled,
    /// It has not started: nobody can know yet how it ends.
    #[error("the appointment has not started yet; it starts at {starts_at}")]
    NotStarted {
        /// When it starts.
        starts_at: DateTime<Utc>,
    },
    /// It was concluded the other way before; a conclusion is final.
    #[error("the appointment is already {0}")]
    Concluded(Conclusion),
}

/// What a reschedule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// The appointment already held the requested slot; nothing changed.
    Unchanged,
    /// The appointment left its old slots, whose starts are listed.
    Moved {
        /// The starts of the slots it gave back.
        released: Vec<DateTime<Utc>>,
    },
}

/// A booking of a resource by one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    id: AppointmentId,
    client_name: ClientName,
    notes: Option<Notes>,
    /// Boxed, so that an appointment stays small in the results and answers that carry it.
    contact: Box<Contact>,
    resource: Slug,
    service: Option<Slug>,
    slot: Slot,
    occupied: Vec<DateTime<Utc>>,
    status: Status,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Every field of an appointment, as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentRecord {
    /// The id.
    pub id: AppointmentId,
    /// The client's name.
    pub client_name: ClientName,
    /// The client's notes.
    pub notes: Option<Notes>,
    /// How to reach the client.
    pub contact: Contact,
    /// The resource booked.
    pub resource: Slug,
    /// The service booked, if any.
    pub service: Option<Slug>,
    /// The time the client sees.
    pub slot: Slot,
    /// The starts of every slot it takes on the resource, buffers included.
    pub occupied: Vec<DateTime<Utc>>,
    /// Where it is in its life.
    pub status: Status,
    /// When it was booked.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<AppointmentRecord> for Appointment {
    fn from(r: AppointmentRecord) -> Self {
        Self {
            id: r.id,
            client_name: r.client_name,
            notes: r.notes,
            contact: Box::new(r.contact),
            resource: r.resource,
            service: r.service,
            slot: r.slot,
            occupied: r.occupied,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl Appointment {
    /// A new scheduled appointment at `placement`, made at `now`. Timestamps keep whole
    /// seconds, which is what every store keeps.
    pub fn schedule(
        id: AppointmentId,
        client_name: ClientName,
        notes: Option<Notes>,
        contact: Contact,
        placement: &Placement,
        now: DateTime<Utc>,
    ) -> Self {
        let now = now.trunc_subsecs(0);
        Self {
            id,
            client_name,
            notes,
            contact: Box::new(contact),
            resource: placement.resource.clone(),
            service: placement.service.clone(),
            slot: placement.slot,
            occupied: placement.occupied.clone(),
            status: Status::Scheduled,
            created_at: now,
            updated_at: now,
        }
    }

    /// Cancels a scheduled appointment that has not started yet, at `now` no later than
    /// `notice` before its start (the business's cancellation notice; zero for an operator).
    pub fn cancel(&mut self, now: DateTime<Utc>, notice: Duration) -> Result<(), CancelRefusal> {
        let deadline = self.slot.start() - notice;
        match self.status {
            Status::Canceled => Err(CancelRefusal::AlreadyCanceled),
            Status::Completed => Err(CancelRefusal::Concluded(Conclusion::Completed)),
            Status::NoShow => Err(CancelRefusal::Concluded(Conclusion::NoShow)),
            Status::Scheduled if self.slot.start() <= now => Err(CancelRefusal::AlreadyStarted),
            // In whole seconds, as the stores keep time.
            Status::Scheduled if deadline < now.trunc_subsecs(0) => {
                Err(CancelRefusal::TooLate { deadline })
            }
            Status::Scheduled => {
                self.status = Status::Canceled;
                self.updated_at = now.trunc_subsecs(0);
                Ok(())
            }
        }
    }

    /// Moves a scheduled appointment that has not started yet to `to` (its time, resource and
    /// service), at `now` no later than `notice` before its start (as for
    /// [`cancel`](Self::cancel)); asking for the place it holds changes nothing, whenever. Whether `to` has room is the
    /// caller's to check, in the same step as the write.
    pub fn reschedule(
        &mut self,
        to: &Placement,
        now: DateTime<Utc>,
        notice: Duration,
    ) -> Result<Move, RescheduleRefusal> {
        let deadline = self.slot.start() - notice;
        match self.status {
            Status::Canceled => Err(RescheduleRefusal::Canceled),
            Status::Completed => Err(RescheduleRefusal::Concluded(Conclusion::Completed)),
            Status::NoShow => Err(RescheduleRefusal::Concluded(Conclusion::NoShow)),
            Status::Scheduled if self.slot.start() <= now => Err(RescheduleRefusal::AlreadyStarted),
            Status::Scheduled if self.holds(to) => Ok(Move::Unchanged),
            Status::Scheduled if deadline < now.trunc_subsecs(0) => {
                Err(RescheduleRefusal::TooLate { deadline })
            }
            Status::Scheduled => {
                self.slot = to.slot;
                self.resource = to.resource.clone();
                self.service = to.service.clone();
                let released = std::mem::replace(&mut self.occupied, to.occupied.clone());
                self.updated_at = now.trunc_subsecs(0);
                Ok(Move::Moved { released })
            }
        }
    }

    /// Records how a scheduled appointment that has started by `now` ended: it keeps its
    /// places (its time has begun, and may not be over). Recording the conclusion it already
    /// has changes nothing and succeeds (`Ok(false)`), so a retry is harmless.
    pub fn conclude(
        &mut self,
        conclusion: Conclusion,
        now: DateTime<Utc>,
    ) -> Result<bool, ConcludeRefusal> {
        match self.status {
            Status::Canceled => Err(ConcludeRefusal::Canceled),
            Status::Scheduled if self.slot.start() > now => {
                Err(ConcludeRefusal::NotStarted { starts_at: self.slot.start() })
            }
            Status::Scheduled => {
                self.status = conclusion.status();
                self.updated_at = now.trunc_subsecs(0);
                Ok(true)
            }
            status if status == conclusion.status() => Ok(false),
            Status::Completed => Err(ConcludeRefusal::Concluded(Conclusion::Completed)),
            Status::NoShow => Err(ConcludeRefusal::Concluded(Conclusion::NoShow)),
        }
    }

    /// Whether it is at `place` already: the same time, resource and service.
    pub fn holds(&self, place: &Placement) -> bool {
        self.slot == place.slot && self.resource == place.resource && self.service == place.service
    }

    /// The id.
    pub fn id(&self) -> AppointmentId {
        self.id
    }

    /// The client's name.
    pub fn client_name(&self) -> &ClientName {
        &self.client_name
    }

    /// The client's notes, if any.
    pub fn notes(&self) -> Option<&Notes> {
        self.notes.as_ref()
    }

    /// How to reach the client.
    pub fn contact(&self) -> &Contact {
        &self.contact
    }

    /// The resource booked.
    pub fn resource(&self) -> &Slug {
        &self.resource
    }

    /// The service booked, if any.
    pub fn service(&self) -> Option<&Slug> {
        self.service.as_ref()
    }

    /// The time the client sees (or saw, once canceled).
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// The starts of every slot it takes on its resource, buffers included.
    pub fn occupied(&self) -> &[DateTime<Utc>] {
        &self.occupied
    }

    /// Where it is in its life.
    pub fn status(&self) -> Status {
        self.status
    }

    /// When it was booked.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When it last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn slot(start: &str) -> Placement {
        let start = at(start);
        Placement {
            resource: "default".parse().unwrap(),
            service: None,
            slot: Slot::new(start, start + Duration::minutes(30)).unwrap(),
            occupied: vec![start],
            capacity: crate::units::Capacity::new(1).unwrap(),
            calendar: 0,
        }
    }

    fn appointment() -> Appointment {
        Appointment::schedule(
            AppointmentId::random(),
            ClientName::parse("Ada").unwrap(),
            None,
            Contact::default(),
            &slot("2030-01-07T10:00:00Z"),
            at("2030-01-01T08:00:00.750Z"),
        )
    }

    #[test]
    fn a_new_appointment_is_scheduled_with_whole_second_timestamps() {
        let a = appointment();
        assert_eq!(a.status(), Status::Scheduled);
        assert_eq!(a.created_at(), at("2030-01-01T08:00:00Z"));
        assert_eq!(a.updated_at(), a.created_at());
    }

    #[test]
    fn canceling_is_final() {
        let mut a = appointment();
        a.cancel(at("2030-01-02T00:00:00Z"), Duration::zero()).unwrap();
        assert_eq!(a.status(), Status::Canceled);
        assert_eq!(a.updated_at(), at("2030-01-02T00:00:00Z"));
        assert_eq!(
            a.cancel(at("2030-01-02T00:00:01Z"), Duration::zero()),
            Err(CancelRefusal::AlreadyCanceled)
        );
        assert_eq!(
            a.reschedule(
                &slot("2030-01-08T10:00:00Z"),
                at("2030-01-02T00:00:01Z"),
                Duration::zero()
            ),
            Err(RescheduleRefusal::Canceled)
        );
        assert_eq!(a.status(), Status::Canceled);
        assert_eq!(a.slot(), slot("2030-01-07T10:00:00Z").slot);
    }

    #[test]
    fn started_appointments_cannot_be_canceled_or_moved() {
        let mut a = appointment();
        let started = at("2030-01-07T10:00:00Z");
        assert_eq!(a.cancel(started, Duration::zero()), Err(CancelRefusal::AlreadyStarted));
        assert_eq!(
            a.reschedule(&slot("2030-01-08T10:00:00Z"), started, Duration::zero()),
            Err(RescheduleRefusal::AlreadyStarted)
        );
        assert_eq!(a.status(), Status::Scheduled);
    }

    /// Within the notice before its start an appointment is neither canceled nor moved (asking
    /// for the place it holds still changes nothing); at the deadline itself, to the second, it
    /// still is.
    #[test]
    fn within_the_notice_an_appointment_is_neither_canceled_nor_moved() {
        let notice = Duration::hours(24);
        let deadline = at("2030-01-06T10:00:00Z");
        let late = deadline + Duration::seconds(1);
        let mut a = appointment();
        assert_eq!(a.cancel(late, notice), Err(CancelRefusal::TooLate { deadline }));
        assert_eq!(
            a.reschedule(&slot("2030-01-08T10:00:00Z"), late, notice),
            Err(RescheduleRefusal::TooLate { deadline })
        );
        assert_eq!(a.reschedule(&slot("2030-01-07T10:00:00Z"), late, notice), Ok(Move::Unchanged));
        assert_eq!(a.status(), Status::Scheduled);
        let mut moved = a.clone();
        assert!(moved.reschedule(&slot("2030-01-08T10:00:00Z"), deadline, notice).is_ok());
        // Within the deadline's second, as the stores count time (PostgreSQL's functions
        // judge whole seconds, and must agree).
        a.cancel(deadline + Duration::milliseconds(500), notice).unwrap();
        assert_eq!(a.status(), Status::Canceled);
    }

    /// Only a started appointment is concluded; a conclusion is final, and recording it again
    /// changes nothing.
    #[test]
    fn a_started_appointment_is_concluded_once_and_for_good() {
        let mut a = appointment();
        let before = at("2030-01-07T09:59:59Z");
        assert_eq!(
            a.conclude(Conclusion::Completed, before),
            Err(ConcludeRefusal::NotStarted { starts_at: at("2030-01-07T10:00:00Z") })
        );
        assert_eq!(a.status(), Status::Scheduled);
        let started = at("2030-01-07T10:00:00.400Z");
        assert_eq!(a.conclude(Conclusion::NoShow, started), Ok(true));
        assert_eq!(a.status(), Status::NoShow);
        assert_eq!(a.updated_at(), at("2030-01-07T10:00:00Z"));
        assert_eq!(a.occupied(), [at("2030-01-07T10:00:00Z")]);
        let later = at("2030-01-07T11:00:00Z");
        let concluded = a.clone();
        assert_eq!(a.conclude(Conclusion::NoShow, later), Ok(false));
        assert_eq!(a, concluded);
        assert_eq!(
            a.conclude(Conclusion::Completed, later),
            Err(ConcludeRefusal::Concluded(Conclusion::NoShow))
        );
        assert_eq!(
            a.cancel(later, Duration::zero()),
            Err(CancelRefusal::Concluded(Conclusion::NoShow))
        );
        assert_eq!(
            a.reschedule(&slot("2030-01-08T10:00:00Z"), later, Duration::zero()),
            Err(RescheduleRefusal::Concluded(Conclusion::NoShow))
        );
        assert_eq!(a, concluded);
        let mut canceled = appointment();
        canceled.cancel(at("2030-01-02T00:00:00Z"), Duration::zero()).unwrap();
        assert_eq!(canceled.conclude(Conclusion::Completed, later), Err(ConcludeRefusal::Canceled));
    }

    #[test]
    fn rescheduling_moves_and_reports_the_old_slot() {
        let mut a = appointment();
        let now = at("2030-01-03T00:00:00Z");
        assert_eq!(
            a.reschedule(&slot("2030-01-08T10:00:00Z"), now, Duration::zero()),
            Ok(Move::Moved { released: vec![at("2030-01-07T10:00:00Z")] })
        );
        assert_eq!(a.slot(), slot("2030-01-08T10:00:00Z").slot);
        assert_eq!(a.occupied(), [at("2030-01-08T10:00:00Z")]);
        assert_eq!(a.updated_at(), now);
        assert_eq!(a.status(), Status::Scheduled);
    }

    #[test]
    fn rescheduling_to_the_same_slot_changes_nothing() {
        let mut a = appointment();
        let before = a.clone();
        assert_eq!(
            a.reschedule(
                &slot("2030-01-07T10:00:00Z"),
                at("2030-01-03T00:00:00Z"),
                Duration::zero()
            ),
            Ok(Move::Unchanged)
        );
        assert_eq!(a, before);
    }

    #[test]
    fn ids_are_random_uuids_that_round_trip() {
        let id = AppointmentId::random();
        assert_eq!(id.as_uuid().get_version_num(), 4);
        assert_eq!(id.to_string().parse::<AppointmentId>(), Ok(id));
        assert_ne!(AppointmentId::random(), id);
        assert_eq!("42".parse::<AppointmentId>(), Err(AppointmentIdError("42".to_owned())));
    }

    #[test]
    fn statuses_round_trip_as_text() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        assert!("cancelled".parse::<Status>().is_err());
    }
}
