//! # flipt-client
//!
//! Synchronous, allocation-free client-side evaluation of [Flipt](https://flipt.io) feature
//! flags. A snapshot of a namespace's flags (fetched from a Flipt server, or loaded from a file
//! or a base64 seed) is compiled once into an indexed, immutable form; evaluations then run
//! against it without I/O, without locks held, and without heap allocation. Results are
//! identical to those of Flipt's official client engine.
//!
//! ```
//! use flipt_client::{FliptClient, Reason};
//!
//! // A snapshot shipped with the program; no server needed.
//! let client = FliptClient::from_snapshot_json(include_str!("../examples/data/snapshot.json"))?;
//!
//! let theme = client.evaluate_variant("checkout-theme", "user-1", &[("plan", "pro"), ("age", "30")])?;
//! assert_eq!(theme.variant_key(), "blue");
//! assert_eq!(theme.reason(), Reason::Match);
//!
//! let search = client.evaluate_boolean("new-search", "user-2", &())?;
//! assert!(!search.is_enabled());
//! # Ok::<(), flipt_client::Error>(())
//! ```
// `unsafe` is forbidden, except in the C ABI of the `ffi` feature, which alone allows it.
#![cfg_attr(not(feature = "ffi"), forbid(unsafe_code))]
#![cfg_attr(feature = "ffi", deny(unsafe_code))]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

mod client;
mod error;
mod eval;
#[cfg(feature = "ffi")]
pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "net")]
mod net;
#[cfg(feature = "net")]
mod options;
#[cfg(feature = "net")]
mod persist;
mod reader;
mod snapshot;
mod store;
#[cfg(feature = "net")]
mod update;
mod util;

pub use client::{FlagHandle, FliptClient};
pub use error::{
    Error, ErrorKind, FlagKey, IoError, RankList, ServerError, ServerErrorKind, SnapshotError,
    MAX_ERROR_TEXT,
};
pub use eval::context::Context;
pub use eval::explain::{
    BucketTrace, ConstraintTrace, ExplainedOutcome, Explanation, SegmentTrace, Step,
};
/// The official engine's JSON envelopes, for tools that speak its protocol (CLIs, test
/// harnesses, the C ABI).
pub mod json {
    pub use crate::eval::json::{envelope, flags_json};
}
pub use eval::result::{
    BatchEvaluation, BatchItem, BooleanEvaluation, ErrorEvaluation, ErrorReason, EvaluationRequest,
    Reason, SegmentKeys, VariantEvaluation, VariantOr,
};
#[cfg(feature = "net")]
pub use options::{Authentication, ClientOptions, ErrorStrategy, FetchMode, TlsConfig};
pub use reader::Reader;
pub use snapshot::changes::SnapshotChange;
pub use snapshot::{
    ConstraintType, FlagInfo, FlagType, MatchType, SegmentOperator, Snapshot, VariantInfo,
};
pub use store::{Health, SnapshotSource};

// The README's examples are compiled and run as doctests (they use the network client).
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "net"))]
pub struct ReadmeDoctests;
