//! Document → [`Snapshot`]: validate, index, pre-parse constraint values and pre-compute
//! distribution bucket boundaries, so that evaluation only compares.

use super::document::{self as doc, Document, EngineSnapshot};
use super::warnings::{WarningKind, Warnings};
use super::FlagType;
use super::{
    Constraint, ConstraintType, DefaultVariant, Distribution, Flag, MatchType, Rollout,
    RolloutKind, Rule, Segment, SegmentOperator, Snapshot, Span, ENTITY_SLOT, UNCACHED,
};
use crate::constraint::{self, constraint_type, known_operator, Check};
use crate::error::SnapshotError;
use crate::eval::bucket;
use crate::eval::bucket::{Bucket, GROUP};
use std::collections::HashMap;

/// Accumulates the flat arrays of a [`Snapshot`].
struct Builder {
    snap: Snapshot,
    /// Lookup key → position in `snap.flags`, frozen into `snap.index` by `finish`.
    lookup: HashMap<String, u32>,
    /// Segment content → id in `snap.segments`, to store each distinct segment once.
    segment_ids: HashMap<Vec<u8>, u32>,
    /// Context property name → its subject slot.
    slots: HashMap<String, u8>,
    /// Becomes `snap.text`.
    text: String,
    /// What the engine does not know, first of each kind; becomes `snap.warnings`.
    warnings: Warnings,
    /// The rule or rollout being added, for warning paths.
    loc: Loc,
}

/// Where a rule or rollout is: `flags[flag].rules[item]` or `flags[flag].rollouts[item]`.
#[derive(Clone, Copy, Default)]
struct Loc {
    flag: usize,
    rollouts: bool,
    item: usize,
}

impl Loc {
    fn path(self) -> String {
        let list = if self.rollouts { "rollouts" } else { "rules" };
        format!("flags[{}].{list}[{}]", self.flag, self.item)
    }
}

/// Whether a segment operator is one the engine knows; a missing one (empty) is the
/// documented default, OR.
fn known_segment_operator(s: &str) -> bool {
    matches!(s, "AND_SEGMENT_OPERATOR" | "OR_SEGMENT_OPERATOR" | "")
}

/// One segment on its way into the snapshot, whichever format it came from.
struct SegmentIn {
    key: String,
    match_type: String,
    constraints: Vec<doc::Constraint>,
}

fn span(start: usize, end: usize) -> Result<Span, SnapshotError> {
    let conv = |n: usize| {
        u32::try_from(n).map_err(|_| SnapshotError::whole("snapshot too large (over 2^32 items)"))
    };
    Ok(Span {
        start: conv(start)?,
        end: conv(end)?,
    })
}

fn f32_at(x: f64, path: impl FnOnce() -> String) -> Result<f32, SnapshotError> {
    let v = x as f32;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(SnapshotError::at(
            path(),
            "number out of range for a 32-bit float",
        ))
    }
}

pub(crate) fn flag_type(s: &str) -> FlagType {
    match s {
        "BOOLEAN_FLAG_TYPE" => FlagType::Boolean,
        _ => FlagType::Variant,
    }
}

pub(crate) fn segment_operator(s: &str) -> SegmentOperator {
    match s {
        "AND_SEGMENT_OPERATOR" => SegmentOperator::And,
        _ => SegmentOperator::Or,
    }
}

pub(crate) fn match_type(s: &str) -> MatchType {
    match s {
        "ALL_SEGMENT_MATCH_TYPE" => MatchType::All,
        _ => MatchType::Any,
    }
}

fn offset(n: usize) -> Result<u32, SnapshotError> {
    u32::try_from(n).map_err(|_| SnapshotError::whole("snapshot too large (over 4 GiB of values)"))
}

impl Builder {
    /// The subject slot of a constraint on `property` (docs/EVALUATION.md §7: entity-id
    /// constraints test the entity id, all others a context property).
    fn slot(&mut self, kind: ConstraintType, property: &str) -> u8 {
        if kind == ConstraintType::EntityId {
            return ENTITY_SLOT;
        }
        if let Some(&slot) = self.slots.get(property) {
            return slot;
        }
        let next = self.snap.slot_names.len();
        if next >= usize::from(UNCACHED) {
            return UNCACHED;
        }
        let slot = next as u8;
        self.snap.slot_names.push(property.into());
        self.slots.insert(property.to_string(), slot);
        slot
    }

    /// A constraint's check, in its subject's slot (docs/EVALUATION.md §7).
    fn check(
        &mut self,
        kind: ConstraintType,
        property: &str,
        op: &str,
        value: &str,
    ) -> Result<Check, SnapshotError> {
        let slot = self.slot(kind, property);
        constraint::compile(kind, slot, op, value, self)
    }
}

impl constraint::Pools for Builder {
    fn text(&mut self, value: &str) -> Result<(u32, u32), SnapshotError> {
        let start = offset(self.text.len())?;
        self.text.push_str(value);
        offset(self.text.len())?;
        Ok((start, value.len() as u32))
    }

    fn strings(&mut self, items: &[Box<str>]) -> Result<(u32, u32), SnapshotError> {
        let start = offset(self.snap.list_strings.len())?;
        for item in items {
            let at = self.text(item)?;
            self.snap.list_strings.push(at);
        }
        Ok((start, offset(self.snap.list_strings.len())?))
    }

    fn integers(&mut self, items: &[i32]) -> Result<(u32, u32), SnapshotError> {
        let start = offset(self.snap.list_ints.len())?;
        self.snap.list_ints.extend_from_slice(items);
        Ok((start, offset(self.snap.list_ints.len())?))
    }
}

impl Builder {
    fn new(namespace: String, flag_count: usize) -> Self {
        let mut snap = Snapshot::empty(&namespace);
        snap.flags.reserve(flag_count);
        Builder {
            snap,
            lookup: HashMap::with_capacity(flag_count),
            segment_ids: HashMap::new(),
            slots: HashMap::new(),
            text: String::new(),
            warnings: Warnings::default(),
            loc: Loc::default(),
        }
    }

    /// Notes the flag type of flag `fi` if the engine does not know it.
    fn flag_type_of(&mut self, fi: usize, kind: Option<&str>) -> FlagType {
        let kind = kind.unwrap_or("");
        if !matches!(kind, "BOOLEAN_FLAG_TYPE" | "VARIANT_FLAG_TYPE" | "") {
            self.warnings.note(WarningKind::UnknownFlagType, || {
                (
                    format!("flags[{fi}].type"),
                    format!("unknown flag type {kind:?}, evaluated as a variant flag"),
                )
            });
        }
        flag_type(kind)
    }

    /// Notes a segment operator the engine does not know, at `field` of the current item.
    fn segment_operator_at(&mut self, operator: &str, field: &str) -> SegmentOperator {
        if !known_segment_operator(operator) {
            let loc = self.loc;
            self.warnings.note(WarningKind::UnknownSegmentOperator, || {
                (
                    format!("{}.{field}", loc.path()),
                    format!("unknown segment operator {operator:?}, evaluated as OR"),
                )
            });
        }
        segment_operator(operator)
    }

    fn finish(mut self) -> Snapshot {
        self.snap.warnings = self.warnings.finish();
        super::warnings::log(&self.snap);
        self.snap.text = self.text.into_boxed_str();
        crate::program::build::build(&mut self.snap);
        self.snap.build_index();
        self.snap
    }

    /// Adds the segments of one rule or rollout. Keys collapse to one entry each, holding the
    /// last definition, at the position of the first (the engine keeps segments in a map).
    fn segments(
        &mut self,
        input: impl ExactSizeIterator<Item = SegmentIn>,
    ) -> Result<Span, SnapshotError> {
        // Each with its position in the input, for warning paths.
        let mut list: Vec<(usize, SegmentIn)> = Vec::with_capacity(input.len());
        let mut positions: HashMap<String, usize> = HashMap::new();
        for (si, seg) in input.enumerate() {
            let existing = if list.len() < 16 {
                list.iter().position(|x| x.1.key == seg.key)
            } else {
                if positions.is_empty() {
                    positions.extend(list.iter().enumerate().map(|(i, x)| (x.1.key.clone(), i)));
                }
                positions.get(&seg.key).copied()
            };
            match existing {
                Some(i) => list[i] = (si, seg),
                None => {
                    if !positions.is_empty() {
                        positions.insert(seg.key.clone(), list.len());
                    }
                    list.push((si, seg));
                }
            }
        }
        let start = self.snap.segment_refs.len();
        for (si, seg) in list {
            let id = self.segment(seg, si)?;
            self.snap.segment_refs.push(id);
        }
        span(start, self.snap.segment_refs.len())
    }

    /// The id of a segment with this exact content, adding it if new.
    fn segment(&mut self, seg: SegmentIn, si: usize) -> Result<u32, SnapshotError> {
        if !matches!(
            seg.match_type.as_str(),
            "ALL_SEGMENT_MATCH_TYPE" | "ANY_SEGMENT_MATCH_TYPE"
        ) {
            let (loc, m) = (self.loc, &seg.match_type);
            self.warnings.note(WarningKind::UnknownMatchType, || {
                (
                    format!("{}.segments[{si}].matchType", loc.path()),
                    format!("unknown match type {m:?}, evaluated as ANY"),
                )
            });
        }
        let match_type = match_type(&seg.match_type);
        // Length-prefixed fields, so that no two different segments share a signature.
        let mut signature: Vec<u8> = Vec::with_capacity(64);
        let mut field = |bytes: &[u8]| {
            signature.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            signature.extend_from_slice(bytes);
        };
        field(seg.key.as_bytes());
        field(if match_type == MatchType::All {
            b"A"
        } else {
            b"Y"
        });
        for c in &seg.constraints {
            field(crate::snapshot::export::constraint_type(constraint_type(&c.kind)).as_bytes());
            field(c.property.as_bytes());
            field(c.operator.as_bytes());
            field(c.value.as_bytes());
        }
        if let Some(&id) = self.segment_ids.get(&signature) {
            return Ok(id);
        }
        let constraints = self.constraints(seg.constraints, si)?;
        let id = u32::try_from(self.snap.segments.len())
            .map_err(|_| SnapshotError::whole("snapshot too large (over 2^32 segments)"))?;
        self.snap.segments.push(Segment {
            key: seg.key.into_boxed_str(),
            match_type,
            constraints,
        });
        self.segment_ids.insert(signature, id);
        Ok(id)
    }

    fn constraints(
        &mut self,
        input: Vec<doc::Constraint>,
        si: usize,
    ) -> Result<Span, SnapshotError> {
        let start = self.snap.constraints.len();
        for (ci, c) in input.into_iter().enumerate() {
            let kind = constraint_type(&c.kind);
            let loc = self.loc;
            let at =
                |field: &str| format!("{}.segments[{si}].constraints[{ci}].{field}", loc.path());
            if kind == ConstraintType::Unknown {
                self.warnings.note(WarningKind::UnknownConstraintType, || {
                    (
                        at("type"),
                        format!(
                            "unknown constraint type {:?}: a segment that reaches it does not match",
                            c.kind
                        ),
                    )
                });
            } else if !known_operator(kind, &c.operator) {
                self.warnings.note(WarningKind::UnknownOperator, || {
                    (
                        at("operator"),
                        format!(
                            "unknown operator {:?} for a {} constraint: it never matches",
                            c.operator, c.kind
                        ),
                    )
                });
            }
            let check = self.check(kind, &c.property, &c.operator, &c.value)?;
            self.snap.checks.push(check);
            self.snap.constraints.push(Constraint {
                kind,
                property: c.property.into_boxed_str(),
                operator: c.operator.into_boxed_str(),
                value: c.value.into_boxed_str(),
            });
        }
        span(start, self.snap.constraints.len())
    }

    /// Adds a rule's distributions and their bucket boundaries (docs/EVALUATION.md §8.2), computed
    /// in f32 exactly as the engine does.
    fn distributions(&mut self, input: Vec<Distribution>) -> Result<(Span, Span), SnapshotError> {
        let start = self.snap.distributions.len();
        let bucket_start = self.snap.buckets.len();
        let total: f32 = input
            .iter()
            .filter(|d| d.rollout > 0.0)
            .map(|d| d.rollout)
            .sum();
        let valid = input.iter().filter(|d| d.rollout > 0.0).count();
        let mut cum = 0.0f32;
        let mut seen = 0;
        for (i, d) in input.iter().enumerate() {
            if d.rollout > 0.0 {
                seen += 1;
                cum += (d.rollout / total) * 100.0;
                let bound = if seen == valid {
                    1000
                } else {
                    (cum * 10.0).round() as i32
                };
                // Below 2^32 - 1, so never `Bucket::PAD`'s: `span` rejects more distributions.
                let dist = (start + i) as u32;
                self.snap.buckets.push(Bucket { bound, dist });
            }
        }
        // The engine sorts the boundaries but not the distributions they select.
        let rule_buckets = &mut self.snap.buckets[bucket_start..];
        let mut bounds: Vec<i32> = rule_buckets.iter().map(|b| b.bound).collect();
        bounds.sort_unstable();
        for (b, bound) in rule_buckets.iter_mut().zip(bounds) {
            b.bound = bound;
        }
        let padded = (self.snap.buckets.len() - bucket_start).div_ceil(GROUP) * GROUP;
        self.snap.buckets.resize(bucket_start + padded, Bucket::PAD);
        self.snap.distributions.extend(input);
        Ok((
            span(start, self.snap.distributions.len())?,
            span(bucket_start, self.snap.buckets.len())?,
        ))
    }

    /// Adds a flag; a later flag with the same key replaces the earlier one.
    fn flag(&mut self, lookup_key: &str, flag: Flag) {
        match self.lookup.get(lookup_key) {
            Some(&old) => self.snap.flags[old as usize] = flag,
            None => {
                self.lookup
                    .insert(lookup_key.to_string(), self.snap.flags.len() as u32);
                self.snap.flags.push(flag);
            }
        }
    }
}

fn default_variant(v: Option<doc::Variant>) -> Option<DefaultVariant> {
    v.map(|v| DefaultVariant {
        id: v.id.into_boxed_str(),
        key: v.key.into_boxed_str(),
        attachment: v.attachment.map(String::into_boxed_str),
    })
}

fn doc_segments(list: Vec<doc::DocSegment>) -> impl ExactSizeIterator<Item = SegmentIn> {
    list.into_iter().map(|s| SegmentIn {
        key: s.key,
        match_type: s.match_type,
        constraints: s.constraints,
    })
}

/// Compiles the server's document (docs/EVALUATION.md §1).
/// A rule on its way into the snapshot, whichever format it came from.
struct RuleIn<S, D> {
    id: String,
    rank: u64,
    operator: String,
    segments: S,
    /// `None` only in seeds without an `eval_distributions` entry for the rule.
    distributions: Option<D>,
}

/// A distribution on its way into the snapshot.
struct DistributionIn {
    rollout: f64,
    variant_key: String,
    attachment: Option<String>,
}

/// A rollout on its way into the snapshot.
enum RolloutIn<S> {
    Threshold {
        percentage: f64,
        value: bool,
    },
    Segment {
        value: bool,
        operator: String,
        segments: S,
    },
    Unknown,
}

impl Builder {
    /// Adds a rule; `rollout_path(i)` names distribution `i`'s rollout in errors.
    fn rule<S, D>(
        &mut self,
        rule: RuleIn<S, D>,
        rollout_path: impl Fn(usize) -> String,
    ) -> Result<(), SnapshotError>
    where
        S: ExactSizeIterator<Item = SegmentIn>,
        D: Iterator<Item = DistributionIn>,
    {
        let segments = self.segments(rule.segments)?;
        let (distributions, buckets) = match rule.distributions {
            None => (None, Span::default()),
            Some(list) => {
                let mut dists = Vec::with_capacity(list.size_hint().0);
                for (di, d) in list.enumerate() {
                    dists.push(Distribution {
                        rollout: f32_at(d.rollout, || rollout_path(di))?,
                        variant_key: d.variant_key.into_boxed_str(),
                        attachment: d.attachment.map(String::into_boxed_str),
                    });
                }
                let (distributions, buckets) = self.distributions(dists)?;
                (Some(distributions), buckets)
            }
        };
        let operator = self.segment_operator_at(&rule.operator, "segmentOperator");
        self.snap.rules.push(Rule {
            id: rule.id.into_boxed_str(),
            rank: rule.rank,
            operator,
            segments,
            distributions,
            buckets,
        });
        Ok(())
    }

    /// Adds a rollout; `percentage_path()` names a threshold's percentage in errors.
    fn rollout<S: ExactSizeIterator<Item = SegmentIn>>(
        &mut self,
        rank: u64,
        rollout: RolloutIn<S>,
        percentage_path: impl FnOnce() -> String,
    ) -> Result<(), SnapshotError> {
        let kind = match rollout {
            RolloutIn::Threshold { percentage, value } => RolloutKind::Threshold {
                percentage: f32_at(percentage, percentage_path)?,
                value,
            },
            RolloutIn::Segment {
                value,
                operator,
                segments,
            } => RolloutKind::Segment {
                value,
                operator: self.segment_operator_at(&operator, "segment.segmentOperator"),
                segments: self.segments(segments)?,
            },
            RolloutIn::Unknown => {
                let loc = self.loc;
                self.warnings.note(WarningKind::UnknownRolloutType, || {
                    (
                        loc.path(),
                        "a rollout with neither a threshold nor a segment: skipped".into(),
                    )
                });
                RolloutKind::Unknown
            }
        };
        self.snap.rollouts.push(Rollout { rank, kind });
        Ok(())
    }
}

/// The server's document (docs/PROTOCOL.md §5): rule ids and ranks come from positions.
pub(crate) fn from_document(document: Document) -> Result<Snapshot, SnapshotError> {
    let mut b = Builder::new(document.namespace.key, document.flags.len());
    if let Some(miniserde::json::Value::String(d)) = document.digest {
        b.snap.digest = Some(d.into_boxed_str());
    }
    for (fi, f) in document.flags.into_iter().enumerate() {
        let rule_start = b.snap.rules.len();
        for (ri, rule) in f.rules.unwrap_or_default().into_iter().enumerate() {
            b.loc = Loc {
                flag: fi,
                rollouts: false,
                item: ri,
            };
            let rule = RuleIn {
                id: format!("{}-{}", f.key, ri + 1),
                rank: ri as u64 + 1,
                operator: rule.segment_operator,
                segments: doc_segments(rule.segments.unwrap_or_default()),
                distributions: Some(rule.distributions.into_iter().map(|d| DistributionIn {
                    rollout: d.rollout,
                    variant_key: d.variant_key,
                    attachment: d.variant_attachment,
                })),
            };
            b.rule(rule, |di| {
                format!("flags[{fi}].rules[{ri}].distributions[{di}].rollout")
            })?;
        }
        let rules = span(rule_start, b.snap.rules.len())?;

        let rollout_start = b.snap.rollouts.len();
        for (ri, r) in f.rollouts.unwrap_or_default().into_iter().enumerate() {
            b.loc = Loc {
                flag: fi,
                rollouts: true,
                item: ri,
            };
            let rollout = match (r.threshold, r.segment) {
                (Some(t), _) => RolloutIn::Threshold {
                    percentage: t.percentage,
                    value: t.value,
                },
                (None, Some(s)) => RolloutIn::Segment {
                    value: s.value,
                    operator: s.segment_operator.unwrap_or_default(),
                    segments: doc_segments(s.segments),
                },
                (None, None) => RolloutIn::Unknown,
            };
            b.rollout(ri as u64 + 1, rollout, || {
                format!("flags[{fi}].rollouts[{ri}].threshold.percentage")
            })?;
        }
        let rollouts = span(rollout_start, b.snap.rollouts.len())?;

        let flag = Flag {
            salt: bucket::crc32_update(bucket::CRC_INIT, f.key.as_bytes()),
            enabled: f.enabled,
            kind: b.flag_type_of(fi, f.kind.as_deref()),
            description: f.description.map(String::into_boxed_str),
            default_variant: default_variant(f.default_variant),
            rules: Some(rules),
            rollouts: Some(rollouts),
            lookup_key: None,
            key: f.key.into_boxed_str(),
            program: None,
        };
        let key = flag.key.clone();
        b.flag(&key, flag);
    }
    Ok(b.finish())
}

fn engine_segments(
    map: std::collections::BTreeMap<String, doc::EngineSegment>,
) -> impl ExactSizeIterator<Item = SegmentIn> {
    map.into_values().map(|s| SegmentIn {
        key: s.segment_key,
        match_type: s.match_type,
        constraints: s.constraints,
    })
}

/// The official engine's JSON (docs/PROTOCOL.md §10.2): rules, rollouts and distributions in
/// maps keyed by flag key and rule id.
pub(crate) fn from_engine(seed: EngineSnapshot) -> Result<Snapshot, SnapshotError> {
    let mut ns = seed.namespace;
    let mut b = Builder::new(ns.key, ns.flags.len());
    for (fi, (map_key, f)) in std::mem::take(&mut ns.flags).into_iter().enumerate() {
        let rules = match ns.eval_rules.remove(&map_key) {
            None => None,
            Some(list) => {
                let rule_start = b.snap.rules.len();
                for (ri, rule) in list.into_iter().enumerate() {
                    b.loc = Loc {
                        flag: fi,
                        rollouts: false,
                        item: ri,
                    };
                    let distributions = ns.eval_distributions.get(&rule.id).map(|list| {
                        list.iter().map(|d| DistributionIn {
                            rollout: d.rollout,
                            variant_key: d.variant_key.clone(),
                            attachment: d.variant_attachment.clone(),
                        })
                    });
                    let id = rule.id.clone();
                    let rule = RuleIn {
                        id: rule.id,
                        rank: rule.rank,
                        operator: rule.segment_operator,
                        segments: engine_segments(rule.segments),
                        distributions,
                    };
                    b.rule(rule, |di| {
                        format!("namespace.eval_distributions[{id:?}][{di}].rollout")
                    })?;
                }
                Some(span(rule_start, b.snap.rules.len())?)
            }
        };
        let rollouts = match ns.eval_rollouts.remove(&map_key) {
            None => None,
            Some(list) => {
                let start = b.snap.rollouts.len();
                for (ri, r) in list.into_iter().enumerate() {
                    b.loc = Loc {
                        flag: fi,
                        rollouts: true,
                        item: ri,
                    };
                    let rollout = match (r.threshold, r.segment) {
                        (Some(t), _) => RolloutIn::Threshold {
                            percentage: t.percentage,
                            value: t.value,
                        },
                        (None, Some(s)) => RolloutIn::Segment {
                            value: s.value,
                            operator: s.segment_operator,
                            segments: engine_segments(s.segments),
                        },
                        (None, None) => RolloutIn::Unknown,
                    };
                    b.rollout(r.rank, rollout, || {
                        format!("namespace.eval_rollouts[{map_key:?}][{ri}].threshold.percentage")
                    })?;
                }
                Some(span(start, b.snap.rollouts.len())?)
            }
        };
        let flag = Flag {
            salt: bucket::crc32_update(bucket::CRC_INIT, map_key.as_bytes()),
            enabled: f.enabled,
            kind: b.flag_type_of(fi, Some(&f.kind)),
            description: f.description.map(String::into_boxed_str),
            default_variant: default_variant(f.default_variant),
            rules,
            rollouts,
            lookup_key: (map_key != f.key).then(|| map_key.clone().into_boxed_str()),
            key: f.key.into_boxed_str(),
            program: None,
        };
        b.flag(&map_key, flag);
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"namespace":{"key":"ns"},"flags":[
      {"key":"v","name":"","enabled":true,"type":"VARIANT_FLAG_TYPE","rollouts":[],
       "rules":[
         {"id":"uuid-a","rank":1,"segmentOperator":"OR_SEGMENT_OPERATOR",
          "segments":[{"key":"pro","matchType":"ALL_SEGMENT_MATCH_TYPE",
             "constraints":[{"type":"STRING_CONSTRAINT_COMPARISON_TYPE","property":"plan","operator":"eq","value":"pro"}]}],
          "distributions":[{"variantKey":"a","rollout":50},{"variantKey":"b","rollout":50}]},
         {"id":"uuid-b","rank":2,"segmentOperator":"AND_SEGMENT_OPERATOR",
          "segments":[{"key":"pro","matchType":"ALL_SEGMENT_MATCH_TYPE",
             "constraints":[{"type":"STRING_CONSTRAINT_COMPARISON_TYPE","property":"plan","operator":"eq","value":"pro"}]}],
          "distributions":[]}]},
      {"key":"b","name":"","enabled":false,"type":"BOOLEAN_FLAG_TYPE","rules":[],
       "rollouts":[{"type":"THRESHOLD_ROLLOUT_TYPE","rank":1,"threshold":{"percentage":25.5,"value":true}}]}]}"#;

    fn parse(doc: &str) -> Result<Snapshot, SnapshotError> {
        Snapshot::from_document(doc)
    }

    #[test]
    fn both_front_ends_compile_to_the_same_snapshot() {
        let from_doc = std::sync::Arc::new(parse(DOC).unwrap());
        let from_seed = std::sync::Arc::new(Snapshot::from_base64(&from_doc.to_base64()).unwrap());
        // The seed's maps are unordered: after one trip the export is a fixed point.
        let again = Snapshot::from_base64(&from_seed.to_base64()).unwrap();
        assert_eq!(from_seed.to_engine_json(), again.to_engine_json());
        let mut flags = from_doc.flags();
        flags.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(flags, from_seed.flags());
        for entity in ["u1", "u2", "u3", "user-42", "x"] {
            for plan in ["pro", "free"] {
                let ctx = [("plan", plan)];
                let (a, b) = (
                    from_doc.evaluate_variant("v", entity, &ctx).unwrap(),
                    from_seed.evaluate_variant("v", entity, &ctx).unwrap(),
                );
                assert_eq!(a.to_json(), b.to_json(), "{entity} {plan}");
                let (a, b) = (
                    from_doc.evaluate_boolean("b", entity, &ctx).unwrap(),
                    from_seed.evaluate_boolean("b", entity, &ctx).unwrap(),
                );
                assert_eq!(a.to_json(), b.to_json(), "{entity} {plan}");
            }
        }
        assert_eq!(from_seed.rules.len(), 2);
        assert_eq!(from_seed.rollouts.len(), 1);
    }

    #[test]
    fn a_segment_used_by_several_rules_is_stored_once() {
        let s = parse(DOC).unwrap();
        assert_eq!(s.rules.len(), 2);
        assert_eq!(s.segments.len(), 1, "both rules share the segment");
        assert_eq!(s.segment_refs.len(), 2);
        assert_eq!(s.constraints.len(), 1);
    }

    #[test]
    fn rule_ids_are_the_flag_key_and_position_not_the_servers() {
        let s = parse(DOC).unwrap();
        let ids: Vec<&str> = s.rules.iter().map(|r| &*r.id).collect();
        assert_eq!(ids, ["v-1", "v-2"]);
    }

    #[test]
    fn enum_strings_map_with_the_engines_defaults() {
        assert_eq!(flag_type("BOOLEAN_FLAG_TYPE"), FlagType::Boolean);
        assert_eq!(flag_type("anything else"), FlagType::Variant);
        assert_eq!(
            segment_operator("AND_SEGMENT_OPERATOR"),
            SegmentOperator::And
        );
        assert_eq!(segment_operator(""), SegmentOperator::Or);
        assert_eq!(match_type("ALL_SEGMENT_MATCH_TYPE"), MatchType::All);
        assert_eq!(match_type("?"), MatchType::Any);
        assert!(matches!(constraint_type("NOPE"), ConstraintType::Unknown));
        // less = 1, equal = 2, greater = 4
        assert_eq!(constraint::accept("lte"), Some(0b011));
        assert_eq!(constraint::accept("neq"), Some(0b101));
        assert_eq!(constraint::accept("prefix"), None);
    }

    #[test]
    fn out_of_range_rollouts_are_named_by_path() {
        let bad = DOC.replace("\"rollout\":50}", "\"rollout\":1e40}");
        let e = parse(&bad).unwrap_err();
        assert_eq!(
            e.path(),
            Some("flags[0].rules[0].distributions[0].rollout"),
            "{e}"
        );
    }
}
