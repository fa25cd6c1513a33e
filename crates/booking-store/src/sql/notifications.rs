//! Notifications over SQL. They are queued by the database itself: a trigger on the history
//! (see the `notifications` migration) inserts a change's message and its reminders, under the
//! plan in force, in the transaction that records the entry. This module puts plans in force,
//! lists notifications, and claims and settles them for the mail worker.

use std::{
    collections::{BTreeMap, HashSet},
    convert::Infallible,
    time::Duration,
};

use booking_core::{
    appointment::Status,
    notification::{
        ClaimedNotification, Notification, NotificationId, NotificationKind, NotificationState,
        Notifications, Plan, Planned,
    },
    pending::Pending,
    storage::StorageError,
    webhook::{ClaimRequest, Message, MessageId, Settled, Settlement},
};
use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types::BigInt};

use super::{
    AnyConnection, SqlRepository, Store,
    rows::{AppointmentRow, HistoryRow, instant, seconds},
    schema::{
        appointment_history, appointments, notification_plan, notification_reminders, notifications,
    },
    storage_error,
};

/// A notification's own columns, as read back.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = notifications, check_for_backend(super::MultiBackend))]
struct NotificationRow {
    id: i64,
    appointment_id: String,
    entry_id: i64,
    kind: String,
    remind_before: Option<i64>,
    state: String,
    attempts: i32,
    due_at: i64,
    next_attempt_at: Option<i64>,
    last_error: Option<String>,
}

/// A reminder queued by a new plan.
#[derive(Debug, Insertable)]
#[diesel(table_name = notifications)]
struct NewReminder {
    appointment_id: String,
    entry_id: i64,
    kind: &'static str,
    remind_before: i64,
    due_at: i64,
    next_attempt_at: i64,
}

/// The id of a notification that is due, as the dialect's query finds it.
#[derive(Debug, QueryableByName)]
struct Due {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Why a reminder was passed over.
const MOOT: &str = "the appointment had started, or changed, before the reminder could go";

/// Ids matched per statement (under every backend's limit on binds).
const CHUNK: usize = 500;

fn corrupt(what: &str, value: impl std::fmt::Display) -> StorageError {
    StorageError::fault(format!("stored {what} is invalid: {value}"))
}

fn attempts(count: i32) -> Result<u32, StorageError> {
    u32::try_from(count).map_err(|_| corrupt("attempt count", count))
}

fn lead(seconds: i64) -> Result<Duration, StorageError> {
    u64::try_from(seconds).map(Duration::from_secs).map_err(|_| corrupt("reminder lead", seconds))
}

impl TryFrom<NotificationRow> for Notification {
    type Error = StorageError;

    fn try_from(row: NotificationRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: NotificationId(row.id),
            kind: row.kind.parse().map_err(|e| corrupt("notification kind", e))?,
            appointment: row
                .appointment_id
                .parse()
                .map_err(|_| corrupt("appointment id", &row.appointment_id))?,
            remind_before: row.remind_before.map(lead).transpose()?,
            state: row.state.parse().map_err(|e| corrupt("notification state", e))?,
            attempts: attempts(row.attempts)?,
            last_error: row.last_error,
            due_at: instant(row.due_at)?,
            next_attempt_at: row.next_attempt_at.map(instant).transpose()?,
        })
    }
}

/// The plan in force, as stored: `None` while mail is off.
fn stored_plan(connection: &mut AnyConnection) -> Result<Option<Vec<i64>>, StorageError> {
    let on: bool =
        diesel::select(diesel::dsl::exists(notification_plan::table.select(notification_plan::id)))
            .get_result(connection)
            .map_err(storage_error)?;
    if !on {
        return Ok(None);
    }
    let leads = notification_reminders::table
        .order(notification_reminders::lead_seconds.desc())
        .select(notification_reminders::lead_seconds)
        .load(connection)
        .map_err(storage_error)?;
    Ok(Some(leads))
}

/// Puts `plan` in force as of `now`; see [`Notifications::plan_notifications`].
fn plan(
    connection: &mut AnyConnection,
    plan: Option<&Plan>,
    now: DateTime<Utc>,
) -> Result<Planned, StorageError> {
    let wanted: Option<Vec<i64>> = plan.map(|plan| {
        plan.reminders
            .leads()
            .iter()
            .map(|lead| i64::try_from(lead.as_secs()).unwrap_or(i64::MAX))
            .collect()
    });
    // A server starting with the plan in force (every restart but the one after a change)
    // writes nothing, and holds no write back.
    let stored = stored_plan(connection)?;
    if stored == wanted {
        return Ok(Planned { was_on: stored.is_some(), ..Planned::default() });
    }
    (connection.dialect().lock_notifications)(connection).map_err(storage_error)?;
    // Read again under the lock: another server may have just put a plan in force.
    let was_on = stored_plan(connection)?.is_some();
    diesel::delete(notification_plan::table).execute(connection).map_err(storage_error)?;
    diesel::delete(notification_reminders::table).execute(connection).map_err(storage_error)?;
    let Some(leads) = wanted else {
        return Ok(Planned { was_on, ..Planned::default() });
    };
    diesel::insert_into(notification_plan::table)
        .values((notification_plan::id.eq(1), notification_plan::planned_at.eq(seconds(now))))
        .execute(connection)
        .map_err(storage_error)?;
    for lead in &leads {
        diesel::insert_into(notification_reminders::table)
            .values(notification_reminders::lead_seconds.eq(*lead))
            .execute(connection)
            .map_err(storage_error)?;
    }
    let dropped = diesel::delete(
        notifications::table
            .filter(notifications::kind.eq(NotificationKind::Reminder.as_str()))
            .filter(notifications::state.eq(NotificationState::Pending.as_str()))
            .filter(notifications::remind_before.ne_all(&leads)),
    )
    .execute(connection)
    .map_err(storage_error)?;
    let queued = if leads.is_empty() { 0 } else { queue_reminders(connection, &leads, now)? };
    Ok(Planned { was_on, reminders_queued: queued, reminders_dropped: dropped as u64 })
}

/// Queues, for each appointment still to come whose client has an address, the reminders of
/// `leads` whose time is after `now` and that its latest change has not had yet.
fn queue_reminders(
    connection: &mut AnyConnection,
    leads: &[i64],
    now: DateTime<Utc>,
) -> Result<u64, StorageError> {
    let entries: Vec<(String, i64, i64)> = appointment_history::table
        .inner_join(
            appointments::table.on(appointments::id.eq(appointment_history::appointment_id)),
        )
        .filter(appointments::status.eq(Status::Scheduled.as_str()))
        .filter(appointments::email.is_not_null())
        .filter(appointments::start_at.gt(seconds(now)))
        .order(appointment_history::id)
        .select((
            appointment_history::appointment_id,
            appointment_history::id,
            appointment_history::start_at,
        ))
        .load(connection)
        .map_err(storage_error)?;
    // The last entry of each is the one that gave it its time.
    let latest: BTreeMap<String, (i64, i64)> = entries
        .into_iter()
        .map(|(appointment, entry, start)| (appointment, (entry, start)))
        .collect();
    let ids: Vec<i64> = latest.values().map(|(entry, _)| *entry).collect();
    let mut had = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let known: Vec<(i64, Option<i64>)> = notifications::table
            .filter(notifications::kind.eq(NotificationKind::Reminder.as_str()))
            .filter(notifications::entry_id.eq_any(chunk))
            .select((notifications::entry_id, notifications::remind_before))
            .load(connection)
            .map_err(storage_error)?;
        had.extend(known);
    }
    let now = seconds(now);
    let reminders: Vec<NewReminder> = latest
        .into_iter()
        .flat_map(|(appointment, (entry, start))| {
            leads.iter().filter_map(move |lead| {
                let due = start.checked_sub(*lead).filter(|due| *due > now)?;
                Some(NewReminder {
                    appointment_id: appointment.clone(),
                    entry_id: entry,
                    kind: NotificationKind::Reminder.as_str(),
                    remind_before: *lead,
                    due_at: due,
                    next_attempt_at: due,
                })
            })
        })
        .filter(|reminder| !had.contains(&(reminder.entry_id, Some(reminder.remind_before))))
        .collect();
    // One statement each: this runs as a server starts with a new lead time, not per write,
    // and Diesel's batches on SQLite open a transaction of their own.
    let mut queued = 0;
    for reminder in &reminders {
        queued += diesel::insert_into(notifications::table)
            .values(reminder)
            .execute(connection)
            .map_err(storage_error)?;
    }
    Ok(queued as u64)
}

/// Claims the notifications `request` asks for, counting their attempt and leasing them.
fn claim(
    connection: &mut AnyConnection,
    request: ClaimRequest,
) -> Result<Vec<ClaimedNotification>, StorageError> {
    let now = seconds(request.now);
    diesel::sql_query(connection.dialect().skip_moot_reminders)
        .bind::<BigInt, _>(now)
        .bind::<diesel::sql_types::Text, _>(MOOT)
        .execute(connection)
        .map_err(storage_error)?;
    let most = i64::try_from(request.most).unwrap_or(i64::MAX);
    let due: Vec<i64> = diesel::sql_query(connection.dialect().due_notifications)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(most)
        .load::<Due>(connection)
        .map_err(storage_error)?
        .into_iter()
        .map(|due| due.id)
        .collect();
    if due.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(notifications::table.filter(notifications::id.eq_any(&due)))
        .set((
            notifications::attempts.eq(notifications::attempts + 1),
            notifications::leased_until.eq(seconds(request.lease_until)),
        ))
        .execute(connection)
        .map_err(storage_error)?;
    let rows: Vec<(NotificationRow, HistoryRow, AppointmentRow)> = notifications::table
        .inner_join(
            appointment_history::table.on(appointment_history::id.eq(notifications::entry_id)),
        )
        .inner_join(appointments::table.on(appointments::id.eq(notifications::appointment_id)))
        .filter(notifications::id.eq_any(&due))
        .order((notifications::next_attempt_at, notifications::id))
        .select((
            NotificationRow::as_select(),
            HistoryRow::as_select(),
            AppointmentRow::as_select(),
        ))
        .load(connection)
        .map_err(storage_error)?;
    let mut claimed = Vec::with_capacity(rows.len());
    for (row, entry, appointment) in rows {
        let id = row.id;
        let entry_id = row.entry_id;
        let revision: i64 = appointment_history::table
            .filter(appointment_history::appointment_id.eq(&row.appointment_id))
            .filter(appointment_history::id.le(entry_id))
            // The changes `Transition::revises` counts.
            .filter(appointment_history::kind.eq_any(["rescheduled", "canceled"]))
            .count()
            .get_result(connection)
            .map_err(storage_error)?;
        let read = (|| {
            let notification = Notification::try_from(row)?;
            let appointment = appointment.into_appointment()?;
            let entry = entry.try_into()?;
            let to = appointment
                .contact()
                .email
                .clone()
                .ok_or_else(|| StorageError::fault("the client's address is gone"))?;
            Ok::<_, StorageError>(ClaimedNotification {
                notification: notification.id,
                attempt: notification.attempts,
                kind: notification.kind,
                remind_before: notification.remind_before,
                to,
                message: Message::of(MessageId(entry_id), &entry, &appointment),
                revision: u32::try_from(revision).unwrap_or(u32::MAX),
            })
        })();
        match read {
            Ok(one) => claimed.push(one),
            // A row that cannot be read would be claimed again and again, and hold up its
            // appointment's later messages: it fails for good, saying why.
            Err(unreadable) => {
                tracing::warn!(notification = id, error = %unreadable, "a notification cannot be read");
                give_up(connection, id, request.now, &unreadable.to_string())
                    .map_err(storage_error)?;
            }
        }
    }
    Ok(claimed)
}

/// Fails a notification for good at `now`, with `error` as its last error.
fn give_up(
    connection: &mut AnyConnection,
    id: i64,
    now: DateTime<Utc>,
    error: &str,
) -> QueryResult<()> {
    diesel::update(notifications::table.find(id))
        .set((
            notifications::state.eq(NotificationState::Failed.as_str()),
            notifications::next_attempt_at.eq(None::<i64>),
            notifications::leased_until.eq(None::<i64>),
            notifications::last_error.eq(error),
            notifications::settled_at.eq(seconds(now)),
        ))
        .execute(connection)
        .map(drop)
}

/// Forgets at most `most` notifications settled at or before `by`, first settled first
/// (passing over those another sweep holds); answers how many.
pub(super) fn forget_settled(
    connection: &mut AnyConnection,
    by: DateTime<Utc>,
    most: u32,
) -> QueryResult<u64> {
    let forgotten = diesel::sql_query(connection.dialect().forget_notifications)
        .bind::<BigInt, _>(seconds(by))
        .bind::<BigInt, _>(i64::from(most))
        .execute(connection)?;
    Ok(forgotten as u64)
}

/// Records `settlement` if it is for the notification's latest attempt and it is still
/// pending; answers whether it did.
fn settle(
    connection: &mut AnyConnection,
    settlement: &Settlement<NotificationId>,
) -> QueryResult<bool> {
    let state = match settlement.settled() {
        Settled::Done => NotificationState::Sent,
        Settled::Retry(_) => NotificationState::Pending,
        Settled::GaveUp => NotificationState::Failed,
    };
    let target = notifications::table
        .filter(notifications::id.eq(settlement.delivery.0))
        .filter(notifications::state.eq(NotificationState::Pending.as_str()))
        .filter(notifications::attempts.eq(i32::try_from(settlement.attempt).unwrap_or(-1)));
    let updated = diesel::update(target)
        .set((
            notifications::state.eq(state.as_str()),
            notifications::next_attempt_at.eq(settlement.next_attempt_at().map(seconds)),
            notifications::leased_until.eq(None::<i64>),
            notifications::last_error.eq(settlement.error()),
            notifications::settled_at.eq(settlement.settled_at().map(seconds)),
        ))
        .execute(connection)?;
    Ok(updated == 1)
}

impl<S: Store> Notifications for SqlRepository<S> {
    fn plan_notifications(
        &self,
        plan: Option<Plan>,
        now: DateTime<Utc>,
    ) -> Pending<Planned, Infallible> {
        self.store.write(move |connection| Ok(self::plan(connection, plan.as_ref(), now)?))
    }

    fn notifications(
        &self,
        state: Option<NotificationState>,
        most: usize,
    ) -> Result<Vec<Notification>, StorageError> {
        self.store.read(|connection| {
            let mut query = notifications::table
                .order(notifications::id.desc())
                .limit(i64::try_from(most).unwrap_or(i64::MAX))
                .select(NotificationRow::as_select())
                .into_boxed();
            if let Some(state) = state {
                query = query.filter(notifications::state.eq(state.as_str()));
            }
            query
                .load(connection)
                .map_err(storage_error)?
                .into_iter()
                .map(Notification::try_from)
                .collect()
        })
    }

    fn claim_notifications(
        &self,
        request: ClaimRequest,
    ) -> Pending<Vec<ClaimedNotification>, Infallible> {
        self.store.write(move |connection| Ok(claim(connection, request)?))
    }

    fn settle_notification(
        &self,
        settlement: Settlement<NotificationId>,
    ) -> Pending<bool, Infallible> {
        self.store.write(move |connection| Ok(settle(connection, &settlement)?))
    }
}
