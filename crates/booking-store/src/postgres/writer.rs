//! The writers: every client write of this server (bookings, cancels, moves, holds and their
//! releases) goes through a few threads that each own a PostgreSQL connection, and that send
//! what has queued as batches, one call of one function per kind of write (`batch`).
//!
//! Writes arrive on one bounded queue, each with a deadline (the connection timeout, from the
//! moment it was queued). A writer waits for the first, takes whatever else has queued meanwhile
//! (up to [`MAX_BATCH`]), and runs each kind's writes as one statement: one round trip and one
//! commit for the batch, however many writes it holds. While one writer waits for its commit,
//! another takes the next writes. Nothing polls or sleeps.
//!
//! - A write taken after its deadline is answered "unavailable" and never sent.
//! - A write the function answers `again` (it touches what an earlier write of its batch
//!   touches) goes in the writer's next batch, before anything newer.
//! - A batch PostgreSQL aborted to break a deadlock runs again, whole, a few times.
//! - A batch that failed for a fault of one of its writes (a row the database refuses) runs
//!   again one write at a time, so that only the faulty write fails.
//! - A batch whose connection was lost answers each write "unavailable", and the other servers
//!   are told to reload (the commit may have happened); the next batch has a new connection.
//! - A write is answered as done only once the statement holding it has returned, committed.

use std::{
    sync::{
        Arc, Mutex, PoisonError, TryLockError,
        atomic::{AtomicU64, Ordering},
        mpsc::{self, Receiver, SyncSender, TrySendError},
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use booking_core::{
    change::Change,
    pending::{Pending, Promise, promise},
    storage::{StorageError, StorageErrorKind, WriteError},
};

use super::{
    ATTEMPTS, PgPool,
    announce::Announcer,
    batch::{Kind, Verdict, by_write},
    book::Books,
    cancel::Cancels,
    drop_if_lost,
    finds::Finds,
    holds::{Holds, Releases},
    moves::Moves,
};
use crate::sql::{Announced, is_closed, is_conflict, storage_error};

/// Writes that may wait in the queue; past this the writers are far behind, and a new write is
/// answered "unavailable" at once instead of waiting.
pub(super) const QUEUE: usize = 1024;
/// Writes that one writer takes at once at most.
pub(super) const MAX_BATCH: usize = 256;

/// The handle writes are submitted through; dropping it lets the writers finish what is queued
/// and stop.
pub(super) struct Writer {
    queue: Option<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
    /// How long a write may wait for a writer.
    patience: Duration,
    /// The gauge of requests waiting in the queue.
    depth: &'static str,
    /// Batches run again after PostgreSQL aborted them to break a deadlock (read by tests).
    #[cfg(test)]
    retries: Arc<AtomicU64>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("threads", &self.threads.len())
            .field("patience", &self.patience)
            .finish_non_exhaustive()
    }
}

/// A write waiting for a batch, with the promise of its answer.
pub(super) struct Queued<K: Kind> {
    write: K::Write,
    promise: Promise<K::Output, K::Refusal>,
    deadline: Instant,
    span: tracing::Span,
}

/// A kind of write the writers take, and its place in a [`Job`].
pub(super) trait Queue: Kind + Sized {
    fn job(queued: Queued<Self>) -> Job;
}

/// Declares the kinds of write the writers take: the [`Job`] holding one write of any of them,
/// and the [`Gathered`] writes of one round, by kind.
macro_rules! kinds {
    ($($kind:ident => $field:ident),* $(,)?) => {
        /// One queued write, of any kind.
        pub(super) enum Job {
            $($kind(Queued<$kind>),)*
        }

        impl Job {
            /// Answers the write without running it: it is never applied.
            fn refuse(self, why: &'static str) {
                match self {
                    $(Job::$kind(queued) => queued.promise.keep(Err(WriteError::Storage(
                        StorageError::unavailable(why),
                    ))),)*
                }
            }
        }

        $(impl Queue for $kind {
            fn job(queued: Queued<Self>) -> Job {
                Job::$kind(queued)
            }
        })*

        /// The writes of one round, by kind, each kind in the order its writes came.
        #[derive(Default)]
        struct Gathered {
            $($field: Vec<Queued<$kind>>,)*
        }

        impl Gathered {
            fn push(&mut self, job: Job) {
                match job {
                    $(Job::$kind(queued) => self.$field.push(queued),)*
                }
            }

            fn len(&self) -> usize {
                0 $(+ self.$field.len())*
            }

            /// Runs each kind's writes as one batch; answers the writes to try again.
            fn run(self, writer: &Batches) -> Gathered {
                Gathered { $($field: writer.run(self.$field),)* }
            }
        }
    };
}

kinds!(
    Books => books,
    Cancels => cancels,
    Moves => moves,
    Holds => holds,
    Releases => releases,
    Finds => finds,
);

impl Writer {
    /// Starts `threads` threads named `name-N` on connections from `pool` (which should have as
    /// many), that announce what they commit through `announcer`. A request waits at most
    /// `patience` to be taken; the gauge `depth` counts those waiting.
    pub(super) fn start(
        name: &str,
        depth: &'static str,
        pool: PgPool,
        announcer: Announcer,
        patience: Duration,
        threads: usize,
    ) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::sync_channel(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        let retries = Arc::new(AtomicU64::new(0));
        let threads = (0..threads.max(1))
            .map(|n| {
                let batches = Batches {
                    pool: pool.clone(),
                    announcer: announcer.clone(),
                    depth,
                    retries: retries.clone(),
                };
                let jobs = jobs.clone();
                thread::Builder::new()
                    .name(format!("{name}-{n}"))
                    .spawn(move || batches.serve(&jobs))
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Self {
            queue: Some(queue),
            threads,
            patience,
            depth,
            #[cfg(test)]
            retries,
        })
    }

    /// How many batches were run again after PostgreSQL aborted them to break a deadlock.
    #[cfg(test)]
    pub(super) fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Whether writes can be taken: a writer is running.
    pub(super) fn ready(&self) -> Result<(), StorageError> {
        if self.threads.iter().all(JoinHandle::is_finished) {
            return Err(StorageError::fault("the writer threads have stopped; restart the server"));
        }
        Ok(())
    }

    /// Queues `write`; its answer comes once the statement holding it has returned.
    pub(super) fn submit<K: Queue>(&self, write: K::Write) -> Pending<K::Output, K::Refusal> {
        let (promise, pending) = promise();
        let queued = Queued {
            write,
            promise,
            deadline: Instant::now() + self.patience,
            span: tracing::Span::current(),
        };
        let Some(queue) = &self.queue else {
            K::job(queued).refuse("the writers have stopped");
            return pending;
        };
        match queue.try_send(K::job(queued)) {
            // A writer decrements the gauge as it takes each write; increments and decrements
            // commute, so it ends right whatever order they land in.
            Ok(()) => metrics::gauge!(self.depth).increment(1.0),
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                let why = if self.threads.iter().all(JoinHandle::is_finished) {
                    "the writers have stopped"
                } else {
                    "too many writes are waiting; nothing was written"
                };
                job.refuse(why);
            }
        }
        pending
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends each writer once what was queued has been answered.
        self.queue = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One writer's side: where it gets connections and tells other servers what it committed.
struct Batches {
    pool: PgPool,
    announcer: Announcer,
    depth: &'static str,
    retries: Arc<AtomicU64>,
}

impl Batches {
    /// Takes writes until the queue is closed and empty.
    fn serve(self, jobs: &Mutex<Receiver<Job>>) {
        let mut again = Gathered::default();
        loop {
            let mut round = std::mem::take(&mut again);
            // Whoever holds the receiver is the next to take writes; the other writers run
            // their batches meanwhile, or wait their turn. A writer with writes to try again
            // never waits for it: the writer holding it may be waiting for new writes, while
            // the clients of these wait for their answers.
            let taken = if round.len() == 0 {
                let jobs = jobs.lock().unwrap_or_else(PoisonError::into_inner);
                match jobs.recv() {
                    Ok(job) => {
                        metrics::gauge!(self.depth).decrement(1.0);
                        round.push(job);
                        self.take(&jobs, MAX_BATCH - 1)
                    }
                    Err(mpsc::RecvError) => return,
                }
            } else {
                match jobs.try_lock() {
                    Ok(jobs) => self.take(&jobs, MAX_BATCH.saturating_sub(round.len())),
                    Err(TryLockError::Poisoned(jobs)) => {
                        self.take(&jobs.into_inner(), MAX_BATCH.saturating_sub(round.len()))
                    }
                    Err(TryLockError::WouldBlock) => Vec::new(),
                }
            };
            for job in taken {
                round.push(job);
            }
            again = round.run(&self);
        }
    }

    /// Up to `most` writes that have queued, without waiting; each leaves the queue's gauge.
    fn take(&self, jobs: &Receiver<Job>, most: usize) -> Vec<Job> {
        let taken: Vec<Job> = jobs.try_iter().take(most).collect();
        metrics::gauge!(self.depth).decrement(taken.len() as f64);
        taken
    }

    /// Runs `writes` (of one kind) as a batch, and answers each; answers those to try again.
    fn run<K: Kind>(&self, writes: Vec<Queued<K>>) -> Vec<Queued<K>> {
        if writes.is_empty() {
            return writes;
        }
        let now = Instant::now();
        let mut due = Vec::with_capacity(writes.len());
        for queued in writes {
            if queued.deadline <= now {
                queued.promise.keep(Err(WriteError::Storage(StorageError::unavailable(
                    "the write waited too long for the database; nothing was written",
                ))));
            } else if let Some(answer) = K::settled(&queued.write) {
                queued.promise.keep(answer);
            } else {
                due.push(queued);
            }
        }
        if due.is_empty() {
            return due;
        }
        metrics::histogram!("booking_store_write_batch_size", "kind" => K::FUNCTION)
            .record(due.len() as f64);
        let mut attempt = 1;
        loop {
            match self.call(&due) {
                Ok(answers) => return self.answer(due, answers),
                Err(error) if is_conflict(&error) && attempt < ATTEMPTS => {
                    tracing::debug!(
                        attempt,
                        function = K::FUNCTION,
                        "batch aborted by a deadlock; retrying"
                    );
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("booking_store_write_retries_total", "kind" => K::FUNCTION)
                        .increment(1);
                    thread::sleep(Duration::from_millis(5 * u64::from(attempt)));
                    attempt += 1;
                }
                Err(error) if error.kind() == StorageErrorKind::Fault && due.len() > 1 => {
                    // One write may be at fault: each runs alone, and only it fails.
                    tracing::warn!(error = %error_chain(&error), function = K::FUNCTION, writes = due.len(), "batch failed; running its writes one at a time");
                    return due.into_iter().flat_map(|queued| self.run(vec![queued])).collect();
                }
                Err(error) => {
                    if is_closed(&error) {
                        // The connection was lost with the statement in flight: whether or not
                        // it committed, listeners reload.
                        self.announcer.announce(&Change::Everything);
                    }
                    for queued in due {
                        let _entered = queued.span.enter();
                        queued.promise.keep(Err(WriteError::Storage(like(&error))));
                    }
                    return Vec::new();
                }
            }
        }
    }

    /// One call of the kind's function for `due`, on a pooled connection (dropped after, if
    /// it was lost).
    fn call<K: Kind>(&self, due: &[Queued<K>]) -> Result<Vec<super::batch::Answer>, StorageError> {
        let mut session = crate::checkout(&self.pool)?;
        let writes: Vec<&K::Write> = due.iter().map(|queued| &queued.write).collect();
        let answers = K::call(&mut session, &writes).map_err(storage_error);
        if let Err(error) = &answers {
            drop_if_lost(&mut session, error);
        }
        answers
    }

    /// Answers each write of a committed batch; answers the writes to try again.
    fn answer<K: Kind>(
        &self,
        due: Vec<Queued<K>>,
        answers: Vec<super::batch::Answer>,
    ) -> Vec<Queued<K>> {
        let answers = match by_write(answers, due.len(), K::FUNCTION) {
            Ok(answers) => answers,
            Err(fault) => {
                // Committed, but not understood: listeners reload, and each write is a fault.
                self.announcer.announce(&Change::Everything);
                for queued in due {
                    queued.promise.keep(Err(WriteError::Storage(like(&fault))));
                }
                return Vec::new();
            }
        };
        let mut again = Vec::new();
        for (queued, answer) in due.into_iter().zip(answers) {
            match K::verdict(&queued.write, answer) {
                Verdict::Answer(answer) => {
                    if let Ok(done) = &answer
                        && let Some(change) = done.changed()
                    {
                        self.announcer.announce(change);
                    }
                    let _entered = queued.span.enter();
                    queued.promise.keep(answer);
                }
                Verdict::Again => again.push(queued),
            }
        }
        again
    }
}

/// An error of the same kind as `error`, saying what it said, for each write of a batch it
/// failed (the log has the original, with its causes).
fn like(error: &StorageError) -> StorageError {
    let words = error_chain(error);
    match error.kind() {
        StorageErrorKind::Unavailable => StorageError::unavailable(words),
        StorageErrorKind::OutcomeUnknown => StorageError::outcome_unknown(words),
        StorageErrorKind::Fault => StorageError::fault(words),
    }
}

/// `error` and its causes, as one line.
fn error_chain(error: &StorageError) -> String {
    let mut words = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        words.push_str(": ");
        words.push_str(&cause.to_string());
        source = cause.source();
    }
    words
}
