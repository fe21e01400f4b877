//! Wire models of the two JSON snapshot formats, as `miniserde` types.
//!
//! Only the fields the engine reads are declared; everything else is ignored by `miniserde`.
//! Enum-like fields are plain strings and are mapped in `compile.rs`, because an unknown
//! enum string must load (and behave as a documented default), not fail.

use miniserde::Deserialize;
use std::collections::BTreeMap;

/// The server's document: body of `GET /internal/v1/evaluation/snapshot/namespace/{ns}`.
#[derive(Deserialize)]
pub(crate) struct Document {
    pub namespace: NamespaceRef,
    pub flags: Vec<DocFlag>,
    /// The v2 server's digest of the snapshot (docs/PROTOCOL.md §18.2). Any JSON value: the
    /// engine ignores the field, so a value of another type must not fail the document.
    pub digest: Option<miniserde::json::Value>,
}

/// One message of the streaming endpoint: `{"result": Document}`.
#[derive(Deserialize)]
#[cfg_attr(not(feature = "net"), allow(dead_code))]
pub(crate) struct StreamMessage {
    pub result: Document,
}

#[derive(Deserialize)]
pub(crate) struct NamespaceRef {
    pub key: String,
}

#[derive(Deserialize)]
pub(crate) struct DocFlag {
    pub key: String,
    /// Required by the engine although its value is never used.
    #[allow(dead_code)]
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub rules: Option<Vec<DocRule>>,
    pub rollouts: Option<Vec<DocRollout>>,
    #[serde(rename = "defaultVariant")]
    pub default_variant: Option<Variant>,
}

/// A variant, shared by both formats (`defaultVariant` / `default_variant`).
#[derive(Deserialize)]
pub(crate) struct Variant {
    pub id: String,
    pub key: String,
    pub attachment: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct DocRule {
    pub segments: Option<Vec<DocSegment>>,
    #[serde(rename = "segmentOperator")]
    pub segment_operator: String,
    pub distributions: Vec<DocDistribution>,
}

#[derive(Deserialize)]
pub(crate) struct DocDistribution {
    #[serde(rename = "variantKey")]
    pub variant_key: String,
    #[serde(rename = "variantAttachment")]
    pub variant_attachment: Option<String>,
    pub rollout: f64,
}

#[derive(Deserialize)]
pub(crate) struct DocRollout {
    pub threshold: Option<Threshold>,
    pub segment: Option<DocRolloutSegment>,
}

/// A threshold rollout, shared by both formats.
#[derive(Deserialize)]
pub(crate) struct Threshold {
    pub percentage: f64,
    pub value: bool,
}

#[derive(Deserialize)]
pub(crate) struct DocRolloutSegment {
    pub value: bool,
    #[serde(rename = "segmentOperator")]
    pub segment_operator: Option<String>,
    pub segments: Vec<DocSegment>,
}

#[derive(Deserialize)]
pub(crate) struct DocSegment {
    pub key: String,
    #[serde(rename = "matchType")]
    pub match_type: String,
    pub constraints: Vec<Constraint>,
}

/// A constraint, shared by both formats.
#[derive(Deserialize)]
pub(crate) struct Constraint {
    #[serde(rename = "type")]
    pub kind: String,
    pub property: String,
    pub operator: String,
    pub value: String,
}

/// The engine's internal snapshot (the JSON inside `get_snapshot`'s base64).
#[derive(Deserialize)]
pub(crate) struct EngineSnapshot {
    #[allow(dead_code)]
    pub version: Option<u64>,
    pub namespace: EngineNamespace,
}

#[derive(Deserialize)]
pub(crate) struct EngineNamespace {
    pub key: String,
    pub flags: BTreeMap<String, EngineFlag>,
    pub eval_rules: BTreeMap<String, Vec<EngineRule>>,
    pub eval_rollouts: BTreeMap<String, Vec<EngineRollout>>,
    pub eval_distributions: BTreeMap<String, Vec<EngineDistribution>>,
}

#[derive(Deserialize)]
pub(crate) struct EngineFlag {
    pub key: String,
    pub enabled: bool,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: Option<String>,
    pub default_variant: Option<Variant>,
}

#[derive(Deserialize)]
pub(crate) struct EngineRule {
    pub id: String,
    #[allow(dead_code)]
    pub flag_key: String,
    pub segments: BTreeMap<String, EngineSegment>,
    pub rank: u64,
    pub segment_operator: String,
}

#[derive(Deserialize)]
pub(crate) struct EngineSegment {
    pub segment_key: String,
    pub match_type: String,
    pub constraints: Vec<Constraint>,
}

#[derive(Deserialize)]
pub(crate) struct EngineDistribution {
    #[allow(dead_code)]
    pub rule_id: String,
    pub rollout: f64,
    pub variant_key: String,
    pub variant_attachment: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct EngineRollout {
    #[allow(dead_code)]
    pub rollout_type: String,
    pub rank: u64,
    pub segment: Option<EngineRolloutSegment>,
    pub threshold: Option<Threshold>,
}

#[derive(Deserialize)]
pub(crate) struct EngineRolloutSegment {
    pub value: bool,
    pub segment_operator: String,
    pub segments: BTreeMap<String, EngineSegment>,
}
