//! Point reads in batches: one call of `find_appointments` (migration `*_writes_in_batches`)
//! reads every appointment the readers were asked for, by id, so that a busy server's point
//! reads cost one statement and one round trip a batch, and wait for no thread of the caller's.

use std::convert::Infallible;

use booking_core::{
    appointment::{Appointment, AppointmentId},
    storage::WriteError,
};
use diesel::{
    QueryResult, RunQueryDsl,
    sql_types::{Array, Text},
};

use super::{
    Db,
    batch::{Answer, Kind, Verdict},
};

/// Appointments to read, as a kind of batched request.
pub(super) struct Finds;

batch_call!(
    /// The call, with one element per read.
    FindAppointments = "find_appointments" {
        o_id: &'a [String] => Array<Text>,
    }
);

impl Kind for Finds {
    type Write = AppointmentId;
    type Output = Option<Appointment>;
    type Refusal = Infallible;
    const FUNCTION: &'static str = "find_appointments";

    fn settled(_: &AppointmentId) -> Option<Result<Self::Output, WriteError<Infallible>>> {
        None
    }

    fn call(connection: &mut Db, reads: &[&AppointmentId]) -> QueryResult<Vec<Answer>> {
        let ids: Vec<String> = reads.iter().map(ToString::to_string).collect();
        FindAppointments { o_id: &ids }.load(connection)
    }

    fn verdict(_: &AppointmentId, mut answer: Answer) -> Verdict<Self::Output, Infallible> {
        Verdict::Answer(match answer.answer.as_str() {
            "found" => answer.appointment().map(Some).map_err(WriteError::Storage),
            "missing" => Ok(None),
            _ => Err(answer.unexpected(Self::FUNCTION).into()),
        })
    }
}
