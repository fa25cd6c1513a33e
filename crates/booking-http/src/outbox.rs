//! What the outbox's two workers share (webhook deliveries and notifications): when they look
//! for due work, how long a claim is theirs, and when a failed attempt is tried again.
//!
//! Each worker looks every second, and soon after a write on this server queues something (at
//! most ten times a second); it claims a batch (leased to this server, so no other makes the
//! same attempt), makes the attempts side by side, and settles each one.

use std::{future::Future, sync::Arc, time::Duration};

use booking_core::{
    change::{Change, Feed},
    event::Event,
    webhook::RetrySchedule,
};
use tokio::sync::Notify;

use crate::limits::random_below;

/// How long a claim stays this worker's: longer than an attempt can take, so the work is
/// attempted by another server only when this one stopped mid-attempt.
pub const LEASE: Duration = Duration::from_secs(120);

/// How often a worker looks for due work without being woken (retries, reminders, and what
/// other servers queued).
const POLL: Duration = Duration::from_secs(1);

/// The least time between two rounds of claims.
const MIN_GAP: Duration = Duration::from_millis(100);

/// The longest error kept for a failed attempt, in characters.
const MAX_ERROR_CHARS: usize = 300;

/// Wakes the workers for every appointment event committed on this server, after passing the
/// write on to the feed it wraps.
#[derive(Debug)]
pub struct Nudging<F> {
    /// The feed that gets every write.
    pub feed: F,
    /// The workers to wake.
    pub workers: Vec<Arc<Notify>>,
}

impl<F: Feed> Feed for Nudging<F> {
    fn committed(&self, change: &Change, event: Option<&Event>) {
        self.feed.committed(change, event);
        if event.is_some_and(|event| event.entry().is_some()) {
            for worker in &self.workers {
                worker.notify_one();
            }
        }
    }
}

/// Runs `round` (which claims at most `batch` and answers how many it claimed) whenever `wake`
/// is notified or a second has passed; again at once while rounds come back full.
pub fn run<R, F>(wake: Arc<Notify>, batch: usize, round: R)
where
    R: Fn() -> F + 'static,
    F: Future<Output = usize>,
{
    actix_web::rt::spawn(async move {
        loop {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            while round().await == batch {}
            // A round is a write transaction: however many writes wake the worker, it makes at
            // most ten rounds a second, and bookings under load do not each cost a claim.
            tokio::time::sleep(MIN_GAP).await;
        }
    });
}

/// The lease as the service takes it.
pub fn lease() -> chrono::Duration {
    chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::MAX)
}

/// The delay before retrying after `attempt` failed, give or take a tenth (so retries after an
/// outage spread out); `None` once the schedule has run out.
pub fn retry_delay(schedule: &RetrySchedule, attempt: u32) -> Option<chrono::Duration> {
    let delay = schedule.delay_after(attempt)?;
    let jittered = delay - delay / 10 + random_below(delay / 5);
    Some(chrono::Duration::from_std(jittered).unwrap_or(chrono::Duration::MAX))
}

/// An attempt's error as it is kept: at most 300 characters.
pub fn kept(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

/// `error` in a sentence, with its causes (libraries' own messages alone rarely say what went
/// wrong), after `what`.
pub fn with_causes(what: String, error: &dyn std::error::Error) -> String {
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if causes.is_empty() { what } else { format!("{what}: {}", causes.join(": ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_keep_to_the_schedule_give_or_take_a_tenth() {
        let schedule = RetrySchedule::default();
        for _ in 0..100 {
            let first = retry_delay(&schedule, 1).map(|d| d.num_milliseconds());
            assert!(first.is_some_and(|ms| (4_500..=5_500).contains(&ms)), "{first:?}");
        }
        let last = retry_delay(&schedule, 15).map(|d| d.num_seconds());
        assert!(last.is_some_and(|s| (25_920..=31_680).contains(&s)), "{last:?}");
        assert_eq!(retry_delay(&schedule, 16), None);
    }

    #[test]
    fn errors_are_kept_short() {
        assert_eq!(kept(&"é".repeat(400)).chars().count(), 300);
    }
}
