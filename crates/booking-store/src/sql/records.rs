//! Reading appointments and their histories, recording history, and forgetting expired holds.

use std::collections::HashMap;

use booking_core::{
    appointment::{Appointment, AppointmentId, Status},
    closure::Closure,
    event::Event,
    history::Entry,
    repository::{AppointmentQuery, MAX_HISTORIES, Written},
    storage::StorageError,
};
use chrono::{DateTime, Utc};
use diesel::{
    dsl::{Find, sql},
    prelude::*,
    query_builder::InsertStatement,
    query_dsl::{LoadQuery, methods::ExecuteDsl},
    sql_types::Bool,
};

use super::{
    AnyConnection,
    rows::{AppointmentRow, HistoryRow, seconds},
    schema::{appointment_history, appointments},
    storage_error,
};

/// Rows back into appointments, in the rows' order.
fn appointments_of(rows: Vec<AppointmentRow>) -> Result<Vec<Appointment>, StorageError> {
    rows.into_iter().map(AppointmentRow::into_appointment).collect()
}

/// One appointment, on either connection: SQLite's point reads run on its own (see
/// `sqlite::writes::find`).
pub(crate) fn appointment<C>(
    connection: &mut C,
    id: AppointmentId,
) -> Result<Option<Appointment>, StorageError>
where
    C: Connection,
    for<'query> Find<appointments::table, String>: LoadQuery<'query, C, AppointmentRow>,
{
    appointments::table
        .find(id.to_string())
        // Not `first`: see `statements` on why no query here binds a LIMIT. (The row's fields
        // are the table's columns in order: no `select` names them.)
        .get_result::<AppointmentRow>(connection)
        .optional()
        .map_err(storage_error)?
        .map(AppointmentRow::into_appointment)
        .transpose()
}

/// Adds what `written` did to an appointment to its history (nothing, for a write that did
/// nothing to one): every write that changes an appointment in Rust calls this in its
/// transaction (PostgreSQL's batch functions write theirs in SQL), on either connection.
pub(crate) fn record<C, T>(connection: &mut C, written: &Written<T>) -> QueryResult<()>
where
    C: Connection,
    InsertStatement<
        appointment_history::table,
        <NewHistoryRow as Insertable<appointment_history::table>>::Values,
    >: ExecuteDsl<C>,
{
    let Some((id, entry)) = written.event.as_ref().and_then(Event::entry) else {
        return Ok(());
    };
    diesel::insert_into(appointment_history::table)
        .values(NewHistoryRow::new(id.to_string(), entry))
        .execute(connection)
        .map(drop)
}

/// A history entry as written; the table numbers entries in the order they were written.
#[derive(Debug, Insertable)]
#[diesel(table_name = appointment_history)]
pub(crate) struct NewHistoryRow {
    appointment_id: String,
    made_at: i64,
    kind: &'static str,
    start_at: i64,
    end_at: i64,
    from_start_at: Option<i64>,
    from_end_at: Option<i64>,
    actor: &'static str,
    reason: Option<String>,
    from_resource: Option<String>,
    from_service: Option<String>,
}

impl NewHistoryRow {
    /// The row of `entry`, in the history of `appointment_id`.
    fn new(appointment_id: String, entry: Entry) -> Self {
        let from = entry.change.moved_from();
        Self {
            appointment_id,
            made_at: seconds(entry.at),
            kind: entry.change.as_str(),
            start_at: seconds(entry.slot.start()),
            end_at: seconds(entry.slot.end()),
            from_start_at: from.map(|slot| seconds(slot.start())),
            from_end_at: from.map(|slot| seconds(slot.end())),
            actor: entry.by.as_str(),
            reason: entry.reason.as_ref().map(|reason| reason.as_str().to_owned()),
            from_resource: entry.left.as_ref().map(|left| left.resource.to_string()),
            from_service: entry
                .left
                .as_ref()
                .and_then(|left| left.service.as_ref())
                .map(ToString::to_string),
        }
    }
}

/// The operator's listing, ordered by start then id.
pub(super) fn appointments(
    connection: &mut AnyConnection,
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
            sql::<Bool>(&format!(
                "{}(lower(client_name), lower(",
                connection.dialect().text_position
            ))
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
    connection: &mut AnyConnection,
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

/// The appointment's history, oldest first; `None` when there is no such appointment.
pub(super) fn history(
    connection: &mut AnyConnection,
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
    connection: &mut AnyConnection,
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

/// Forgets at most `most` holds that stopped counting at or before `ended_by`, first ended
/// first, passing over (on PostgreSQL) those whose row a write in flight has locked; their
/// slots go with them (the foreign key cascades). Answers how many.
pub(super) fn forget_holds(
    connection: &mut AnyConnection,
    ended_by: DateTime<Utc>,
    most: u32,
) -> QueryResult<u64> {
    let forgotten = diesel::sql_query(connection.dialect().forget_holds)
        .bind::<diesel::sql_types::BigInt, _>(seconds(ended_by))
        .bind::<diesel::sql_types::BigInt, _>(i64::from(most))
        .execute(connection)?;
    Ok(forgotten as u64)
}
