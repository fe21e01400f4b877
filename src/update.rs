//! The update policy: what happens to each outcome of the network side. A snapshot is checked
//! (its namespace, whether its bytes repeat the installed one), installed, persisted and
//! announced to listeners; a failure is logged, recorded in `health()`, and under the `fail`
//! strategy returned by evaluations until the next success. The network side (`net`) only
//! produces snapshots or errors and hands them here.

use crate::error::{Error, ServerErrorKind, SnapshotError};
use crate::net::http::{Fetched, Update};
use crate::net::stop::Stop;
use crate::options::ErrorStrategy;
use crate::persist::Persist;
use crate::store::{SnapshotSource, Store};
use crate::util::ratelimit::LogLimit;
use std::sync::Arc;

/// The log-rate kind of persistence failures (update failures use [`log_kind`]).
const PERSIST_KIND: u32 = 1;
/// The log-rate kind of streams dropped for bad lines.
pub(crate) const STREAM_DROP_KIND: u32 = 5;

/// One log-rate kind per kind of update failure: a flood of one kind never hides another.
fn log_kind(e: &Error) -> u32 {
    match e {
        Error::Server(s) => match s.kind() {
            ServerErrorKind::Status(code) => 1000 + u32::from(code),
            ServerErrorKind::Timeout => 10,
            ServerErrorKind::Connect => 11,
            ServerErrorKind::Tls => 12,
            ServerErrorKind::Body => 13,
            ServerErrorKind::Redirect => 14,
            ServerErrorKind::Closed => 15,
            ServerErrorKind::Other => 16,
        },
        Error::Snapshot(_) => 2,
        Error::Io(_) => 3,
        _ => 4,
    }
}

/// Everything that happens to a fetched snapshot: check, install, persist, notify; and to a
/// failure: log, record, and under `fail` poison evaluations.
pub(crate) struct Updater {
    pub store: Arc<Store>,
    pub strategy: ErrorStrategy,
    pub persist: Option<Persist>,
    /// The namespace asked for: a document of another one is refused.
    pub namespace: String,
    pub stop: Arc<Stop>,
    /// The digest of the last body installed from the server and the generation it got.
    pub last: Option<(u64, u64)>,
    /// Bounds the warnings a misbehaving server can cause.
    pub log_limit: LogLimit,
}

impl Updater {
    /// Applies one outcome; returns the error it reported, if any.
    pub(crate) fn apply(&mut self, outcome: Result<Fetched, Error>) -> Result<(), Error> {
        if self.stop.is_stopped() {
            // Closed: nothing more reaches the store.
            return Err(Error::closed());
        }
        let result = match outcome {
            Ok(Fetched::Snapshot(update)) => self.install(*update),
            Ok(Fetched::NotModified) => {
                self.store.record_check();
                Ok(())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            self.report(e.clone());
        }
        result
    }

    fn install(&mut self, update: Update) -> Result<(), Error> {
        let Update {
            snapshot,
            digest,
            document,
        } = update;
        if snapshot.namespace() != self.namespace {
            return Err(Error::Snapshot(SnapshotError::at(
                "namespace.key",
                format!(
                    "the server sent a snapshot of namespace {:?}, not {:?}",
                    snapshot.namespace(),
                    self.namespace
                ),
            )));
        }
        // The same bytes as the snapshot we installed, still in place: nothing changed.
        if self.last == Some((digest, self.store.generation())) {
            self.store.record_check();
            return Ok(());
        }
        let new = Arc::new(snapshot);
        let old = self.store.install(Arc::clone(&new), SnapshotSource::Server);
        self.last = Some((digest, self.store.generation()));
        if let Some(p) = &self.persist {
            match p.save(&new, document.as_deref()) {
                Ok(bytes) => log::debug!("flipt: persisted {bytes} bytes to {}", p.path.display()),
                Err(e) => {
                    if let Some(held) = self.log_limit.check(PERSIST_KIND) {
                        log::error!("flipt: {e}{held}");
                    }
                }
            }
        }
        // The previous snapshot is freed here, outside the lock.
        drop(old);
        Ok(())
    }

    /// Logs a warning of `kind` at the bounded rate.
    pub(crate) fn warn(&mut self, kind: u32, message: std::fmt::Arguments<'_>) {
        if let Some(held) = self.log_limit.check(kind) {
            log::warn!("flipt: {message}{held}");
        }
    }

    fn report(&mut self, e: Error) {
        if let Some(held) = self.log_limit.check(log_kind(&e)) {
            log::warn!("flipt: snapshot update failed: {e}{held}");
        }
        if self.strategy == ErrorStrategy::Fail {
            self.store.set_error(e.clone());
        }
        self.store.record_error(e);
    }
}
