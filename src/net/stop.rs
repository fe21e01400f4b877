//! A stop flag that sleeping threads can wait on, so that `close()` interrupts any wait at once.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps for `d` unless stopped first; returns whether the stop flag is set.
    pub fn sleep(&self, d: Duration) -> bool {
        // A duration too long to represent as an instant means "until stopped".
        let deadline = Instant::now().checked_add(d);
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        while !*stopped {
            let now = Instant::now();
            let left = match deadline {
                Some(deadline) if now >= deadline => break,
                Some(deadline) => deadline - now,
                None => Duration::from_secs(3600),
            };
            stopped = match self.wake.wait_timeout(stopped, left) {
                Ok((guard, _)) => guard,
                Err(p) => p.into_inner().0,
            };
        }
        *stopped
    }
}
