//! [`FliptClient`]: the public face of the crate.

#[cfg(feature = "net")]
use crate::error::ServerErrorKind;
use crate::error::{Error, FlagKey};
use crate::eval::explain::{self, Explanation};
use crate::eval::{self, result::*, Context};
use crate::handle::FlagHandle;
#[cfg(feature = "net")]
use crate::net::{http::Fetcher, poller::Poller, stop::Stop};
#[cfg(feature = "net")]
use crate::options::{Authentication, ClientOptions, ErrorStrategy};
#[cfg(feature = "net")]
use crate::persist::Persist;
use crate::reader::Reader;
use crate::snapshot::changes::SnapshotChange;
use crate::snapshot::{FlagInfo, FlagType, Snapshot};
use crate::store::{Health, SnapshotSource, Store};
#[cfg(feature = "net")]
use crate::update::Updater;
use std::path::Path;
#[cfg(feature = "net")]
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Weak};
#[cfg(feature = "net")]
use std::sync::{Mutex, RwLock};

/// A Flipt client that evaluates flags locally against an in-memory snapshot.
///
/// Evaluations never wait on the network and allocate nothing. Each result owns an `Arc` of
/// the snapshot it was computed from: the calling thread reuses the snapshot it loaded last
/// while the client's change counter says nothing changed, and takes the read lock only after
/// a swap. The `Arc`'s reference count is still written by every evaluation on every thread;
/// for hot loops on several threads use a [`crate::Reader`] per thread, which writes nothing
/// shared. `FliptClient` is `Send + Sync`; share it by reference or clone it (clones share one
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
    pub(crate) inner: Arc<Inner>,
}

/// A reference to a [`FliptClient`] that does not keep it alive: what a change listener
/// should hold to reach its own client. A listener holding a `FliptClient` clone would form a
/// cycle (the client owns its listeners), and the client, its update thread included, would
/// never be dropped.
///
/// ```
/// use flipt_client::{FliptClient, Snapshot};
/// use std::sync::{Arc, Mutex};
///
/// let client = FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
/// let weak = client.downgrade();
/// let flags = Arc::new(Mutex::new(0));
/// let seen = Arc::clone(&flags);
/// client.on_change(move |_| {
///     if let Some(client) = weak.upgrade() {
///         *seen.lock().unwrap() = client.list_flags().map_or(0, |f| f.len());
///     }
/// });
/// client.set_snapshot(Snapshot::empty("default"));
/// assert_eq!(*flags.lock().unwrap(), 0);
/// let weak = client.downgrade();
/// drop(client);
/// assert!(weak.upgrade().is_none(), "the listener did not keep the client alive");
/// # Ok::<(), flipt_client::Error>(())
/// ```
#[derive(Clone)]
pub struct WeakClient {
    inner: Weak<Inner>,
}

impl WeakClient {
    /// The client, if any strong handle ([`FliptClient`] or [`FlagHandle`]) still exists.
    pub fn upgrade(&self) -> Option<FliptClient> {
        self.inner.upgrade().map(|inner| FliptClient { inner })
    }
}

impl std::fmt::Debug for WeakClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakClient")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

pub(crate) struct Inner {
    pub(crate) namespace: Arc<str>,
    pub(crate) store: Arc<Store>,
    /// Credentials for the next request; `None` for offline clients.
    #[cfg(feature = "net")]
    auth: Option<Arc<RwLock<Option<Authentication>>>>,
    /// The update thread; `None` for offline clients and after `close()`.
    #[cfg(feature = "net")]
    poller: Mutex<Option<Poller>>,
}

#[cfg(feature = "net")]
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
    /// Connects to a Flipt server: validates `options`, starts one background thread that
    /// fetches the first snapshot and then keeps it fresh, and waits for that first fetch at
    /// most [`ClientOptions::initial_fetch_timeout`] (default 5 s).
    ///
    /// Under [`ErrorStrategy::Fallback`] with a seed or a persisted snapshot, `new` does not
    /// wait at all: it returns at once, evaluating the seed until the first fetch succeeds.
    ///
    /// Errors: [`Error::Validation`] for bad options (URL, TLS files or PEM, intervals,
    /// control characters, a seed that is not a snapshot of this namespace); under
    /// [`ErrorStrategy::Fail`], the first fetch's error, or a [`ServerErrorKind::Timeout`]
    /// error when the deadline passes first. Under [`ErrorStrategy::Fallback`] a failed or
    /// late first fetch is logged and the client starts from the seed, the persisted file, or
    /// an empty snapshot.
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
    #[cfg(feature = "net")]
    #[cfg_attr(docsrs, doc(cfg(feature = "net")))]
    pub fn new(options: ClientOptions) -> Result<FliptClient, Error> {
        FliptClient::start(options, true)
    }

    /// [`FliptClient::new`]; with `strict` false, a failed or late first fetch under
    /// [`ErrorStrategy::Fail`] leaves a running client in the error state (evaluations return
    /// the error until an update succeeds), as the official engine starts.
    #[cfg(feature = "net")]
    pub(crate) fn start(options: ClientOptions, strict: bool) -> Result<FliptClient, Error> {
        options.validate()?;
        let persist = options.persist_path.as_ref().map(|path| Persist {
            path: path.clone(),
            namespace: options.namespace.clone(),
            environment: options.environment.clone(),
            limit: options.max_snapshot_size,
        });
        // A cache directory that cannot be made fails a strict client and is logged under
        // `fallback`, which then runs without saving (each failed save is logged too).
        if let Some(p) = &persist {
            if let Err(e) = p.prepare() {
                if options.error_strategy == ErrorStrategy::Fail {
                    return Err(e.into());
                }
                log::error!("flipt: {e}");
            }
        }
        let persisted = persist.as_ref().and_then(|p| match p.load() {
            Ok(s) => s,
            Err(e) => {
                log::warn!("flipt: ignoring {e}");
                None
            }
        });
        let (initial, source) = match &options.snapshot {
            Some(seed) => {
                let s = Snapshot::parse(seed)
                    .map_err(|e| Error::invalid("snapshot", format!("snapshot option: {e}")))?;
                if s.namespace() != options.namespace {
                    return Err(Error::invalid(
                        "snapshot",
                        format!(
                            "snapshot option: the seed is for namespace {:?}, not {:?}",
                            s.namespace(),
                            options.namespace
                        ),
                    ));
                }
                (s, SnapshotSource::Seed)
            }
            None => (Snapshot::empty(&options.namespace), SnapshotSource::Empty),
        };
        // A persisted snapshot is at least as recent as a seed compiled into the program.
        let (initial, source) = match persisted {
            Some(s) => (s, SnapshotSource::Persisted),
            None => (initial, source),
        };
        let store = Arc::new(Store::new(Arc::new(initial), source));
        let auth = Arc::new(RwLock::new(options.authentication.clone()));
        let stop = Arc::new(Stop::default());
        let fetcher = Fetcher::new(&options, Arc::clone(&auth), Arc::clone(&stop))?;
        let updater = Updater {
            store: Arc::clone(&store),
            strategy: options.error_strategy,
            persist,
            namespace: options.namespace.clone(),
            stop: Arc::clone(&stop),
            last: None,
            log_limit: Default::default(),
        };
        let (poller, first) = Poller::start(
            fetcher,
            updater,
            stop,
            options.fetch_mode,
            options.update_interval,
        )?;
        let client = FliptClient {
            inner: Arc::new(Inner {
                namespace: Arc::from(options.namespace.as_str()),
                store,
                auth: Some(auth),
                poller: Mutex::new(Some(poller)),
            }),
        };
        let fallback = options.error_strategy == ErrorStrategy::Fallback;
        if fallback && source != SnapshotSource::Empty {
            // Start from what we have; the first fetch runs on the update thread.
            return Ok(client);
        }
        let deadline = options.initial_fetch_timeout;
        let failure = match first.recv_timeout(deadline) {
            Ok(Ok(())) => return Ok(client),
            Ok(Err(e)) => e,
            Err(RecvTimeoutError::Timeout) => Error::server(
                ServerErrorKind::Timeout,
                format!("no snapshot within the initial_fetch_timeout of {deadline:?}"),
            ),
            Err(RecvTimeoutError::Disconnected) => {
                Error::Internal("the update thread ended before its first fetch".into())
            }
        };
        if fallback || !strict {
            log::warn!(
                "flipt: initial fetch failed, starting from the {source:?} snapshot: {failure}"
            );
            // Still waiting for a first answer: `health()` says so, and under `fail`
            // evaluations answer the timeout, until the update thread reports otherwise.
            client.inner.store.first_fetch_overdue(failure, !fallback);
            Ok(client)
        } else {
            // Dropping the client closes the update thread (without waiting on the network).
            Err(failure)
        }
    }

    /// Stops the background thread: wakes it from any sleep and cuts any connection it holds.
    /// Returns within about 50 ms in every state: a thread blocked in a connect or a TLS
    /// handshake is left to exit on its own and can no longer change the snapshot.
    /// Evaluations keep working on the last snapshot. Idempotent; also done when the last
    /// clone of the client is dropped.
    pub fn close(&self) {
        #[cfg(feature = "net")]
        let poller = self
            .inner
            .poller
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        #[cfg(feature = "net")]
        if let Some(mut p) = poller {
            p.close();
        }
    }

    /// Asks the update thread to fetch the snapshot now instead of at the end of the current
    /// `update_interval` (in streaming mode: to reconnect now if it is waiting to). Returns at
    /// once; watch [`FliptClient::generation`] or [`FliptClient::subscribe`] for the result. A
    /// no-op for offline and closed clients.
    ///
    /// ```
    /// # let client = flipt_client::FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
    /// // e.g. on SIGHUP, or after an admin changed a flag
    /// client.refresh();
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn refresh(&self) {
        #[cfg(feature = "net")]
        if let Some(p) = self
            .inner
            .poller
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            p.refresh();
        }
    }

    /// Replaces the credentials used from the next request on (the next poll or stream
    /// reconnect). `None` removes the `Authorization` header.
    #[cfg(feature = "net")]
    #[cfg_attr(docsrs, doc(cfg(feature = "net")))]
    pub fn update_authentication(
        &self,
        authentication: Option<Authentication>,
    ) -> Result<(), Error> {
        if let Some(a) = &authentication {
            a.validate()?;
        }
        let Some(auth) = &self.inner.auth else {
            return Err(Error::invalid(
                "authentication",
                "an offline client has no server to authenticate to",
            ));
        };
        *auth.write().unwrap_or_else(|p| p.into_inner()) = authentication;
        Ok(())
    }

    /// Installs `snapshot` in place of the current one, as an update from the server would
    /// (listeners are notified), for programs that obtain snapshots themselves: a file
    /// watcher, a message bus. A connected client's next update replaces it again.
    ///
    /// ```
    /// use flipt_client::{FliptClient, Snapshot};
    /// let client = FliptClient::from_snapshot(Snapshot::empty("default"));
    /// client.set_snapshot(Snapshot::parse(include_str!("../examples/data/snapshot.json"))?);
    /// assert!(client.evaluate_boolean("new-search", "user-5", &())?.is_enabled());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_snapshot(&self, snapshot: Snapshot) {
        let old = self
            .inner
            .store
            .install(Arc::new(snapshot), SnapshotSource::Local);
        drop(old);
    }

    /// A [`WeakClient`]: a reference that does not keep this client alive, for listeners
    /// that need to reach their own client.
    pub fn downgrade(&self) -> WeakClient {
        WeakClient {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Calls `listener` on the update thread after each new snapshot is installed, with the
    /// keys of the flags it added, removed or changed. A listener that panics is logged and
    /// stays registered; keep listeners short, the next update waits for them.
    ///
    /// The client owns its listeners: a listener that needs the client must hold a
    /// [`WeakClient`] ([`FliptClient::downgrade`]), not a clone, or the client and its
    /// update thread are never dropped.
    ///
    /// ```
    /// use flipt_client::{FliptClient, Snapshot};
    /// use std::sync::{Arc, Mutex};
    ///
    /// let client = FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// client.on_change(move |change| {
    ///     for key in &change.removed {
    ///         log.lock().unwrap().push(format!("{key} removed in generation {}", change.generation));
    ///     }
    /// });
    /// client.set_snapshot(Snapshot::empty("default"));
    /// assert!(seen.lock().unwrap().contains(&"new-search removed in generation 2".to_string()));
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn on_change(&self, listener: impl Fn(&SnapshotChange) + Send + Sync + 'static) {
        self.inner.store.listen(Arc::new(listener));
    }

    /// A channel that receives a [`SnapshotChange`] after each new snapshot. Dropping the
    /// receiver is fine: sends to it are then ignored. The channel keeps no reference to the
    /// client: a thread that reads it and needs the client should hold a [`WeakClient`].
    pub fn subscribe(&self) -> std::sync::mpsc::Receiver<SnapshotChange> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.inner
            .store
            .listen(Arc::new(move |change: &SnapshotChange| {
                let _ = tx.send(change.clone());
            }));
        rx
    }

    /// A handle for evaluating one flag in a hot loop: it remembers where the flag is in the
    /// current snapshot, so evaluations skip the key lookup, and finds it again when a new
    /// snapshot is installed. Allocation-free like every evaluation. A handle keeps the
    /// client alive; it is `Send + Sync`, so it can sit in a struct shared across threads.
    ///
    /// ```
    /// # let client = flipt_client::FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
    /// let theme = client.flag("checkout-theme");
    /// let r = theme.evaluate_variant("user-1", &[("plan", "pro"), ("age", "30")])?;
    /// assert_eq!(r.variant_key(), "blue");
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn flag(&self, flag_key: &str) -> FlagHandle {
        FlagHandle::new(self.clone(), FlagKey::from(flag_key))
    }

    /// A [`Reader`] for the calling thread: evaluations through it take no lock and write
    /// no memory shared with other threads, so they scale with cores. Use one per thread for
    /// hot loops on several threads; see [`Reader`].
    pub fn reader(&self) -> Reader {
        Reader::new(
            Arc::clone(&self.inner.store),
            Arc::clone(&self.inner.namespace),
        )
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
                #[cfg(feature = "net")]
                auth: None,
                #[cfg(feature = "net")]
                poller: Mutex::new(None),
            }),
        }
    }

    /// A client from snapshot text in any format [`Snapshot::parse`] accepts: the server's
    /// JSON document, the engine's JSON, or a base64 seed.
    pub fn from_snapshot_json(text: &str) -> Result<FliptClient, Error> {
        Ok(FliptClient::from_snapshot(Snapshot::parse(text)?))
    }

    /// A client from a snapshot file in any format [`Snapshot::parse`] accepts, the cache
    /// file a client writes with `persist_path` included, of at most
    /// `ClientOptions::DEFAULT_MAX_SNAPSHOT_SIZE` (64 MiB, plus the cache file's few header
    /// bytes; read larger files yourself and use [`Snapshot::parse_bytes`]).
    ///
    /// Errors: [`Error::Io`] if the file cannot be read (its `source()` is the
    /// [`std::io::Error`]) or is over the limit, [`Error::Snapshot`] if it is not a snapshot.
    ///
    /// ```no_run
    /// let client = flipt_client::FliptClient::from_snapshot_file("flags.json")?;
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn from_snapshot_file(path: impl AsRef<Path>) -> Result<FliptClient, Error> {
        Ok(FliptClient::from_snapshot(Snapshot::from_file(path)?))
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
            snapshot,
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
            snapshot,
            &self.inner.namespace,
            flag_key,
            entity_id,
            context,
        )
    }

    /// [`FliptClient::evaluate_boolean`], or `default` when it would fail (a missing flag, a
    /// variant flag, a stored update error). Never fails and never allocates.
    ///
    /// ```
    /// # let client = flipt_client::FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
    /// assert!(client.evaluate_boolean_or("new-search", "user-5", &(), false));
    /// assert!(client.evaluate_boolean_or("no-such-flag", "user-5", &(), true));
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn evaluate_boolean_or<C: Context + ?Sized>(
        &self,
        flag_key: &str,
        entity_id: &str,
        context: &C,
        default: bool,
    ) -> bool {
        self.inner
            .store
            .try_load()
            .and_then(|s| {
                eval::boolean_opt(&s, &self.inner.namespace, flag_key, entity_id, context)
            })
            .unwrap_or(default)
    }

    /// [`FliptClient::evaluate_variant`], or `default` when it would fail (a missing flag, a
    /// boolean flag, a stored update error). Never fails and never allocates.
    ///
    /// ```
    /// # let client = flipt_client::FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
    /// let ctx = [("plan", "pro"), ("age", "30")];
    /// assert_eq!(client.evaluate_variant_or("checkout-theme", "user-1", &ctx, "plain").variant_key(), "blue");
    /// let missing = client.evaluate_variant_or("no-such-flag", "user-1", &ctx, "plain");
    /// assert!(missing.is_default());
    /// assert_eq!(missing.variant_key(), "plain");
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn evaluate_variant_or<'d, C: Context + ?Sized>(
        &self,
        flag_key: &str,
        entity_id: &str,
        context: &C,
        default: &'d str,
    ) -> VariantOr<'d> {
        self.inner
            .store
            .try_load()
            .and_then(|s| eval::variant_opt(s, &self.inner.namespace, flag_key, entity_id, context))
            .map_or(VariantOr::Default(default), VariantOr::Evaluated)
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

    /// Why `evaluate_variant` gives what it gives: each rule tried, each segment and constraint
    /// with the value it saw, the bucket and the distribution boundaries. Allocates; for
    /// debugging and tooling, not for the hot path.
    ///
    /// ```
    /// # let client = flipt_client::FliptClient::from_snapshot_file("examples/data/snapshot.json")?;
    /// let why = client.explain_variant("checkout-theme", "user-1", &[("plan", "pro"), ("age", "17")])?;
    /// assert_eq!(why.outcome.variant_key, "control");
    /// println!("{why}");
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn explain_variant<C: Context + ?Sized>(
        &self,
        flag_key: &str,
        entity_id: &str,
        context: &C,
    ) -> Result<Explanation, Error> {
        let snapshot = self.inner.store.load()?;
        explain::explain(
            &snapshot,
            &self.inner.namespace,
            flag_key,
            entity_id,
            context,
            FlagType::Variant,
        )
    }

    /// Why `evaluate_boolean` gives what it gives; see [`FliptClient::explain_variant`].
    pub fn explain_boolean<C: Context + ?Sized>(
        &self,
        flag_key: &str,
        entity_id: &str,
        context: &C,
    ) -> Result<Explanation, Error> {
        let snapshot = self.inner.store.load()?;
        explain::explain(
            &snapshot,
            &self.inner.namespace,
            flag_key,
            entity_id,
            context,
            FlagType::Boolean,
        )
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
