//! Helpers shared by modules that do not otherwise know each other: the bottom of the import
//! graph (it imports nothing from the rest of the crate).

pub(crate) mod crc32;
pub(crate) mod datetime;
pub(crate) mod json;
pub(crate) mod ratelimit;
pub(crate) mod strings;

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The default largest snapshot accepted (64 MiB): `ClientOptions::max_snapshot_size` and
/// `FliptClient::from_snapshot_file`.
pub(crate) const DEFAULT_MAX_SNAPSHOT_SIZE: u64 = 64 * 1024 * 1024;

/// A uniform random 64-bit value without a dependency: std's randomly keyed SipHash over a
/// counter and the clock. Plenty for jitter and temporary file names.
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

/// The contents of `path`, refusing a file larger than `limit` bytes without reading it all.
pub(crate) fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let too_large = |size: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("file of {size} bytes or more exceeds the limit of {limit} bytes"),
        )
    };
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // The file may grow while it is read: never take more than the limit.
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}
