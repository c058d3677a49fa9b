//! One writer at a time: the writer's state lives in a slot that a write transaction takes
//! and gives back, so the transaction owns it (no lock guard borrowing the database) and can
//! move to another thread.

use super::{Shared, WriterState};
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The writer's state while no write transaction runs; empty while one does.
#[derive(Debug)]
pub(crate) struct WriterSlot {
    state: Mutex<Option<WriterState>>,
    returned: Condvar,
    /// Callers of `take` waiting for the state.
    waiting: AtomicUsize,
}

impl WriterSlot {
    pub(crate) fn new(state: WriterState) -> Self {
        WriterSlot {
            state: Mutex::new(Some(state)),
            returned: Condvar::new(),
            waiting: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<WriterState>> {
        // Every update under this lock is a single move in or out: a panic cannot leave it
        // half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the writer's state, waiting for the current writer to give it back if `wait`;
    /// `Ok(None)` if it is taken and not `wait`. A poisoned handle stays poisoned.
    fn take(&self, wait: bool) -> Result<Option<WriterState>> {
        let mut slot = self.lock();
        loop {
            match slot.as_ref() {
                Some(state) if state.poisoned => {
                    // Every other waiter must learn it too: wake the next.
                    self.returned.notify_one();
                    return Err(Error::Poisoned);
                }
                Some(_) => return Ok(slot.take()),
                None if !wait => return Ok(None),
                None => {
                    self.waiting.fetch_add(1, Ordering::SeqCst);
                    slot = self.returned.wait(slot).unwrap_or_else(|e| e.into_inner());
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
    }

    /// Whether a writer waits for the state (a commit holding it can hand it on early).
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    fn put(&self, state: WriterState) {
        let mut slot = self.lock();
        debug_assert!(slot.is_none(), "one writer state per database");
        *slot = Some(state);
        drop(slot);
        self.returned.notify_one();
    }

    /// The state, when nothing else can hold it (the database is closing).
    pub(crate) fn take_closing(&mut self) -> Option<WriterState> {
        self.state
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// The writer's state, taken from the slot for one write transaction (or a checkpoint) and
/// given back when dropped. Keeps the database open.
#[derive(Debug)]
pub(crate) struct WriterGuard {
    shared: Arc<Shared>,
    /// `Some` until dropped.
    state: Option<WriterState>,
}

impl WriterGuard {
    /// Takes the writer's state (see `WriterSlot::take`).
    pub(crate) fn acquire(shared: &Arc<Shared>, wait: bool) -> Result<Option<WriterGuard>> {
        if shared.commits.failed() {
            return Err(Error::Poisoned);
        }
        Ok(shared.writer.take(wait)?.map(|state| WriterGuard {
            shared: shared.clone(),
            state: Some(state),
        }))
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Gives the state back before the guard is dropped (a queued commit hands it to the
    /// next writer before its sync). The guard must not be dereferenced again.
    pub(crate) fn release(&mut self) {
        if let Some(state) = self.state.take() {
            self.shared.writer.put(state);
        }
    }
}

impl std::ops::Deref for WriterGuard {
    type Target = WriterState;

    fn deref(&self) -> &WriterState {
        self.state.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for WriterGuard {
    fn deref_mut(&mut self) -> &mut WriterState {
        self.state.as_mut().expect("present until dropped")
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            self.shared.writer.put(state);
        }
    }
}
