//! Snapshots: loading the server's document or the engine's export format, the compiled
//! (indexed, pre-parsed, immutable) form that evaluations read, and export.
//!
//! Data flows one way: bytes → [`document`] (miniserde model) → [`compile`] → [`Snapshot`].
//! A [`Snapshot`] is built once per update, outside any lock, and then only read.

pub(crate) mod cache;
pub(crate) mod changes;
pub(crate) mod compile;
pub(crate) mod diagnose;
pub(crate) mod document;
pub(crate) mod export;
mod index;
mod model;
pub(crate) mod warnings;

use crate::error::SnapshotError;
use base64::Engine as _;
use diagnose::Format;
pub(crate) use index::{FlagHead, FlagIndex};
use std::sync::Arc;

pub use model::*;

/// A compiled, immutable snapshot of one namespace's flags.
///
/// Build it from the server's JSON document ([`Snapshot::from_document`]), from the official
/// engine's export format ([`Snapshot::from_engine_json`], [`Snapshot::from_base64`]), or let
/// [`Snapshot::parse`] detect the format. Evaluate it through [`crate::FliptClient`] or directly
/// with [`Snapshot::evaluate_variant`] and friends.
///
/// ```
/// use flipt_client::Snapshot;
///
/// let snapshot = Snapshot::from_document(
///     r#"{"namespace":{"key":"default"},"flags":[
///         {"key":"dark-mode","name":"","enabled":true,"type":"BOOLEAN_FLAG_TYPE","rollouts":[]}]}"#,
/// )?;
/// assert_eq!(snapshot.namespace(), "default");
/// assert_eq!(snapshot.len(), 1);
/// # Ok::<(), flipt_client::SnapshotError>(())
/// ```
pub struct Snapshot {
    pub(crate) namespace: Arc<str>,
    /// The server's digest of this snapshot (v2 servers send one in the document).
    pub(crate) digest: Option<Box<str>>,
    /// What the engine does not know, first of each kind.
    pub(crate) warnings: Box<[warnings::SnapshotWarning]>,
    pub(crate) flags: Vec<Flag>,
    /// What evaluations read first, by flag position (the index holds a copy by key).
    pub(crate) heads: Vec<FlagHead>,
    pub(crate) index: FlagIndex,
    pub(crate) rules: Vec<Rule>,
    pub(crate) rollouts: Vec<Rollout>,
    /// Distinct segments: a segment used by many rules (as Flipt segments are) is stored and
    /// pre-parsed once, which also keeps the evaluator's working set small.
    pub(crate) segments: Vec<Segment>,
    /// Segment ids of each rule and segment rollout, in document order.
    pub(crate) segment_refs: Vec<u32>,
    pub(crate) constraints: Vec<Constraint>,
    /// The evaluator's form of `constraints`, at the same positions.
    pub(crate) checks: Vec<crate::constraint::Check>,
    /// Constraint values and list items the checks compare with, end to end.
    pub(crate) text: Box<str>,
    /// `(offset, length)` in `text` of the items of `isoneof` string lists.
    pub(crate) list_strings: Vec<(u32, u32)>,
    /// The items of `isoneof` number lists.
    pub(crate) list_ints: Vec<i32>,
    /// The context property of each subject slot (slot 0, the entity id, has none).
    pub(crate) slot_names: Vec<Box<str>>,
    /// Every flag's evaluation as one branching program (see `crate::program`).
    pub(crate) nodes: Vec<crate::program::Node>,
    /// The items of the programs' `isoneof` lists of short strings.
    pub(crate) short_items: Vec<crate::program::ShortItem>,
    pub(crate) distributions: Vec<Distribution>,
    /// Per rule, the buckets of its positive-rollout distributions, padded to whole groups.
    pub(crate) buckets: Vec<crate::eval::bucket::Bucket>,
}

/// A summary: the namespace and counts (the compiled tables of a large snapshot would print
/// megabytes). Use [`Snapshot::flags`] or [`Snapshot::to_engine_json`] for the contents.
///
/// ```
/// let s = flipt_client::Snapshot::parse(include_str!("../../examples/data/snapshot.json"))?;
/// assert_eq!(
///     format!("{s:?}"),
///     r#"Snapshot { namespace: "default", flags: 2, rules: 2, rollouts: 2, segments: 3, constraints: 5 }"#
/// );
/// # Ok::<(), flipt_client::SnapshotError>(())
/// ```
impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("namespace", &self.namespace)
            .field("flags", &self.flags.len())
            .field("rules", &self.rules.len())
            .field("rollouts", &self.rollouts.len())
            .field("segments", &self.segments.len())
            .field("constraints", &self.constraints.len())
            .finish()
    }
}

/// Public summary of one flag, as returned by [`crate::FliptClient::list_flags`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlagInfo {
    /// The flag key.
    pub key: String,
    /// Whether the flag is enabled.
    pub enabled: bool,
    /// Variant or boolean.
    pub flag_type: FlagType,
    /// The description, when the snapshot carries one (the v2 server always sends `""`).
    pub description: Option<String>,
    /// The default variant, when the flag has one.
    pub default_variant: Option<VariantInfo>,
}

/// A flag's default variant, part of [`FlagInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VariantInfo {
    /// The variant id (`{flag_key}/{variant_key}` on a v2 server).
    pub id: String,
    /// The variant key.
    pub key: String,
    /// The attachment as JSON text, passed through verbatim.
    pub attachment: Option<String>,
}

impl Snapshot {
    /// Parses the server's snapshot document (the body of
    /// `GET /internal/v1/evaluation/snapshot/namespace/{ns}`) and compiles it.
    ///
    /// ```
    /// let s = flipt_client::Snapshot::from_document(r#"{"namespace":{"key":"prod"},"flags":[]}"#)?;
    /// assert_eq!(s.namespace(), "prod");
    /// # Ok::<(), flipt_client::SnapshotError>(())
    /// ```
    pub fn from_document(json: &str) -> Result<Snapshot, SnapshotError> {
        match miniserde::json::from_str::<document::Document>(json) {
            Ok(doc) => compile::from_document(doc),
            Err(_) => Err(diagnose::diagnose(json, Format::Document)),
        }
    }

    /// Parses one line of the streaming endpoint, `{"result": <document>}`.
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    pub(crate) fn from_stream_line(line: &str) -> Result<Snapshot, SnapshotError> {
        match miniserde::json::from_str::<document::StreamMessage>(line) {
            Ok(msg) => compile::from_document(msg.result),
            Err(_) => {
                // Surface the server's own words for an `{"error": {...}}` line.
                if let Ok(miniserde::json::Value::Object(o)) = miniserde::json::from_str(line) {
                    if let Some(miniserde::json::Value::Object(e)) = o.get("error") {
                        if let Some(miniserde::json::Value::String(m)) = e.get("message") {
                            return Err(SnapshotError::at(
                                "error",
                                format!("the server reported: {m}"),
                            ));
                        }
                    }
                }
                Err(diagnose::diagnose(line, Format::StreamLine))
            }
        }
    }

    /// Parses the official engine's internal snapshot JSON (what `get_snapshot` encodes).
    pub fn from_engine_json(json: &str) -> Result<Snapshot, SnapshotError> {
        match miniserde::json::from_str::<document::EngineSnapshot>(json) {
            Ok(doc) => compile::from_engine(doc),
            Err(_) => Err(diagnose::diagnose(json, Format::Engine)),
        }
    }

    /// Parses a base64 seed: standard alphabet, padded, of the engine's internal JSON, as
    /// returned by `get_snapshot` of any official Flipt SDK and by [`Snapshot::to_base64`].
    ///
    /// ```
    /// use flipt_client::Snapshot;
    /// let s = Snapshot::from_document(r#"{"namespace":{"key":"default"},"flags":[]}"#)?;
    /// let again = Snapshot::from_base64(&s.to_base64())?;
    /// assert_eq!(again.namespace(), "default");
    /// assert!(Snapshot::from_base64("not base64!").is_err());
    /// # Ok::<(), flipt_client::SnapshotError>(())
    /// ```
    pub fn from_base64(seed: &str) -> Result<Snapshot, SnapshotError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(seed.trim())
            .map_err(|e| SnapshotError::whole(format!("seed is not valid base64: {e}")))?;
        let json = std::str::from_utf8(&bytes)
            .map_err(|e| SnapshotError::whole(format!("decoded seed is not UTF-8: {e}")))?;
        Snapshot::from_engine_json(json)
    }

    /// Loads any of the four formats: a server document, engine JSON, a base64 seed, or the
    /// cache file a client writes with `persist_path` (its checksum and namespace checked).
    ///
    /// Text starting with `{` or `[` is JSON: a cache file when its first member is
    /// `"format"`, engine JSON when it has the engine's `eval_rules` key, a server document
    /// otherwise. Anything else is read as base64.
    ///
    /// ```
    /// use flipt_client::Snapshot;
    /// let doc = Snapshot::parse(r#"{"namespace":{"key":"default"},"flags":[]}"#)?;
    /// let seed = Snapshot::parse(&doc.to_base64())?;
    /// assert_eq!(seed.namespace(), "default");
    /// // A cache file whose checksum does not match its snapshot is refused.
    /// let cached = r#"{"format":"flipt-client-snapshot/2","namespace":"default","environment":"default","crc32":1,"snapshot":{"namespace":{"key":"default"},"flags":[]}}"#;
    /// assert!(Snapshot::parse(cached).unwrap_err().to_string().contains("checksum mismatch"));
    /// # Ok::<(), flipt_client::SnapshotError>(())
    /// ```
    pub fn parse(input: &str) -> Result<Snapshot, SnapshotError> {
        let trimmed = input.trim_start();
        if trimmed.starts_with('[') {
            Snapshot::from_document(input)
        } else if trimmed.starts_with('{') {
            if cache::is_cache(trimmed.as_bytes()) {
                cache::decode(input).map(|c| c.snapshot)
            } else if trimmed.contains("\"eval_rules\"") {
                Snapshot::from_engine_json(input)
            } else {
                Snapshot::from_document(input)
            }
        } else if trimmed.is_empty() {
            Err(SnapshotError::whole("empty input"))
        } else if !trimmed.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') || b.is_ascii_whitespace()
        }) {
            // Neither JSON nor base64: an HTML error page, a YAML file, a wrong path.
            let head: String = trimmed.chars().take(40).collect();
            Err(SnapshotError::whole(format!(
                "not a snapshot: expected a JSON document or a base64 seed; the input starts with {head:?}"
            )))
        } else {
            Snapshot::from_base64(input)
        }
    }

    /// Like [`Snapshot::parse`] for raw bytes, rejecting invalid UTF-8 with a clear error.
    pub fn parse_bytes(input: &[u8]) -> Result<Snapshot, SnapshotError> {
        let text = std::str::from_utf8(input)
            .map_err(|e| SnapshotError::whole(format!("snapshot is not UTF-8: {e}")))?;
        Snapshot::parse(text)
    }

    /// Reads a snapshot file in any format [`Snapshot::parse`] accepts (the `persist_path`
    /// cache file included), of at most 64 MiB plus a cache file's header.
    ///
    /// Errors: [`Error::Io`](crate::Error::Io) if the file cannot be read or is over the limit
    /// (its `source()` is the [`std::io::Error`]); [`Error::Snapshot`](crate::Error::Snapshot)
    /// if it is not a snapshot, naming the file ([`SnapshotError::file`]).
    ///
    /// ```
    /// let s = flipt_client::Snapshot::from_file("examples/data/snapshot.json")?;
    /// assert_eq!(s.len(), 2);
    /// let err = flipt_client::Snapshot::from_file("README.md").unwrap_err();
    /// assert!(err.to_string().contains("invalid snapshot: README.md: not a snapshot"), "{err}");
    /// # Ok::<(), flipt_client::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Snapshot, crate::Error> {
        let path = path.as_ref();
        let bytes =
            cache::read_file(path, crate::util::DEFAULT_MAX_SNAPSHOT_SIZE).map_err(|e| {
                crate::Error::io(format!("cannot read snapshot file {}", path.display()), e)
            })?;
        Ok(Snapshot::parse_bytes(&bytes).map_err(|e| e.in_file(path))?)
    }

    /// An empty snapshot of `namespace`: every flag is "not found".
    pub fn empty(namespace: &str) -> Snapshot {
        Snapshot {
            namespace: Arc::from(namespace),
            digest: None,
            warnings: Box::new([]),
            flags: Vec::new(),
            heads: Vec::new(),
            index: FlagIndex::default(),
            rules: Vec::new(),
            rollouts: Vec::new(),
            segments: Vec::new(),
            segment_refs: Vec::new(),
            constraints: Vec::new(),
            checks: Vec::new(),
            text: Box::from(""),
            list_strings: Vec::new(),
            list_ints: Vec::new(),
            slot_names: vec![Box::from("")],
            nodes: Vec::new(),
            short_items: Vec::new(),
            distributions: Vec::new(),
            buckets: Vec::new(),
        }
    }

    /// The namespace key the snapshot belongs to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The digest the server sent with this snapshot (a Flipt v2 server's document carries
    /// one); `None` for other sources. A stream reopened with a 40-character digest skips a
    /// snapshot the client already has.
    ///
    /// ```
    /// let s = flipt_client::Snapshot::from_document(
    ///     r#"{"namespace":{"key":"default"},"flags":[],"digest":"a3f1"}"#,
    /// )?;
    /// assert_eq!(s.digest(), Some("a3f1"));
    /// # Ok::<(), flipt_client::SnapshotError>(())
    /// ```
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What this snapshot holds that the official engine does not know (a flag type, a
    /// constraint type or operator, a rollout, match or segment-operator type), first
    /// occurrence of each kind with its path. The snapshot loads and answers exactly as in the
    /// engine; each kind is also logged once at load (rate-bounded). Empty for ordinary
    /// snapshots.
    pub fn warnings(&self) -> &[warnings::SnapshotWarning] {
        &self.warnings
    }

    /// The number of flags.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// Whether the snapshot has no flags.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// The type of the flag with this key, if it exists.
    ///
    /// ```
    /// # let s = flipt_client::Snapshot::parse(include_str!("../../examples/data/snapshot.json"))?;
    /// assert_eq!(s.flag_type("new-search"), Some(flipt_client::FlagType::Boolean));
    /// assert_eq!(s.flag_type("nope"), None);
    /// # Ok::<(), flipt_client::SnapshotError>(())
    /// ```
    pub fn flag_type(&self, flag_key: &str) -> Option<FlagType> {
        self.flag(flag_key).map(|(_, f)| f.kind)
    }

    /// Whether a flag with this key exists.
    pub fn contains(&self, flag_key: &str) -> bool {
        self.head(flag_key).is_some()
    }

    /// Summaries of all flags, sorted by key.
    pub fn flags(&self) -> Vec<FlagInfo> {
        let mut out: Vec<FlagInfo> = self
            .flags
            .iter()
            .map(|f| FlagInfo {
                key: f.key.to_string(),
                enabled: f.enabled,
                flag_type: f.kind,
                description: f.description.as_ref().map(|d| d.to_string()),
                default_variant: f.default_variant.as_ref().map(|v| VariantInfo {
                    id: v.id.to_string(),
                    key: v.key.to_string(),
                    attachment: v.attachment.as_ref().map(|a| a.to_string()),
                }),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// The engine's internal snapshot JSON (compact), as the official SDKs export it.
    pub fn to_engine_json(&self) -> String {
        export::engine_json(self)
    }

    /// Base64 (standard, padded) of [`Snapshot::to_engine_json`]: what `get_snapshot` returns
    /// and what the official SDKs accept as their `snapshot` option.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_engine_json())
    }

    /// The key a flag is indexed (and exported) under.
    pub(crate) fn lookup_key(flag: &Flag) -> &str {
        flag.lookup_key.as_deref().unwrap_or(&flag.key)
    }

    /// The text a string check compares with.
    #[inline(always)]
    pub(crate) fn text_of(&self, offset: u32, len: i64) -> &str {
        let start = offset as usize;
        self.text.get(start..start + len as usize).unwrap_or("")
    }

    pub(crate) fn flag(&self, key: &str) -> Option<(u32, &Flag)> {
        let pos = self.head(key)?.pos;
        self.flags.get(pos as usize).map(|f| (pos, f))
    }

    /// The head of the flag indexed under `key`.
    #[inline]
    pub(crate) fn head(&self, key: &str) -> Option<&FlagHead> {
        self.index.get(key, |pos| {
            self.flags
                .get(pos as usize)
                .map_or("", |f| Snapshot::lookup_key(f))
        })
    }

    /// Fills in `heads` and `index` from the finished flags and programs.
    pub(crate) fn build_index(&mut self) {
        self.heads = self
            .flags
            .iter()
            .zip(0u32..)
            .map(|(f, pos)| {
                let boolean = f.kind == FlagType::Boolean;
                let list = if boolean { f.rollouts } else { f.rules };
                FlagHead {
                    pos,
                    program: f.program,
                    salt: f.salt,
                    boolean,
                    enabled: f.enabled,
                    has_default: f.default_variant.is_some(),
                    empty: list.is_none_or(Span::is_empty),
                }
            })
            .collect();
        let heads = &self.heads;
        self.index = FlagIndex::build(
            self.flags
                .iter()
                .zip(heads)
                .map(|(f, &head)| (Snapshot::lookup_key(f), head)),
        );
    }
}
