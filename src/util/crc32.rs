//! CRC-32 (IEEE, reflected polynomial 0xEDB88320), as Flipt buckets entities with it
//! (docs/EVALUATION.md §8) and as the persisted snapshot file checks itself.
//!
//! Table-driven, eight bytes per step ("slicing-by-8"); the tables are built at compile time.

/// The CRC register before any byte.
pub(crate) const CRC_INIT: u32 = 0xFFFF_FFFF;

const fn tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = tables();

/// Feeds `bytes` into the CRC register `state` (start from [`CRC_INIT`]), the last 1 to 7
/// bytes one at a time: the fewest instructions, for a CRC whose latency is hidden (the
/// variant bucket, computed while the flag's program runs).
#[inline]
pub(crate) fn crc32_update(state: u32, bytes: &[u8]) -> u32 {
    let (mut state, rest) = update_words(state, bytes);
    for &b in rest {
        state = (state >> 8) ^ TABLES[0][((state ^ u32::from(b)) & 0xFF) as usize];
    }
    state
}

/// [`crc32_update`] with the last 1 to 7 bytes in one step, through the tables of that many
/// bytes: more instructions, but their lookups are independent where a byte at a time chains
/// them. For a CRC that the next step waits for (the threshold bucket).
#[inline]
pub(crate) fn crc32_update_short_chain(state: u32, bytes: &[u8]) -> u32 {
    let (state, rest) = update_words(state, bytes);
    let k = rest.len();
    if k == 0 {
        return state;
    }
    // The register's bytes beyond the first `k` are not consumed: they move down.
    let mut next = if k < 4 { state >> (8 * k) } else { 0 };
    for (i, &b) in rest.iter().enumerate() {
        let x = if i < 4 {
            b ^ (state >> (8 * i)) as u8
        } else {
            b
        };
        next ^= TABLES[(k - 1 - i) % 8][usize::from(x)];
    }
    next
}

/// Feeds the whole eight-byte words of `bytes` into `state`; returns it and the rest.
#[inline(always)]
fn update_words(mut state: u32, bytes: &[u8]) -> (u32, &[u8]) {
    let t = &TABLES;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let lo = state ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        state = t[7][(lo & 0xFF) as usize]
            ^ t[6][((lo >> 8) & 0xFF) as usize]
            ^ t[5][((lo >> 16) & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    (state, chunks.remainder())
}

/// The final CRC value of a register.
#[inline]
pub(crate) fn crc32_finish(state: u32) -> u32 {
    !state
}

/// CRC-32 of `bytes` in one call.
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    crc32_finish(crc32_update(CRC_INIT, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        for (input, want) in [
            ("123456789", 0xCBF4_3926u32),
            ("flag1entity", 955_612_673),
            ("entityflag1", 2_252_253_238),
            ("foo1", 3_476_655_244),
            ("1foo", 451_017_963),
            ("checkout-themeuser-1", 4_002_653_495),
            ("user-1new-search", 924_760_375),
            ("", 0),
        ] {
            assert_eq!(crc32(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..100u8).collect();
        for split in 0..data.len() {
            let s = crc32_update(crc32_update(CRC_INIT, &data[..split]), &data[split..]);
            assert_eq!(crc32_finish(s), crc32(&data));
            let s = crc32_update_short_chain(
                crc32_update_short_chain(CRC_INIT, &data[..split]),
                &data[split..],
            );
            assert_eq!(crc32_finish(s), crc32(&data), "split at {split}");
        }
    }
}
