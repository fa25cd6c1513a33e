//! What SQLite needs, or does not need, beyond the shared SQL.
//!
//! Every SQLite write runs in a transaction that took the database's only write lock up front
//! (`BEGIN IMMEDIATE`), so no other writer, in this process or another, runs beside it: the
//! locks PostgreSQL needs are already held, whole. Other servers cannot share an SQLite
//! file over a network, so there is no one to announce changes to beyond this process.

use diesel::QueryResult;

use crate::sql::{AnyConnection, Dialect};

/// SQLite's statements and locks.
pub(crate) const DIALECT: Dialect = Dialect {
    text_position: TEXT_POSITION,
    forget_keys: FORGET_KEYS,
    forget_holds: FORGET_HOLDS,
    forget_deliveries: FORGET_DELIVERIES,
    due_deliveries: DUE_DELIVERIES,
    skip_moot_reminders: SKIP_MOOT_REMINDERS,
    due_notifications: DUE_NOTIFICATIONS,
    forget_notifications: FORGET_NOTIFICATIONS,
    lock_key: nothing_to_lock_for,
    lock_notifications: nothing_to_lock,
    lock_closures: nothing_to_lock,
    lock_calendar: nothing_to_lock,
};

/// SQLite's name for the position of a substring (1-based, 0 when absent).
const TEXT_POSITION: &str = "instr";

/// Deletes a batch of idempotency records made at or before `?1`, at most `?2`, oldest first
/// (the writer runs one write at a time: nothing is locked by another).
const FORGET_KEYS: &str = "DELETE FROM idempotency_records WHERE key IN (\
     SELECT key FROM idempotency_records WHERE created_at <= ? \
     ORDER BY created_at LIMIT ?)";

/// Deletes a batch of holds that ended at or before `?1`, at most `?2`, first ended first.
const FORGET_HOLDS: &str = "DELETE FROM holds WHERE token IN (\
     SELECT token FROM holds WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)";

/// Deletes a batch of webhook deliveries delivered or failed at or before `?1`, at most `?2`,
/// first settled first.
const FORGET_DELIVERIES: &str = "DELETE FROM webhook_deliveries WHERE id IN (\
     SELECT id FROM webhook_deliveries WHERE settled_at <= ? ORDER BY settled_at LIMIT ?)";

/// The ids of due deliveries, at most `?2`: each endpoint's oldest pending delivery, if it is
/// due by `?1` and no worker's lease on it runs past `?1`; soonest due first. (The writer runs
/// one write at a time: no other claim is in flight.)
const DUE_DELIVERIES: &str = "SELECT d.id FROM webhook_deliveries d \
     WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 \
     AND (d.leased_until IS NULL OR d.leased_until <= ?1) \
     AND d.id = (SELECT min(h.id) FROM webhook_deliveries h \
                 WHERE h.endpoint_id = d.endpoint_id AND h.state = 'pending') \
     ORDER BY d.next_attempt_at, d.id LIMIT ?2";

/// Settles as skipped, at `?1` with `?2` as the reason, the reminders due by then (not leased,
/// and whatever their next attempt) whose appointment has started by `?1`, or changed since they were queued.
const SKIP_MOOT_REMINDERS: &str = "UPDATE notifications \
     SET state = 'skipped', next_attempt_at = NULL, leased_until = NULL, last_error = ?2, \
     settled_at = ?1 \
     WHERE kind = 'reminder' AND state = 'pending' AND due_at <= ?1 \
     AND (leased_until IS NULL OR leased_until <= ?1) \
     AND (EXISTS (SELECT 1 FROM appointment_history h \
                  WHERE h.id = notifications.entry_id AND h.start_at <= ?1) \
          OR EXISTS (SELECT 1 FROM appointment_history l \
                     WHERE l.appointment_id = notifications.appointment_id \
                     AND l.id > notifications.entry_id))";

/// The ids of due notifications, at most `?2`: those due by `?1` and leased by nobody past it,
/// each the oldest of its appointment's notifications due by then that are pending; soonest
/// due first.
const DUE_NOTIFICATIONS: &str = "SELECT d.id FROM notifications d \
     WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 \
     AND (d.leased_until IS NULL OR d.leased_until <= ?1) \
     AND NOT EXISTS (SELECT 1 FROM notifications h \
                     WHERE h.appointment_id = d.appointment_id AND h.state = 'pending' \
                     AND h.due_at <= ?1 AND h.id < d.id) \
     ORDER BY d.next_attempt_at, d.id LIMIT ?2";

/// Forgets at most `?2` notifications settled at or before `?1`, first settled first.
const FORGET_NOTIFICATIONS: &str = "DELETE FROM notifications WHERE id IN (\
     SELECT id FROM notifications WHERE settled_at <= ?1 ORDER BY settled_at LIMIT ?2)";

/// The writer's transaction holds the database's one write lock already.
fn nothing_to_lock_for(_: &mut AnyConnection, _key: &str) -> QueryResult<()> {
    Ok(())
}

/// The writer's transaction holds the database's one write lock already.
fn nothing_to_lock(_: &mut AnyConnection) -> QueryResult<()> {
    Ok(())
}
