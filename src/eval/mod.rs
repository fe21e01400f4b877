//! The evaluator: pure functions over a compiled [`Snapshot`], with the exact semantics of
//! the official Flipt engine (EVALUATION.md). Nothing here allocates on success, locks or logs.

pub(crate) mod bucket;
pub(crate) mod context;
pub(crate) mod datetime;
pub mod explain;
pub(crate) mod json;
pub(crate) mod result;
pub(crate) mod strings;

use crate::error::{Error, FlagType, RankList};
use crate::snapshot::{
    Cmp, Constraint, ConstraintType, Flag, MatchType, RolloutKind, Segment, SegmentOperator,
    Snapshot, Span, Test,
};
pub use context::Context;
use result::{
    BatchItem, BooleanEvaluation, ErrorEvaluation, ErrorReason, EvaluationRequest, Matched, Reason,
    VariantEvaluation, VariantSource,
};
use std::sync::Arc;
use strings::str_eq;

impl Cmp {
    #[inline]
    fn holds<T: Ord>(self, v: T, c: T) -> bool {
        match self {
            Cmp::Eq => v == c,
            Cmp::Neq => v != c,
            Cmp::Lt => v < c,
            Cmp::Lte => v <= c,
            Cmp::Gt => v > c,
            Cmp::Gte => v >= c,
        }
    }
}

/// One constraint against its subject (EVALUATION.md §7). `None` means an unknown
/// constraint type, which fails the whole segment.
#[inline]
fn constraint_matches<C: Context + ?Sized>(
    c: &Constraint,
    subjects: &mut Subjects<'_, C>,
) -> Option<bool> {
    if let Test::Time(op, cv) = &c.test {
        // Parsed once per evaluation through the subjects' cache.
        return Some(match (subjects.time_of(c), cv) {
            (Some(v), Some(c)) => op.holds(v, *c),
            _ => false,
        });
    }
    test_value(c, subjects.of(c))
}

/// One constraint against the value `v` (the evaluator and explanations share this).
#[inline]
pub(crate) fn test_value(c: &Constraint, v: &str) -> Option<bool> {
    let cv = &*c.value;
    Some(match &c.test {
        Test::IsEmpty => v.is_empty(),
        Test::NotEmpty => !v.is_empty(),
        Test::StrEq => !v.is_empty() && str_eq(v, cv),
        Test::StrNeq => !v.is_empty() && !str_eq(v, cv),
        Test::Prefix => !v.is_empty() && strings::starts_with(v, cv),
        Test::Suffix => !v.is_empty() && strings::ends_with(v, cv),
        Test::Contains => !v.is_empty() && strings::contains(v, cv),
        Test::NotContains => !v.is_empty() && !strings::contains(v, cv),
        Test::StrOneOf(list) => {
            !v.is_empty()
                && list
                    .as_ref()
                    .is_some_and(|l| l.iter().any(|x| str_eq(x, v)))
        }
        Test::StrNotOneOf(list) => {
            !v.is_empty()
                && !list
                    .as_ref()
                    .is_some_and(|l| l.iter().any(|x| str_eq(x, v)))
        }
        Test::Num(op, c) => match (v.parse::<i32>(), c) {
            (Ok(v), Some(c)) => op.holds(v, *c),
            _ => false,
        },
        Test::NumOneOf(list) => match (v.parse::<i32>(), list) {
            (Ok(v), Some(l)) => l.contains(&v),
            _ => false,
        },
        Test::NumNotOneOf(list) => match (v.parse::<i32>(), list) {
            (Ok(v), Some(l)) => !l.contains(&v),
            _ => false,
        },
        Test::BoolTrue => v == "true",
        Test::BoolFalse => v == "false",
        Test::Time(op, c) => match (datetime::parse_rfc3339(v), c) {
            (Some(v), Some(c)) => op.holds(v, *c),
            _ => false,
        },
        Test::Never => false,
        Test::UnknownType => return None,
    })
}

/// Entries of the per-evaluation context cache (direct-mapped by property id).
const CACHE: usize = 8;

/// The subjects constraints test: the entity id and the context, with context lookups
/// remembered for the rest of the evaluation (a property is usually tested many times).
struct Subjects<'c, C: ?Sized> {
    entity: &'c str,
    ctx: &'c C,
    tags: [u16; CACHE],
    values: [&'c str; CACHE],
    /// Bit `i`: `times[i]` holds the parsed datetime of `values[i]`.
    times_known: u8,
    times: [Option<i64>; CACHE],
}

impl<'c, C: Context + ?Sized> Subjects<'c, C> {
    #[inline]
    fn new(entity: &'c str, ctx: &'c C) -> Self {
        Subjects {
            entity,
            ctx,
            tags: [u16::MAX; CACHE],
            values: [""; CACHE],
            times_known: 0,
            times: [None; CACHE],
        }
    }

    /// The value a constraint tests, parsed as a datetime (parsed once per evaluation).
    #[inline]
    fn time_of(&mut self, c: &Constraint) -> Option<i64> {
        let v = self.of(c);
        let slot = c.property_id as usize % CACHE;
        if c.kind == ConstraintType::EntityId || self.tags[slot] != c.property_id {
            return datetime::parse_rfc3339(v);
        }
        if self.times_known & (1 << slot) == 0 {
            self.times[slot] = datetime::parse_rfc3339(v);
            self.times_known |= 1 << slot;
        }
        self.times[slot]
    }

    /// The value a constraint tests; a missing property reads as `""`.
    #[inline(always)]
    fn of(&mut self, c: &Constraint) -> &'c str {
        if c.kind == ConstraintType::EntityId {
            return self.entity;
        }
        let id = c.property_id;
        let slot = id as usize % CACHE;
        if self.tags[slot] == id && id != u16::MAX {
            return self.values[slot];
        }
        let v = self.ctx.get(&c.property).unwrap_or("");
        self.tags[slot] = id;
        self.values[slot] = v;
        self.times_known &= !(1 << slot);
        v
    }
}

/// One segment (EVALUATION.md §6).
#[inline]
fn segment_matches<C: Context + ?Sized>(
    s: &Snapshot,
    seg: &Segment,
    subjects: &mut Subjects<'_, C>,
) -> bool {
    let constraints = &s.constraints[seg.constraints.range()];
    if constraints.is_empty() {
        return true;
    }
    let all = seg.match_type == MatchType::All;
    let mut matches = 0usize;
    for c in constraints {
        match constraint_matches(c, subjects) {
            None => return false,
            Some(true) => {
                matches += 1;
                if !all {
                    break;
                }
            }
            Some(false) => {
                if all {
                    break;
                }
            }
        }
    }
    if all {
        matches == constraints.len()
    } else {
        matches >= 1
    }
}

/// The segments of a rule or rollout under its operator (EVALUATION.md §5): `Some` with the
/// matching segments when satisfied.
#[inline]
fn segments_match<C: Context + ?Sized>(
    s: &Snapshot,
    span: Span,
    op: SegmentOperator,
    subjects: &mut Subjects<'_, C>,
) -> Option<Matched> {
    let ids = &s.segment_refs[span.range()];
    let matches = |id: u32, subjects: &mut Subjects<'_, C>| {
        s.segments
            .get(id as usize)
            .is_some_and(|seg| segment_matches(s, seg, subjects))
    };
    match op {
        SegmentOperator::And => {
            // Every segment must match; zero segments match everyone.
            ids.iter()
                .all(|&id| matches(id, subjects))
                .then_some(Matched::All(span))
        }
        SegmentOperator::Or if ids.len() <= 64 => {
            let mut mask = 0u64;
            for (i, &id) in ids.iter().enumerate() {
                if matches(id, subjects) {
                    mask |= 1 << i;
                }
            }
            (mask != 0).then_some(Matched::Mask(span, mask))
        }
        SegmentOperator::Or => {
            // Rules with over 64 segments are rare enough to pay for a list.
            let list: Vec<u32> = ids
                .iter()
                .copied()
                .filter(|&id| matches(id, subjects))
                .collect();
            (!list.is_empty()).then(|| Matched::List(list.into()))
        }
    }
}

fn lookup<'s>(
    s: &'s Snapshot,
    namespace: &str,
    flag_key: &str,
    want: FlagType,
) -> Result<(u32, &'s Flag), Error> {
    let found = if str_eq(&s.namespace, namespace) {
        s.flag(flag_key)
    } else {
        None
    };
    let Some((i, flag)) = found else {
        return Err(Error::FlagNotFound {
            namespace: namespace.into(),
            flag_key: flag_key.into(),
        });
    };
    if flag.kind != want {
        return Err(Error::WrongFlagType {
            flag_key: flag_key.into(),
            expected: want,
        });
    }
    Ok((i, flag))
}

/// Variant evaluation (EVALUATION.md §4) of a flag already looked up.
fn variant_of<C: Context + ?Sized>(
    s: &Arc<Snapshot>,
    i: u32,
    flag: &Flag,
    entity: &str,
    ctx: &C,
) -> Result<VariantEvaluation, Error> {
    let mut out = VariantEvaluation {
        snapshot: Arc::clone(s),
        flag: i,
        matched: false,
        reason: Reason::Unknown,
        variant: VariantSource::None,
        segments: Matched::None,
    };
    if flag.default_variant.is_some() {
        out.reason = Reason::Default;
        out.variant = VariantSource::Default;
    }
    if !flag.enabled {
        out.reason = Reason::FlagDisabled;
        return Ok(out);
    }
    let Some(rules) = flag.rules else {
        return Err(Error::MissingRules {
            namespace: s.namespace.to_string(),
            flag_key: flag.key.to_string(),
        });
    };
    let mut subjects: Option<Subjects<'_, C>> = None;
    let mut last_rank = 0;
    for rule in &s.rules[rules.range()] {
        if rule.rank < last_rank {
            return Err(Error::RankOutOfOrder {
                list: RankList::Rule,
                rank: rule.rank,
            });
        }
        last_rank = rule.rank;
        let Some(matched) = segments_match(
            s,
            rule.segments,
            rule.operator,
            subjects.get_or_insert_with(|| Subjects::new(entity, ctx)),
        ) else {
            continue;
        };
        out.segments = matched;
        if rule.distributions.is_none() {
            return Err(Error::MissingDistributions {
                namespace: s.namespace.to_string(),
                rule_id: rule.id.to_string(),
            });
        }
        out.matched = true;
        out.reason = Reason::Match;
        if rule.buckets.is_empty() {
            return Ok(out);
        }
        let h = bucket::crc32_finish(bucket::crc32_update(flag.salt, entity.as_bytes())) % 1000;
        let bounds = &s.bounds[rule.buckets.range()];
        let idx = bucket::choose(bounds, h);
        match s.bucket_dists[rule.buckets.range()].get(idx) {
            Some(&d) => out.variant = VariantSource::Distribution(d),
            None => {
                // Unreachable (the last boundary is 1000), kept for fidelity with the engine.
                out.matched = false;
                out.reason = Reason::Default;
            }
        }
        return Ok(out);
    }
    Ok(out)
}

/// Boolean evaluation (EVALUATION.md §9) of a flag already looked up.
fn boolean_of<C: Context + ?Sized>(
    s: &Arc<Snapshot>,
    i: u32,
    flag: &Flag,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Result<BooleanEvaluation, Error> {
    let Some(rollouts) = flag.rollouts else {
        return Err(Error::MissingRollouts {
            namespace: s.namespace.to_string(),
            flag_key: flag.key.to_string(),
        });
    };
    let mut out = BooleanEvaluation {
        snapshot: Arc::clone(s),
        flag: i,
        enabled: flag.enabled,
        reason: Reason::Default,
        segments: Matched::None,
    };
    // The shipped engine (0.21.4) answers a disabled flag without rollouts with FLAG_DISABLED.
    if !flag.enabled && rollouts.is_empty() {
        out.reason = Reason::FlagDisabled;
        return Ok(out);
    }
    // Built on first use: flags decided by a threshold never need a context.
    let mut subjects: Option<Subjects<'_, C>> = None;
    // The threshold bucket is the same for every threshold rollout of the flag.
    let mut threshold_bucket: Option<u32> = None;
    let mut last_rank = 0;
    for rollout in &s.rollouts[rollouts.range()] {
        if rollout.rank < last_rank {
            return Err(Error::RankOutOfOrder {
                list: RankList::Rollout,
                rank: rollout.rank,
            });
        }
        last_rank = rollout.rank;
        match rollout.kind {
            RolloutKind::Threshold { percentage, value } => {
                // Entity id first, then the flag key: the reverse of variant bucketing.
                let p = *threshold_bucket.get_or_insert_with(|| {
                    let state = bucket::crc32_update(bucket::CRC_INIT, entity.as_bytes());
                    bucket::crc32_finish(bucket::crc32_update(state, flag_key.as_bytes())) % 100
                });
                if (p as f32) < percentage {
                    out.enabled = value;
                    out.reason = Reason::Match;
                    return Ok(out);
                }
            }
            RolloutKind::Segment {
                value,
                operator,
                segments,
            } => {
                if let Some(matched) = segments_match(
                    s,
                    segments,
                    operator,
                    subjects.get_or_insert_with(|| Subjects::new(entity, ctx)),
                ) {
                    out.enabled = value;
                    out.reason = Reason::Match;
                    out.segments = matched;
                    return Ok(out);
                }
            }
            RolloutKind::Unknown => {}
        }
    }
    Ok(out)
}

/// Variant evaluation of the flag at `pos` (a position taken from this snapshot).
pub(crate) fn variant_at<C: Context + ?Sized>(
    s: &Arc<Snapshot>,
    pos: u32,
    entity: &str,
    ctx: &C,
) -> Result<VariantEvaluation, Error> {
    match s.flags.get(pos as usize) {
        Some(flag) => variant_of(s, pos, flag, entity, ctx),
        None => Err(Error::Internal("flag position out of range".into())),
    }
}

/// Boolean evaluation of the flag at `pos` (a position taken from this snapshot).
pub(crate) fn boolean_at<C: Context + ?Sized>(
    s: &Arc<Snapshot>,
    pos: u32,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Result<BooleanEvaluation, Error> {
    match s.flags.get(pos as usize) {
        Some(flag) => boolean_of(s, pos, flag, flag_key, entity, ctx),
        None => Err(Error::Internal("flag position out of range".into())),
    }
}

pub(crate) fn variant<C: Context + ?Sized>(
    s: &Arc<Snapshot>,
    namespace: &str,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Result<VariantEvaluation, Error> {
    let (i, flag) = lookup(s, namespace, flag_key, FlagType::Variant)?;
    variant_of(s, i, flag, entity, ctx)
}

pub(crate) fn boolean<C: Context + ?Sized>(
    s: &Arc<Snapshot>,
    namespace: &str,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Result<BooleanEvaluation, Error> {
    let (i, flag) = lookup(s, namespace, flag_key, FlagType::Boolean)?;
    boolean_of(s, i, flag, flag_key, entity, ctx)
}

/// Batch evaluation (EVALUATION.md §12.1): appends one item per request to `out`. A missing
/// flag becomes an error item; any other error fails the whole batch, as in the engine.
pub(crate) fn batch<'r, C: Context + ?Sized>(
    s: &Arc<Snapshot>,
    namespace: &Arc<str>,
    requests: &[EvaluationRequest<'r, C>],
    out: &mut Vec<BatchItem<'r>>,
) -> Result<(), Error> {
    out.reserve(requests.len());
    for r in requests {
        let found = if str_eq(&s.namespace, namespace) {
            s.flag(r.flag_key)
        } else {
            None
        };
        let item = match found {
            None => BatchItem::Error(ErrorEvaluation {
                flag_key: r.flag_key,
                namespace_key: Arc::clone(namespace),
                reason: ErrorReason::NotFound,
            }),
            Some((i, flag)) => match flag.kind {
                FlagType::Variant => {
                    BatchItem::Variant(variant_of(s, i, flag, r.entity_id, r.context)?)
                }
                FlagType::Boolean => {
                    BatchItem::Boolean(boolean_of(s, i, flag, r.flag_key, r.entity_id, r.context)?)
                }
            },
        };
        out.push(item);
    }
    Ok(())
}

impl Snapshot {
    /// Evaluates a variant flag against this snapshot, in the snapshot's own namespace.
    ///
    /// ```
    /// use flipt_client::Snapshot;
    /// use std::sync::Arc;
    ///
    /// let snap = Arc::new(Snapshot::parse(include_str!("../../examples/data/snapshot.json"))?);
    /// let r = snap.evaluate_variant("checkout-theme", "user-2", &[("plan", "pro"), ("age", "30")])?;
    /// assert_eq!(r.variant_key(), "green");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn evaluate_variant<C: Context + ?Sized>(
        self: &Arc<Self>,
        flag_key: &str,
        entity_id: &str,
        context: &C,
    ) -> Result<VariantEvaluation, Error> {
        variant(self, &self.namespace, flag_key, entity_id, context)
    }

    /// Evaluates a boolean flag against this snapshot, in the snapshot's own namespace.
    pub fn evaluate_boolean<C: Context + ?Sized>(
        self: &Arc<Self>,
        flag_key: &str,
        entity_id: &str,
        context: &C,
    ) -> Result<BooleanEvaluation, Error> {
        boolean(self, &self.namespace, flag_key, entity_id, context)
    }
}
