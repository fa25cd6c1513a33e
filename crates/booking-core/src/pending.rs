//! The answer to a write that a store gives later, perhaps on another thread: a store with a
//! writer thread queues the write and hands back a [`Pending`], which its writer fulfils through
//! the matching [`Promise`] once the transaction holding the write has ended. A store that
//! writes on the caller's thread hands back a [`Pending::ready`] answer.
//!
//! A `Pending` can be waited for (a thread blocks) or awaited (it is a `Future`, woken by the
//! writer), so callers on an async runtime never block a worker on a write. Only `std` is used.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

use crate::storage::{StorageError, WriteError};

/// What a write answers: its result, or why it did not happen.
pub type WriteResult<T, R> = Result<T, WriteError<R>>;

/// Runs once, with the answer, as soon as it is known.
type Hook<T, R> = Box<dyn FnOnce(&WriteResult<T, R>) + Send>;

/// A write's answer, now or later.
#[must_use = "a write's answer says whether it happened"]
pub struct Pending<T, R> {
    state: Arc<Shared<T, R>>,
}

/// The writer's side of a [`Pending`]: keeping it answers the write. Dropped without being kept
/// (the writer stopped or panicked), it answers that the outcome is unknown.
pub struct Promise<T, R> {
    state: Option<Arc<Shared<T, R>>>,
}

struct Shared<T, R> {
    slot: Mutex<Slot<T, R>>,
    filled: Condvar,
}

enum Slot<T, R> {
    Empty { waker: Option<Waker>, hook: Option<Hook<T, R>> },
    Filled(WriteResult<T, R>),
    Taken,
}

/// A promise and the pending answer it will fill.
pub fn promise<T, R>() -> (Promise<T, R>, Pending<T, R>) {
    let state = Arc::new(Shared {
        slot: Mutex::new(Slot::Empty { waker: None, hook: None }),
        filled: Condvar::new(),
    });
    (Promise { state: Some(state.clone()) }, Pending { state })
}

impl<T, R> Shared<T, R> {
    fn lock(&self) -> MutexGuard<'_, Slot<T, R>> {
        // Every change to the slot is one assignment; a panic elsewhere cannot leave it torn.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fill(&self, answer: WriteResult<T, R>) {
        let mut slot = self.lock();
        let previous = std::mem::replace(&mut *slot, Slot::Filled(answer));
        let Slot::Empty { waker, hook } = previous else {
            // Filled twice cannot happen: a promise is kept at most once.
            *slot = previous;
            return;
        };
        if let (Some(hook), Slot::Filled(answer)) = (hook, &*slot) {
            run(hook, answer);
        }
        drop(slot);
        self.filled.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T, R> Promise<T, R> {
    /// Answers the write.
    pub fn keep(mut self, answer: WriteResult<T, R>) {
        if let Some(state) = self.state.take() {
            state.fill(answer);
        }
    }
}

impl<T, R> Drop for Promise<T, R> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            state.fill(Err(WriteError::Storage(StorageError::outcome_unknown(
                "the store stopped before it answered this write",
            ))));
        }
    }
}

impl<T, R> Pending<T, R> {
    /// An answer known now.
    pub fn ready(answer: WriteResult<T, R>) -> Self {
        let state =
            Arc::new(Shared { slot: Mutex::new(Slot::Filled(answer)), filled: Condvar::new() });
        Self { state }
    }

    /// Blocks the calling thread until the answer is there.
    pub fn wait(self) -> WriteResult<T, R> {
        let mut slot = self.state.lock();
        loop {
            match std::mem::replace(&mut *slot, Slot::Taken) {
                Slot::Filled(answer) => return answer,
                empty @ Slot::Empty { .. } => {
                    *slot = empty;
                    slot = self.state.filled.wait(slot).unwrap_or_else(PoisonError::into_inner);
                }
                Slot::Taken => return Err(taken()),
            }
        }
    }
}

impl<T: 'static, R: 'static> Pending<T, R> {
    /// Runs `hook` with the answer as soon as it is known: now, on this thread, if it is known
    /// already, else on the thread that answers, before anyone waiting is woken. Hooks must be
    /// quick; they run while the answer is being delivered, and one that panics is ignored.
    pub fn then(self, hook: impl FnOnce(&WriteResult<T, R>) + Send + 'static) -> Self {
        let mut slot = self.state.lock();
        match &mut *slot {
            Slot::Filled(answer) => run(Box::new(hook), answer),
            Slot::Empty { hook: existing, .. } => {
                *existing = Some(match existing.take() {
                    None => Box::new(hook),
                    Some(first) => Box::new(move |answer: &WriteResult<T, R>| {
                        first(answer);
                        hook(answer);
                    }),
                });
            }
            Slot::Taken => {}
        }
        drop(slot);
        self
    }
}

/// Runs a hook. One that panics loses neither the answer nor the thread delivering it (a
/// store's writer): the panic is reported by the panic hook, and delivery goes on.
fn run<T, R>(hook: Hook<T, R>, answer: &WriteResult<T, R>) {
    let _panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(answer)));
}

/// Taken already: only a second poll after completion gets here.
fn taken<R>() -> WriteError<R> {
    WriteError::Storage(StorageError::fault("a write's answer was taken twice"))
}

impl<T, R> Future for Pending<T, R> {
    type Output = WriteResult<T, R>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.state.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Filled(answer) => Poll::Ready(answer),
            Slot::Empty { hook, .. } => {
                *slot = Slot::Empty { waker: Some(context.waker().clone()), hook };
                Poll::Pending
            }
            Slot::Taken => Poll::Ready(Err(taken())),
        }
    }
}

impl<T, R> fmt::Debug for Pending<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = matches!(&*self.state.lock(), Slot::Filled(_));
        f.debug_struct("Pending").field("known", &known).finish()
    }
}

impl<T, R> fmt::Debug for Promise<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Promise").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        thread,
        time::Duration,
    };

    use super::*;
    use crate::storage::StorageErrorKind;

    #[test]
    fn a_kept_promise_answers_a_waiting_thread() {
        let (promise, pending) = promise::<u32, ()>();
        let writer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            promise.keep(Ok(7));
        });
        assert_eq!(pending.wait().ok(), Some(7));
        writer.join().unwrap();
    }

    #[test]
    fn a_dropped_promise_says_the_outcome_is_unknown() {
        let (promise, pending) = promise::<u32, ()>();
        drop(promise);
        match pending.wait() {
            Err(WriteError::Storage(error)) => {
                assert_eq!(error.kind(), StorageErrorKind::OutcomeUnknown)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hooks_run_once_whether_attached_before_or_after_the_answer() {
        let runs = Arc::new(AtomicUsize::new(0));
        let count = |runs: &Arc<AtomicUsize>| {
            let runs = runs.clone();
            move |answer: &WriteResult<u32, ()>| {
                assert_eq!(answer.as_ref().ok(), Some(&1));
                runs.fetch_add(1, Ordering::SeqCst);
            }
        };
        let (promise, pending) = promise::<u32, ()>();
        let pending = pending.then(count(&runs)).then(count(&runs));
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        promise.keep(Ok(1));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let _answer = pending.then(count(&runs)).wait();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let _ready = Pending::<u32, ()>::ready(Ok(1)).then(count(&runs));
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_panicking_hook_loses_neither_the_answer_nor_the_answering_thread() {
        let (promise, pending) = promise::<u32, ()>();
        let pending = pending.then(|_| panic!("a broken hook"));
        let writer = thread::spawn(move || {
            promise.keep(Ok(5));
            "still running"
        });
        assert_eq!(writer.join().unwrap(), "still running");
        assert_eq!(pending.wait().ok(), Some(5));
    }

    #[test]
    fn a_pending_answer_is_a_future_woken_by_the_writer() {
        struct Flag(AtomicUsize);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let flag = Arc::new(Flag(AtomicUsize::new(0)));
        let waker = Waker::from(flag.clone());
        let mut context = Context::from_waker(&waker);
        let (promise, mut pending) = promise::<u32, ()>();
        assert!(Pin::new(&mut pending).poll(&mut context).is_pending());
        promise.keep(Ok(3));
        assert_eq!(flag.0.load(Ordering::SeqCst), 1, "woken once");
        match Pin::new(&mut pending).poll(&mut context) {
            Poll::Ready(Ok(3)) => {}
            other => panic!("{other:?}"),
        }
    }
}
