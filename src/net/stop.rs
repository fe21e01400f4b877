//! A stop flag that sleeping threads can wait on, so that `close()` interrupts any wait at once,
//! and a "fetch now" request ([`crate::FliptClient::refresh`]) that ends a polling wait early.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    stopped: bool,
    /// A refresh was asked for and not yet served.
    poked: bool,
}

#[derive(Default)]
pub(crate) struct Stop {
    state: Mutex<State>,
    wake: Condvar,
}

impl Stop {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn stop(&self) {
        self.state().stopped = true;
        self.wake.notify_all();
    }

    /// Asks the update thread to fetch now: ends the current or next polling wait.
    pub(crate) fn poke(&self) {
        self.state().poked = true;
        self.wake.notify_all();
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.state().stopped
    }

    /// Sleeps for `d` unless stopped first; returns whether the stop flag is set.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        self.wait(d, false)
    }

    /// Like [`Stop::sleep`], but a refresh request also ends the wait (and is consumed).
    pub(crate) fn sleep_or_poke(&self, d: Duration) -> bool {
        self.wait(d, true)
    }

    fn wait(&self, d: Duration, pokeable: bool) -> bool {
        // A duration too long to represent as an instant means "until stopped".
        let deadline = Instant::now().checked_add(d);
        let mut state = self.state();
        while !state.stopped {
            if pokeable && state.poked {
                state.poked = false;
                break;
            }
            let now = Instant::now();
            let left = match deadline {
                Some(deadline) if now >= deadline => break,
                Some(deadline) => deadline - now,
                None => Duration::from_secs(3600),
            };
            state = match self.wake.wait_timeout(state, left) {
                Ok((guard, _)) => guard,
                Err(p) => p.into_inner().0,
            };
        }
        state.stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_poke_ends_only_a_pokeable_wait() {
        let stop = Stop::default();
        stop.poke();
        let start = Instant::now();
        assert!(!stop.sleep(Duration::from_millis(30)), "not stopped");
        assert!(
            start.elapsed() >= Duration::from_millis(30),
            "sleep ignores pokes"
        );
        assert!(
            !stop.sleep_or_poke(Duration::from_secs(3600)),
            "the poke is served"
        );
        let start = Instant::now();
        assert!(
            !stop.sleep_or_poke(Duration::from_millis(30)),
            "and consumed"
        );
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn stop_wakes_a_sleeper_from_another_thread() {
        let stop = Arc::new(Stop::default());
        let s = Arc::clone(&stop);
        let t = std::thread::spawn(move || s.sleep(Duration::MAX));
        std::thread::sleep(Duration::from_millis(20));
        stop.stop();
        assert!(t.join().unwrap());
        assert!(stop.is_stopped());
    }
}
