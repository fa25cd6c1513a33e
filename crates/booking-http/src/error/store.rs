//! What the booking service and its store refuse or fail at: slots that cannot be booked,
//! appointments in the wrong state, holds and closures that are not there, reused keys, and the
//! store's own failures (503 when it is busy or a write's outcome is unknown, an opaque 500
//! otherwise).

use std::convert::Infallible;

use actix_web::http::StatusCode;
use booking_core::{
    admission::Unavailable,
    appointment::{CancelRefusal, ConcludeRefusal, Conclusion, RescheduleRefusal},
    repository::{
        BookFailure, CancelFailure, ClosureNotFound, ConcludeFailure, HoldFailure, HoldNotFound,
        RescheduleFailure,
    },
    service::{AvailabilityError, PlacementError, RescheduleError},
    storage::{StorageError, StorageErrorKind, WriteError},
};
use chrono::{DateTime, Utc};

use super::ApiError;

impl ApiError {
    /// No appointment has the id (or the id is not an id at all).
    pub fn appointment_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "appointment-not-found",
            "Appointment not found",
            "Appointment not found.",
            "no appointment has this id; ids are the appointment_id values returned by POST /schedule",
        )
    }

    /// An idempotency key sent again with a different request.
    pub fn key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency key reused",
            "Idempotency key reused with a different request.",
            "this Idempotency-Key was used for another request; use a new key for a new request",
        )
    }

    /// A slot that cannot take a booking; `taken` is the sentence for a full slot. The detail
    /// says what is wrong and what to do instead.
    fn unavailable(why: Unavailable, taken: &'static str) -> Self {
        let next = match &why {
            Unavailable::Past | Unavailable::Full { .. } | Unavailable::OutsideHours => {
                "pick another slot"
            }
            Unavailable::TooSoon { .. } => "pick a later slot",
            Unavailable::BeyondHorizon { .. } => "pick an earlier slot",
            Unavailable::Closed { .. } => "pick a time after it, or another resource",
            Unavailable::Held => "it comes free if the hold expires unused; or pick another slot",
            Unavailable::CalendarChanged => "nothing was done, and its slots may have changed",
        };
        let detail = format!(
            "{why}; {next}: GET /availability?date=YYYY-MM-DD (with the same resource and \
             service) lists the slots that can be booked"
        );
        let (status, slug, title, message) = match why {
            Unavailable::Past => (
                StatusCode::BAD_REQUEST,
                "slot-in-past",
                "Slot in the past",
                "The requested time is in the past.",
            ),
            Unavailable::TooSoon { .. } => (
                StatusCode::BAD_REQUEST,
                "too-soon",
                "Too little notice",
                "The requested time is too soon to book.",
            ),
            Unavailable::BeyondHorizon { .. } => (
                StatusCode::BAD_REQUEST,
                "beyond-horizon",
                "Beyond the booking horizon",
                "The requested time is too far ahead to book.",
            ),
            Unavailable::OutsideHours => (
                StatusCode::BAD_REQUEST,
                "outside-opening-hours",
                "Outside opening hours",
                "The requested time is outside opening hours.",
            ),
            Unavailable::Closed { .. } | Unavailable::Held | Unavailable::Full { .. } => {
                (StatusCode::CONFLICT, "slot-unavailable", "Slot unavailable", taken)
            }
            Unavailable::CalendarChanged => {
                return Self::calendar_changed(detail).with_reason(why.reason());
            }
        };
        Self::new(status, slug, title, message, detail).with_reason(why.reason())
    }

    /// A server that cannot serve writes now, whatever the reason: always 503, so that load
    /// balancers take it out of rotation (a 500 would read as a bug in the check).
    pub fn not_ready(error: StorageError) -> Self {
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "Service unavailable",
            "Service temporarily unavailable.",
            "the database does not answer or cannot take a write (a full disk, a read-only \
             database, a stopped writer); this server cannot book until that is fixed",
        );
        problem.0.cause = Some(Box::new(error));
        problem.0.retry_after = Some(1);
        problem
    }

    fn storage(error: StorageError) -> Self {
        let detail = match error.kind() {
            StorageErrorKind::Fault => return Self::internal(error),
            StorageErrorKind::Unavailable => {
                "the database is busy or unreachable; nothing was changed, so the request can be retried"
            }
            StorageErrorKind::OutcomeUnknown => {
                "the database could not confirm the change: it may or may not have been made. Retry with the same Idempotency-Key to learn which without doing it twice (without a key, look the appointment up before trying again)"
            }
        };
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "Service unavailable",
            "Service temporarily unavailable.",
            detail,
        );
        problem.0.cause = Some(Box::new(error));
        problem.0.retry_after = Some(1);
        problem
    }

    /// A request that names no bookable placement.
    fn placement(error: PlacementError) -> Self {
        match error {
            PlacementError::Choice(error) => Self::from(error),
            PlacementError::InvalidSlot(error) => Self::slot(&error),
            // Judged before the store is asked, so never for lack of room.
            PlacementError::Unavailable(why) => Self::unavailable(why, BOOK_TAKEN),
        }
    }

    /// A write the store could not make.
    pub(super) fn write<R>(error: WriteError<R>, refused: impl FnOnce(R) -> Self) -> Self {
        match error {
            WriteError::Refused(refusal) => refused(refusal),
            WriteError::KeyReused => Self::key_reused(),
            WriteError::Storage(error) => Self::storage(error),
        }
    }
}

/// The original service's sentence for a slot that cannot take a booking.
const BOOK_TAKEN: &str = "Time slot is not available.";
/// The original service's sentence for a slot that cannot take a move.
const MOVE_TAKEN: &str = "New time slot is not available.";

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        Self::storage(error)
    }
}

impl From<PlacementError> for ApiError {
    fn from(error: PlacementError) -> Self {
        Self::placement(error)
    }
}

impl From<WriteError<BookFailure>> for ApiError {
    fn from(error: WriteError<BookFailure>) -> Self {
        Self::write(error, |failure| match failure {
            BookFailure::Unavailable(why) => Self::unavailable(why, BOOK_TAKEN),
            BookFailure::HoldNotFound(error) => Self::from(error),
            BookFailure::HoldMismatch => Self::new(
                StatusCode::CONFLICT,
                "hold-mismatch",
                "Hold for another slot",
                "The hold is for another slot.",
                "the hold was made for another date, time, resource or service; book with the same ones",
            ),
        })
    }
}

impl ApiError {
    /// A hold that was not made; `now` tells when the client's first hold frees a place.
    pub fn hold_failure(error: WriteError<HoldFailure>, now: DateTime<Utc>) -> Self {
        Self::write(error, |failure| match failure {
            HoldFailure::Unavailable(why) => Self::unavailable(why, BOOK_TAKEN),
            HoldFailure::TooMany { most, frees_at } => {
                let seconds = u64::try_from((frees_at - now).num_seconds()).unwrap_or(0).max(1);
                let mut error = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-holds",
                    "Too many holds",
                    "Too many holds.",
                    format!(
                        "this client already holds {most} slots, the most one client may hold at \
                         once; book one (POST /schedule with its hold), release one (DELETE \
                         /holds/{{token}}), or retry in {seconds} s, when the first expires"
                    ),
                )
                .with_reason("too_many_holds");
                error.0.retry_after = Some(seconds);
                error
            }
        })
    }
}

impl From<HoldNotFound> for ApiError {
    fn from(error: HoldNotFound) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "hold-not-found",
            "Hold not found",
            "Hold not found or expired.",
            error.to_string(),
        )
    }
}

impl From<WriteError<HoldNotFound>> for ApiError {
    fn from(error: WriteError<HoldNotFound>) -> Self {
        Self::write(error, Self::from)
    }
}

impl From<AvailabilityError> for ApiError {
    fn from(error: AvailabilityError) -> Self {
        match error {
            AvailabilityError::Choice(error) => Self::from(error),
            AvailabilityError::Storage(error) => Self::storage(error),
        }
    }
}

impl From<WriteError<Infallible>> for ApiError {
    fn from(error: WriteError<Infallible>) -> Self {
        Self::write(error, |never| match never {})
    }
}

impl From<WriteError<ClosureNotFound>> for ApiError {
    fn from(error: WriteError<ClosureNotFound>) -> Self {
        Self::write(error, |error| {
            Self::new(
                StatusCode::NOT_FOUND,
                "closure-not-found",
                "Closure not found",
                "Closure not found.",
                error.to_string(),
            )
        })
    }
}

impl From<WriteError<CancelFailure>> for ApiError {
    fn from(error: WriteError<CancelFailure>) -> Self {
        Self::write(error, |failure| match failure {
            CancelFailure::NotFound => Self::appointment_not_found(),
            CancelFailure::Refused(CancelRefusal::AlreadyCanceled) => Self::new(
                StatusCode::BAD_REQUEST,
                "already-canceled",
                "Already canceled",
                "Appointment is already canceled.",
                "the appointment was canceled before; canceling is final",
            ),
            CancelFailure::Refused(CancelRefusal::AlreadyStarted) => Self::new(
                StatusCode::BAD_REQUEST,
                "appointment-started",
                "Appointment started",
                "Appointment has already started.",
                "an appointment can be canceled only before its start time",
            ),
            CancelFailure::Refused(CancelRefusal::TooLate { deadline }) => {
                Self::too_late("Too late to cancel this appointment.", "canceled", deadline)
            }
            CancelFailure::Refused(CancelRefusal::Concluded(conclusion)) => {
                Self::concluded(conclusion)
            }
        })
    }
}

impl From<WriteError<ConcludeFailure>> for ApiError {
    fn from(error: WriteError<ConcludeFailure>) -> Self {
        Self::write(error, |failure| match failure {
            ConcludeFailure::NotFound => Self::appointment_not_found(),
            ConcludeFailure::Refused(ConcludeRefusal::Concluded(conclusion)) => {
                Self::concluded(conclusion)
            }
            // 400, as every `appointment-canceled` problem is (the original service's status).
            ConcludeFailure::Refused(ConcludeRefusal::Canceled) => Self::new(
                StatusCode::BAD_REQUEST,
                "appointment-canceled",
                "Appointment canceled",
                "The appointment was canceled.",
                "a canceled appointment did not take place; only a scheduled appointment that \
                 has started can be completed or marked a no-show",
            ),
            ConcludeFailure::Refused(ConcludeRefusal::NotStarted { starts_at }) => Self::new(
                StatusCode::CONFLICT,
                "appointment-not-started",
                "Appointment not started",
                "The appointment has not started yet.",
                format!(
                    "it starts at {}; record how it ended once it has started, or cancel or \
                     move it before then",
                    starts_at.to_rfc3339()
                ),
            ),
        })
    }
}

impl From<RescheduleError> for ApiError {
    fn from(error: RescheduleError) -> Self {
        match error {
            RescheduleError::NotFound => Self::appointment_not_found(),
            RescheduleError::Placement(error) => Self::placement(error),
            RescheduleError::Storage(error) => Self::storage(error),
        }
    }
}

impl From<WriteError<RescheduleFailure>> for ApiError {
    fn from(error: WriteError<RescheduleFailure>) -> Self {
        Self::write(error, |failure| match failure {
            RescheduleFailure::NotFound => Self::appointment_not_found(),
            RescheduleFailure::Unavailable(why) => Self::unavailable(why, MOVE_TAKEN),
            RescheduleFailure::Refused(RescheduleRefusal::Canceled) => Self::new(
                StatusCode::BAD_REQUEST,
                "appointment-canceled",
                "Appointment canceled",
                "Cannot reschedule a canceled appointment.",
                "the appointment was canceled; book a new one with POST /schedule",
            ),
            RescheduleFailure::Refused(RescheduleRefusal::AlreadyStarted) => Self::new(
                StatusCode::BAD_REQUEST,
                "appointment-started",
                "Appointment started",
                "Cannot reschedule an appointment that has already started.",
                "an appointment can be moved only before its start time",
            ),
            RescheduleFailure::Refused(RescheduleRefusal::TooLate { deadline }) => {
                Self::too_late("Too late to reschedule this appointment.", "moved", deadline)
            }
            RescheduleFailure::Refused(RescheduleRefusal::Concluded(conclusion)) => {
                Self::concluded(conclusion)
            }
        })
    }
}

impl ApiError {
    /// A change to an appointment the business recorded as completed or a no-show: final.
    fn concluded(conclusion: Conclusion) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "appointment-concluded",
            "Appointment concluded",
            format!("The appointment is already {conclusion}."),
            "the business recorded how this appointment ended, which is final; book a new one \
             with POST /schedule",
        )
    }

    /// A client's cancel or move within the business's cancellation notice.
    fn too_late(
        message: &'static str,
        done: &str,
        deadline: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "cancellation-notice",
            "Within the cancellation notice",
            message,
            format!(
                "the appointment could be {done} online until {}; ask the business, which still can",
                deadline.to_rfc3339()
            ),
        )
    }
}
