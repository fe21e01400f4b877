//! The swap point between the updater and the evaluators: the current snapshot (or the error
//! that replaced it under the `fail` strategy) behind a lock that is held only long enough to
//! clone an `Arc`, plus a generation counter readable without locking.

use crate::error::Error;
use crate::snapshot::Snapshot;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

#[derive(Clone)]
struct Current {
    snapshot: Arc<Snapshot>,
    /// Set under the `fail` strategy when an update failed: evaluations return it.
    error: Option<Arc<Error>>,
}

pub(crate) struct Store {
    current: RwLock<Current>,
    generation: AtomicU64,
}

impl Store {
    pub fn new(snapshot: Arc<Snapshot>) -> Self {
        Store {
            current: RwLock::new(Current {
                snapshot,
                error: None,
            }),
            generation: AtomicU64::new(1),
        }
    }

    /// The current snapshot, or the stored error. The lock is released before returning.
    #[inline]
    pub fn load(&self) -> Result<Arc<Snapshot>, Error> {
        // A poisoned lock still holds a consistent value: swaps only assign whole values.
        let cur = self.current.read().unwrap_or_else(|p| p.into_inner());
        match &cur.error {
            None => Ok(Arc::clone(&cur.snapshot)),
            Some(e) => Err((**e).clone()),
        }
    }

    /// The current snapshot even when an error is stored.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .snapshot,
        )
    }

    /// Installs a new snapshot (built off-lock by the caller) and clears any stored error.
    #[allow(dead_code)]
    pub fn swap(&self, snapshot: Arc<Snapshot>) -> Arc<Snapshot> {
        let old = {
            let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
            cur.error = None;
            std::mem::replace(&mut cur.snapshot, snapshot)
        };
        self.generation.fetch_add(1, Ordering::Release);
        // `old` is dropped by the caller, outside the lock.
        old
    }

    /// Stores an error that evaluations return until the next successful swap.
    #[allow(dead_code)]
    pub fn set_error(&self, error: Error) {
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        cur.error = Some(Arc::new(error));
    }

    /// Increases with every installed snapshot.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
