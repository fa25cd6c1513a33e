//! Moves in batches: one call of `move_appointments` (migration `*_move_to_another_service`)
//! moves every appointment a writer was asked to move, keyed or not, to its new time, resource
//! and service.
//!
//! The server judges the new place's time; the function locks the appointments (by id), then
//! their current and new slot rows, judges the new place as a booking would (the appointment's
//! own places not counting against it), and moves what it admits, unless the appointment starts
//! within the mover's notice (`Admission::change_notice`). It answers each row as it
//! found it; the server judges the row with the core's rule (`Appointment::reschedule`) and
//! answers with the core's `Written`. Should the two rules disagree, the answer follows what is
//! stored and the disagreement is logged as an error, as for cancels.

use booking_core::{
    admission::{Admission, Unavailable},
    appointment::{Appointment, AppointmentId, Move},
    history::Actor,
    idempotency::{Idempotency, Operation, Outcome},
    placement::Placement,
    repository::{RescheduleFailure, Written},
    storage::{StorageError, WriteError},
};
use diesel::{
    QueryResult, RunQueryDsl,
    sql_types::{Array, BigInt, Bool, Integer, Nullable, Text},
};

use super::{
    Db,
    batch::{Answer, Kind, Verdict, key_since, placed_under, refusal},
};
use crate::sql::rows::{AppointmentRow, seconds, starts_text};

/// Moves, as a kind of batched write.
pub(super) struct Moves;

/// A move to make, as the port hands it over.
pub(super) struct MoveWrite {
    pub id: AppointmentId,
    pub to: Placement,
    pub admission: Admission,
    pub by: Actor,
    pub idempotency: Option<Idempotency>,
}

batch_call!(
    /// The call, with one element per move.
    MoveAppointments = "gated_move_appointments" {
        o_id: Vec<String> => Array<Text>,
        o_actor: Vec<&'a str> => Array<Text>,
        o_key: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        o_fingerprint: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        t_resource: Vec<&'a str> => Array<Text>,
        t_service: Vec<Option<&'a str>> => Array<Nullable<Text>>,
        t_capacity: Vec<i32> => Array<Integer>,
        t_start: Vec<i64> => Array<BigInt>,
        t_end: Vec<i64> => Array<BigInt>,
        t_occupied: Vec<String> => Array<Text>,
        t_timely: Vec<bool> => Array<Bool>,
        o_now: Vec<i64> => Array<BigInt>,
        o_notice: Vec<i64> => Array<BigInt>,
        o_key_since: Vec<i64> => Array<BigInt>,
        o_calendar: Vec<i64> => Array<BigInt>,
    }
);

impl Kind for Moves {
    type Write = MoveWrite;
    type Output = Outcome<Written<Appointment>>;
    type Refusal = RescheduleFailure;
    const FUNCTION: &'static str = "move_appointments";

    fn settled(_: &MoveWrite) -> Option<Result<Self::Output, WriteError<RescheduleFailure>>> {
        None
    }

    fn call(connection: &mut Db, writes: &[&MoveWrite]) -> QueryResult<Vec<Answer>> {
        let keys = || writes.iter().map(|w| w.idempotency.as_ref());
        MoveAppointments {
            o_id: writes.iter().map(|w| w.id.to_string()).collect(),
            o_actor: writes.iter().map(|w| w.by.as_str()).collect(),
            o_key: keys().map(|key| key.map(|key| key.key.as_str())).collect(),
            o_fingerprint: keys().map(|key| key.map(|key| key.fingerprint.as_str())).collect(),
            t_resource: writes.iter().map(|w| w.to.resource.as_str()).collect(),
            t_service: writes.iter().map(|w| w.to.service.as_ref().map(|s| s.as_str())).collect(),
            // Capacity::MAX is 10 000, far inside i32.
            t_capacity: writes
                .iter()
                .map(|w| i32::try_from(w.to.capacity.get()).unwrap_or(i32::MAX))
                .collect(),
            t_start: writes.iter().map(|w| seconds(w.to.slot.start())).collect(),
            t_end: writes.iter().map(|w| seconds(w.to.slot.end())).collect(),
            t_occupied: writes.iter().map(|w| starts_text(&w.to.occupied)).collect(),
            t_timely: writes
                .iter()
                .map(|w| w.admission.check_time(w.to.slot.start()).is_ok())
                .collect(),
            o_now: writes.iter().map(|w| seconds(w.admission.now())).collect(),
            o_notice: writes.iter().map(|w| w.admission.change_notice().num_seconds()).collect(),
            o_key_since: keys().map(key_since).collect(),
            o_calendar: writes.iter().map(|w| placed_under(std::slice::from_ref(&w.to))).collect(),
        }
        .load(connection)
    }

    fn verdict(write: &MoveWrite, mut answer: Answer) -> Verdict<Self::Output, RescheduleFailure> {
        match answer.answer.as_str() {
            "missing" => Verdict::Answer(Err(WriteError::Refused(RescheduleFailure::NotFound))),
            "replayed" => {
                Verdict::Answer(answer.replay(Operation::Reschedule, write.idempotency.as_ref()))
            }
            "again" => Verdict::Again,
            "calendar-changed" => Verdict::Answer(Err(WriteError::Refused(
                RescheduleFailure::Unavailable(Unavailable::CalendarChanged),
            ))),
            "moved" | "unchanged" | "refused" | "untimely" | "closed" | "full" | "held" => {
                Verdict::Answer(judge(write, answer))
            }
            _ => Verdict::Answer(Err(answer.unexpected(Self::FUNCTION).into())),
        }
    }
}

/// The answer to `write`, by the core's rule, of the appointment as the function found it
/// (locked, before the change) and what the function did with it.
fn judge(
    write: &MoveWrite,
    mut answer: Answer,
) -> Result<Outcome<Written<Appointment>>, WriteError<RescheduleFailure>> {
    let current = answer.appointment()?;
    let mut appointment = current.clone();
    let now = write.admission.now();
    let change = appointment.reschedule(&write.to, now, write.admission.change_notice());
    let refused = |why: RescheduleFailure| Err(WriteError::Refused(why));
    let said = answer.answer.clone();
    match (change, said.as_str()) {
        (Err(refusal), "refused") => refused(refusal.into()),
        (Ok(Move::Unchanged), "unchanged") => Ok(Outcome::Done(Written::unchanged(appointment))),
        (Ok(Move::Moved { .. }), "moved") => {
            Ok(Outcome::Done(Written::rescheduled(&current, appointment, write.by)))
        }
        (Ok(Move::Moved { .. }), "untimely" | "closed" | "full" | "held") => {
            // The one candidate: the place asked for.
            answer.rank = Some(1);
            let why = refusal(&answer, std::slice::from_ref(&write.to), &write.admission)?;
            refused(why.into())
        }
        (_, "moved") => {
            tracing::error!(
                id = %write.id, answer = %said,
                "move_appointments moved an appointment that the core's rule does not move"
            );
            // The answer is what is stored: the row as the function left it.
            let stored = AppointmentRow {
                start_at: seconds(write.to.slot.start()),
                end_at: seconds(write.to.slot.end()),
                resource: write.to.resource.to_string(),
                service: write.to.service.as_ref().map(ToString::to_string),
                occupied: starts_text(&write.to.occupied),
                updated_at: seconds(now),
                ..AppointmentRow::from(&current)
            };
            Ok(Outcome::Done(Written::rescheduled(&current, stored.into_appointment()?, write.by)))
        }
        // Nothing was written, where the core's rule says otherwise.
        (change, stored) => Err(WriteError::Storage(StorageError::fault(format!(
            "move_appointments answered `{stored}` for {}, where the core's rule says {change:?}",
            write.id
        )))),
    }
}
