//! Writing appointments and holds, inside the caller's transaction (their history is written
//! by `sql::records::record`).

use booking_core::{
    appointment::Appointment,
    hold::{Hold, HoldToken},
    placement::Placement,
    repository::{BookFailure, Booking, HoldNotFound},
    storage::StorageError,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::super::statements::MoveTo;

use crate::sql::{
    TxError,
    rows::{AppointmentRow, HoldRow, instant, seconds},
    schema::{appointments, hold_slots, holds},
    storage_error,
};

/// Inserts an appointment.
pub(super) fn insert_appointment(
    connection: &mut SqliteConnection,
    appointment: &Appointment,
) -> QueryResult<()> {
    diesel::insert_into(appointments::table)
        .values(AppointmentRow::from(appointment))
        .execute(connection)
        .map(drop)
}

/// Writes an appointment's new time, resource, service and slots.
pub(super) fn move_appointment(
    connection: &mut SqliteConnection,
    appointment: &Appointment,
) -> QueryResult<()> {
    let row = AppointmentRow::from(appointment);
    MoveTo {
        id: &row.id,
        start_at: row.start_at,
        end_at: row.end_at,
        resource: &row.resource,
        service: row.service.as_deref(),
        occupied: &row.occupied,
        updated_at: row.updated_at,
    }
    .execute(connection)
    .map(drop)
}

/// A hold with its slots, whether or not it has expired.
pub(super) fn hold(
    connection: &mut SqliteConnection,
    token: &HoldToken,
) -> Result<Option<Hold>, StorageError> {
    let Some(row) = holds::table
        .find(token.as_str())
        .select(HoldRow::as_select())
        .get_result(connection)
        .optional()
        .map_err(storage_error)?
    else {
        return Ok(None);
    };
    let occupied: Vec<i64> = hold_slots::table
        .filter(hold_slots::token.eq(token.as_str()))
        .order(hold_slots::start_at)
        .select(hold_slots::start_at)
        .load(connection)
        .map_err(storage_error)?;
    row.into_hold(&occupied).map(Some)
}

/// The candidate of `booking` that its hold `token` is for, if the hold is active at `now`.
pub(super) fn held_candidate<'a>(
    connection: &mut SqliteConnection,
    booking: &'a Booking,
    token: &HoldToken,
    now: DateTime<Utc>,
) -> Result<&'a Placement, TxError<BookFailure>> {
    let hold = hold(connection, token)?
        .filter(|hold| hold.is_active(now))
        .ok_or(TxError::refused(HoldNotFound.into()))?;
    booking.candidate_for(&hold).ok_or(TxError::refused(BookFailure::HoldMismatch))
}

/// Inserts a hold, asked for by `holder`, and its slots.
pub(super) fn insert_hold(
    connection: &mut SqliteConnection,
    hold: &Hold,
    holder: Option<&str>,
) -> QueryResult<()> {
    diesel::insert_into(holds::table).values(hold_row(hold, holder)).execute(connection)?;
    let (token, resource, expires_at) =
        (hold.token.as_str(), hold.resource.as_str(), seconds(hold.expires_at));
    for start in &hold.occupied {
        diesel::insert_into(hold_slots::table)
            .values((
                hold_slots::token.eq(token),
                hold_slots::resource.eq(resource),
                hold_slots::start_at.eq(seconds(*start)),
                hold_slots::expires_at.eq(expires_at),
            ))
            .execute(connection)?;
    }
    Ok(())
}

/// How many holds `holder` has that are active at `now`, and when the first of them expires.
pub(super) fn holds_of(
    connection: &mut SqliteConnection,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<(u64, Option<DateTime<Utc>>), StorageError> {
    use diesel::dsl::{count_star, min};
    let (count, first): (i64, Option<i64>) = holds::table
        .filter(holds::holder.eq(holder).and(holds::expires_at.gt(seconds(now))))
        .select((count_star(), min(holds::expires_at)))
        .get_result(connection)
        .map_err(storage_error)?;
    Ok((u64::try_from(count).unwrap_or(0), first.map(instant).transpose()?))
}

/// Deletes a hold, and with it its slots (the foreign key cascades); false if it was already
/// gone.
pub(super) fn delete_hold(
    connection: &mut SqliteConnection,
    token: &HoldToken,
) -> QueryResult<bool> {
    let deleted = diesel::delete(holds::table.find(token.as_str())).execute(connection)?;
    Ok(deleted == 1)
}

/// The row of `hold`, asked for by `holder`.
fn hold_row(hold: &Hold, holder: Option<&str>) -> HoldRow {
    HoldRow {
        token: hold.token.as_str().to_owned(),
        resource: hold.resource.to_string(),
        service: hold.service.as_ref().map(ToString::to_string),
        start_at: seconds(hold.slot.start()),
        end_at: seconds(hold.slot.end()),
        created_at: seconds(hold.created_at),
        expires_at: seconds(hold.expires_at),
        holder: holder.map(str::to_owned),
    }
}
