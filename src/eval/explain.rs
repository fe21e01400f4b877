//! Explanations: why an evaluation came out as it did. A second, tracing walk over the same
//! snapshot with the same constraint tests as the evaluator; it allocates freely and is never
//! on the evaluation path. Its own conclusion is kept in [`Explanation::outcome`] so tests can
//! check it against the real result.

use super::bucket;
use super::context::Context;
use super::result::Reason;
use crate::constraint::check_value;
use crate::error::Error;
use crate::snapshot::FlagType;
use crate::snapshot::{
    ConstraintType, Flag, MatchType, RolloutKind, SegmentOperator, Snapshot, Span,
};
use std::fmt;

/// One constraint as the evaluation saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConstraintTrace {
    /// The comparison type (`Display` gives its wire name, e.g.
    /// `STRING_CONSTRAINT_COMPARISON_TYPE`).
    pub kind: ConstraintType,
    /// The context property (ignored for entity-id constraints).
    pub property: String,
    /// The operator.
    pub operator: String,
    /// The constraint's value.
    pub value: String,
    /// The value it was compared with: the context value (`""` when missing) or the entity id.
    pub seen: String,
    /// `Some(result)`, or `None` for an unknown constraint type (the segment fails).
    pub outcome: Option<bool>,
}

/// One segment as the evaluation saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentTrace {
    /// The segment key.
    pub key: String,
    /// `ALL` or `ANY`.
    pub match_type: MatchType,
    /// The constraints that were evaluated, in order (evaluation stops early under ALL on a
    /// failure and under ANY on a match).
    pub constraints: Vec<ConstraintTrace>,
    /// Whether the segment matched.
    pub matched: bool,
}

/// The distribution choice of a matched rule.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BucketTrace {
    /// `crc32(flag_key + entity_id) % 1000`.
    pub bucket: u32,
    /// Upper bounds of the buckets of the distributions with a positive rollout (sorted).
    pub bounds: Vec<i32>,
    /// Those distributions: variant key and rollout percentage, in snapshot order.
    pub distributions: Vec<(String, f32)>,
    /// The chosen variant.
    pub chosen: Option<String>,
}

/// One rule or rollout tried.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Step {
    /// A variant flag's rule.
    Rule {
        /// 1-based position.
        rank: u64,
        /// `OR` or `AND`.
        operator: SegmentOperator,
        /// Its segments.
        segments: Vec<SegmentTrace>,
        /// Whether the rule matched.
        matched: bool,
        /// The distribution choice, when the rule matched and has distributions.
        bucket: Option<BucketTrace>,
    },
    /// A boolean flag's threshold rollout.
    Threshold {
        /// 1-based position.
        rank: u64,
        /// The percentage.
        percentage: f32,
        /// `crc32(entity_id + flag_key) % 100`.
        bucket: u32,
        /// Whether `bucket < percentage`.
        hit: bool,
        /// The value returned on a hit.
        value: bool,
    },
    /// A boolean flag's segment rollout.
    SegmentRollout {
        /// 1-based position.
        rank: u64,
        /// `OR` or `AND`.
        operator: SegmentOperator,
        /// Its segments.
        segments: Vec<SegmentTrace>,
        /// Whether it matched.
        matched: bool,
        /// The value returned on a match.
        value: bool,
    },
    /// A rollout of unknown type, skipped.
    UnknownRollout {
        /// 1-based position.
        rank: u64,
    },
}

/// The conclusion of the tracing walk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExplainedOutcome {
    /// `match` for variant flags, `enabled` for boolean flags.
    pub value: bool,
    /// The reason.
    pub reason: Reason,
    /// The variant key (variant flags; `""` when none).
    pub variant_key: String,
    /// The matching segment keys of the deciding rule or rollout.
    pub segment_keys: Vec<String>,
}

/// Why an evaluation came out as it did. `Display` renders it for people.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Explanation {
    /// The flag key.
    pub flag_key: String,
    /// The entity id.
    pub entity_id: String,
    /// The flag type.
    pub flag_type: FlagType,
    /// Whether the flag is enabled.
    pub enabled: bool,
    /// The default variant key, if any.
    pub default_variant: Option<String>,
    /// The rules or rollouts tried, in order, up to the deciding one.
    pub steps: Vec<Step>,
    /// The conclusion.
    pub outcome: ExplainedOutcome,
}

fn trace_segments<C: Context + ?Sized>(
    s: &Snapshot,
    span: Span,
    op: SegmentOperator,
    entity: &str,
    ctx: &C,
) -> (Vec<SegmentTrace>, bool) {
    let mut traces = Vec::new();
    for &id in &s.segment_refs[span.range()] {
        let Some(seg) = s.segments.get(id as usize) else {
            continue;
        };
        let all = seg.match_type == MatchType::All;
        let range = seg.constraints.range();
        let constraints = s.constraints.get(range.clone()).unwrap_or(&[]);
        let checks = s.checks.get(range).unwrap_or(&[]);
        let mut trace = SegmentTrace {
            key: seg.key.to_string(),
            match_type: seg.match_type,
            constraints: Vec::new(),
            matched: constraints.is_empty(),
        };
        let mut matches = 0;
        let mut unknown = false;
        for (c, check) in constraints.iter().zip(checks) {
            let seen = if c.kind == ConstraintType::EntityId {
                entity
            } else {
                ctx.get(&c.property).unwrap_or("")
            };
            let outcome = check_value(s, check, seen);
            trace.constraints.push(ConstraintTrace {
                kind: c.kind,
                property: c.property.to_string(),
                operator: c.operator.to_string(),
                value: c.value.to_string(),
                seen: seen.to_string(),
                outcome,
            });
            match outcome {
                None => {
                    unknown = true;
                    break;
                }
                Some(true) => {
                    matches += 1;
                    if !all {
                        break;
                    }
                }
                Some(false) if all => break,
                Some(false) => {}
            }
        }
        if !constraints.is_empty() {
            trace.matched = !unknown
                && if all {
                    matches == constraints.len()
                } else {
                    matches >= 1
                };
        }
        traces.push(trace);
    }
    let matched = match op {
        SegmentOperator::And => traces.iter().all(|t| t.matched),
        SegmentOperator::Or => traces.iter().any(|t| t.matched),
    };
    (traces, matched)
}

fn matched_keys(traces: &[SegmentTrace]) -> Vec<String> {
    traces
        .iter()
        .filter(|t| t.matched)
        .map(|t| t.key.clone())
        .collect()
}

fn base(flag: &Flag, flag_key: &str, entity: &str) -> Explanation {
    Explanation {
        flag_key: flag_key.to_string(),
        entity_id: entity.to_string(),
        flag_type: flag.kind,
        enabled: flag.enabled,
        default_variant: flag.default_variant.as_ref().map(|v| v.key.to_string()),
        steps: Vec::new(),
        outcome: ExplainedOutcome {
            value: false,
            reason: Reason::Unknown,
            variant_key: String::new(),
            segment_keys: Vec::new(),
        },
    }
}

/// Traces a variant evaluation of a flag already looked up (and checked by the evaluator).
pub(crate) fn variant<C: Context + ?Sized>(
    s: &Snapshot,
    flag: &Flag,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Explanation {
    let mut e = base(flag, flag_key, entity);
    if let Some(d) = &e.default_variant {
        e.outcome.reason = Reason::Default;
        e.outcome.variant_key = d.clone();
    }
    if !flag.enabled {
        e.outcome.reason = Reason::FlagDisabled;
        return e;
    }
    for rule in flag.rules.map(|r| &s.rules[r.range()]).unwrap_or(&[]) {
        let (segments, matched) = trace_segments(s, rule.segments, rule.operator, entity, ctx);
        let mut step_bucket = None;
        if matched {
            e.outcome.segment_keys = matched_keys(&segments);
            e.outcome.value = true;
            e.outcome.reason = Reason::Match;
            if !rule.buckets.is_empty() {
                let h = super::bucket::variant_bucket_of(flag_key, entity);
                let buckets = s.buckets.get(rule.buckets.range()).unwrap_or(&[]);
                let real = buckets.iter().filter(|b| !b.is_pad());
                let bounds = real.clone().map(|b| b.bound).collect();
                let dists: Vec<(String, f32)> = real
                    .filter_map(|b| s.distributions.get(b.dist as usize))
                    .map(|d| (d.variant_key.to_string(), d.rollout))
                    .collect();
                let chosen = bucket::choose(buckets, h)
                    .and_then(|d| s.distributions.get(d as usize))
                    .map(|d| d.variant_key.to_string());
                match &chosen {
                    Some(k) => e.outcome.variant_key = k.clone(),
                    None => {
                        e.outcome.value = false;
                        e.outcome.reason = Reason::Default;
                    }
                }
                step_bucket = Some(BucketTrace {
                    bucket: h,
                    bounds,
                    distributions: dists,
                    chosen,
                });
            }
        }
        e.steps.push(Step::Rule {
            rank: rule.rank,
            operator: rule.operator,
            segments,
            matched,
            bucket: step_bucket,
        });
        if matched {
            break;
        }
    }
    e
}

/// Traces a boolean evaluation of a flag already looked up (and checked by the evaluator).
pub(crate) fn boolean<C: Context + ?Sized>(
    s: &Snapshot,
    flag: &Flag,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Explanation {
    let mut e = base(flag, flag_key, entity);
    e.outcome.value = flag.enabled;
    e.outcome.reason = Reason::Default;
    let rollouts = flag.rollouts.map(|r| &s.rollouts[r.range()]).unwrap_or(&[]);
    if !flag.enabled && rollouts.is_empty() {
        e.outcome.reason = Reason::FlagDisabled;
        return e;
    }
    for r in rollouts {
        match r.kind {
            RolloutKind::Threshold { percentage, value } => {
                let p = super::bucket::threshold_bucket(entity, flag_key);
                let hit = (p as f32) < percentage;
                e.steps.push(Step::Threshold {
                    rank: r.rank,
                    percentage,
                    bucket: p,
                    hit,
                    value,
                });
                if hit {
                    e.outcome.value = value;
                    e.outcome.reason = Reason::Match;
                    return e;
                }
            }
            RolloutKind::Segment {
                value,
                operator,
                segments,
            } => {
                let (traces, matched) = trace_segments(s, segments, operator, entity, ctx);
                let keys = matched_keys(&traces);
                e.steps.push(Step::SegmentRollout {
                    rank: r.rank,
                    operator,
                    segments: traces,
                    matched,
                    value,
                });
                if matched {
                    e.outcome.value = value;
                    e.outcome.reason = Reason::Match;
                    e.outcome.segment_keys = keys;
                    return e;
                }
            }
            RolloutKind::Unknown => e.steps.push(Step::UnknownRollout { rank: r.rank }),
        }
    }
    e
}

fn write_segments(f: &mut fmt::Formatter<'_>, segments: &[SegmentTrace]) -> fmt::Result {
    for seg in segments {
        writeln!(
            f,
            "    segment {:?} ({}): {}",
            seg.key,
            seg.match_type,
            if seg.matched { "matched" } else { "no match" }
        )?;
        if seg.constraints.is_empty() {
            writeln!(f, "      (no constraints: matches everyone)")?;
        }
        for c in &seg.constraints {
            let subject = if c.kind == ConstraintType::EntityId {
                "entity id".to_string()
            } else {
                format!("context[{:?}]", c.property)
            };
            let outcome = match c.outcome {
                Some(true) => "true",
                Some(false) => "false",
                None => "unknown constraint type: segment fails",
            };
            writeln!(
                f,
                "      {subject} = {:?} {} {:?} ({}) -> {outcome}",
                c.seen, c.operator, c.value, c.kind
            )?;
        }
    }
    Ok(())
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.flag_type {
            FlagType::Variant => "variant",
            FlagType::Boolean => "boolean",
        };
        writeln!(
            f,
            "flag {:?} ({kind}, {}) for entity {:?}",
            self.flag_key,
            if self.enabled { "enabled" } else { "disabled" },
            self.entity_id
        )?;
        if let Some(d) = &self.default_variant {
            writeln!(f, "  default variant {d:?}")?;
        }
        if self.steps.is_empty() {
            writeln!(f, "  nothing to evaluate")?;
        }
        for step in &self.steps {
            match step {
                Step::Rule {
                    rank,
                    operator,
                    segments,
                    matched,
                    bucket,
                } => {
                    writeln!(
                        f,
                        "  rule {rank} ({operator} of {} segments): {}",
                        segments.len(),
                        if *matched { "matched" } else { "no match" }
                    )?;
                    write_segments(f, segments)?;
                    if let Some(b) = bucket {
                        writeln!(
                            f,
                            "    bucket {} of 1000; boundaries {:?}",
                            b.bucket, b.bounds
                        )?;
                        for (k, r) in &b.distributions {
                            writeln!(f, "      {k:?}: {r}%")?;
                        }
                        writeln!(
                            f,
                            "    chosen {:?}",
                            b.chosen.as_deref().unwrap_or("(none)")
                        )?;
                    } else if *matched {
                        writeln!(f, "    no distributions with a positive rollout")?;
                    }
                }
                Step::Threshold {
                    rank,
                    percentage,
                    bucket,
                    hit,
                    value,
                } => {
                    writeln!(
                        f,
                        "  rollout {rank}: threshold {percentage}%, bucket {bucket} of 100 -> {}",
                        if *hit {
                            format!("hit, value {value}")
                        } else {
                            "miss".into()
                        }
                    )?;
                }
                Step::SegmentRollout {
                    rank,
                    operator,
                    segments,
                    matched,
                    value,
                } => {
                    writeln!(
                        f,
                        "  rollout {rank}: segments ({operator}) -> {}",
                        if *matched {
                            format!("matched, value {value}")
                        } else {
                            "no match".into()
                        }
                    )?;
                    write_segments(f, segments)?;
                }
                Step::UnknownRollout { rank } => {
                    writeln!(f, "  rollout {rank}: unknown type, skipped")?
                }
            }
        }
        let o = &self.outcome;
        match self.flag_type {
            FlagType::Variant => write!(
                f,
                "result: match={} variant={:?} reason={}",
                o.value, o.variant_key, o.reason
            )?,
            FlagType::Boolean => write!(f, "result: enabled={} reason={}", o.value, o.reason)?,
        }
        if !o.segment_keys.is_empty() {
            write!(f, " segments={:?}", o.segment_keys)?;
        }
        Ok(())
    }
}

/// Checks the flag like the evaluator, then traces it.
pub(crate) fn explain<C: Context + ?Sized>(
    s: &std::sync::Arc<Snapshot>,
    namespace: &std::sync::Arc<str>,
    flag_key: &str,
    entity: &str,
    ctx: &C,
    want: FlagType,
) -> Result<Explanation, Error> {
    // The real evaluation reports exactly the engine's errors (missing flag, wrong type, …).
    match want {
        FlagType::Variant => {
            super::variant(std::sync::Arc::clone(s), namespace, flag_key, entity, ctx).map(drop)?
        }
        FlagType::Boolean => {
            super::boolean(std::sync::Arc::clone(s), namespace, flag_key, entity, ctx).map(drop)?
        }
    }
    let Some((_, flag)) = s.flag(flag_key) else {
        return Err(Error::FlagNotFound {
            namespace: std::sync::Arc::clone(namespace),
            flag_key: flag_key.into(),
        });
    };
    Ok(match want {
        FlagType::Variant => variant(s, flag, flag_key, entity, ctx),
        FlagType::Boolean => boolean(s, flag, flag_key, entity, ctx),
    })
}
