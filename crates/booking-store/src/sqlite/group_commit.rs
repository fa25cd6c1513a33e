//! Group commit: writers that arrive while another is writing share its transaction, each in a
//! savepoint of its own, and one commit (one fsync) acknowledges them all.
//!
//! Every writer runs its own work on its own thread, on the one write connection, under a
//! mutex; nothing crosses threads but the connection. A writer that finds others queued behind
//! it leaves the transaction open for them and waits for the commit; the last of a burst (or the
//! 64th) commits and wakes them. A lone writer commits at once, so a quiet server adds no
//! latency. No writer answers before the transaction holding its work has committed: a refusal
//! may rest on a neighbour's uncommitted write, so it too waits for the commit, and becomes a
//! storage failure if the commit fails.

use std::{
    collections::BTreeSet,
    sync::{
        Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use booking_core::repository::{StorageError, WriteError};
use diesel::{
    Connection,
    connection::{AnsiTransactionManager, TransactionManager},
    sqlite::SqliteConnection,
};

use super::{TxError, storage_error};

/// Writes that share one transaction at most.
const MAX_BATCH: usize = 64;
/// How long a waiting writer sleeps before it looks whether it must commit itself.
const POLL: Duration = Duration::from_millis(5);

/// The write connection and the batch open on it.
pub(super) struct GroupCommit {
    batch: Mutex<Batch>,
    committed: Condvar,
    /// Writers waiting for the batch mutex.
    queued: AtomicUsize,
}

struct Batch {
    connection: SqliteConnection,
    /// Whether a transaction is open.
    open: bool,
    /// Writes done in the open transaction.
    members: usize,
    /// The number of the open (or next) transaction; it grows at every commit or failure.
    epoch: u64,
    /// Transactions whose commit failed (rare; their members answer with a storage failure).
    failed: BTreeSet<u64>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Group commit over a dedicated write connection.
    pub(super) fn new(connection: SqliteConnection) -> Self {
        let batch =
            Batch { connection, open: false, members: 0, epoch: 0, failed: BTreeSet::new() };
        Self { batch: Mutex::new(batch), committed: Condvar::new(), queued: AtomicUsize::new(0) }
    }

    fn lock(&self) -> MutexGuard<'_, Batch> {
        // The batch's own fields are updated only after each step succeeds; a panic in a
        // writer's work leaves at worst an open transaction, which the next writer continues.
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` in a savepoint of the shared transaction; answers once that transaction has
    /// committed.
    pub(super) fn write<T, R>(
        &self,
        work: impl FnOnce(&mut SqliteConnection) -> Result<T, TxError<R>>,
    ) -> Result<T, WriteError<R>> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut batch = self.lock();
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if !batch.open {
            AnsiTransactionManager::begin_transaction_sql(&mut batch.connection, "BEGIN IMMEDIATE")
                .map_err(storage_error)?;
            batch.open = true;
            batch.members = 0;
        }
        let epoch = batch.epoch;
        let result = batch.connection.transaction(work);
        batch.members += 1;
        if self.queued.load(Ordering::SeqCst) == 0 || batch.members >= MAX_BATCH {
            self.commit(&mut batch);
        }
        // Wait for the transaction holding this work to end; commit it if nobody else will.
        while batch.epoch == epoch {
            let (guard, timeout) =
                self.committed.wait_timeout(batch, POLL).unwrap_or_else(PoisonError::into_inner);
            batch = guard;
            if batch.epoch == epoch
                && timeout.timed_out()
                && self.queued.load(Ordering::SeqCst) == 0
            {
                self.commit(&mut batch);
            }
        }
        if batch.failed.contains(&epoch) {
            return Err(WriteError::Storage(StorageError::unavailable(
                "the shared transaction could not commit",
            )));
        }
        drop(batch);
        result.map_err(|error| match error {
            TxError::Refused(refusal) => WriteError::Refused(refusal),
            TxError::KeyReused => WriteError::KeyReused,
            TxError::Storage(error) => WriteError::Storage(error),
        })
    }

    fn commit(&self, batch: &mut Batch) {
        if let Err(error) = AnsiTransactionManager::commit_transaction(&mut batch.connection) {
            tracing::error!(%error, members = batch.members, "group commit failed; rolling back");
            // A failed commit may leave the transaction open; end it so the next one starts clean.
            let _already_closed =
                AnsiTransactionManager::rollback_transaction(&mut batch.connection);
            batch.failed.insert(batch.epoch);
            if batch.failed.len() > 1024 {
                batch.failed.pop_first();
            }
        }
        batch.open = false;
        batch.epoch += 1;
        self.committed.notify_all();
    }
}
