//! Telling the other servers what committed writes changed: one thread per repository sends
//! the announcements, on a connection of its own, in batches, in the order writes handed them
//! over. A write hands its announcement over after its commit and goes on.
//!
//! Not inside the write: a transaction that notifies holds PostgreSQL's one notification lock
//! from its commit until the commit is on disk, so writes that notified took turns to commit
//! (about a thousand a second on the project's machine) instead of sharing flushes. What only
//! informs follows the commit. A statement that notifies is a transaction too, whose commit
//! PostgreSQL would flush; the announcing connection commits without waiting for the disk
//! (`synchronous_commit = off`): a notification needs no durability (a listener hears it at
//! commit, and nothing stored depends on it), and so the notification lock is held for a moment
//! only. The thread lets announcements gather for a moment before each batch, so that at a
//! high rate of writes each statement carries many.
//!
//! An announcement names slots, not their counts: a listener reads them afresh, so two
//! servers' announcements may arrive in either order. A batch that cannot be sent (twice) is
//! followed, once sending works again, by "anything may have changed", so listeners reload;
//! only a server stopping between a commit and its announcement leaves other servers' streams
//! stale until they next resync. Neither changes what is stored. A calendar change announced so
//! is followed by the others when they hear it; one that never arrives costs a server one
//! refused write (placed under the replaced calendar, which the database refuses), after which
//! it reads the calendar, and the sweep reads it too.

use std::{
    sync::mpsc::{Receiver, Sender, channel},
    thread,
    time::Duration,
};

use booking_core::change::Change;
use diesel::{
    pg::PgConnection,
    prelude::*,
    sql_types::{Array, Text},
};

use super::{channel as changes, connection::SessionSettings};

/// At most this many announcements go in one statement.
const BATCH: usize = 256;

/// How long the first announcement of a batch waits for others to join it: well under what a
/// person watching a page could notice, and at a thousand writes a second, a few per batch.
const GATHER: Duration = Duration::from_millis(2);

/// Hands announcements to the announcing thread, which stops when this and its clones are
/// dropped.
#[derive(Debug, Clone)]
pub(super) struct Announcer {
    sender: Sender<String>,
}

impl Announcer {
    /// Starts the thread; it connects to `url` when it first has something to send.
    pub(super) fn spawn(url: String, settings: SessionSettings) -> std::io::Result<Self> {
        let (sender, receiver) = channel();
        thread::Builder::new()
            .name("pg-announce".to_owned())
            .spawn(move || run(&url, &settings, &receiver))?;
        Ok(Self { sender })
    }

    /// Announces `change`, which a write has committed.
    pub(super) fn announce(&self, change: &Change) {
        if let Some(payload) = changes::payload(change) {
            // Fails only once the thread has stopped, which it does only when this is dropped.
            let _ = self.sender.send(payload);
        }
    }
}

fn run(url: &str, settings: &SessionSettings, receiver: &Receiver<String>) {
    let mut connection: Option<PgConnection> = None;
    // Whether announcements were lost since the last one sent: the next batch then starts by
    // telling listeners that anything may have changed.
    let mut lost = false;
    while let Ok(first) = receiver.recv() {
        // Asleep, not waiting on the channel: writes handing over announcements meanwhile wake
        // nobody.
        thread::sleep(GATHER);
        let mut batch = vec![first];
        batch.extend(receiver.try_iter().take(BATCH - 1));
        if lost {
            batch.insert(0, changes::payload(&Change::Everything).unwrap_or_default());
        }
        // A connection idle since the last batch may have died: one more try on a new one.
        let sent = (0..2).any(|_| {
            let mut open = match connection.take() {
                Some(open) => open,
                None => match connect(url, settings) {
                    Ok(open) => open,
                    Err(error) => {
                        tracing::warn!(%error, "could not connect to announce committed changes");
                        return false;
                    }
                },
            };
            match send(&mut open, &batch) {
                Ok(()) => {
                    connection = Some(open);
                    true
                }
                Err(error) => {
                    tracing::warn!(%error, "could not announce committed changes");
                    false
                }
            }
        });
        lost = !sent;
        if lost {
            tracing::warn!(
                lost = batch.len(),
                "committed changes not announced; the next announcement asks for a reload"
            );
        }
    }
}

fn connect(url: &str, settings: &SessionSettings) -> Result<PgConnection, String> {
    let mut connection = PgConnection::establish(url).map_err(|error| error.to_string())?;
    settings.apply(&mut connection).map_err(|error| error.to_string())?;
    diesel::sql_query("SET synchronous_commit = off")
        .execute(&mut connection)
        .map_err(|error| error.to_string())?;
    Ok(connection)
}

/// One statement for the batch, delivered as one transaction's notifications, in order.
fn send(connection: &mut PgConnection, batch: &[String]) -> Result<(), String> {
    diesel::sql_query(format!(
        "SELECT pg_notify(current_setting('{}'), current_setting('{}') || payload) \
         FROM unnest($1) WITH ORDINALITY AS batch (payload, n) ORDER BY n",
        changes::CHANNEL_SETTING,
        changes::ORIGIN_SETTING
    ))
    .bind::<Array<Text>, _>(batch)
    .execute(connection)
    .map(drop)
    .map_err(|error| error.to_string())
}
