//! Reading and writing appointments and holds with the slots they take.

use std::collections::HashMap;

use booking_core::{
    appointment::{Appointment, AppointmentId, Status},
    closure::Closure,
    event::Event,
    history::Entry,
    hold::{Hold, HoldToken},
    placement::Placement,
    repository::{AppointmentQuery, BookFailure, Booking, HoldNotFound, MAX_HISTORIES, Written},
    storage::StorageError,
};
use chrono::{DateTime, Utc};
use diesel::{dsl::sql, prelude::*, sql_types::Bool};

use crate::statements::MoveTo;

use super::{
    Db, TxError, dialect,
    rows::{AppointmentRow, HistoryRow, HoldRow, NewHistoryRow, instant, seconds},
    schema::{appointment_history, appointments, hold_slots, holds},
    storage_error,
};

/// Rows back into appointments, in the rows' order.
fn appointments_of(rows: Vec<AppointmentRow>) -> Result<Vec<Appointment>, StorageError> {
    rows.into_iter().map(AppointmentRow::into_appointment).collect()
}

/// One appointment.
pub(super) fn appointment(
    connection: &mut Db,
    id: AppointmentId,
) -> Result<Option<Appointment>, StorageError> {
    appointments::table
        .find(id.to_string())
        .select(AppointmentRow::as_select())
        // Not `first`: see `statements` on why no query here binds a LIMIT.
        .get_result(connection)
        .optional()
        .map_err(storage_error)?
        .map(AppointmentRow::into_appointment)
        .transpose()
}

/// One appointment, locked against every other writer until the transaction ends, and read
/// after the lock is granted, so it is as the last writer left it.
pub(super) fn appointment_for_update(
    connection: &mut Db,
    id: AppointmentId,
) -> Result<Option<Appointment>, StorageError> {
    dialect::lock_appointment(connection, &id.to_string()).map_err(storage_error)?;
    appointment(connection, id)
}

/// The operator's listing, ordered by start then id.
pub(super) fn appointments(
    connection: &mut Db,
    query: &AppointmentQuery,
) -> Result<Vec<Appointment>, StorageError> {
    let mut select = appointments::table.select(AppointmentRow::as_select()).into_boxed();
    if let Some(from) = query.from {
        select = select.filter(appointments::start_at.ge(seconds(from)));
    }
    if let Some(to) = query.to {
        select = select.filter(appointments::start_at.lt(seconds(to)));
    }
    if let Some(status) = query.status {
        select = select.filter(appointments::status.eq(status.as_str()));
    }
    if let Some(resource) = &query.resource {
        select = select.filter(appointments::resource.eq(resource.to_string()));
    }
    if let Some(client) = &query.client {
        // A substring position matches the text literally (no LIKE wildcards).
        select = select.filter(
            sql::<Bool>(&format!("{}(lower(client_name), lower(", dialect::TEXT_POSITION))
                .bind::<diesel::sql_types::Text, _>(client.clone())
                .sql(")) > 0"),
        );
    }
    if let Some((start, id)) = query.after {
        let (start, id) = (seconds(start), id.to_string());
        select = select.filter(
            appointments::start_at
                .gt(start)
                .or(appointments::start_at.eq(start).and(appointments::id.gt(id))),
        );
    }
    let rows = select
        .order((appointments::start_at, appointments::id))
        .limit(i64::from(query.limit))
        .load(connection)
        .map_err(storage_error)?;
    appointments_of(rows)
}

/// Scheduled appointments a closure covers, ordered by start then id.
pub(super) fn covered_by(
    connection: &mut Db,
    closure: &Closure,
) -> Result<Vec<Appointment>, StorageError> {
    let mut select = appointments::table
        .filter(appointments::status.eq(Status::Scheduled.as_str()))
        .filter(appointments::start_at.lt(seconds(closure.period.end())))
        .filter(appointments::end_at.gt(seconds(closure.period.start())))
        .select(AppointmentRow::as_select())
        .into_boxed();
    if let Some(resource) = &closure.resource {
        select = select.filter(appointments::resource.eq(resource.to_string()));
    }
    let rows = select
        .order((appointments::start_at, appointments::id))
        .load(connection)
        .map_err(storage_error)?;
    appointments_of(rows)
}

/// Inserts an appointment.
pub(super) fn insert_appointment(
    connection: &mut Db,
    appointment: &Appointment,
) -> QueryResult<()> {
    diesel::insert_into(appointments::table)
        .values(AppointmentRow::from(appointment))
        .execute(connection)
        .map(drop)
}

/// Adds what `written` did to an appointment to its history (nothing, for a write that did
/// nothing to one): every write that changes an appointment calls this in its transaction.
pub(super) fn record<T>(connection: &mut Db, written: &Written<T>) -> QueryResult<()> {
    let Some((id, entry)) = written.event.as_ref().and_then(Event::entry) else {
        return Ok(());
    };
    diesel::insert_into(appointment_history::table)
        .values(NewHistoryRow::new(id.to_string(), &entry))
        .execute(connection)
        .map(drop)
}

/// The appointment's history, oldest first; `None` when there is no such appointment.
pub(super) fn history(
    connection: &mut Db,
    id: AppointmentId,
) -> Result<Option<Vec<Entry>>, StorageError> {
    let id = id.to_string();
    let rows: Vec<HistoryRow> = appointment_history::table
        .filter(appointment_history::appointment_id.eq(&id))
        .order(appointment_history::id)
        .select(HistoryRow::as_select())
        .load(connection)
        .map_err(storage_error)?;
    if rows.is_empty() {
        // No entry: no such appointment, or one booked before history was kept.
        let exists: bool = diesel::select(diesel::dsl::exists(appointments::table.find(&id)))
            .get_result(connection)
            .map_err(storage_error)?;
        if !exists {
            return Ok(None);
        }
    }
    rows.into_iter().map(Entry::try_from).collect::<Result<_, _>>().map(Some)
}

/// The histories of the appointments `ids` that have entries, each oldest first.
pub(super) fn histories(
    connection: &mut Db,
    ids: &[AppointmentId],
) -> Result<HashMap<AppointmentId, Vec<Entry>>, StorageError> {
    let mut histories: HashMap<AppointmentId, Vec<Entry>> = HashMap::new();
    for chunk in ids.chunks(MAX_HISTORIES) {
        let texts: Vec<String> = chunk.iter().map(ToString::to_string).collect();
        let rows: Vec<(String, HistoryRow)> = appointment_history::table
            .filter(appointment_history::appointment_id.eq_any(&texts))
            .order(appointment_history::id)
            .select((appointment_history::appointment_id, HistoryRow::as_select()))
            .load(connection)
            .map_err(storage_error)?;
        for (id, row) in rows {
            let id = id.parse().map_err(|_| {
                StorageError::fault(format!(
                    "stored history names the invalid appointment id {id:?}"
                ))
            })?;
            histories.entry(id).or_default().push(Entry::try_from(row)?);
        }
    }
    Ok(histories)
}

/// Writes an appointment's new time and slots.
pub(super) fn move_appointment(connection: &mut Db, appointment: &Appointment) -> QueryResult<()> {
    let row = AppointmentRow::from(appointment);
    MoveTo {
        id: &row.id,
        start_at: row.start_at,
        end_at: row.end_at,
        resource: &row.resource,
        occupied: &row.occupied,
        updated_at: row.updated_at,
    }
    .execute(connection)
    .map(drop)
}

/// A hold with its slots, whether or not it has expired.
pub(super) fn hold(connection: &mut Db, token: &HoldToken) -> Result<Option<Hold>, StorageError> {
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
    connection: &mut Db,
    booking: &'a Booking,
    token: &HoldToken,
    now: DateTime<Utc>,
) -> Result<&'a Placement, TxError<BookFailure>> {
    let hold = hold(connection, token)?
        .filter(|hold| hold.is_active(now))
        .ok_or(TxError::Refused(HoldNotFound.into()))?;
    booking.candidate_for(&hold).ok_or(TxError::Refused(BookFailure::HoldMismatch))
}

/// Inserts a hold, asked for by `holder`, and its slots.
pub(super) fn insert_hold(
    connection: &mut Db,
    hold: &Hold,
    holder: Option<&str>,
) -> QueryResult<()> {
    diesel::insert_into(holds::table).values(HoldRow::new(hold, holder)).execute(connection)?;
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
    connection: &mut Db,
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

/// Deletes a hold, and with it its slots (the foreign key cascades: the hold's row is locked
/// first, as the sweep locks it); false if it was already gone, perhaps deleted by a
/// concurrent writer that committed while this one waited for the row.
pub(super) fn delete_hold(connection: &mut Db, token: &HoldToken) -> QueryResult<bool> {
    let deleted = diesel::delete(holds::table.find(token.as_str())).execute(connection)?;
    Ok(deleted == 1)
}

/// Forgets at most `most` holds that stopped counting at or before `ended_by`, first ended
/// first, passing over (on PostgreSQL) those whose row a write in flight has locked; their
/// slots go with them (the foreign key cascades). Answers how many.
pub(super) fn forget_holds(
    connection: &mut Db,
    ended_by: DateTime<Utc>,
    most: u32,
) -> QueryResult<u64> {
    let forgotten = diesel::sql_query(dialect::FORGET_HOLDS)
        .bind::<diesel::sql_types::BigInt, _>(seconds(ended_by))
        .bind::<diesel::sql_types::BigInt, _>(i64::from(most))
        .execute(connection)?;
    Ok(forgotten as u64)
}
