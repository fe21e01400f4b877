//! [`FliptClient`]: the public face of the crate.

use crate::error::Error;
use crate::eval::{self, result::*, Context};
use crate::net::http::{Fetched, Fetcher};
use crate::net::poller::{self, Poller};
use crate::net::stop::Stop;
use crate::options::{Authentication, ClientOptions, ErrorStrategy};
use crate::snapshot::{FlagInfo, Snapshot};
use crate::store::{Health, SnapshotSource, Store};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

/// A Flipt client that evaluates flags locally against an in-memory snapshot.
///
/// Evaluations never wait on the network and allocate nothing: they clone an `Arc` of the
/// current snapshot under a read lock held for a few nanoseconds, release it, and compute.
/// `FliptClient` is `Send + Sync`; share it by reference or clone it (clones share one
/// snapshot).
///
/// ```
/// use flipt_client::FliptClient;
///
/// let client = FliptClient::from_snapshot_json(include_str!("../examples/data/snapshot.json"))?;
/// let theme = client.evaluate_variant("checkout-theme", "user-1", &[("plan", "pro"), ("age", "30")])?;
/// println!("{} because {}", theme.variant_key(), theme.reason());
/// let on = client.evaluate_boolean("new-search", "user-5", &())?.is_enabled();
/// # assert!(on);
/// # Ok::<(), flipt_client::Error>(())
/// ```
#[derive(Clone)]
pub struct FliptClient {
    inner: Arc<Inner>,
}

struct Inner {
    namespace: Arc<str>,
    store: Arc<Store>,
    /// Credentials for the next request; `None` for offline clients.
    auth: Option<Arc<RwLock<Option<Authentication>>>>,
    /// The update thread; `None` for offline clients and after `close()`.
    poller: Mutex<Option<Poller>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(mut p) = self
            .poller
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            p.close();
        }
    }
}

impl std::fmt::Debug for FliptClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FliptClient")
            .field("namespace", &self.inner.namespace)
            .field("generation", &self.inner.store.generation())
            .finish_non_exhaustive()
    }
}

impl FliptClient {
    /// Connects to a Flipt server: validates `options`, fetches the first snapshot on the
    /// calling thread, then starts one background thread that keeps it fresh.
    ///
    /// Errors: [`Error::Validation`] for bad options (URL, TLS files or PEM, zero interval,
    /// a seed that is not a snapshot of this namespace); under [`ErrorStrategy::Fail`], the
    /// first fetch's error. Under [`ErrorStrategy::Fallback`] a failed first fetch is logged
    /// and the client starts from the seed, or from an empty snapshot.
    ///
    /// ```no_run
    /// use flipt_client::{Authentication, ClientOptions, FliptClient};
    ///
    /// let client = FliptClient::new(
    ///     ClientOptions::new()
    ///         .url("http://localhost:8080")
    ///         .authentication(Authentication::client_token("secret")),
    /// )?;
    /// let r = client.evaluate_boolean("new-search", "user-1", &[("plan", "pro")])?;
    /// client.close();
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn new(options: ClientOptions) -> Result<FliptClient, Error> {
        options.validate()?;
        let (initial, source) = match &options.snapshot {
            Some(seed) => {
                let s = Snapshot::from_base64(seed)
                    .map_err(|e| Error::Validation(format!("snapshot option: {e}")))?;
                if s.namespace() != options.namespace {
                    return Err(Error::Validation(format!(
                        "snapshot option: the seed is for namespace {:?}, not {:?}",
                        s.namespace(),
                        options.namespace
                    )));
                }
                (s, SnapshotSource::Seed)
            }
            None => (Snapshot::empty(&options.namespace), SnapshotSource::Empty),
        };
        let store = Arc::new(Store::new(Arc::new(initial), source));
        let auth = Arc::new(RwLock::new(options.authentication.clone()));
        let stop = Arc::new(Stop::default());
        let mut fetcher = Fetcher::new(&options, Arc::clone(&auth), Arc::clone(&stop))?;

        match fetcher.fetch() {
            Ok(fetched @ Fetched::Snapshot(_)) => {
                poller::apply(&store, options.error_strategy, Ok(fetched))
            }
            Ok(Fetched::NotModified) => {}
            Err(e) if options.error_strategy == ErrorStrategy::Fail => return Err(e),
            Err(e) => {
                log::warn!(
                    "flipt: initial fetch failed, starting from the {source:?} snapshot: {e}"
                );
                store.record_error(e);
            }
        }
        let poller = Poller::start(
            fetcher,
            Arc::clone(&store),
            stop,
            options.fetch_mode,
            options.error_strategy,
            options.update_interval,
        )?;
        Ok(FliptClient {
            inner: Arc::new(Inner {
                namespace: Arc::from(options.namespace.as_str()),
                store,
                auth: Some(auth),
                poller: Mutex::new(Some(poller)),
            }),
        })
    }

    /// Stops the background thread and waits for it: promptly, even in the middle of a
    /// backoff sleep, a request or an idle stream. Evaluations keep working on the last
    /// snapshot. Idempotent; also done when the last clone of the client is dropped.
    pub fn close(&self) {
        let poller = self
            .inner
            .poller
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut p) = poller {
            p.close();
        }
    }

    /// Replaces the credentials used from the next request on (the next poll or stream
    /// reconnect). `None` removes the `Authorization` header.
    pub fn update_authentication(
        &self,
        authentication: Option<Authentication>,
    ) -> Result<(), Error> {
        if let Some(a) = &authentication {
            a.validate()?;
        }
        let Some(auth) = &self.inner.auth else {
            return Err(Error::Validation(
                "an offline client has no server to authenticate to".into(),
            ));
        };
        *auth.write().unwrap_or_else(|p| p.into_inner()) = authentication;
        Ok(())
    }

    /// The state of updates: generation, where the snapshot came from and when, the last
    /// success and the last error.
    pub fn health(&self) -> Health {
        self.inner.store.health()
    }

    /// A client that evaluates `snapshot` in the snapshot's own namespace, with no server.
    pub fn from_snapshot(snapshot: Snapshot) -> FliptClient {
        let namespace: Arc<str> = Arc::clone(&snapshot.namespace);
        FliptClient::offline(namespace, snapshot)
    }

    /// A client for `namespace` that evaluates `snapshot`, with no server. If the snapshot
    /// belongs to another namespace every flag is "not found", as in the official engine.
    pub fn from_snapshot_in(namespace: &str, snapshot: Snapshot) -> FliptClient {
        FliptClient::offline(Arc::from(namespace), snapshot)
    }

    fn offline(namespace: Arc<str>, snapshot: Snapshot) -> FliptClient {
        FliptClient {
            inner: Arc::new(Inner {
                namespace,
                store: Arc::new(Store::new(Arc::new(snapshot), SnapshotSource::Local)),
                auth: None,
                poller: Mutex::new(None),
            }),
        }
    }

    /// A client from snapshot text in any format [`Snapshot::parse`] accepts: the server's
    /// JSON document, the engine's JSON, or a base64 seed.
    pub fn from_snapshot_json(text: &str) -> Result<FliptClient, Error> {
        Ok(FliptClient::from_snapshot(Snapshot::parse(text)?))
    }

    /// A client from a snapshot file in any format [`Snapshot::parse`] accepts.
    ///
    /// ```no_run
    /// let client = flipt_client::FliptClient::from_snapshot_file("flags.json")?;
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn from_snapshot_file(path: impl AsRef<Path>) -> Result<FliptClient, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Validation(format!("cannot read snapshot file {}: {e}", path.display()))
        })?;
        Ok(FliptClient::from_snapshot(Snapshot::parse_bytes(&bytes)?))
    }

    /// The namespace this client evaluates in.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The current snapshot. Evaluating it directly skips the lock for a series of calls
    /// that must all see the same snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.store.snapshot()
    }

    /// Increases each time a new snapshot is installed; reading it takes no lock.
    pub fn generation(&self) -> u64 {
        self.inner.store.generation()
    }

    /// Evaluates a variant flag for `entity_id` with `context`.
    ///
    /// Errors: [`Error::FlagNotFound`], [`Error::WrongFlagType`] (a boolean flag), or the
    /// stored update error under the `fail` strategy.
    pub fn evaluate_variant<C: Context + ?Sized>(
        &self,
        flag_key: &str,
        entity_id: &str,
        context: &C,
    ) -> Result<VariantEvaluation, Error> {
        let snapshot = self.inner.store.load()?;
        eval::variant(
            &snapshot,
            &self.inner.namespace,
            flag_key,
            entity_id,
            context,
        )
    }

    /// Evaluates a boolean flag for `entity_id` with `context`.
    pub fn evaluate_boolean<C: Context + ?Sized>(
        &self,
        flag_key: &str,
        entity_id: &str,
        context: &C,
    ) -> Result<BooleanEvaluation, Error> {
        let snapshot = self.inner.store.load()?;
        eval::boolean(
            &snapshot,
            &self.inner.namespace,
            flag_key,
            entity_id,
            context,
        )
    }

    /// Evaluates several flags against one snapshot. Each flag is evaluated by its own type;
    /// a missing flag becomes a [`BatchItem::Error`] entry. Allocates the response vector once.
    ///
    /// ```
    /// use flipt_client::{BatchItem, EvaluationRequest, FliptClient};
    ///
    /// let client = FliptClient::from_snapshot_json(include_str!("../examples/data/snapshot.json"))?;
    /// let ctx = [("plan", "pro"), ("age", "30")];
    /// let batch = client.evaluate_batch(&[
    ///     EvaluationRequest::new("checkout-theme", "user-1", &ctx),
    ///     EvaluationRequest::new("new-search", "user-1", &ctx),
    ///     EvaluationRequest::new("nope", "user-1", &ctx),
    /// ])?;
    /// assert!(matches!(batch.responses[2], BatchItem::Error(_)));
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn evaluate_batch<'r, C: Context + ?Sized>(
        &self,
        requests: &[EvaluationRequest<'r, C>],
    ) -> Result<BatchEvaluation<'r>, Error> {
        let mut responses = Vec::new();
        self.evaluate_batch_into(requests, &mut responses)?;
        Ok(BatchEvaluation { responses })
    }

    /// Like [`FliptClient::evaluate_batch`], appending to a caller-owned vector so that a
    /// loop that clears and reuses it allocates nothing.
    pub fn evaluate_batch_into<'r, C: Context + ?Sized>(
        &self,
        requests: &[EvaluationRequest<'r, C>],
        out: &mut Vec<BatchItem<'r>>,
    ) -> Result<(), Error> {
        let snapshot = self.inner.store.load()?;
        eval::batch(&snapshot, &self.inner.namespace, requests, out)
    }

    /// All flags of the current snapshot, sorted by key.
    pub fn list_flags(&self) -> Result<Vec<FlagInfo>, Error> {
        let snapshot = self.inner.store.load()?;
        if *snapshot.namespace != *self.inner.namespace {
            return Err(Error::FlagsUnavailable {
                namespace: self.inner.namespace.to_string(),
            });
        }
        Ok(snapshot.flags())
    }

    /// The current snapshot as base64 of the engine's internal JSON: the format every
    /// official Flipt SDK accepts as its `snapshot` option, and so does
    /// [`FliptClient::from_snapshot_json`].
    pub fn get_snapshot(&self) -> Result<String, Error> {
        Ok(self.inner.store.load()?.to_base64())
    }
}
