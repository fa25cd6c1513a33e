//! What PostgreSQL needs beyond the shared SQL: under READ COMMITTED, writers run side by
//! side, so each write locks what its decision rests on before reading it, and every statement
//! after the lock sees what the previous holder committed. Client writes take their locks in
//! the database (the batch functions `writes` calls); the shared SQL's own writes (closures,
//! webhook endpoints, notification plans) take the locks below; the sweeps pass over rows a
//! write in flight has locked.
//!
//! Locks are always taken in one order (idempotency keys and holders, closures, holds,
//! appointments, then slots by resource and time) so that writers never wait on each other in
//! a circle.

use diesel::{prelude::*, sql_types::Text};

use crate::sql::{AnyConnection, Dialect};

/// PostgreSQL's statements and locks.
pub(crate) const DIALECT: Dialect = Dialect {
    text_position: TEXT_POSITION,
    forget_keys: FORGET_KEYS,
    forget_holds: FORGET_HOLDS,
    forget_deliveries: FORGET_DELIVERIES,
    due_deliveries: DUE_DELIVERIES,
    skip_moot_reminders: SKIP_MOOT_REMINDERS,
    due_notifications: DUE_NOTIFICATIONS,
    forget_notifications: FORGET_NOTIFICATIONS,
    lock_key,
    lock_notifications,
    lock_closures,
    lock_calendar,
};

/// PostgreSQL's name for the position of a substring (1-based, 0 when absent).
const TEXT_POSITION: &str = "strpos";

/// Deletes a batch of idempotency records made at or before `$1`, at most `$2`, oldest first;
/// a record whose row a write in flight has locked is passed over (`SKIP LOCKED`), not waited
/// for.
const FORGET_KEYS: &str = "DELETE FROM idempotency_records WHERE key IN (\
     SELECT key FROM idempotency_records WHERE created_at <= $1 \
     ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// Deletes a batch of holds that ended at or before `$1`, at most `$2`, first ended first; a
/// hold whose row a write in flight has locked is passed over. Its slots go by the cascade,
/// after the hold's row, as in `records::delete_hold`, so the two never lock in opposite
/// orders.
const FORGET_HOLDS: &str = "DELETE FROM holds WHERE token IN (\
     SELECT token FROM holds WHERE expires_at <= $1 \
     ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// The advisory-lock namespace of this service (two-key form: namespace, object), apart from
/// the one-key form used for idempotency keys.
pub(super) const LOCK_NAMESPACE: i32 = 0x626b_6e67; // "bkng"
/// The advisory lock guarding closures (see `lock_closures`).
const CLOSURES_LOCK: i32 = 1;
/// The advisory lock guarding the calendar (see `lock_calendar`, and `calendar_changed` in the
/// migration `*_calendar`, which takes it shared).
const CALENDAR_LOCK: i32 = 3;
/// The advisory lock held by the server applying migrations.
pub(super) const MIGRATIONS_LOCK: i32 = 2;

/// Deletes a batch of webhook deliveries delivered or failed at or before `$1`, at most `$2`,
/// first settled first, passing over rows another sweep has locked.
const FORGET_DELIVERIES: &str = "DELETE FROM webhook_deliveries WHERE id IN (\
     SELECT id FROM webhook_deliveries WHERE settled_at <= $1 \
     ORDER BY settled_at LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// The ids of due deliveries, at most `$2`: each endpoint's oldest pending delivery, if it is
/// due by `$1` and no worker's lease on it runs past `$1`; soonest due first. A delivery another
/// server is claiming right now is passed over (`SKIP LOCKED`), and while it is leased the
/// endpoint's next delivery is not its oldest pending one: so no two servers make one attempt,
/// and no endpoint gets two deliveries at once.
const DUE_DELIVERIES: &str = "SELECT d.id FROM webhook_deliveries d \
     WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
     AND (d.leased_until IS NULL OR d.leased_until <= $1) \
     AND d.id = (SELECT min(h.id) FROM webhook_deliveries h \
                 WHERE h.endpoint_id = d.endpoint_id AND h.state = 'pending') \
     ORDER BY d.next_attempt_at, d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED";

/// Settles as skipped, at `$1` with `$2` as the reason, the reminders due by then (not leased,
/// and whatever their next attempt) whose appointment has started by `$1`, or changed since they were queued.
const SKIP_MOOT_REMINDERS: &str = "UPDATE notifications \
     SET state = 'skipped', next_attempt_at = NULL, leased_until = NULL, last_error = $2, \
     settled_at = $1 \
     WHERE kind = 'reminder' AND state = 'pending' AND due_at <= $1 \
     AND (leased_until IS NULL OR leased_until <= $1) \
     AND (EXISTS (SELECT 1 FROM appointment_history h \
                  WHERE h.id = notifications.entry_id AND h.start_at <= $1) \
          OR EXISTS (SELECT 1 FROM appointment_history l \
                     WHERE l.appointment_id = notifications.appointment_id \
                     AND l.id > notifications.entry_id))";

/// The ids of due notifications, at most `$2`: those due by `$1` and leased by nobody past it,
/// each the oldest of its appointment's notifications due by then that are pending; soonest
/// due first. A notification another server is claiming right now is passed over (`SKIP LOCKED`), and while it is leased its appointment's next one waits: no two servers make one attempt, and a client gets an appointment's messages in order.
const DUE_NOTIFICATIONS: &str = "SELECT d.id FROM notifications d \
     WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
     AND (d.leased_until IS NULL OR d.leased_until <= $1) \
     AND NOT EXISTS (SELECT 1 FROM notifications h \
                     WHERE h.appointment_id = d.appointment_id AND h.state = 'pending' \
                     AND h.due_at <= $1 AND h.id < d.id) \
     ORDER BY d.next_attempt_at, d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED";

/// Forgets at most `$2` notifications settled at or before `$1`, first settled first.
const FORGET_NOTIFICATIONS: &str = "DELETE FROM notifications WHERE id IN (\
     SELECT id FROM notifications WHERE settled_at <= $1 ORDER BY settled_at LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// Locks an idempotency key or a holder (by its hash: two keys rarely share one, and then
/// merely take turns) until the transaction ends.
fn lock_key(connection: &mut AnyConnection, key: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(key)
        .execute(connection)
        .map(drop)
}

/// A new notification plan takes this lock: it waits for the writes in flight that queue
/// notifications and holds new ones back until it commits (their trigger takes ROW EXCLUSIVE
/// before it reads the plan). A move or cancel holding its appointment's row while it waits
/// here can deadlock with the plan's reminders for that appointment: PostgreSQL aborts one,
/// and it is tried again, as every write aborted by a deadlock is.
fn lock_notifications(connection: &mut AnyConnection) -> QueryResult<()> {
    diesel::sql_query("LOCK TABLE notifications IN SHARE ROW EXCLUSIVE MODE")
        .execute(connection)
        .map(drop)
}

/// Writes that take places share this lock (`calendar_changed`, which every `gated_*` batch
/// function calls first, takes it shared); a calendar change takes it alone, so it waits for
/// writes in flight and holds new ones back until it commits.
fn lock_calendar(connection: &mut AnyConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind::<diesel::sql_types::Integer, _>(LOCK_NAMESPACE)
        .bind::<diesel::sql_types::Integer, _>(CALENDAR_LOCK)
        .execute(connection)
        .map(drop)
}

/// Writes that read closures share this lock (the batch functions take it, shared, as
/// `pg_advisory_xact_lock_shared(1651207783, 1)`); adding or removing a closure takes it alone,
/// so it waits for writes in flight and holds new ones back until it commits.
fn lock_closures(connection: &mut AnyConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind::<diesel::sql_types::Integer, _>(LOCK_NAMESPACE)
        .bind::<diesel::sql_types::Integer, _>(CLOSURES_LOCK)
        .execute(connection)
        .map(drop)
}
