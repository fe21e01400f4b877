//! The background `std::thread` that keeps the snapshot fresh: the first fetch, then polling at
//! `update_interval`, or holding the stream open and reconnecting with jittered exponential
//! backoff.
//!
//! The thread does every network wait, the first fetch included, so that the constructor can
//! bound its own wait and `close()` can abandon a thread stuck in a connect or a handshake.

use super::http::{backoff, Fetched, Fetcher};
use super::stop::Stop;
use super::stream::{Frame, LineFramer};
use crate::error::{Error, SnapshotError};
use crate::options::FetchMode;
use crate::snapshot::cache::stream_document;
use crate::snapshot::Snapshot;
use crate::update::{Updater, STREAM_DROP_KIND};
use std::cell::Cell;
use std::io::Read;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long `close()` waits for the thread before leaving it to finish on its own (it then
/// exits at its next check of the stop flag, at the latest when its connect times out).
const CLOSE_WAIT: Duration = Duration::from_millis(50);

/// The running background thread.
pub(crate) struct Poller {
    stop: Arc<Stop>,
    agent: ureq::Agent,
    thread: Option<JoinHandle<()>>,
    /// Disconnected when the thread has exited (its sender is dropped, panic or not).
    exited: Receiver<()>,
}

impl Poller {
    /// Starts the thread; it fetches at once and sends the first outcome on the returned
    /// channel (`Ok` once a snapshot is installed or confirmed).
    pub(crate) fn start(
        mut fetcher: Fetcher,
        mut updater: Updater,
        stop: Arc<Stop>,
        mode: FetchMode,
        interval: Duration,
    ) -> Result<(Poller, Receiver<Result<(), Error>>), Error> {
        let agent = fetcher.agent();
        let thread_stop = Arc::clone(&stop);
        let (first_tx, first_rx) = mpsc::channel();
        let (exit_tx, exited) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("flipt-poller".into())
            .spawn(move || {
                let _exit = exit_tx;
                first_fetch(&mut fetcher, &mut updater, first_tx);
                match mode {
                    FetchMode::Polling => poll(fetcher, &mut updater, &thread_stop, interval),
                    FetchMode::Streaming => stream(fetcher, &mut updater, &thread_stop),
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the update thread: {e}")))?;
        Ok((
            Poller {
                stop,
                agent,
                thread: Some(thread),
                exited,
            },
            first_rx,
        ))
    }

    /// Asks the thread to fetch now.
    pub(crate) fn refresh(&self) {
        self.stop.poke();
    }

    /// Stops the thread: wakes it from any sleep, cuts any connection it is blocked on, and
    /// joins it if it exits within [`CLOSE_WAIT`]; a thread stuck in a connect or a TLS
    /// handshake is left to exit on its own, and can no longer touch the snapshot.
    pub(crate) fn close(&mut self) {
        self.stop.stop();
        self.agent.clone().shutdown();
        let Some(thread) = self.thread.take() else {
            return;
        };
        match self.exited.recv_timeout(CLOSE_WAIT) {
            Err(RecvTimeoutError::Disconnected) | Ok(()) => {
                if thread.join().is_err() {
                    log::error!("flipt: the update thread panicked");
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                log::debug!(
                    "flipt: the update thread is blocked on the network; not waiting for it"
                );
            }
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.close();
    }
}

fn first_fetch(fetcher: &mut Fetcher, updater: &mut Updater, first: Sender<Result<(), Error>>) {
    let result = updater.apply(fetcher.fetch());
    // The constructor may have stopped waiting: a closed channel is fine.
    let _ = first.send(result);
}

fn poll(mut fetcher: Fetcher, updater: &mut Updater, stop: &Stop, interval: Duration) {
    while !stop.sleep_or_poke(interval) {
        let outcome = fetcher.fetch();
        // Reported by the updater.
        let _ = updater.apply(outcome);
    }
}

/// How many bad lines in a row make the client drop a stream and reconnect with backoff,
/// instead of parsing a broken server's output at full speed.
pub(crate) const MAX_BAD_LINES: u32 = 100;

fn stream(mut fetcher: Fetcher, updater: &mut Updater, stop: &Stop) {
    let mut failures = 0u32;
    let mut buf = vec![0u8; 64 * 1024];
    let limit = usize::try_from(fetcher.body_limit()).unwrap_or(usize::MAX);
    let keep = fetcher.keeps_documents();
    while !stop.is_stopped() {
        let good = Cell::new(false);
        let bad_run = Cell::new(0u32);
        let dropped = || bad_run.get() >= MAX_BAD_LINES;
        // What we hold (from the first fetch, an earlier stream line or the persisted file):
        // the server need not send it again.
        let digest = updater.store.snapshot().digest().map(str::to_string);
        match fetcher.open_stream(digest.as_deref()) {
            Err(e) => {
                let _ = updater.apply(Err(e));
            }
            Ok(mut body) => {
                let mut framer = LineFramer::with_limit(limit);
                let mut on_frame = |frame: Frame<'_>| {
                    if dropped() {
                        return;
                    }
                    if let Some(outcome) = line_outcome(frame, keep) {
                        if updater.apply(outcome).is_ok() {
                            good.set(true);
                            bad_run.set(0);
                        } else {
                            bad_run.set(bad_run.get() + 1);
                        }
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
                            let e = Error::server(
                                crate::error::ServerErrorKind::Body,
                                format!("failed to read stream chunk: {e}"),
                            );
                            let _ = updater.apply(Err(e));
                            break;
                        }
                    }
                    if dropped() {
                        break;
                    }
                }
            }
        }
        // A stream dropped for bad lines counts as a failure even if it began well.
        if dropped() {
            updater.warn(
                STREAM_DROP_KIND,
                format_args!(
                    "dropped the stream after {MAX_BAD_LINES} bad lines in a row; reconnecting with backoff"
                ),
            );
        } else if good.get() {
            failures = 0;
        }
        let delay = backoff(fetcher.retry_base(), failures);
        failures = (failures + 1).min(16);
        if stop.sleep_or_poke(delay) {
            break;
        }
    }
}

/// What one stream line means; blank lines (keep-alives) mean nothing. `keep`: the snapshot
/// carries the line's document JSON, for persisting.
fn line_outcome(frame: Frame<'_>, keep: bool) -> Option<Result<Fetched, Error>> {
    let bad = |msg: String| Some(Err(Error::Snapshot(SnapshotError::whole(msg))));
    match frame {
        Frame::TooLong => bad(
            "failed to parse response body: stream line over the limit (max_snapshot_size)".into(),
        ),
        Frame::Line(line) if line.iter().all(u8::is_ascii_whitespace) => None,
        Frame::Line(line) => match std::str::from_utf8(line) {
            Err(e) => bad(format!("failed to parse response body: not UTF-8: {e}")),
            Ok(text) => match Snapshot::from_stream_line(text) {
                Ok(s) => {
                    let document = if keep { stream_document(text) } else { None };
                    Some(Ok(Fetched::snapshot(s, line, document)))
                }
                Err(e) => bad(format!("failed to parse response body: {e}")),
            },
        },
    }
}
