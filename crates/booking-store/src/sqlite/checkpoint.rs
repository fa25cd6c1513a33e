//! A checkpointer beside the writer. Copying the WAL back into the database file (and fsyncing
//! it) takes milliseconds, and while the writer does it, every write queued behind waits. This
//! thread does most of that copying on its own connection, whenever the writer nudges it;
//! passive checkpoints never block the writer or a reader. It cannot finish alone, since the
//! writer keeps appending: the writer's own checkpoint (see `writer`) copies what is left, and
//! lets the next transaction start the WAL over.

use std::{
    sync::mpsc::{self, SyncSender},
    thread::{self, JoinHandle},
};

use diesel::{connection::SimpleConnection, sqlite::SqliteConnection};

/// The checkpointing thread; dropping this stops it.
pub(super) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on `connection`.
    pub(super) fn start(mut connection: SqliteConnection) -> std::io::Result<Self> {
        // One nudge waiting is enough: a checkpoint copies everything committed before it.
        let (nudge, nudged) = mpsc::sync_channel(1);
        let thread = thread::Builder::new().name("booking-checkpoint".into()).spawn(move || {
            while nudged.recv().is_ok() {
                if let Err(error) = connection.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::warn!(%error, "a checkpoint failed; the next one will copy its pages");
                }
            }
        })?;
        Ok(Self { nudge: Some(nudge), thread: Some(thread) })
    }

    /// Asks for a checkpoint soon; returns at once.
    pub(super) fn nudge(&self) {
        if let Some(nudge) = &self.nudge {
            // Full means one is asked for already; gone means the thread stopped.
            let _asked_or_gone = nudge.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.nudge.take());
        if let Some(thread) = self.thread.take() {
            let _panicked = thread.join();
        }
    }
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer").finish_non_exhaustive()
    }
}
