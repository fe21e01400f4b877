//! Error types.
//!
//! [`Error`] is what every fallible public call returns. Its `Display` output uses the official
//! engine's message texts (`invalid request: ...`, `unknown error: ...`), so logs read the same
//! across Flipt SDKs. [`SnapshotError`] explains why a snapshot document was rejected, with the
//! path of the offending field.

use std::fmt;

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

/// The type of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagType {
    /// A flag that evaluates to one of several variants (`VARIANT_FLAG_TYPE`).
    Variant,
    /// A flag that evaluates to `true` or `false` (`BOOLEAN_FLAG_TYPE`).
    Boolean,
}

impl FlagType {
    /// The protobuf enum name Flipt uses on the wire, e.g. `"BOOLEAN_FLAG_TYPE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Variant => "VARIANT_FLAG_TYPE",
            FlagType::Boolean => "BOOLEAN_FLAG_TYPE",
        }
    }
}

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
    FlagNotFound {
        /// The namespace the client evaluates in.
        namespace: String,
        /// The requested flag key.
        flag_key: String,
    },
    /// A variant evaluation of a boolean flag, or the reverse.
    WrongFlagType {
        /// The requested flag key.
        flag_key: String,
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
    /// An invalid option or argument.
    Validation(String),
    /// The Flipt server could not be reached or answered with an error.
    Server(String),
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
            Error::Validation(m) | Error::Server(m) | Error::Internal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Snapshot(e) => Some(e),
            _ => None,
        }
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
    path: Option<String>,
    message: String,
}

impl SnapshotError {
    pub(crate) fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        SnapshotError {
            path: Some(path.into()),
            message: message.into(),
        }
    }

    pub(crate) fn whole(message: impl Into<String>) -> Self {
        SnapshotError {
            path: None,
            message: message.into(),
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
        match &self.path {
            Some(path) if !path.is_empty() => {
                write!(f, "invalid snapshot: {path}: {}", self.message)
            }
            _ => write!(f, "invalid snapshot: {}", self.message),
        }
    }
}

impl std::error::Error for SnapshotError {}
