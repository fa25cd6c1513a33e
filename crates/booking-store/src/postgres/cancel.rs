//! A cancel in one round trip: PostgreSQL runs the whole write, as one statement calling the
//! `cancel_appointment` function that a migration installs (see its `up.sql`), and so as its
//! own transaction.
//!
//! The function locks the appointment's row and then its slot rows by time, as the shared
//! transaction does, cancels the appointment when it is scheduled and has not started, and
//! answers the row as it found it and whether it canceled it. The server judges that row with
//! the core's own rule (`Appointment::cancel`), so the answer and the appointment it returns
//! are the core's; a disagreement between the two rules is reported as a fault, never as a
//! success. The contract suite holds them to the same answers.

use booking_core::{
    appointment::{Appointment, AppointmentId},
    repository::{CancelFailure, Written},
    storage::StorageError,
};
use chrono::{DateTime, Utc};
use diesel::{
    pg::Pg,
    prelude::*,
    query_builder::{AstPass, QueryFragment},
    sql_types::{BigInt, Bool, Text},
};

use super::{
    Db, TxError,
    rows::{AppointmentRow, seconds},
};

/// The call.
struct CancelAppointment<'a> {
    id: &'a str,
    now: i64,
}

function_call!(CancelAppointment);

impl QueryFragment<Pg> for CancelAppointment<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT id, client_name, notes, start_at, end_at, status, created_at, updated_at, \
             resource, service, occupied, canceled FROM cancel_appointment(",
        );
        out.push_bind_param::<Text, _>(&self.id)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(")");
        Ok(())
    }
}

/// What the function answers: the appointment as its row was when locked, and whether the
/// call canceled it.
#[derive(QueryableByName)]
struct Found {
    #[diesel(embed)]
    appointment: AppointmentRow,
    #[diesel(sql_type = Bool)]
    canceled: bool,
}

/// Cancels the appointment `id` at `now`, in one statement (run outside any transaction).
pub(super) fn cancel(
    connection: &mut Db,
    id: AppointmentId,
    now: DateTime<Utc>,
) -> Result<Written<Appointment>, TxError<CancelFailure>> {
    let id = id.to_string();
    let found: Option<Found> =
        CancelAppointment { id: &id, now: seconds(now) }.get_result(connection).optional()?;
    let Some(found) = found else { return Err(TxError::Refused(CancelFailure::NotFound)) };
    let mut appointment = found.appointment.into_appointment()?;
    match (appointment.cancel(now), found.canceled) {
        (Ok(()), true) => Ok(Written::canceled(appointment)),
        (Err(refusal), false) => Err(TxError::Refused(refusal.into())),
        (judged, canceled) => Err(TxError::Storage(StorageError::fault(format!(
            "cancel_appointment and the core's rule disagree on {id}: \
             the function canceled: {canceled}, the rule: {judged:?}"
        )))),
    }
}
