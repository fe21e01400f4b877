//! [`Reader`]: a per-thread evaluation path that writes no memory shared between threads.
//!
//! [`crate::FliptClient::evaluate_variant`] takes the store's read lock and clones the snapshot
//! `Arc`: two atomic read-modify-writes on cache lines every thread shares, and a third when
//! the result is dropped. On many cores those lines bounce between caches and a shared client
//! gets slower as threads are added. A reader keeps its own `Arc` of the snapshot and checks
//! the store's change counter with one atomic load per evaluation; it takes the lock only
//! after a swap. Its results borrow the snapshot from the reader.

use crate::error::Error;
use crate::eval::{self, result::*, Context};
use crate::snapshot::Snapshot;
use crate::store::Store;
use std::sync::Arc;

/// An evaluator for one thread, from [`crate::FliptClient::reader`]: evaluations perform no
/// atomic read-modify-write and write nothing that other threads read, so throughput grows
/// with the number of threads. It sees every new snapshot on its next evaluation.
///
/// Results borrow from the reader (`VariantEvaluation<&Snapshot>`), with the same accessors
/// as the client's; evaluating again needs them dropped first. A reader is `Send`: create one
/// per thread, or move it to its thread. It keeps its snapshot alive until its next evaluation
/// after a swap.
///
/// ```
/// use flipt_client::FliptClient;
///
/// let client = FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
/// std::thread::scope(|scope| {
///     for _ in 0..2 {
///         let mut reader = client.reader();
///         scope.spawn(move || {
///             let r = reader.evaluate_variant("checkout-theme", "user-1", &[("plan", "pro"), ("age", "30")])?;
///             assert_eq!(r.variant_key(), "blue");
///             Ok::<(), flipt_client::Error>(())
///         });
///     }
/// });
/// # Ok::<(), flipt_client::Error>(())
/// ```
pub struct Reader {
    store: Arc<Store>,
    namespace: Arc<str>,
    /// The store's change counter when `snapshot` and `error` were read.
    version: u64,
    snapshot: Arc<Snapshot>,
    generation: u64,
    error: Option<Arc<Error>>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("namespace", &self.namespace)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Reader {
    pub(crate) fn new(store: Arc<Store>, namespace: Arc<str>) -> Reader {
        let view = store.view();
        Reader {
            store,
            namespace,
            version: view.version,
            snapshot: view.snapshot,
            generation: view.generation,
            error: view.error,
        }
    }

    /// Catches up with the store if it changed: one atomic load when it did not.
    #[inline(always)]
    fn sync(&mut self) {
        if self.store.version() != self.version {
            self.reload();
        }
    }

    #[cold]
    #[inline(never)]
    fn reload(&mut self) {
        let view = self.store.view();
        self.version = view.version;
        self.snapshot = view.snapshot;
        self.generation = view.generation;
        self.error = view.error;
    }

    /// The current snapshot, or the stored update error (under [`crate::ErrorStrategy::Fail`]).
    #[inline(always)]
    fn current(&mut self) -> Result<&Self, Error> {
        self.sync();
        match &self.error {
            None => Ok(self),
            Some(e) => Err(Error::clone(e)),
        }
    }

    /// [`crate::FliptClient::evaluate_variant`] through this reader.
    #[inline]
    pub fn evaluate_variant<C: Context + ?Sized>(
        &mut self,
        flag_key: &str,
        entity_id: &str,
        context: &C,
    ) -> Result<VariantEvaluation<&Snapshot>, Error> {
        let this = self.current()?;
        eval::variant(
            &*this.snapshot,
            &this.namespace,
            flag_key,
            entity_id,
            context,
        )
    }

    /// [`crate::FliptClient::evaluate_boolean`] through this reader.
    #[inline]
    pub fn evaluate_boolean<C: Context + ?Sized>(
        &mut self,
        flag_key: &str,
        entity_id: &str,
        context: &C,
    ) -> Result<BooleanEvaluation<&Snapshot>, Error> {
        let this = self.current()?;
        eval::boolean(
            &*this.snapshot,
            &this.namespace,
            flag_key,
            entity_id,
            context,
        )
    }

    /// [`crate::FliptClient::evaluate_boolean_or`] through this reader: never fails, never
    /// allocates.
    pub fn evaluate_boolean_or<C: Context + ?Sized>(
        &mut self,
        flag_key: &str,
        entity_id: &str,
        context: &C,
        default: bool,
    ) -> bool {
        match self.current() {
            Ok(this) => eval::boolean_opt(
                &this.snapshot,
                &this.namespace,
                flag_key,
                entity_id,
                context,
            )
            .unwrap_or(default),
            Err(_) => default,
        }
    }

    /// [`crate::FliptClient::evaluate_variant_or`] through this reader: never fails, never
    /// allocates. The same [`VariantOr`] as on the client and on handles, with the evaluation
    /// borrowing this reader's snapshot.
    ///
    /// ```
    /// # let client = flipt_client::FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
    /// let mut reader = client.reader();
    /// let ctx = [("plan", "pro"), ("age", "30")];
    /// assert_eq!(reader.evaluate_variant_or("checkout-theme", "user-1", &ctx, "plain").variant_key(), "blue");
    /// assert!(reader.evaluate_variant_or("no-such-flag", "user-1", &ctx, "plain").is_default());
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn evaluate_variant_or<'a, C: Context + ?Sized>(
        &'a mut self,
        flag_key: &str,
        entity_id: &str,
        context: &C,
        default: &'a str,
    ) -> VariantOr<'a, &'a Snapshot> {
        self.sync();
        if self.error.is_some() {
            return VariantOr::Default(default);
        }
        let this: &'a Self = self;
        eval::variant_opt(
            &*this.snapshot,
            &this.namespace,
            flag_key,
            entity_id,
            context,
        )
        .map_or(VariantOr::Default(default), VariantOr::Evaluated)
    }

    /// The snapshot this reader evaluates (caught up with the client first), even when an
    /// update error is stored.
    pub fn snapshot(&mut self) -> &Arc<Snapshot> {
        self.sync();
        &self.snapshot
    }

    /// The generation of the snapshot this reader holds (caught up with the client first).
    pub fn generation(&mut self) -> u64 {
        self.sync();
        self.generation
    }

    /// For flag handles: whether `store` is this reader's, and its current snapshot and
    /// generation.
    #[inline(always)]
    pub(crate) fn for_handle(&mut self, store: &Arc<Store>) -> Result<(&Snapshot, u64), Error> {
        if !Arc::ptr_eq(store, &self.store) {
            return Err(Error::invalid(
                "flag_handle",
                "the flag handle and the reader belong to different clients",
            ));
        }
        let this = self.current()?;
        Ok((&this.snapshot, this.generation))
    }
}
