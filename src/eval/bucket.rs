//! Bucketing (docs/EVALUATION.md §8, §9): the bucket numbers of variant distributions and
//! threshold rollouts (the one statement of each key order), a rule's buckets, and the binary
//! search over them.
//! The CRC-32 that makes the bucket number is in `crate::util::crc32`.

pub(crate) use crate::util::crc32::{
    crc32_finish, crc32_update, crc32_update_short_chain, CRC_INIT,
};

/// One bucket of a rule: a boundary (sorted among the rule's) and the distribution at its
/// position (the engine sorts the boundaries but not the distributions, docs/EVALUATION.md §8.2).
/// Kept side by side so that choosing reads one cache line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub bound: i32,
    pub dist: u32,
}

impl Bucket {
    /// Fills a rule's buckets up to a multiple of [`GROUP`]: never chosen, since no target
    /// reaches its boundary, and it names no distribution.
    pub(crate) const PAD: Bucket = Bucket {
        bound: i32::MAX,
        dist: u32::MAX,
    };

    /// Whether this is padding rather than a real bucket.
    pub(crate) fn is_pad(&self) -> bool {
        self.dist == u32::MAX
    }
}

/// A rule's buckets come in groups of this many (see [`Bucket::PAD`]), so that [`choose`]
/// counts whole groups: one for the usual handful of variants, whatever their number.
pub(crate) const GROUP: usize = 4;

/// The distribution that hash bucket `h` (0..1000) falls in among a rule's `buckets`, picked
/// exactly as the engine's `binary_search(&(h + 1))` over the boundaries picks a position:
/// the last position holding the target if it occurs, else the first position whose boundary
/// is greater. `None` if that position holds no distribution.
#[inline]
pub(crate) fn choose(buckets: &[Bucket], h: u32) -> Option<u32> {
    let target = h as i32 + 1;
    // The boundaries are sorted, so this count is their partition point; counting reads
    // every boundary (a rule has a handful) without branching on where the bucket falls.
    let mut groups = buckets.chunks_exact(GROUP);
    let mut p: usize = (&mut groups)
        .map(|g| {
            g.iter()
                .map(|b| usize::from(b.bound <= target))
                .sum::<usize>()
        })
        .sum();
    p += groups
        .remainder()
        .iter()
        .map(|b| usize::from(b.bound <= target))
        .sum::<usize>();
    let at = match p.checked_sub(1) {
        Some(last) if buckets.get(last).is_some_and(|b| b.bound == target) => last,
        _ => p,
    };
    buckets.get(at).filter(|b| !b.is_pad()).map(|b| b.dist)
}

/// The bucket (0–999) of variant distributions: the flag key (whose CRC state is the flag's
/// `salt`), then the entity id (docs/EVALUATION.md §8).
#[inline(always)]
pub(crate) fn variant_bucket(salt: u32, entity: &str) -> u32 {
    crc32_finish(crc32_update(salt, entity.as_bytes())) % 1000
}

/// [`variant_bucket`] from the flag key itself: the one statement of the variant key order
/// (flag key, then entity id). The compiler keeps the flag key's CRC state as the flag's
/// salt; explanations use this form.
pub(crate) fn variant_bucket_of(flag_key: &str, entity: &str) -> u32 {
    variant_bucket(crc32_update(CRC_INIT, flag_key.as_bytes()), entity)
}

/// The bucket of threshold rollouts: entity id first, then the flag key (the reverse of
/// variant bucketing), modulo 100.
#[inline]
pub(crate) fn threshold_bucket(entity: &str, flag_key: &str) -> u32 {
    let state = crc32_update_short_chain(CRC_INIT, entity.as_bytes());
    crc32_finish(crc32_update_short_chain(state, flag_key.as_bytes())) % 100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_follows_binary_search_ties() {
        // Distribution `i` at position `i`, padded as the compiler pads.
        let of = |bounds: &[i32]| -> Vec<Bucket> {
            let mut v: Vec<Bucket> = (0..)
                .zip(bounds)
                .map(|(dist, &bound)| Bucket { bound, dist })
                .collect();
            v.resize(v.len().div_ceil(GROUP) * GROUP, Bucket::PAD);
            v
        };
        // 10 / 0.01 / 89.99 → [100, 100, 1000]: h = 99 goes to the tiny middle variant.
        let b = of(&[100, 100, 1000]);
        assert_eq!(choose(&b, 98), Some(0));
        assert_eq!(choose(&b, 99), Some(1));
        assert_eq!(choose(&b, 100), Some(2));
        let b = of(&[500, 1000]);
        assert_eq!(choose(&b, 499), Some(0));
        assert_eq!(choose(&b, 500), Some(1));
        assert_eq!(choose(&b, 999), Some(1));
        // Past the last boundary (rollouts summing under 100% in a hand-made seed): none.
        assert_eq!(choose(&of(&[300, 600]), 700), None);
        // More buckets than one group.
        let b = of(&[100, 200, 300, 400, 500, 1000]);
        assert_eq!(choose(&b, 450), Some(4));
        assert_eq!(choose(&b, 999), Some(5));
    }
}
