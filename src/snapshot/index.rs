//! Flag lookup by key without allocating: an open-addressing table built once per snapshot,
//! storing each key's full hash so that a probe compares whole keys only on a real hit.
//! (A general-purpose `HashMap` spent most of a lookup in SipHash and a `memcmp` call.)

use crate::eval::strings::str_eq;

/// A fast, non-cryptographic hash for short keys. Flag keys come from the configured Flipt
/// server, not from end users, so hash flooding is not a concern here.
#[inline]
fn hash(key: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let b = key.as_bytes();
    let n = b.len();
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let mut h = (n as u64).wrapping_mul(K);
    if n >= 8 {
        let mut at = 0;
        while at + 8 < n {
            h = mix(h, word(at));
            at += 8;
        }
        // The last (possibly overlapping) word: no variable-length copy.
        h = mix(h, word(n - 8));
    } else if n >= 4 {
        let half =
            |at: usize| u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]));
        h = mix(h, half(0) | (half(n - 4) << 32));
    } else if n > 0 {
        h = mix(
            h,
            u64::from(b[0]) | (u64::from(b[n / 2]) << 8) | (u64::from(b[n - 1]) << 16),
        );
    }
    // Finalise so every output bit depends on every input bit: the table indexes by the low
    // bits, and a multiply alone only carries differences upwards.
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^ (h >> 33)
}

#[derive(Debug)]
struct Slot {
    hash: u64,
    /// Position in `Snapshot::flags`.
    pos: u32,
    key: Box<str>,
}

/// Flag key → position in `Snapshot::flags`.
#[derive(Debug, Default)]
pub(crate) struct FlagIndex {
    slots: Box<[Option<Slot>]>,
}

impl FlagIndex {
    /// Builds the table from distinct `(key, position)` pairs.
    pub fn build<'a>(entries: impl ExactSizeIterator<Item = (&'a str, u32)>) -> Self {
        let size = (entries.len() * 2).next_power_of_two().max(8);
        let mut slots: Vec<Option<Slot>> = (0..size).map(|_| None).collect();
        let mask = size - 1;
        for (key, pos) in entries {
            let h = hash(key);
            let mut i = h as usize & mask;
            while slots[i].is_some() {
                i = (i + 1) & mask;
            }
            slots[i] = Some(Slot {
                hash: h,
                pos,
                key: key.into(),
            });
        }
        FlagIndex {
            slots: slots.into_boxed_slice(),
        }
    }

    #[inline]
    pub fn get(&self, key: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let h = hash(key);
        let mut i = h as usize & mask;
        // The table is at most half full, so the probe ends at an empty slot.
        loop {
            match &self.slots[i] {
                None => return None,
                Some(s) if s.hash == h && str_eq(&s.key, key) => return Some(s.pos),
                Some(_) => i = (i + 1) & mask,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FlagIndex;

    #[test]
    fn similar_keys_spread_over_the_table() {
        // Keys differing only in their last bytes must not share one probe chain.
        let keys: Vec<String> = (0..512).map(|i| format!("flag-{i:05}")).collect();
        let index = FlagIndex::build(keys.iter().enumerate().map(|(i, k)| (k.as_str(), i as u32)));
        let mask = index.slots.len() - 1;
        let longest = keys
            .iter()
            .map(|k| {
                let mut i = super::hash(k) as usize & mask;
                let mut probes = 1;
                while index.slots[i].as_ref().is_some_and(|s| *s.key != **k) {
                    i = (i + 1) & mask;
                    probes += 1;
                }
                probes
            })
            .max()
            .unwrap_or(0);
        assert!(longest < 16, "a lookup needs {longest} probes");
    }

    #[test]
    fn finds_every_key_and_nothing_else() {
        let keys: Vec<String> = (0..1000).map(|i| format!("flag-{i:05}")).collect();
        let index = FlagIndex::build(keys.iter().enumerate().map(|(i, k)| (k.as_str(), i as u32)));
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(index.get(k), Some(i as u32));
        }
        assert_eq!(index.get("flag-01000"), None);
        assert_eq!(index.get(""), None);
        assert_eq!(FlagIndex::default().get("x"), None);
    }
}
