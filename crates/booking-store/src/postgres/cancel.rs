//! Cancels in batches: one call of `cancel_appointments` (migration `*_change_notice`)
//! cancels every cancel a writer took, keyed or not.
//!
//! The function locks the appointments (by id) and then their slot rows, cancels each that is
//! scheduled, has not started and starts at least the cancel's notice later (the business's
//! cancellation notice for a client, none for an operator), and answers each row as it found
//! it. The server judges that
//! row with the core's own rule (`Appointment::cancel`) and answers with the core's refusal or
//! the core's canceled appointment. The contract suite holds the two rules to the same answers;
//! should they ever disagree, the answer follows what the function did, since that is what is
//! stored (and announced), and the disagreement is logged as an error.

use booking_core::{
    appointment::{Appointment, Status},
    history::Reason,
    idempotency::{Idempotency, Operation, Outcome},
    repository::{CancelFailure, Cancellation, Written},
    storage::{StorageError, WriteError},
};
use diesel::{
    QueryResult, RunQueryDsl,
    sql_types::{Array, BigInt, Nullable, Text},
};

use super::{
    Db,
    batch::{Answer, Kind, Verdict, key_since},
};
use crate::sql::rows::{AppointmentRow, seconds};

/// Cancels, as a kind of batched write.
pub(super) struct Cancels;

/// A cancel to make, as the port hands it over.
pub(super) struct CancelWrite {
    pub cancellation: Cancellation,
    pub idempotency: Option<Idempotency>,
}

batch_call!(
    /// The call, with one element per cancel.
    CancelAppointments = "cancel_appointments" {
        o_id: Vec<String> => Array<Text>,
        o_actor: Vec<&'a str> => Array<Text>,
        o_reason: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_key: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_fingerprint: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_now: Vec<i64> => Array<BigInt>,
        o_notice: Vec<i64> => Array<BigInt>,
        o_key_since: Vec<i64> => Array<BigInt>,
    }
);

impl Kind for Cancels {
    type Write = CancelWrite;
    type Output = Outcome<Written<Appointment>>;
    type Refusal = CancelFailure;
    const FUNCTION: &'static str = "cancel_appointments";

    fn settled(_: &CancelWrite) -> Option<Result<Self::Output, WriteError<CancelFailure>>> {
        None
    }

    fn call(connection: &mut Db, writes: &[&CancelWrite]) -> QueryResult<Vec<Answer>> {
        let keys = || writes.iter().map(|w| w.idempotency.as_ref());
        CancelAppointments {
            o_id: writes.iter().map(|w| w.cancellation.id.to_string()).collect(),
            o_actor: writes.iter().map(|w| w.cancellation.by.as_str()).collect(),
            o_reason: writes
                .iter()
                .map(|w| w.cancellation.reason.as_ref().map(Reason::as_str))
                .collect(),
            o_key: keys().map(|key| key.map(|key| key.key.as_str())).collect(),
            o_fingerprint: keys().map(|key| key.map(|key| key.fingerprint.as_str())).collect(),
            o_now: writes.iter().map(|w| seconds(w.cancellation.now)).collect(),
            o_notice: writes.iter().map(|w| w.cancellation.notice.num_seconds()).collect(),
            o_key_since: keys().map(key_since).collect(),
        }
        .load(connection)
    }

    fn verdict(write: &CancelWrite, mut answer: Answer) -> Verdict<Self::Output, CancelFailure> {
        let canceled = match answer.answer.as_str() {
            "canceled" => true,
            "refused" => false,
            "missing" => return Verdict::Answer(Err(WriteError::Refused(CancelFailure::NotFound))),
            "replayed" => {
                return Verdict::Answer(
                    answer.replay(Operation::Cancel, write.idempotency.as_ref()),
                );
            }
            "again" => return Verdict::Again,
            _ => return Verdict::Answer(Err(answer.unexpected(Self::FUNCTION).into())),
        };
        let judged = answer
            .appointment()
            .and_then(|found| judge(found, canceled, &write.cancellation))
            .map_err(WriteError::Storage)
            .and_then(|judged| {
                judged.map(Outcome::Done).map_err(|refusal| WriteError::Refused(refusal.into()))
            });
        Verdict::Answer(judged)
    }
}

/// The answer to `cancellation` of an appointment the function `found` (locked, before the
/// change), and `canceled` or not.
fn judge(
    mut appointment: Appointment,
    canceled: bool,
    cancellation: &Cancellation,
) -> Result<Result<Written<Appointment>, booking_core::appointment::CancelRefusal>, StorageError> {
    let now = cancellation.now;
    match (appointment.cancel(now, cancellation.notice), canceled) {
        (Ok(()), true) => Ok(Ok(Written::canceled(appointment, cancellation))),
        (Err(refusal), false) => Ok(Err(refusal)),
        (Err(refusal), true) => {
            tracing::error!(
                id = %appointment.id(), ?refusal,
                "cancel_appointments canceled an appointment that the core's rule refuses to cancel"
            );
            // The answer is what is stored: the row as the function left it.
            let stored = AppointmentRow {
                status: Status::Canceled.as_str().to_owned(),
                updated_at: seconds(now),
                ..AppointmentRow::from(&appointment)
            };
            Ok(Ok(Written::canceled(stored.into_appointment()?, cancellation)))
        }
        // Nothing was written: the core's rule would have canceled, the function did not.
        (Ok(()), false) => Err(StorageError::fault(format!(
            "cancel_appointments left {} as it was, which the core's rule would cancel",
            appointment.id()
        ))),
    }
}
