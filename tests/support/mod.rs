//! Helpers shared by the integration tests.

pub mod server;
pub mod vectors;

use std::time::{Duration, Instant};

/// Polls `cond` for up to 5 s; for conditions a background thread makes true.
#[allow(dead_code)]
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}
