//! Hearing other servers' changes: a dedicated connection LISTENs on the shared channel and
//! hands each change from another origin to the caller, in the order PostgreSQL delivers them
//! (each server's in the order its writes handed them over). A lost connection is reopened;
//! since changes may have been missed meanwhile, the caller is then told that anything may
//! have changed.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use diesel::{pg::PgConnection, prelude::*};

use super::channel;
use booking_core::change::Change;

/// How often the connection is checked for notifications that have arrived. Checking reads
/// what the socket holds and asks the database nothing.
const POLL: Duration = Duration::from_millis(10);
/// How often the connection is probed with a query, so a silently dead one is noticed.
const PROBE: Duration = Duration::from_secs(5);
/// How long to wait before connecting again after a failure; doubled after each failure in a
/// row, up to `RECONNECT_MAX`.
const RECONNECT: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(8);

/// Listening goes on until this is dropped.
#[derive(Debug)]
pub struct Listening {
    stop: Arc<AtomicBool>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts a thread that calls `deliver` with every change committed by other origins than
/// `own`. It stops when the returned guard is dropped or `deliver` returns false.
pub(super) fn spawn(
    url: String,
    channel: String,
    own: String,
    mut deliver: impl FnMut(Change) -> bool + Send + 'static,
) -> std::io::Result<Listening> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    thread::Builder::new().name("booking-listen".into()).spawn(move || {
        let (mut reconnected, mut wait) = (false, RECONNECT);
        while !stopped.load(Ordering::Relaxed) {
            match connect(&url, &channel) {
                Ok(mut connection) => {
                    if reconnected && !deliver(Change::Everything) {
                        return;
                    }
                    (reconnected, wait) = (true, RECONNECT);
                    match relay(&mut connection, &own, &stopped, &mut deliver) {
                        Relay::Stopped => return,
                        Relay::Lost(error) => {
                            tracing::warn!(%error, "lost the notification connection; reconnecting");
                        }
                    }
                }
                Err(error) => {
                    reconnected = true;
                    tracing::warn!(%error, "cannot listen for other servers' changes; retrying");
                }
            }
            thread::sleep(wait);
            wait = (wait * 2).min(RECONNECT_MAX);
        }
    })?;
    Ok(Listening { stop })
}

fn connect(url: &str, channel: &str) -> QueryResult<PgConnection> {
    let mut connection = PgConnection::establish(url)
        .map_err(|error| diesel::result::Error::QueryBuilderError(error.into()))?;
    diesel::sql_query(format!("LISTEN \"{}\"", channel.replace('"', "\"\"")))
        .execute(&mut connection)?;
    Ok(connection)
}

enum Relay {
    Stopped,
    Lost(diesel::result::Error),
}

fn relay(
    connection: &mut PgConnection,
    own: &str,
    stop: &AtomicBool,
    deliver: &mut impl FnMut(Change) -> bool,
) -> Relay {
    let mut probed = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Relay::Stopped;
        }
        for notification in connection.notifications_iter() {
            let notification = match notification {
                Ok(notification) => notification,
                Err(error) => return Relay::Lost(error),
            };
            match channel::decode(&notification.payload) {
                Some((origin, _)) if origin == own => {}
                Some((_, change)) => {
                    if !deliver(change) {
                        return Relay::Stopped;
                    }
                }
                None => tracing::warn!("ignored a notification that is not an announcement"),
            }
        }
        if probed.elapsed() >= PROBE {
            if let Err(error) = diesel::sql_query("SELECT 1").execute(connection) {
                return Relay::Lost(error);
            }
            probed = Instant::now();
        }
        thread::sleep(POLL);
    }
}
