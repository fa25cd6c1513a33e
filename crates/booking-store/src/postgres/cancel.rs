//! A cancel in one round trip: PostgreSQL runs the whole write, as one statement calling the
//! `cancel_appointment` function that a migration installs (see its `up.sql`), and so as its
//! own transaction.
//!
//! The function locks the appointment's row and then its slot rows by time, as the shared
//! transaction does, cancels the appointment when it is scheduled and has not started, and
//! answers the row as it found it and whether it canceled it. The server judges that row with
//! the core's own rule (`Appointment::cancel`) and answers with the core's refusal or the
//! core's canceled appointment. The contract suite holds the two rules to the same answers;
//! should they ever disagree, the answer follows what the function did, since that is what is
//! stored (and announced), and the disagreement is logged as an error.

use booking_core::{
    appointment::{Appointment, Status},
    history::Reason,
    repository::{CancelFailure, Cancellation, Written},
    storage::StorageError,
};
use diesel::{
    pg::Pg,
    prelude::*,
    query_builder::{AstPass, QueryFragment},
    sql_types::{BigInt, Bool, Nullable, Text},
};

use super::{
    Db, TxError,
    rows::{AppointmentRow, seconds},
};

/// The call.
struct CancelAppointment<'a> {
    id: &'a str,
    now: i64,
    /// Who cancels, and why, for the appointment's history.
    actor: &'static str,
    reason: Option<&'a str>,
}

function_call!(CancelAppointment);

impl QueryFragment<Pg> for CancelAppointment<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // The contact details come from the row as the statement began, which a cancel does
        // not change (the function answers the columns it always did), each by its primary
        // key whatever the planner guesses of the function's rows.
        out.push_sql(
            "SELECT c.id, c.client_name, c.notes, c.start_at, c.end_at, c.status, \
             c.created_at, c.updated_at, c.resource, c.service, c.occupied, \
             (SELECT a.email FROM appointments a WHERE a.id = c.id) AS email, \
             (SELECT a.phone FROM appointments a WHERE a.id = c.id) AS phone, \
             c.canceled FROM cancel_appointment(",
        );
        out.push_bind_param::<Text, _>(&self.id)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.actor)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.reason)?;
        out.push_sql(") c");
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

/// Makes `cancellation`, in one statement (run outside any transaction).
pub(super) fn cancel(
    connection: &mut Db,
    cancellation: &Cancellation,
) -> Result<Written<Appointment>, TxError<CancelFailure>> {
    let (id, now) = (cancellation.id.to_string(), cancellation.now);
    let found: Option<Found> = CancelAppointment {
        id: &id,
        now: seconds(now),
        actor: cancellation.by.as_str(),
        reason: cancellation.reason.as_ref().map(Reason::as_str),
    }
    .get_result(connection)
    .optional()?;
    let Some(Found { appointment: row, canceled }) = found else {
        return Err(TxError::Refused(CancelFailure::NotFound));
    };
    let mut appointment = row.into_appointment()?;
    match (appointment.cancel(now), canceled) {
        (Ok(()), true) => Ok(Written::canceled(appointment, cancellation)),
        (Err(refusal), false) => Err(TxError::Refused(refusal.into())),
        (Err(refusal), true) => {
            tracing::error!(
                %id, ?refusal,
                "cancel_appointment canceled an appointment that the core's rule refuses to cancel"
            );
            // The answer is what is stored: the row as the function left it.
            let stored = AppointmentRow {
                status: Status::Canceled.as_str().to_owned(),
                updated_at: seconds(now),
                ..AppointmentRow::from(&appointment)
            };
            Ok(Written::canceled(stored.into_appointment()?, cancellation))
        }
        // Nothing was written: the core's rule would have canceled, the function did not.
        (Ok(()), false) => Err(TxError::Storage(StorageError::fault(format!(
            "cancel_appointment left {id} as it was, which the core's rule would cancel"
        )))),
    }
}
