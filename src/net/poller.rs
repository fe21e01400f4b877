//! The background `std::thread` that keeps the snapshot fresh: polling at `update_interval`,
//! or holding the stream open and reconnecting with jittered exponential backoff.

use super::http::{backoff, Fetched, Fetcher};
use super::stop::Stop;
use super::stream::{Frame, LineFramer};
use crate::error::{Error, SnapshotError};
use crate::options::{ErrorStrategy, FetchMode};
use crate::persist::Persist;
use crate::snapshot::Snapshot;
use crate::store::{SnapshotSource, Store};
use std::io::Read;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Everything that happens to a fetched snapshot: install, persist, notify; and to a failure:
/// log, record, and under `fail` poison evaluations.
pub(crate) struct Updater {
    pub store: Arc<Store>,
    pub strategy: ErrorStrategy,
    pub persist: Option<Persist>,
}

impl Updater {
    pub fn apply(&self, outcome: Result<Fetched, Error>) {
        match outcome {
            Ok(Fetched::Snapshot(snapshot)) => self.install(*snapshot),
            Ok(Fetched::NotModified) => self.store.record_check(),
            Err(e) => self.report(e),
        }
    }

    fn install(&self, snapshot: Snapshot) {
        let new = Arc::new(snapshot);
        let old = self.store.install(Arc::clone(&new), SnapshotSource::Server);
        if let Some(p) = &self.persist {
            if let Err(e) = p.save(&new) {
                log::warn!("flipt: {e}");
            }
        }
        // The previous snapshot is freed here, outside the lock.
        drop(old);
    }

    fn report(&self, e: Error) {
        log::warn!("flipt: snapshot update failed: {e}");
        if self.strategy == ErrorStrategy::Fail {
            self.store.set_error(e.clone());
        }
        self.store.record_error(e);
    }
}

/// The running background thread.
pub(crate) struct Poller {
    stop: Arc<Stop>,
    agent: ureq::Agent,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    pub fn start(
        fetcher: Fetcher,
        updater: Updater,
        stop: Arc<Stop>,
        mode: FetchMode,
        interval: Duration,
    ) -> Result<Poller, Error> {
        let agent = fetcher.agent();
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("flipt-poller".into())
            .spawn(move || match mode {
                FetchMode::Polling => poll(fetcher, &updater, &thread_stop, interval),
                FetchMode::Streaming => stream(fetcher, &updater, &thread_stop),
            })
            .map_err(|e| Error::Internal(format!("cannot start the update thread: {e}")))?;
        Ok(Poller {
            stop,
            agent,
            thread: Some(thread),
        })
    }

    /// Stops the thread: wakes it from any sleep, cuts any connection it is blocked on,
    /// and joins it.
    pub fn close(&mut self) {
        self.stop.stop();
        self.agent.clone().shutdown();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                log::error!("flipt: the update thread panicked");
            }
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.close();
    }
}

fn poll(mut fetcher: Fetcher, updater: &Updater, stop: &Stop, interval: Duration) {
    while !stop.sleep(interval) {
        let outcome = fetcher.fetch();
        if stop.is_stopped() {
            break;
        }
        updater.apply(outcome);
    }
}

fn stream(mut fetcher: Fetcher, updater: &Updater, stop: &Stop) {
    let mut failures = 0u32;
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.is_stopped() {
        let mut good = false;
        match fetcher.open_stream() {
            Err(e) => {
                if stop.is_stopped() {
                    break;
                }
                updater.report(e);
            }
            Ok(mut body) => {
                let mut framer = LineFramer::new();
                let mut on_frame = |frame: Frame<'_>| {
                    if let Some(outcome) = line_outcome(frame) {
                        good |= outcome.is_ok();
                        updater.apply(outcome);
                    }
                };
                loop {
                    match body.read(&mut buf) {
                        Ok(0) => {
                            framer.finish(&mut on_frame);
                            log::debug!("flipt: stream ended by the server");
                            break;
                        }
                        Ok(n) => framer.push(&buf[..n], &mut on_frame),
                        Err(e) => {
                            if !stop.is_stopped() {
                                let e = Error::Server(format!("failed to read stream chunk: {e}"));
                                updater.report(e);
                            }
                            break;
                        }
                    }
                }
            }
        }
        if good {
            failures = 0;
        }
        let delay = backoff(fetcher.retry_base(), failures);
        failures = (failures + 1).min(16);
        if stop.sleep(delay) {
            break;
        }
    }
}

/// What one stream line means; blank lines (keep-alives) mean nothing.
fn line_outcome(frame: Frame<'_>) -> Option<Result<Fetched, Error>> {
    let bad = |msg: String| Some(Err(Error::Snapshot(SnapshotError::whole(msg))));
    match frame {
        Frame::TooLong => bad("failed to parse response body: stream line too long".into()),
        Frame::Line(line) if line.iter().all(u8::is_ascii_whitespace) => None,
        Frame::Line(line) => match std::str::from_utf8(line) {
            Err(e) => bad(format!("failed to parse response body: not UTF-8: {e}")),
            Ok(text) => match Snapshot::from_stream_line(text) {
                Ok(s) => Some(Ok(Fetched::Snapshot(Box::new(s)))),
                Err(e) => bad(format!("failed to parse response body: {e}")),
            },
        },
    }
}
