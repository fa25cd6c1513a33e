//! The writer: one thread owns the SQLite write connection, and every write of this process goes
//! through it.
//!
//! Writes arrive on a bounded queue, each with a deadline (the busy timeout, from the moment it
//! was queued). The writer waits for the first, opens `BEGIN IMMEDIATE` (waiting at most until
//! that deadline for another process's lock), then runs it and whatever else has queued meanwhile
//! (up to [`MAX_BATCH`]), each in a savepoint of its own, and commits once: one fsync for the
//! batch. Only then is each write answered. A lone write commits at once; nothing polls or
//! sleeps.
//!
//! - A write taken after its deadline is answered "unavailable" and never applied.
//! - A write that is refused, or that panics, rolls back its own savepoint; the others go on.
//! - A write that fails in the database ends the batch early (SQLite may have rolled the whole
//!   transaction back); the writes before it are committed or failed together, those after it
//!   run in the next batch.
//! - A failed `COMMIT` answers every write of the batch: those that wrote, "outcome unknown"
//!   (retry with the same idempotency key); those refused, "unavailable" (nothing was written).
//!   No write is ever answered as done unless the transaction holding it committed.
//!
//! Every [`WRITES_PER_CHECKPOINT`] writes, once their batch is answered, the writer copies the
//! WAL back into the database file, so the WAL stays small.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::mpsc::{self, Receiver, SyncSender, TrySendError},
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use booking_core::{
    pending::{Pending, Promise, promise},
    storage::{StorageError, StorageErrorKind, WriteError},
};
use diesel::{
    QueryResult, QueryableByName, RunQueryDsl, connection::SimpleConnection,
    sqlite::SqliteConnection,
};

use crate::sql::AnyConnection;

use super::checkpoint::Checkpointer;
use super::statements::{
    BeginImmediate, Commit, OpenSavepoint, ReleaseSavepoint, RollBackToSavepoint, Rollback,
};
use crate::sql::{TxError, storage_error};

/// Writes that may wait in the queue; past this the writer is far behind, and a new write is
/// answered "unavailable" at once instead of waiting.
pub(super) const QUEUE: usize = 1024;
/// Writes that share one transaction at most.
pub(super) const MAX_BATCH: usize = 256;
/// Writes between the writer's own checkpoints: about the 1000 pages SQLite would let the WAL
/// reach before it checkpoints, at four or five pages a booking (its row and index entries,
/// its slots' counts, its history entry).
pub(super) const WRITES_PER_CHECKPOINT: usize = 250;
/// Writes between nudges to the checkpointer, which copies most pages before the writer's own
/// checkpoint comes.
const WRITES_PER_NUDGE: usize = 100;

/// Opens (or reopens) the write connection.
pub(super) type Connect = Box<dyn Fn() -> QueryResult<SqliteConnection> + Send>;

/// The handle writes are submitted through; dropping it lets the writer finish what is queued
/// and stop.
pub(super) struct Writer {
    queue: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// How long a write may wait, in the queue and for another process's lock.
    patience: Duration,
}

struct Job {
    deadline: Instant,
    span: tracing::Span,
    member: Box<dyn Member>,
}

/// A write waiting to run, with the promise of its answer.
trait Member: Send {
    /// Runs it in a savepoint of the open transaction.
    fn run(self: Box<Self>, connection: &mut AnyConnection) -> Outcome;
    /// Answers it without running it: it is never applied.
    fn refuse(self: Box<Self>, error: StorageError);
}

/// How a write went in its savepoint.
enum Outcome {
    /// It wrote; answer it once the transaction has ended.
    Wrote(Box<dyn Answer>),
    /// It was refused (its savepoint rolled back); answer it once the transaction has ended,
    /// since the refusal may rest on a neighbour's uncommitted write.
    Refused(Box<dyn Answer>),
    /// The database failed under it, and it has been answered; end the batch here.
    Failed,
    /// It panicked, its savepoint rolled back, and it has been answered.
    Panicked,
    /// Its savepoint could not be rolled back: the transaction is in an unknown state.
    Broken,
}

/// An answer held back until the transaction ends.
trait Answer: Send {
    /// The transaction committed.
    fn committed(self: Box<Self>);
    /// It did not; `error` says what that means for this write.
    fn lost(self: Box<Self>, error: StorageError);
}

struct Write<T, R, F> {
    work: F,
    promise: Promise<T, R>,
}

struct Held<T, R> {
    answer: Result<T, WriteError<R>>,
    promise: Promise<T, R>,
}

impl<T: Send, R: Send> Answer for Held<T, R> {
    fn committed(self: Box<Self>) {
        self.promise.keep(self.answer);
    }

    fn lost(self: Box<Self>, error: StorageError) {
        self.promise.keep(Err(WriteError::Storage(error)));
    }
}

impl<T, R, F> Member for Write<T, R, F>
where
    T: Send + 'static,
    R: Send + 'static,
    F: FnOnce(&mut AnyConnection) -> Result<T, TxError<R>> + Send,
{
    fn run(self: Box<Self>, connection: &mut AnyConnection) -> Outcome {
        let Write { work, promise } = *self;
        if let Err(error) = sqlite(connection, OpenSavepoint) {
            promise.keep(Err(WriteError::Storage(storage_error(error))));
            return Outcome::Failed;
        }
        match catch_unwind(AssertUnwindSafe(|| work(connection))) {
            Ok(Ok(value)) => match sqlite(connection, ReleaseSavepoint) {
                Ok(_) => Outcome::Wrote(Box::new(Held { answer: Ok(value), promise })),
                Err(error) => {
                    // Still open, the savepoint would commit with the batch: undo it.
                    let rolled_back = roll_back(connection);
                    promise.keep(Err(WriteError::Storage(storage_error(error))));
                    if rolled_back { Outcome::Failed } else { Outcome::Broken }
                }
            },
            Ok(Err(error)) => {
                let rolled_back = roll_back(connection);
                let answer = match error {
                    TxError(WriteError::Storage(error)) => {
                        promise.keep(Err(WriteError::Storage(error)));
                        return if rolled_back { Outcome::Failed } else { Outcome::Broken };
                    }
                    TxError(refused) => Err(refused),
                };
                if rolled_back {
                    Outcome::Refused(Box::new(Held { answer, promise }))
                } else {
                    promise.keep(Err(WriteError::Storage(StorageError::unavailable(
                        "the write could not be rolled back; nothing was written",
                    ))));
                    Outcome::Broken
                }
            }
            Err(_panic) => {
                tracing::error!("a write panicked; it alone is rolled back");
                let rolled_back = roll_back(connection);
                promise.keep(Err(WriteError::Storage(StorageError::fault("the write panicked"))));
                if rolled_back { Outcome::Panicked } else { Outcome::Broken }
            }
        }
    }

    fn refuse(self: Box<Self>, error: StorageError) {
        self.promise.keep(Err(WriteError::Storage(error)));
    }
}

/// Undoes a write's savepoint and closes it; false if it could not be undone.
/// Runs one of the fixed statements on SQLite's own connection (built once, then only run:
/// the shared SQL's connection would build its text at every call).
fn sqlite<S>(connection: &mut AnyConnection, statement: S) -> QueryResult<usize>
where
    S: diesel::query_dsl::methods::ExecuteDsl<SqliteConnection> + RunQueryDsl<SqliteConnection>,
{
    statement.execute(connection.sqlite()?)
}

fn roll_back(connection: &mut AnyConnection) -> bool {
    sqlite(connection, RollBackToSavepoint).is_ok() && sqlite(connection, ReleaseSavepoint).is_ok()
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("patience", &self.patience).finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts the writer thread on the connection `connect` opens (which must not checkpoint by
    /// itself: see [`Batches::checkpoint`]), with `checkpoints` copying most of the WAL beside
    /// it. A write waits at most `patience` (the busy timeout) to start.
    pub(super) fn start(
        connect: Connect,
        checkpoints: Checkpointer,
        patience: Duration,
    ) -> std::io::Result<Self> {
        let connection = connect().map_err(std::io::Error::other)?;
        let (queue, jobs) = mpsc::sync_channel(QUEUE);
        let thread = thread::Builder::new().name("booking-writer".into()).spawn(move || {
            Batches {
                connection: connection.into(),
                broken: false,
                connect,
                busy: patience,
                default_busy: patience,
                checkpoints,
                since_checkpoint: 0,
            }
            .run(&jobs)
        })?;
        Ok(Self { queue: Some(queue), thread: Some(thread), patience })
    }

    /// Queues `work`; its answer comes once the transaction holding it has ended.
    pub(super) fn submit<T, R>(
        &self,
        work: impl FnOnce(&mut AnyConnection) -> Result<T, TxError<R>> + Send + 'static,
    ) -> Pending<T, R>
    where
        T: Send + 'static,
        R: Send + 'static,
    {
        let (promise, pending) = promise();
        let job = Job {
            deadline: Instant::now() + self.patience,
            span: tracing::Span::current(),
            member: Box::new(Write { work, promise }),
        };
        let Some(queue) = &self.queue else {
            job.member.refuse(StorageError::unavailable("the writer has stopped"));
            return pending;
        };
        match queue.try_send(job) {
            // The writer decrements the gauge as it takes each write; increments and
            // decrements commute, so it ends right whatever order they land in.
            Ok(()) => metrics::gauge!("booking_store_write_queue_depth").increment(1.0),
            Err(TrySendError::Full(job)) => job.member.refuse(StorageError::unavailable(
                "too many writes are waiting; nothing was written",
            )),
            Err(TrySendError::Disconnected(job)) => {
                job.member.refuse(StorageError::unavailable("the writer has stopped"))
            }
        }
        pending
    }
}

impl Writer {
    /// Whether the writer thread still takes writes (it stops only if it panicked).
    pub(super) fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|thread| !thread.is_finished())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued, then stop.
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _panicked = thread.join();
        }
    }
}

/// The writer thread's state.
struct Batches {
    connection: AnyConnection,
    /// Whether the connection may hold a transaction it could not end; a fresh one replaces it
    /// before the next batch.
    broken: bool,
    connect: Connect,
    /// The busy timeout the connection has now, and the configured one.
    busy: Duration,
    default_busy: Duration,
    checkpoints: Checkpointer,
    /// Writes committed since the writer's last complete checkpoint.
    since_checkpoint: usize,
}

/// A write of the batch that ran, and whether it wrote (else it was refused).
type Ran = (bool, Box<dyn Answer>);

impl Batches {
    fn run(mut self, jobs: &Receiver<Job>) {
        while let Ok(first) = self.took(jobs.recv()) {
            self.batch(first, jobs);
        }
    }

    /// `received`, counted off the queue-depth gauge.
    fn took<E>(&self, received: Result<Job, E>) -> Result<Job, E> {
        if received.is_ok() {
            metrics::gauge!("booking_store_write_queue_depth").decrement(1.0);
        }
        received
    }

    /// Runs one transaction: `first` and whatever queues behind it.
    fn batch(&mut self, first: Job, jobs: &Receiver<Job>) {
        if self.broken && !self.reopen() {
            first.member.refuse(StorageError::unavailable(
                "the database cannot be opened for writing; nothing was written",
            ));
            return;
        }
        if let Err(error) = self.begin(first.deadline) {
            // Another process holds the lock past the first write's deadline; writes queued
            // behind it with time left try again.
            first.member.refuse(error);
            return;
        }
        let mut answers: Vec<Ran> = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            if Instant::now() > job.deadline {
                job.member.refuse(StorageError::unavailable(
                    "the write waited too long for the database; nothing was written",
                ));
            } else {
                match job.span.in_scope(|| job.member.run(&mut self.connection)) {
                    Outcome::Wrote(answer) => answers.push((true, answer)),
                    Outcome::Refused(answer) => answers.push((false, answer)),
                    Outcome::Panicked => {}
                    Outcome::Failed => break,
                    Outcome::Broken => return self.abandon(answers),
                }
            }
            if answers.len() >= MAX_BATCH {
                break;
            }
            next = self.took(jobs.try_recv()).ok();
        }
        self.commit(answers);
    }

    /// Opens the transaction, waiting for another process's lock no longer than `deadline`.
    fn begin(&mut self, deadline: Instant) -> Result<(), StorageError> {
        let left = deadline.saturating_duration_since(Instant::now()).min(self.default_busy);
        // The connection's busy timeout bounds the wait; it changes only when a write has
        // already waited in the queue.
        if left.as_millis() != self.busy.as_millis() {
            self.connection
                .batch_execute(&format!("PRAGMA busy_timeout = {}", left.as_millis()))
                .map_err(storage_error)?;
            self.busy = left;
        }
        // Fixed statements, not Diesel's transaction manager: whatever a write did with its
        // own transactions, COMMIT below is a COMMIT, never the release of a savepoint.
        sqlite(&mut self.connection, BeginImmediate).map(drop).map_err(|error| {
            let error = storage_error(error);
            match error.kind() {
                StorageErrorKind::Fault => error,
                _ => StorageError::unavailable(
                    "another process held the database's write lock past the write's deadline; nothing was written",
                ),
            }
        })
    }

    fn commit(&mut self, answers: Vec<Ran>) {
        let started = Instant::now();
        match sqlite(&mut self.connection, Commit) {
            Ok(_) => {
                let took = started.elapsed();
                tracing::debug!(
                    writes = answers.len(),
                    commit_us = took.as_micros() as u64,
                    "committed"
                );
                metrics::histogram!("booking_store_commit_seconds").record(took.as_secs_f64());
                metrics::histogram!("booking_store_write_batch_size").record(answers.len() as f64);
                let before = self.since_checkpoint;
                self.since_checkpoint += answers.iter().filter(|(wrote, _)| *wrote).count();
                answers.into_iter().for_each(|(_, answer)| answer.committed());
                if self.since_checkpoint >= WRITES_PER_CHECKPOINT {
                    self.checkpoint();
                } else if self.since_checkpoint / WRITES_PER_NUDGE > before / WRITES_PER_NUDGE {
                    self.checkpoints.nudge();
                }
            }
            Err(error) => {
                tracing::error!(%error, writes = answers.len(), "a commit failed; every write of it is answered as not known to be done");
                // A failed COMMIT can leave the transaction open (and the write lock held).
                let rolled_back = sqlite(&mut self.connection, Rollback).is_ok();
                self.answer_lost(answers, true);
                self.broken = !rolled_back;
                self.reopen();
            }
        }
    }

    /// Copies what is left of the WAL back into the database file. SQLite would do it all inside
    /// the commit that grows the WAL past 1000 pages, before that commit's writes are answered;
    /// here it runs after they are, and the checkpointer has copied most pages already. Run
    /// between transactions by the only writer of the process, it copies everything (unless
    /// another process writes, a reader still needs old pages, or the checkpointer is busy), so
    /// the next transaction starts the WAL over instead of growing it: the checkpointer alone,
    /// beside the writer, never catches up with it. One that could not copy everything is tried
    /// again after the next batch.
    fn checkpoint(&mut self) {
        let started = Instant::now();
        match diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
            .get_result::<Checkpointed>(&mut self.connection)
        {
            Ok(done) if done.busy == 0 && done.checkpointed >= done.log => {
                self.since_checkpoint = 0
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "a checkpoint failed; the next batch tries again");
            }
        }
        let checkpoint_us = started.elapsed().as_micros() as u64;
        tracing::debug!(checkpoint_us, "checkpointed");
    }

    /// Rolls back the whole transaction after a savepoint could not be.
    fn abandon(&mut self, answers: Vec<Ran>) {
        let rolled_back = sqlite(&mut self.connection, Rollback).is_ok();
        self.answer_lost(answers, !rolled_back);
        self.broken = true;
        self.reopen();
    }

    /// Answers writes whose transaction did not commit. When it is unknown whether it did,
    /// the writes that wrote may have been made.
    fn answer_lost(&self, answers: Vec<Ran>, unknown: bool) {
        for (wrote, answer) in answers {
            answer.lost(if wrote && unknown {
                StorageError::outcome_unknown(
                    "the database could not commit; the write may or may not have been made",
                )
            } else {
                StorageError::unavailable("the transaction was rolled back; nothing was written")
            });
        }
    }

    /// Replaces a connection that may hold a transaction it could not end (closing it rolls
    /// back whatever it still held); true once the connection is fresh. One that cannot be
    /// opened is tried again before the next batch, which is refused until then.
    fn reopen(&mut self) -> bool {
        if !self.broken {
            return true;
        }
        match (self.connect)() {
            Ok(connection) => {
                self.connection = connection.into();
                self.busy = self.default_busy;
                self.broken = false;
                true
            }
            Err(error) => {
                tracing::error!(%error, "cannot reopen the write connection; writes wait for it");
                false
            }
        }
    }
}

/// What `PRAGMA wal_checkpoint` reports.
#[derive(QueryableByName)]
struct Checkpointed {
    /// 1 when another checkpoint (another process's, or the checkpointer's) kept this one from
    /// running.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
    /// Frames in the WAL.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
    /// Frames of it now copied into the database.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    checkpointed: i32,
}
