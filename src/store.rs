//! The swap point between the updater and the evaluators: the current snapshot (or the error
//! that replaced it under the `fail` strategy) behind a lock that is held only long enough to
//! clone an `Arc`, plus a generation counter readable without locking.

use crate::error::Error;
use crate::snapshot::changes::SnapshotChange;
use crate::snapshot::Snapshot;
use crate::util::ratelimit::LogLimit;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::SystemTime;

/// Where the current snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SnapshotSource {
    /// Fetched from the Flipt server.
    Server,
    /// The `snapshot` seed option.
    Seed,
    /// Given to an offline constructor (a file, a document or a [`Snapshot`]).
    Local,
    /// The file written by the `persist_path` option on an earlier run.
    Persisted,
    /// Nothing has been loaded yet: an empty snapshot.
    Empty,
}

/// An update failure and when it happened, in [`Health::last_error`].
#[derive(Clone)]
#[non_exhaustive]
pub struct LastError {
    /// When the update failed.
    pub at: SystemTime,
    /// Why.
    pub error: Error,
}

impl std::fmt::Debug for LastError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastError")
            .field("at", &Rfc3339(self.at))
            .field("error", &self.error)
            .finish()
    }
}

/// A time that `Debug` shows as UTC RFC 3339, not as raw seconds.
struct Rfc3339(SystemTime);

impl std::fmt::Debug for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::util::datetime::format_rfc3339(self.0))
    }
}

/// The state of the client's updates, from [`crate::FliptClient::health`]. Its `Debug` shows
/// times in RFC 3339.
///
/// ```
/// let client = flipt_client::FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
/// let shown = format!("{:?}", client.health());
/// assert!(shown.starts_with("Health { generation: 1, source: Local, installed_at: 20"), "{shown}");
/// assert!(shown.ends_with("Z, last_success: None, last_error: None }"), "{shown}");
/// # Ok::<(), flipt_client::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Health {
    /// Increases with every installed snapshot.
    pub generation: u64,
    /// Where the current snapshot came from.
    pub source: SnapshotSource,
    /// When the current snapshot was installed.
    pub installed_at: SystemTime,
    /// When the server last answered successfully (a new snapshot or "not modified").
    pub last_success: Option<SystemTime>,
    /// The last update failure and when it happened; cleared by the next success.
    pub last_error: Option<LastError>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("generation", &self.generation)
            .field("source", &self.source)
            .field("installed_at", &Rfc3339(self.installed_at))
            .field("last_success", &self.last_success.map(Rfc3339))
            .field("last_error", &self.last_error)
            .finish()
    }
}

impl Health {
    /// How long ago the current snapshot was installed.
    pub fn snapshot_age(&self) -> std::time::Duration {
        SystemTime::now()
            .duration_since(self.installed_at)
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct Current {
    /// The generation of `snapshot`, read together with it.
    generation: u64,
    snapshot: Arc<Snapshot>,
    /// Set under the `fail` strategy when an update failed: evaluations return it.
    error: Option<Arc<Error>>,
}

/// A consistent copy of the store's state; see [`Store::view`].
pub(crate) struct View {
    pub version: u64,
    pub snapshot: Arc<Snapshot>,
    pub generation: u64,
    pub error: Option<Arc<Error>>,
}

/// A change listener: a callback, or a channel subscription wrapped as one.
pub(crate) type Listener = Arc<dyn Fn(&SnapshotChange) + Send + Sync>;

/// A counter alone on its cache line (128 bytes covers adjacent-line prefetching), so that
/// the writes other fields of the store take (the lock's reader count) never invalidate it in
/// the caches of the threads that poll it.
#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

/// What this thread last loaded from a store without error, for [`Store::load`]. A `Weak`, so
/// that a thread that stops evaluating does not keep an old snapshot's data alive.
struct LastLoad {
    /// [`Store::id`]: unique for the process, unlike an address that a new store may reuse.
    store: u64,
    version: u64,
    generation: u64,
    snapshot: Weak<Snapshot>,
}

thread_local! {
    static LAST_LOAD: RefCell<Option<LastLoad>> = const { RefCell::new(None) };
}

pub(crate) struct Store {
    /// Unique per store in this process.
    id: u64,
    current: RwLock<Current>,
    /// Increases with every change of `current` (a swap, an error stored or cleared); written
    /// under its write lock. Readers compare it with one atomic load per evaluation.
    version: Padded,
    generation: AtomicU64,
    health: Mutex<Health>,
    listeners: Mutex<Vec<Listener>>,
    /// Bounds the log lines of panicking listeners (one per update otherwise).
    panic_log: Mutex<LogLimit>,
}

/// A copy of the stored update error, out of line so that `load` stays small enough to inline
/// into every evaluation.
#[cold]
#[inline(never)]
fn stored_error(e: &Error) -> Error {
    e.clone()
}

impl Store {
    pub(crate) fn new(snapshot: Arc<Snapshot>, source: SnapshotSource) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Store {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            current: RwLock::new(Current {
                generation: 1,
                snapshot,
                error: None,
            }),
            version: Padded(AtomicU64::new(1)),
            generation: AtomicU64::new(1),
            listeners: Mutex::new(Vec::new()),
            panic_log: Mutex::new(LogLimit::default()),
            health: Mutex::new(Health {
                generation: 1,
                source,
                installed_at: SystemTime::now(),
                last_success: None,
                last_error: None,
            }),
        }
    }

    fn health_mut(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn health(&self) -> Health {
        let mut h = self.health_mut().clone();
        h.generation = self.generation();
        h
    }

    /// The server answered, confirming the snapshot we hold ("not modified", or the same
    /// bytes again): the last error is over.
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    pub(crate) fn record_check(&self) {
        // Health is updated under the snapshot lock (always taken first), so that
        // `first_fetch_overdue` sees a success and its snapshot together.
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        if cur.error.take().is_some() {
            self.version.0.fetch_add(1, Ordering::Release);
        }
        let mut h = self.health_mut();
        h.last_success = Some(SystemTime::now());
        h.last_error = None;
    }

    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    pub(crate) fn record_error(&self, error: Error) {
        self.health_mut().last_error = Some(LastError {
            at: SystemTime::now(),
            error,
        });
    }

    /// The first fetch outlived the constructor's wait: unless the update thread has reported
    /// since (a success or an error), record `error` in `health()` and, with `poison` (the
    /// `fail` strategy), make evaluations return it until the first update succeeds.
    #[cfg(feature = "net")]
    pub(crate) fn first_fetch_overdue(&self, error: Error, poison: bool) {
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        let mut h = self.health_mut();
        if h.last_success.is_some() || h.last_error.is_some() {
            return;
        }
        if poison {
            cur.error = Some(Arc::new(error.clone()));
            self.version.0.fetch_add(1, Ordering::Release);
        }
        h.last_error = Some(LastError {
            at: SystemTime::now(),
            error,
        });
    }

    /// The current snapshot, or the stored error. The lock is released before returning.
    #[inline]
    pub(crate) fn load(&self) -> Result<Arc<Snapshot>, Error> {
        self.load_with_generation().map(|(s, _)| s)
    }

    /// The current snapshot and its generation, or the stored error.
    ///
    /// Usually without the lock: this thread's last load of this store, if the change counter
    /// says nothing changed since, upgraded from a `Weak` (one atomic read-modify-write on the
    /// snapshot's count instead of three on the lock and the count).
    #[inline]
    pub(crate) fn load_with_generation(&self) -> Result<(Arc<Snapshot>, u64), Error> {
        match self.cached() {
            Some(hit) => Ok(hit),
            None => self.load_locked().map_err(|e| stored_error(&e)),
        }
    }

    /// This thread's last load, if nothing changed since.
    #[inline(always)]
    fn cached(&self) -> Option<(Arc<Snapshot>, u64)> {
        let version = self.version();
        LAST_LOAD.with(|last| {
            let last = last.borrow();
            let last = last
                .as_ref()
                .filter(|l| l.store == self.id && l.version == version)?;
            Some((last.snapshot.upgrade()?, last.generation))
        })
    }

    /// Loads under the lock and remembers the result for this thread.
    #[inline(never)]
    fn load_locked(&self) -> Result<(Arc<Snapshot>, u64), Arc<Error>> {
        let view = self.view();
        if let Some(e) = view.error {
            return Err(e);
        }
        LAST_LOAD.with(|last| {
            *last.borrow_mut() = Some(LastLoad {
                store: self.id,
                version: view.version,
                generation: view.generation,
                snapshot: Arc::downgrade(&view.snapshot),
            })
        });
        Ok((view.snapshot, view.generation))
    }

    /// The current snapshot, or `None` when an error is stored (no error is built).
    #[inline]
    pub(crate) fn try_load(&self) -> Option<Arc<Snapshot>> {
        self.try_load_with_generation().map(|(s, _)| s)
    }

    /// The current snapshot and its generation, or `None` when an error is stored.
    #[inline]
    pub(crate) fn try_load_with_generation(&self) -> Option<(Arc<Snapshot>, u64)> {
        self.cached().or_else(|| self.load_locked().ok())
    }

    /// The current snapshot even when an error is stored.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .snapshot,
        )
    }

    /// Installs a new snapshot (built off-lock by the caller) and clears any stored error.
    /// Returns the previous snapshot so the caller frees it outside the lock.
    fn swap_from(&self, snapshot: Arc<Snapshot>, source: SnapshotSource) -> Arc<Snapshot> {
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        cur.error = None;
        cur.generation += 1;
        self.generation.store(cur.generation, Ordering::Release);
        self.version.0.fetch_add(1, Ordering::Release);
        let old = std::mem::replace(&mut cur.snapshot, snapshot);
        // Under the snapshot lock, as in `record_check`.
        let now = SystemTime::now();
        let mut h = self.health_mut();
        h.source = source;
        h.installed_at = now;
        if source == SnapshotSource::Server {
            h.last_success = Some(now);
            h.last_error = None;
        }
        old
    }

    /// Installs `snapshot` and tells the listeners what changed, if any flag did. Returns the
    /// previous snapshot, for the caller to free.
    pub(crate) fn install(&self, snapshot: Arc<Snapshot>, source: SnapshotSource) -> Arc<Snapshot> {
        let old = self.swap_from(Arc::clone(&snapshot), source);
        if self.has_listeners() {
            let change = SnapshotChange::between(&old, &snapshot, self.generation());
            if !change.is_empty() {
                self.notify(&change);
            }
        }
        old
    }

    /// Registers a change listener.
    pub(crate) fn listen(&self, listener: Listener) {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(listener);
    }

    pub(crate) fn has_listeners(&self) -> bool {
        !self
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Runs every listener; a listener that panics is logged and kept.
    pub(crate) fn notify(&self, change: &SnapshotChange) {
        // Called outside the lock, so a listener may register another without deadlock.
        let listeners: Vec<Listener> = self
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for l in &listeners {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l(change))).is_err() {
                let held = self
                    .panic_log
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .check(0);
                if let Some(held) = held {
                    log::error!(
                        "flipt: a snapshot change listener panicked (generation {}){held}",
                        change.generation
                    );
                }
            }
        }
    }

    /// Stores an error that evaluations return until the next successful swap.
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    pub(crate) fn set_error(&self, error: Error) {
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        cur.error = Some(Arc::new(error));
        self.version.0.fetch_add(1, Ordering::Release);
    }

    /// The change counter; see [`Store::view`].
    #[inline(always)]
    pub(crate) fn version(&self) -> u64 {
        self.version.0.load(Ordering::Acquire)
    }

    /// Everything a [`crate::Reader`] keeps, read together under the lock: the version, the
    /// snapshot, its generation and the stored error.
    pub(crate) fn view(&self) -> View {
        let cur = self.current.read().unwrap_or_else(|p| p.into_inner());
        View {
            version: self.version.0.load(Ordering::Acquire),
            snapshot: Arc::clone(&cur.snapshot),
            generation: cur.generation,
            error: cur.error.clone(),
        }
    }

    /// Increases with every installed snapshot.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(namespace: &str) -> Arc<Snapshot> {
        Arc::new(Snapshot::empty(namespace))
    }

    #[test]
    fn the_thread_cache_follows_stores_swaps_and_errors() {
        let a = Store::new(snapshot("a"), SnapshotSource::Local);
        let b = Store::new(snapshot("b"), SnapshotSource::Local);
        for _ in 0..3 {
            assert_eq!(a.load().unwrap().namespace(), "a");
            assert_eq!(b.load().unwrap().namespace(), "b");
        }
        drop(a.install(snapshot("a2"), SnapshotSource::Local));
        assert_eq!(a.load().unwrap().namespace(), "a2");
        assert_eq!(a.load_with_generation().unwrap().1, 2);

        a.set_error(Error::closed());
        assert!(a.load().is_err());
        assert!(a.try_load().is_none());
        a.record_check();
        assert_eq!(a.try_load().unwrap().namespace(), "a2");

        // The cache holds a Weak: a swapped-out snapshot is freed with its last user.
        let old = Arc::downgrade(&a.load().unwrap());
        drop(a.install(snapshot("a3"), SnapshotSource::Local));
        assert!(old.upgrade().is_none());
        assert_eq!(a.load().unwrap().namespace(), "a3");
    }

    #[test]
    fn a_new_store_never_hits_an_old_stores_cache() {
        for round in 0..50 {
            let name = format!("n{round}");
            let store = Store::new(snapshot(&name), SnapshotSource::Local);
            assert_eq!(store.load().unwrap().namespace(), name);
        }
    }
}
