//! What each backend provides under the shared SQL: how reads and writes run, and the client
//! writes, which each backend decides its own way (SQLite's writer thread, PostgreSQL's batch
//! functions).

use std::convert::Infallible;

#[cfg(feature = "postgres")]
use booking_core::change::Change;
use booking_core::{
    admission::Admission,
    appointment::{Appointment, AppointmentId},
    history::Actor,
    hold::{Hold, HoldToken},
    idempotency::{Idempotency, Outcome},
    notification::{ClaimedNotification, Planned},
    pending::Pending,
    placement::Placement,
    repository::{
        BookFailure, Booking, CancelFailure, Cancellation, Forgotten, HoldFailure, HoldNotFound,
        HoldRequest, RescheduleFailure, Written,
    },
    storage::StorageError,
    webhook::{Claimed, Endpoint},
};
use chrono::{DateTime, Utc};

use super::{AnyConnection, TxError};

/// One backend under [`super::SqlRepository`]. Implemented by this crate's backends only: the
/// shared SQL's connection type knows no other.
pub(crate) trait Store: ClientWrites + std::fmt::Debug + Send + Sync + 'static {
    /// Runs `read` on a connection of its own; it may run again (on another connection) if
    /// the first turned out to be lost.
    fn read<T>(
        &self,
        read: impl FnMut(&mut AnyConnection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError>;

    /// Runs `work` (one of the business's own writes) in a transaction: committed if it
    /// returns `Ok`, rolled back otherwise; answered once the transaction has ended. It may run
    /// again from the start if the database aborted it to break a deadlock.
    fn write<T, R>(
        &self,
        work: impl FnMut(&mut AnyConnection) -> Result<T, TxError<R>> + Send + 'static,
    ) -> Pending<T, R>
    where
        T: Announced + Send + 'static,
        R: Send + 'static;

    /// Whether writes can be taken now.
    fn ready(&self) -> Result<(), StorageError>;
}

/// The client writes (and point reads), which each backend decides its own way: SQLite's in
/// `sqlite/writes/`, on its writer thread; PostgreSQL's in `postgres/writes.rs`, in batches sent
/// to functions that decide them in the database.
pub(crate) trait ClientWrites {
    /// A client's booking, decided and written.
    fn book(
        &self,
        booking: Booking,
        admission: Admission,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, BookFailure>;

    /// A client's or an operator's cancellation, decided and written.
    fn cancel(
        &self,
        cancellation: Cancellation,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, CancelFailure>;

    /// A move of an appointment, decided and written.
    fn reschedule(
        &self,
        id: AppointmentId,
        to: Placement,
        admission: Admission,
        by: Actor,
        idempotency: Option<Idempotency>,
    ) -> Pending<Outcome<Written<Appointment>>, RescheduleFailure>;

    /// A hold on free places, decided and written.
    fn hold(
        &self,
        request: HoldRequest,
        admission: Admission,
    ) -> Pending<Written<Hold>, HoldFailure>;

    /// A hold released before it expired.
    fn release_hold(
        &self,
        token: HoldToken,
        now: DateTime<Utc>,
    ) -> Pending<Written<Hold>, HoldNotFound>;

    /// One appointment, read the way the backend answers point reads fastest.
    fn find(&self, id: AppointmentId) -> Pending<Option<Appointment>, Infallible>;
}

/// What a committed write tells other servers it changed (PostgreSQL announces it after the
/// commit; SQLite has no other servers to tell, and a build without PostgreSQL never asks).
pub(crate) trait Announced {
    /// What changed; none for a replay or a write that changes no slot.
    #[cfg(feature = "postgres")]
    fn changed(&self) -> Option<&Change>;
}

impl<T> Announced for Written<T> {
    #[cfg(feature = "postgres")]
    fn changed(&self) -> Option<&Change> {
        Some(&self.changed)
    }
}

impl<T> Announced for Outcome<Written<T>> {
    #[cfg(feature = "postgres")]
    fn changed(&self) -> Option<&Change> {
        match self {
            // A replay changed nothing: the first answer was announced when it was written.
            Outcome::Replayed(_) => None,
            Outcome::Done(written) => written.changed(),
        }
    }
}

/// The sweep forgets what stopped counting already; the readiness check changes no slot; the
/// outbox's own writes (webhooks and notifications) change none either (what a change queues
/// is written, and announced, with the change).
macro_rules! announces_nothing {
    ($($written:ty),*) => {
        $(impl Announced for $written {
            #[cfg(feature = "postgres")]
            fn changed(&self) -> Option<&Change> {
                None
            }
        })*
    };
}

announces_nothing!(
    (),
    bool,
    Endpoint,
    Vec<Claimed>,
    Vec<ClaimedNotification>,
    Planned,
    Forgotten,
    Option<Appointment>
);
