//! The update policy: what happens to each outcome of the network side. A snapshot is checked
//! (its namespace, whether its bytes repeat the installed one), installed, persisted and
//! announced to listeners; a failure is logged, recorded in `health()`, and under the `fail`
//! strategy returned by evaluations until the next success. The network side (`net`) only
//! produces snapshots or errors and hands them here.

use crate::error::{Error, SnapshotError};
use crate::net::http::Fetched;
use crate::net::stop::Stop;
use crate::options::ErrorStrategy;
use crate::persist::Persist;
use crate::snapshot::Snapshot;
use crate::store::{SnapshotSource, Store};
use std::sync::Arc;

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
}

impl Updater {
    /// Applies one outcome; returns the error it reported, if any.
    pub(crate) fn apply(&mut self, outcome: Result<Fetched, Error>) -> Result<(), Error> {
        if self.stop.is_stopped() {
            // Closed: nothing more reaches the store.
            return Err(Error::closed());
        }
        let result = match outcome {
            Ok(Fetched::Snapshot(snapshot, digest)) => self.install(*snapshot, digest),
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

    fn install(&mut self, snapshot: Snapshot, digest: u64) -> Result<(), Error> {
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
            if let Err(e) = p.save(&new) {
                log::warn!("flipt: {e}");
            }
        }
        // The previous snapshot is freed here, outside the lock.
        drop(old);
        Ok(())
    }

    fn report(&self, e: Error) {
        log::warn!("flipt: snapshot update failed: {e}");
        if self.strategy == ErrorStrategy::Fail {
            self.store.set_error(e.clone());
        }
        self.store.record_error(e);
    }
}
