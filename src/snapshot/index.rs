//! Flag lookup by key without allocating: an open-addressing table built once per snapshot,
//! storing each key's full hash so that a probe compares whole keys only on a real hit.
//! (A general-purpose `HashMap` spent most of a lookup in SipHash and a `memcmp` call.)

use crate::util::strings::bytes_eq;

/// A fast, non-cryptographic hash for short keys. Flag keys come from the configured Flipt
/// server, not from end users, so hash flooding is not a concern here.
#[inline(always)]
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

/// What the evaluator needs to know about a flag before running its program.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FlagHead {
    /// Position in `Snapshot::flags`.
    pub pos: u32,
    /// The first node of the flag's program, when it has one.
    pub program: Option<u32>,
    /// CRC-32 register after the flag key: variant bucketing continues from here.
    pub salt: u32,
    pub boolean: bool,
    pub enabled: bool,
    pub has_default: bool,
    /// The flag has no rules (variant) or no rollouts (boolean).
    pub empty: bool,
}

/// Bytes of a key stored in its slot; longer keys compare their rest with the flag's own.
const INLINE_KEY: usize = 32;

/// One table entry: a cache line holding the key's hash, the start of the key and the flag's
/// [`FlagHead`], so that a lookup usually touches one line of memory.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Slot {
    /// Low 32 bits of the key's hash.
    hash: u32,
    key_len: u32,
    key: [u8; INLINE_KEY],
    head: FlagHead,
}

/// Slots per group: a group's tags fit one `u64`.
const GROUP: usize = 8;
/// Each byte of a `u64` set to 1.
const ONES: u64 = 0x0101_0101_0101_0101;
/// Each byte's top bit.
const TOPS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` that are zero, as their top bits (a byte above a zero byte may show
/// up too; candidates are checked against the key anyway).
#[inline(always)]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & TOPS
}

/// Flag key → the flag's [`FlagHead`]. Slots come in groups of eight, each group with one
/// word of tags (a byte per slot: 0 when empty, else 7 bits of the key's hash with the top
/// bit set), so a probe compares eight tags at once without a branch and usually looks at one
/// slot. The tags of a 500-flag table take 1 KiB and stay in cache.
#[derive(Debug, Default)]
pub(crate) struct FlagIndex {
    tags: Box<[u64]>,
    slots: Box<[Option<Slot>]>,
}

/// The tag of a hash: never 0, which marks an empty slot.
#[inline(always)]
fn tag(h: u64) -> u8 {
    0x80 | (h >> 57) as u8
}

impl FlagIndex {
    /// Builds the table from distinct `(key, head)` pairs.
    pub(crate) fn build<'a>(entries: impl ExactSizeIterator<Item = (&'a str, FlagHead)>) -> Self {
        // At most half full, so that most keys sit in their own group.
        let groups = (entries.len() * 2).div_ceil(GROUP).next_power_of_two();
        let mut tags = vec![0u64; groups];
        let mut slots: Vec<Option<Slot>> = vec![None; groups * GROUP];
        let mask = groups - 1;
        for (key, head) in entries {
            let h = hash(key);
            let mut g = h as usize & mask;
            // The first group with an empty slot, in probe order.
            let free = loop {
                let empty = zero_bytes(tags[g]);
                if empty != 0 {
                    break (empty.trailing_zeros() / 8) as usize;
                }
                g = (g + 1) & mask;
            };
            tags[g] |= u64::from(tag(h)) << (8 * free);
            let mut inline = [0u8; INLINE_KEY];
            let n = key.len().min(INLINE_KEY);
            inline[..n].copy_from_slice(&key.as_bytes()[..n]);
            slots[g * GROUP + free] = Some(Slot {
                hash: h as u32,
                key_len: u32::try_from(key.len()).unwrap_or(u32::MAX),
                key: inline,
                head,
            });
        }
        FlagIndex {
            tags: tags.into_boxed_slice(),
            slots: slots.into_boxed_slice(),
        }
    }

    /// The head of the flag with this key. `rest` gives the key of a flag position, for keys
    /// longer than a slot holds.
    #[inline(always)]
    pub(crate) fn get<'k>(&self, key: &str, rest: impl Fn(u32) -> &'k str) -> Option<&FlagHead> {
        if self.tags.is_empty() {
            return None;
        }
        let mask = self.tags.len() - 1;
        let h = hash(key);
        let b = key.as_bytes();
        let wanted = ONES * u64::from(tag(h));
        let mut g = h as usize & mask;
        // Keys were placed in the first group with room, so a group with an empty slot ends
        // the probe (the table is at most half full).
        loop {
            let tags = *self.tags.get(g)?;
            let mut hits = zero_bytes(tags ^ wanted);
            while hits != 0 {
                let at = g * GROUP + (hits.trailing_zeros() / 8) as usize;
                if let Some(Some(slot)) = self.slots.get(at) {
                    if slot.hash == h as u32 && slot.key_len as usize == b.len() {
                        let found = if b.len() <= INLINE_KEY {
                            bytes_eq(&slot.key[..b.len()], b)
                        } else {
                            bytes_eq(&slot.key, &b[..INLINE_KEY]) && rest(slot.head.pos) == key
                        };
                        if found {
                            return Some(&slot.head);
                        }
                    }
                }
                hits &= hits - 1;
            }
            if zero_bytes(tags) != 0 {
                return None;
            }
            g = (g + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FlagHead, FlagIndex};

    fn index_of(keys: &[String]) -> FlagIndex {
        FlagIndex::build(keys.iter().enumerate().map(|(i, k)| {
            let head = FlagHead {
                pos: i as u32,
                ..FlagHead::default()
            };
            (k.as_str(), head)
        }))
    }

    fn find(index: &FlagIndex, keys: &[String], key: &str) -> Option<u32> {
        index
            .get(key, |pos| keys[pos as usize].as_str())
            .map(|h| h.pos)
    }

    #[test]
    fn similar_keys_spread_over_the_table() {
        // Keys differing only in their last bytes must not crowd a few groups.
        let keys: Vec<String> = (0..512).map(|i| format!("flag-{i:05}")).collect();
        let index = index_of(&keys);
        let mask = index.tags.len() - 1;
        let longest = keys
            .iter()
            .map(|k| {
                let mut g = super::hash(k) as usize & mask;
                let mut probes = 1;
                while !(0..super::GROUP).any(|i| {
                    index.slots[g * super::GROUP + i]
                        .as_ref()
                        .is_some_and(|s| &s.key[..k.len()] == k.as_bytes())
                }) {
                    g = (g + 1) & mask;
                    probes += 1;
                }
                probes
            })
            .max()
            .unwrap_or(0);
        assert!(longest <= 3, "a lookup visits {longest} groups");
    }

    #[test]
    fn finds_every_key_and_nothing_else() {
        let keys: Vec<String> = (0..1000).map(|i| format!("flag-{i:05}")).collect();
        let index = index_of(&keys);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(find(&index, &keys, k), Some(i as u32));
        }
        assert_eq!(find(&index, &keys, "flag-01000"), None);
        assert_eq!(find(&index, &keys, ""), None);
        assert!(FlagIndex::default().get("x", |_| "").is_none());
    }

    #[test]
    fn long_keys_compare_beyond_the_slot() {
        let stem = "a-flag-key-longer-than-a-slot-holds-".to_string();
        let keys: Vec<String> = (0..50).map(|i| format!("{stem}{i}")).collect();
        let index = index_of(&keys);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(find(&index, &keys, k), Some(i as u32));
        }
        assert_eq!(find(&index, &keys, &format!("{stem}x")), None);
        assert_eq!(find(&index, &keys, &stem), None);
    }
}
