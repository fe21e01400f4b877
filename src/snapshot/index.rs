//! Flag lookup by key without allocating: a hash map from key to position in `Snapshot::flags`,
//! with a small multiplicative hasher (SipHash costs more than the rest of a short lookup).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A fast, non-cryptographic hasher for short keys. Flag keys come from the configured Flipt
/// server, not from end users, so hash flooding is not a concern here.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(K);
    }

    fn finish(&self) -> u64 {
        // Fold the high bits down: hashbrown takes its control byte from the top seven bits.
        self.0 ^ (self.0 >> 29)
    }
}

/// Flag key → position in `Snapshot::flags`.
#[derive(Debug, Default)]
pub(crate) struct FlagIndex {
    map: HashMap<Box<str>, u32, BuildHasherDefault<KeyHasher>>,
}

impl FlagIndex {
    pub fn get(&self, key: &str) -> Option<u32> {
        self.map.get(key).copied()
    }

    /// Inserts `key`, returning the position it already had, if any.
    pub fn insert(&mut self, key: &str, pos: u32) -> Option<u32> {
        self.map.insert(key.into(), pos)
    }

    pub fn with_capacity(n: usize) -> Self {
        FlagIndex { map: HashMap::with_capacity_and_hasher(n, Default::default()) }
    }
}
