//! [`FlagHandle`]: one flag of a client, its position in the current snapshot cached so that
//! evaluations through it skip the key lookup.

use crate::client::FliptClient;
use crate::error::{Error, FlagKey};
use crate::eval::{self, result::*, Context, Miss};
use crate::reader::Reader;
use crate::snapshot::{FlagType, Snapshot};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The cache word: the generation of the snapshot a position was resolved in (high 32 bits)
/// and the position (low 32 bits; [`ABSENT`] when the flag is not in that snapshot). 0 is
/// empty: generations start at 1. One word, so that threads sharing a handle never see a
/// position paired with another generation; generations past `u32::MAX` are not cached
/// (every evaluation then looks the key up).
const EMPTY: u64 = 0;
const ABSENT: u32 = u32::MAX;

fn pack(generation: u64, pos: Option<u32>) -> Option<u64> {
    let generation = u32::try_from(generation).ok()?;
    Some(u64::from(generation) << 32 | u64::from(pos.unwrap_or(ABSENT)))
}

/// A flag resolved once per snapshot; see [`FliptClient::flag`]. `Send + Sync`: its cache is
/// one atomic word, read and written without a lock, so a handle can be shared by threads
/// (each thread may still keep its own clone; the cost is the same).
pub struct FlagHandle {
    client: FliptClient,
    key: FlagKey,
    /// See [`pack`].
    cache: AtomicU64,
}

impl Clone for FlagHandle {
    fn clone(&self) -> Self {
        FlagHandle {
            client: self.client.clone(),
            key: self.key.clone(),
            cache: AtomicU64::new(self.cache.load(Ordering::Relaxed)),
        }
    }
}

const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<FlagHandle>();
};

impl std::fmt::Debug for FlagHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlagHandle")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl FlagHandle {
    pub(crate) fn new(client: FliptClient, key: FlagKey) -> FlagHandle {
        FlagHandle {
            client,
            key,
            cache: AtomicU64::new(EMPTY),
        }
    }

    /// The flag key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The flag's position in `snapshot` (of generation `generation`), from the cache.
    #[inline]
    fn position(&self, snapshot: &Snapshot, generation: u64) -> Option<u32> {
        let word = self.cache.load(Ordering::Relaxed);
        if word != EMPTY && word >> 32 == generation {
            let pos = word as u32;
            return (pos != ABSENT).then_some(pos);
        }
        self.resolve(snapshot, generation)
    }

    /// Looks the key up in `snapshot` and caches the answer.
    #[inline(never)]
    fn resolve(&self, snapshot: &Snapshot, generation: u64) -> Option<u32> {
        let pos = if snapshot.namespace() == &*self.client.inner.namespace {
            snapshot.flag(&self.key).map(|(i, _)| i)
        } else {
            None
        };
        if let Some(word) = pack(generation, pos) {
            self.cache.store(word, Ordering::Relaxed);
        }
        pos
    }

    /// The flag's position in `snapshot` if it has type `want`: the one lookup behind every
    /// evaluation through the handle.
    #[inline]
    fn locate(&self, snapshot: &Snapshot, generation: u64, want: FlagType) -> Result<u32, Miss> {
        let pos = self.position(snapshot, generation).ok_or(Miss::NotFound)?;
        match snapshot.heads.get(pos as usize) {
            Some(head) if head.boolean == (want == FlagType::Boolean) => Ok(pos),
            _ => Err(Miss::WrongType(want)),
        }
    }

    /// The engine's error for a miss. Shares the handle's key and the client's namespace: no
    /// allocation, whatever the key's length.
    #[cold]
    #[inline(never)]
    fn miss_error(&self, miss: Miss) -> Error {
        match miss {
            Miss::NotFound => Error::FlagNotFound {
                namespace: Arc::clone(&self.client.inner.namespace),
                flag_key: self.key.clone(),
            },
            Miss::WrongType(expected) => Error::WrongFlagType {
                flag_key: self.key.clone(),
                expected,
            },
        }
    }

    /// The current snapshot and the flag's position, if the flag has type `want`.
    #[inline]
    fn resolve_as(&self, want: FlagType) -> Result<(Arc<Snapshot>, u32), Error> {
        let (snapshot, generation) = self.client.inner.store.load_with_generation()?;
        let pos = self
            .locate(&snapshot, generation, want)
            .map_err(|m| self.miss_error(m))?;
        Ok((snapshot, pos))
    }

    /// Like `resolve_as`, but `None` instead of an error.
    #[inline]
    fn try_resolve_as(&self, want: FlagType) -> Option<(Arc<Snapshot>, u32)> {
        let (snapshot, generation) = self.client.inner.store.try_load_with_generation()?;
        let pos = self.locate(&snapshot, generation, want).ok()?;
        Some((snapshot, pos))
    }

    /// [`FliptClient::evaluate_variant`] for this flag.
    pub fn evaluate_variant<C: Context + ?Sized>(
        &self,
        entity_id: &str,
        context: &C,
    ) -> Result<VariantEvaluation, Error> {
        let (snapshot, pos) = self.resolve_as(FlagType::Variant)?;
        eval::variant_at(snapshot, pos, entity_id, context)
    }

    /// [`FliptClient::evaluate_boolean`] for this flag.
    pub fn evaluate_boolean<C: Context + ?Sized>(
        &self,
        entity_id: &str,
        context: &C,
    ) -> Result<BooleanEvaluation, Error> {
        let (snapshot, pos) = self.resolve_as(FlagType::Boolean)?;
        eval::boolean_at(snapshot, pos, &self.key, entity_id, context)
    }

    /// The flag's position in a reader's snapshot, if it has type `want`.
    #[inline]
    fn resolve_in<'r>(
        &self,
        reader: &'r mut Reader,
        want: FlagType,
    ) -> Result<(&'r Snapshot, u32), Error> {
        let (snapshot, generation) = reader.for_handle(&self.client.inner.store)?;
        let pos = self
            .locate(snapshot, generation, want)
            .map_err(|m| self.miss_error(m))?;
        Ok((snapshot, pos))
    }

    /// [`FlagHandle::evaluate_variant`] through a [`Reader`] of the same client: no lock, no
    /// key lookup, no shared writes.
    ///
    /// ```
    /// # let client = flipt_client::FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
    /// let theme = client.flag("checkout-theme");
    /// let mut reader = client.reader();
    /// let r = theme.evaluate_variant_with(&mut reader, "user-1", &[("plan", "pro"), ("age", "30")])?;
    /// assert_eq!(r.variant_key(), "blue");
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn evaluate_variant_with<'r, C: Context + ?Sized>(
        &self,
        reader: &'r mut Reader,
        entity_id: &str,
        context: &C,
    ) -> Result<VariantEvaluation<&'r Snapshot>, Error> {
        let (snapshot, pos) = self.resolve_in(reader, FlagType::Variant)?;
        eval::variant_at(snapshot, pos, entity_id, context)
    }

    /// [`FlagHandle::evaluate_boolean`] through a [`Reader`] of the same client.
    pub fn evaluate_boolean_with<'r, C: Context + ?Sized>(
        &self,
        reader: &'r mut Reader,
        entity_id: &str,
        context: &C,
    ) -> Result<BooleanEvaluation<&'r Snapshot>, Error> {
        let (snapshot, pos) = self.resolve_in(reader, FlagType::Boolean)?;
        eval::boolean_at(snapshot, pos, &self.key, entity_id, context)
    }

    /// [`FliptClient::evaluate_variant_or`] for this flag: never fails, never allocates.
    pub fn evaluate_variant_or<'d, C: Context + ?Sized>(
        &self,
        entity_id: &str,
        context: &C,
        default: &'d str,
    ) -> VariantOr<'d> {
        self.try_resolve_as(FlagType::Variant)
            .and_then(|(snapshot, pos)| eval::variant_at(snapshot, pos, entity_id, context).ok())
            .map_or(VariantOr::Default(default), VariantOr::Evaluated)
    }

    /// [`FliptClient::evaluate_boolean_or`] for this flag: never fails, never allocates.
    pub fn evaluate_boolean_or<C: Context + ?Sized>(
        &self,
        entity_id: &str,
        context: &C,
        default: bool,
    ) -> bool {
        self.try_resolve_as(FlagType::Boolean)
            .and_then(|(snapshot, pos)| {
                eval::boolean_at(snapshot, pos, &self.key, entity_id, context).ok()
            })
            .map_or(default, |r| r.is_enabled())
    }
}
