// The guide is the README: its examples run as doctests (they use the network client, so the
// offline build gets a shorter page).
#![cfg_attr(feature = "net", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "net"),
    doc = "Synchronous, allocation-free client-side evaluation of [Flipt](https://flipt.io) \
           feature flags, built without the network client (`default-features = false`): \
           evaluate snapshots from files, seeds and documents with \
           [`FliptClient::from_snapshot_file`] and friends. The guide, with the network \
           client, is the crate's README."
)]
// `unsafe` is forbidden, except in the C ABI of the `ffi` feature, which alone allows it.
#![cfg_attr(not(feature = "ffi"), forbid(unsafe_code))]
#![cfg_attr(feature = "ffi", deny(unsafe_code))]
#![warn(missing_docs)]
// docs.rs (`[package.metadata.docs.rs]`) shows which feature each gated item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(unreachable_pub)]

mod client;
mod constraint;
mod error;
mod eval;
#[cfg(feature = "ffi")]
#[cfg_attr(docsrs, doc(cfg(feature = "ffi")))]
pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;
mod handle;
#[cfg(feature = "net")]
mod net;
#[cfg(feature = "net")]
mod options;
#[cfg(feature = "net")]
mod persist;
mod program;
mod reader;
mod snapshot;
mod store;
#[cfg(feature = "net")]
mod update;
mod util;

pub use client::{FliptClient, WeakClient};
pub use error::{
    Error, ErrorKind, FlagKey, IoError, RankList, ServerError, ServerErrorKind, SnapshotError,
    ValidationError, MAX_ERROR_TEXT,
};
pub use eval::context::Context;
pub use eval::explain::{
    BucketTrace, ConstraintTrace, ExplainedOutcome, Explanation, SegmentTrace, Step,
};
pub use handle::FlagHandle;
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
pub use options::{Authentication, ClientOptions, ErrorStrategy, FetchMode, Proxy, TlsConfig};
pub use reader::Reader;
pub use snapshot::changes::SnapshotChange;
pub use snapshot::warnings::{SnapshotWarning, WarningKind};
pub use snapshot::{
    ConstraintType, FlagInfo, FlagType, MatchType, SegmentOperator, Snapshot, VariantInfo,
};
pub use store::{Health, LastError, SnapshotSource};
