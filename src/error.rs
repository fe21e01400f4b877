//! Error types.
//!
//! [`Error`] is what every fallible public call returns. Its `Display` output uses the official
//! engine's message texts (`invalid request: ...`, `unknown error: ...`), so logs read the same
//! across Flipt SDKs. [`SnapshotError`] explains why a snapshot document was rejected, with the
//! path of the offending field.

use crate::snapshot::FlagType;
use std::fmt;
use std::sync::Arc;

/// Longest error text kept from outside input (a server's message, a parse diagnosis): longer
/// texts are cut at a character boundary and marked, so that a hostile or broken server cannot
/// make every stored error, clone and log line megabytes long.
pub const MAX_ERROR_TEXT: usize = 1024;

/// `text`, cut to at most [`MAX_ERROR_TEXT`] bytes plus a marker.
pub(crate) fn capped(text: impl Into<String>) -> String {
    let mut text = text.into();
    if text.len() > MAX_ERROR_TEXT {
        let mut end = MAX_ERROR_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let dropped = text.len() - end;
        text.truncate(end);
        text.push_str(&format!("... ({dropped} more bytes)"));
    }
    text
}

/// The class of an [`Error`], matching the official engine's error kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request cannot be answered from this snapshot (flag missing, wrong flag type).
    /// Displayed with the prefix `invalid request: `.
    InvalidRequest,
    /// A snapshot could not be parsed. Displayed with the prefix `error parsing json: `.
    InvalidJson,
    /// The snapshot is internally inconsistent (a hand-made seed). Prefix `unknown error: `.
    Unknown,
    /// Talking to the Flipt server failed. Prefix `server error: `.
    Server,
    /// A bad option or argument was given to this library. Prefix `invalid option: `.
    Validation,
    /// An internal failure such as a poisoned lock. Prefix `internal error: `.
    Internal,
    /// A file could not be read. Prefix `io error: `.
    Io,
}

impl ErrorKind {
    /// The prefix the official engine writes before the detail of an error of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid request: ",
            ErrorKind::InvalidJson => "error parsing json: ",
            ErrorKind::Unknown => "unknown error: ",
            ErrorKind::Server => "server error: ",
            ErrorKind::Validation => "invalid option: ",
            ErrorKind::Internal => "internal error: ",
            ErrorKind::Io => "io error: ",
        }
    }
}

/// Which evaluation list a [`Error::RankOutOfOrder`] was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RankList {
    /// The rules of a variant flag.
    Rule,
    /// The rollouts of a boolean flag.
    Rollout,
}

// Every evaluation returns a `Result<_, Error>`: a larger error is copied on every call (the
// variant path measured 8 instructions more per evaluation at 72 bytes).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Error>() <= 56);

/// Everything that can go wrong in this crate.
///
/// ```
/// use flipt_client::{Error, ErrorKind, FliptClient};
///
/// let doc = r#"{"namespace":{"key":"default"},"flags":[]}"#;
/// let client = FliptClient::from_snapshot_json(doc).unwrap();
/// let err = client.evaluate_boolean("missing", "user-1", &[("plan", "pro")]).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidRequest);
/// assert!(matches!(err, Error::FlagNotFound { .. }));
/// assert_eq!(err.to_string(), "invalid request: failed to get flag information default/missing");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The flag is not in the snapshot, or the snapshot belongs to another namespace.
    ///
    /// Building this error allocates nothing for keys of up to [`FlagKey::INLINE`] bytes, and
    /// nothing at all through a [`crate::FlagHandle`].
    FlagNotFound {
        /// The namespace the client evaluates in (shared with the client).
        namespace: Arc<str>,
        /// The requested flag key.
        flag_key: FlagKey,
    },
    /// A variant evaluation of a boolean flag, or the reverse.
    WrongFlagType {
        /// The requested flag key.
        flag_key: FlagKey,
        /// The type the called method needs.
        expected: FlagType,
    },
    /// `list_flags` on a snapshot of another namespace.
    FlagsUnavailable {
        /// The namespace the client evaluates in.
        namespace: String,
    },
    /// A seed snapshot lacks the rule list of a flag.
    MissingRules {
        /// The namespace.
        namespace: String,
        /// The flag key.
        flag_key: String,
    },
    /// A seed snapshot lacks the rollout list of a flag.
    MissingRollouts {
        /// The namespace.
        namespace: String,
        /// The flag key.
        flag_key: String,
    },
    /// A seed snapshot lacks the distributions of a rule.
    MissingDistributions {
        /// The namespace.
        namespace: String,
        /// The rule id (`{flag_key}-{n}`).
        rule_id: String,
    },
    /// A seed snapshot lists rules or rollouts with decreasing ranks.
    RankOutOfOrder {
        /// Rules or rollouts.
        list: RankList,
        /// The offending rank.
        rank: u64,
    },
    /// A snapshot could not be loaded.
    Snapshot(SnapshotError),
    /// An invalid option or argument; [`ValidationError::option`] names it.
    Validation(ValidationError),
    /// The Flipt server could not be reached or answered with an error; the
    /// [`ServerError::kind`] tells which.
    Server(ServerError),
    /// A file could not be read; [`std::error::Error::source`] is the [`std::io::Error`].
    Io(IoError),
    /// A failure inside this library.
    Internal(String),
}

impl Error {
    /// The error's class, which decides its message prefix.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::FlagNotFound { .. }
            | Error::WrongFlagType { .. }
            | Error::RankOutOfOrder { .. } => ErrorKind::InvalidRequest,
            Error::FlagsUnavailable { .. }
            | Error::MissingRules { .. }
            | Error::MissingRollouts { .. }
            | Error::MissingDistributions { .. } => ErrorKind::Unknown,
            Error::Snapshot(_) => ErrorKind::InvalidJson,
            Error::Validation(_) => ErrorKind::Validation,
            Error::Server(_) => ErrorKind::Server,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Io(_) => ErrorKind::Io,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind().prefix())?;
        match self {
            Error::FlagNotFound { namespace, flag_key } => {
                write!(f, "failed to get flag information {namespace}/{flag_key}")
            }
            Error::WrongFlagType { flag_key, expected } => {
                let kind = match expected {
                    FlagType::Variant => "variant",
                    FlagType::Boolean => "boolean",
                };
                write!(f, "{flag_key} is not a {kind} flag")
            }
            Error::FlagsUnavailable { namespace } => write!(f, "failed to get flags for {namespace}"),
            Error::MissingRules { namespace, flag_key } => write!(
                f,
                "error getting evaluation rules for namespace {namespace} and flag {flag_key}"
            ),
            Error::MissingRollouts { namespace, flag_key } => write!(
                f,
                "error getting evaluation rollouts for namespace {namespace} and flag {flag_key}"
            ),
            Error::MissingDistributions { namespace, rule_id } => write!(
                f,
                "error getting evaluation distributions for namespace {namespace} and rule {rule_id}"
            ),
            Error::RankOutOfOrder { list, rank } => {
                let list = match list {
                    RankList::Rule => "rule",
                    RankList::Rollout => "rollout",
                };
                write!(f, "{list} rank: {rank} detected out of order")
            }
            Error::Snapshot(e) => fmt::Display::fmt(e, f),
            Error::Server(e) => f.write_str(&e.message),
            Error::Io(e) => write!(f, "{}: {}", e.context, e.source),
            Error::Validation(e) => f.write_str(&e.message),
            Error::Internal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Snapshot(e) => Some(e),
            Error::Io(e) => Some(&*e.source),
            Error::Server(e) => e
                .source
                .as_deref()
                .map(|s| s as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
}

impl Error {
    /// A server error of `kind` with the engine's `message` (capped at [`MAX_ERROR_TEXT`]).
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    pub(crate) fn server(kind: ServerErrorKind, message: impl Into<String>) -> Error {
        Error::server_caused(kind, message, None)
    }

    /// [`Error::server`] with the error that caused it, for `source()`.
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    pub(crate) fn server_caused(
        kind: ServerErrorKind,
        message: impl Into<String>,
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Server(ServerError {
            kind,
            message: capped(message),
            source,
        })
    }

    /// The error returned once the client is closed.
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    pub(crate) fn closed() -> Error {
        Error::server(ServerErrorKind::Closed, "client closed")
    }

    /// A failed read of `path`.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io(IoError {
            context: context.into(),
            source: Arc::new(source),
        })
    }

    /// A validation error of `option` (e.g. `"request_timeout"`).
    pub(crate) fn invalid(option: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Validation(ValidationError {
            option: option.into(),
            message: capped(message),
        })
    }

    /// The validation error inside, if this is one.
    pub fn as_validation(&self) -> Option<&ValidationError> {
        match self {
            Error::Validation(e) => Some(e),
            _ => None,
        }
    }

    /// The server error inside, if this is one.
    pub fn as_server(&self) -> Option<&ServerError> {
        match self {
            Error::Server(e) => Some(e),
            _ => None,
        }
    }
}

/// An invalid option or argument: which one ([`option`](ValidationError::option)), for
/// programs, and what is wrong with it, for people (`Display` of the enclosing [`Error`]).
///
/// ```
/// # #[cfg(feature = "net")] {
/// use flipt_client::{ClientOptions, FliptClient};
/// use std::time::Duration;
///
/// let err = FliptClient::new(ClientOptions::new().request_timeout(Duration::ZERO)).unwrap_err();
/// let invalid = err.as_validation().unwrap();
/// assert_eq!(invalid.option(), "request_timeout");
/// assert!(err.to_string().starts_with("invalid option: request_timeout must be greater than zero"));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    option: String,
    message: String,
}

impl ValidationError {
    /// The option or argument at fault, as its field is named, with a dotted path for nested
    /// ones: `url`, `request_timeout`, `tls_config.ca_cert_file`, `proxy`, `persist_path`,
    /// `snapshot`, `authentication`; for arguments, `flag_handle` or `options` (the C ABI's
    /// options JSON).
    pub fn option(&self) -> &str {
        &self.option
    }

    /// What is wrong, as `Display` of the enclosing [`Error`] shows it (without its prefix).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// What went wrong talking to the server; see [`ServerError::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// The server answered with this HTTP status (not 2xx, or 304 to an unconditional request).
    Status(u16),
    /// A timeout: connecting, waiting for the response, reading the body, or the startup
    /// deadline (`ClientOptions::initial_fetch_timeout`).
    Timeout,
    /// The connection could not be made or broke before a response: refused, reset, the host
    /// not found.
    Connect,
    /// The TLS handshake failed, e.g. the certificate did not verify. Never retried.
    Tls,
    /// The response body could not be read: cut short, or over the size limit.
    Body,
    /// A redirect that is not followed: from https to http, too many, or without a location.
    Redirect,
    /// The client was closed while the request was under way.
    Closed,
    /// Anything else.
    Other,
}

/// A failure talking to the Flipt server: its [`kind`](ServerError::kind) for programs, and the
/// official engine's text for people (`Display` of the enclosing [`Error`]).
///
/// ```
/// # #[cfg(feature = "net")] {
/// use flipt_client::{ClientOptions, FliptClient, ServerErrorKind};
/// use std::time::Duration;
///
/// // Nothing listens on port 9 of this machine: the connection is refused.
/// let err = FliptClient::new(
///     ClientOptions::new()
///         .url("http://127.0.0.1:9")
///         .retry_backoff(Duration::from_millis(1)),
/// )
/// .unwrap_err();
/// assert_eq!(err.as_server().map(|e| e.kind()), Some(ServerErrorKind::Connect));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ServerError {
    kind: ServerErrorKind,
    message: String,
    /// The I/O or TLS error behind a connection, TLS or body failure.
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// Two server errors are equal when their kind and text are (the sources are not compared).
impl PartialEq for ServerError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for ServerError {}

impl ServerError {
    /// What kind of failure this was.
    pub fn kind(&self) -> ServerErrorKind {
        self.kind
    }

    /// The HTTP status the server answered with, for [`ServerErrorKind::Status`].
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            ServerErrorKind::Status(code) => Some(code),
            _ => None,
        }
    }

    /// The engine's text, without the `server error: ` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A file that could not be read, e.g. a missing snapshot file. The [`std::io::Error`] is
/// the `source()` of the enclosing [`Error`].
///
/// ```
/// use flipt_client::{Error, FliptClient};
/// use std::error::Error as _;
///
/// let err = FliptClient::from_snapshot_file("/no/such/file.json").unwrap_err();
/// assert!(matches!(&err, Error::Io(e) if e.io_kind() == std::io::ErrorKind::NotFound));
/// let source = err.source().and_then(|s| s.downcast_ref::<std::io::Error>());
/// assert_eq!(source.map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
/// ```
#[derive(Debug, Clone)]
pub struct IoError {
    context: String,
    source: Arc<std::io::Error>,
}

impl IoError {
    /// The `std::io::ErrorKind` of the failure.
    pub fn io_kind(&self) -> std::io::ErrorKind {
        self.source.kind()
    }

    /// What was being done, e.g. `cannot read snapshot file flags.json`.
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl PartialEq for IoError {
    fn eq(&self, other: &Self) -> bool {
        self.context == other.context && self.source.kind() == other.source.kind()
    }
}

/// A flag key held by an error. Keys of up to [`FlagKey::INLINE`] bytes are stored inline and
/// longer ones shared, so that reporting a missing flag allocates nothing for the usual key
/// lengths, and nothing at all through a [`crate::FlagHandle`]. Reads as a `&str`.
///
/// ```
/// use flipt_client::FlagKey;
/// let key = FlagKey::from("new-search");
/// assert_eq!(key, "new-search");
/// assert_eq!(key.len(), 10);
/// ```
#[derive(Clone)]
pub struct FlagKey(KeyRepr);

#[derive(Clone)]
enum KeyRepr {
    Inline {
        len: u8,
        bytes: [u8; FlagKey::INLINE],
    },
    Shared(Arc<str>),
}

impl FlagKey {
    /// Longest key stored without allocating.
    pub const INLINE: usize = 30;

    /// The key.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // The bytes were copied from a `str` whole, so they are UTF-8; the fallback is
            // never taken.
            KeyRepr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..*len as usize]).unwrap_or_default()
            }
            KeyRepr::Shared(s) => s,
        }
    }
}

impl From<&str> for FlagKey {
    fn from(key: &str) -> Self {
        if key.len() <= FlagKey::INLINE {
            let mut bytes = [0u8; FlagKey::INLINE];
            bytes[..key.len()].copy_from_slice(key.as_bytes());
            FlagKey(KeyRepr::Inline {
                len: key.len() as u8,
                bytes,
            })
        } else {
            FlagKey(KeyRepr::Shared(Arc::from(key)))
        }
    }
}

impl std::ops::Deref for FlagKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for FlagKey {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for FlagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for FlagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for FlagKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for FlagKey {}

impl PartialEq<str> for FlagKey {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for FlagKey {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for FlagKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl From<SnapshotError> for Error {
    fn from(e: SnapshotError) -> Self {
        Error::Snapshot(e)
    }
}

/// Why a snapshot was rejected.
///
/// ```
/// use flipt_client::Snapshot;
///
/// let err = Snapshot::from_document(r#"{"namespace":{"key":"default"},"flags":[{"key":"a"}]}"#)
///     .unwrap_err();
/// assert_eq!(err.path(), Some("flags[0].name"));
/// assert_eq!(err.to_string(), "invalid snapshot: flags[0].name: missing required field");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotError {
    // Boxed strings keep the error, and so every `Result` of an evaluation, small: 48 bytes.
    path: Option<Box<str>>,
    message: Box<str>,
    /// The file the snapshot was read from, when it came from one.
    file: Option<Box<std::path::Path>>,
}

impl SnapshotError {
    pub(crate) fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        SnapshotError {
            path: Some(capped(path).into_boxed_str()),
            message: capped(message).into_boxed_str(),
            file: None,
        }
    }

    pub(crate) fn whole(message: impl Into<String>) -> Self {
        SnapshotError {
            path: None,
            message: capped(message).into_boxed_str(),
            file: None,
        }
    }

    /// The same error, for a snapshot read from `file`.
    pub(crate) fn in_file(mut self, file: &std::path::Path) -> Self {
        self.file = Some(file.into());
        self
    }

    /// The file the snapshot was read from ([`crate::FliptClient::from_snapshot_file`]).
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// The same error for a snapshot embedded at `parent` (`snapshot.flags[0].name`).
    pub(crate) fn within(self, parent: &str) -> Self {
        let path = match &self.path {
            Some(p) if !p.is_empty() => format!("{parent}.{p}"),
            _ => parent.to_string(),
        };
        SnapshotError {
            path: Some(capped(path).into_boxed_str()),
            message: self.message,
            file: self.file,
        }
    }

    /// The path of the offending field, e.g. `flags[3].rules[0].segmentOperator`, when the
    /// problem is in one field.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            return match &self.path {
                Some(path) if !path.is_empty() => write!(
                    f,
                    "invalid snapshot: {}: {path}: {}",
                    file.display(),
                    self.message
                ),
                _ => write!(f, "invalid snapshot: {}: {}", file.display(), self.message),
            };
        }
        match &self.path {
            Some(path) if !path.is_empty() => {
                write!(f, "invalid snapshot: {path}: {}", self.message)
            }
            _ => write!(f, "invalid snapshot: {}", self.message),
        }
    }
}

impl std::error::Error for SnapshotError {}
