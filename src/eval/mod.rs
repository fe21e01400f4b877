//! The evaluator: pure functions over a compiled [`Snapshot`], with the exact semantics of
//! the official Flipt engine (docs/EVALUATION.md). Nothing here allocates on success, locks or logs.

pub(crate) mod bucket;
pub(crate) mod context;
pub(crate) mod explain;
pub(crate) mod json;
pub(crate) mod result;
mod step;

use crate::constraint::{check_value, Check, Op};
use crate::error::{Error, RankList};
use crate::program::{run, End, MatchedBy, Node};
use crate::snapshot::FlagType;
use crate::snapshot::{
    Flag, FlagHead, MatchType, Rollout, RolloutKind, Rule, Segment, SegmentOperator, Snapshot,
    Span, ENTITY_SLOT, SLOTS, UNCACHED,
};
use crate::util::datetime;
use crate::util::strings::str_eq;
use bucket::{threshold_bucket, variant_bucket};
pub(crate) use context::Context;
use result::{
    BatchItem, BooleanEvaluation, BooleanOutcome, ErrorEvaluation, ErrorReason, EvaluationRequest,
    Matched, Reason, VariantEvaluation, VariantOutcome, VariantSource,
};
use std::ops::Deref;
use std::sync::Arc;
pub(crate) use step::step_by_step;
use step::{boolean_step, flag_of, variant_step};

/// The subjects checks test, the entity id and context values, each looked up once per
/// evaluation (a property is usually tested many times) in slots the snapshot assigned.
struct Subjects<'c, C: ?Sized> {
    ctx: &'c C,
    /// `None` until looked up (all zeroes, so cheap to set up).
    values: [Option<&'c str>; SLOTS],
    /// Bit `i`: `times[i]` holds the parsed datetime of `values[i]`.
    times_known: u16,
    /// Bit `i`: `values[i]` parsed as a datetime.
    times_valid: u16,
    times: [i64; SLOTS],
}

impl<'c, C: Context + ?Sized> Subjects<'c, C> {
    #[inline]
    fn new(entity: &'c str, ctx: &'c C) -> Self {
        let mut values = [None; SLOTS];
        values[ENTITY_SLOT as usize] = Some(entity);
        Subjects {
            ctx,
            values,
            times_known: 0,
            times_valid: 0,
            times: [0; SLOTS],
        }
    }

    /// The value check `i` tests; a missing property reads as `""`.
    #[inline(always)]
    fn value(&mut self, s: &Snapshot, i: usize, slot: u8) -> &'c str {
        if slot == UNCACHED {
            let property = s.constraints.get(i).map_or("", |c| &c.property);
            return self.ctx.get(property).unwrap_or("");
        }
        let slot = slot as usize;
        if slot >= SLOTS {
            let property = s.slot_names.get(slot).map_or("", |p| &**p);
            return self.ctx.get(property).unwrap_or("");
        }
        if let Some(v) = self.values[slot] {
            return v;
        }
        let property = s.slot_names.get(slot).map_or("", |p| &**p);
        let v = self.ctx.get(property).unwrap_or("");
        self.values[slot] = Some(v);
        v
    }

    /// The value of `slot` parsed as a datetime, parsed once per evaluation.
    #[inline]
    fn time(&mut self, slot: u8, v: &str) -> Option<i64> {
        let slot = slot as usize;
        if slot >= SLOTS {
            return datetime::parse_rfc3339(v);
        }
        let bit = 1 << slot;
        if self.times_known & bit == 0 {
            if let Some(t) = datetime::parse_rfc3339(v) {
                self.times[slot] = t;
                self.times_valid |= bit;
            }
            self.times_known |= bit;
        }
        (self.times_valid & bit != 0).then_some(self.times[slot])
    }
}

/// Check `i` against its subject.
#[inline(always)]
fn check<C: Context + ?Sized>(
    s: &Snapshot,
    i: usize,
    c: &Check,
    subjects: &mut Subjects<'_, C>,
) -> Option<bool> {
    let v = subjects.value(s, i, c.slot);
    if c.op == Op::Time {
        return Some(
            subjects
                .time(c.slot, v)
                .is_some_and(|t| c.accepts(t.cmp(&c.n))),
        );
    }
    check_value(s, c, v)
}

/// One segment (docs/EVALUATION.md §6).
#[inline(always)]
fn segment_matches<C: Context + ?Sized>(
    s: &Snapshot,
    seg: &Segment,
    subjects: &mut Subjects<'_, C>,
) -> bool {
    let range = seg.constraints.range();
    let start = range.start;
    let Some(checks) = s.checks.get(range) else {
        return false;
    };
    if checks.is_empty() {
        return true;
    }
    // ALL stops at the first check that fails, ANY at the first that holds.
    let all = seg.match_type == MatchType::All;
    for (k, c) in checks.iter().enumerate() {
        match check(s, start + k, c, subjects) {
            None => return false,
            Some(holds) if holds != all => return holds,
            Some(_) => {}
        }
    }
    all
}

/// Why a flag could not be evaluated as asked, before it becomes an [`Error`]: the `_or`
/// entry points drop it without building one.
#[derive(Clone, Copy)]
pub(crate) enum Miss {
    NotFound,
    WrongType(FlagType),
}

/// The head of `flag_key` for an evaluation of type `want`.
#[inline(always)]
pub(crate) fn find_head<'s>(
    s: &'s Snapshot,
    namespace: &str,
    flag_key: &str,
    want: FlagType,
) -> Result<&'s FlagHead, Miss> {
    let found = if str_eq(&s.namespace, namespace) {
        s.head(flag_key)
    } else {
        None
    };
    let Some(head) = found else {
        return Err(Miss::NotFound);
    };
    if head.boolean != (want == FlagType::Boolean) {
        return Err(Miss::WrongType(want));
    }
    Ok(head)
}

/// The engine's error for a miss. Shares the namespace; the key is stored inline when short,
/// so a missing flag costs no allocation.
#[cold]
#[inline(never)]
pub(crate) fn miss_error(miss: Miss, namespace: &Arc<str>, flag_key: &str) -> Error {
    match miss {
        Miss::NotFound => Error::FlagNotFound {
            namespace: Arc::clone(namespace),
            flag_key: flag_key.into(),
        },
        Miss::WrongType(expected) => Error::WrongFlagType {
            flag_key: flag_key.into(),
            expected,
        },
    }
}

/// The head of `flag_key` for an evaluation of type `want`, with the engine's errors.
#[inline(always)]
fn lookup_head<'s>(
    s: &'s Snapshot,
    namespace: &Arc<str>,
    flag_key: &str,
    want: FlagType,
) -> Result<&'s FlagHead, Error> {
    find_head(s, namespace, flag_key, want).map_err(|m| miss_error(m, namespace, flag_key))
}

fn rank_error(list: RankList, rank: u64) -> Error {
    Error::RankOutOfOrder { list, rank }
}

/// Variant evaluation (docs/EVALUATION.md §4) of a flag already looked up: through its program
/// when it has one, step by step otherwise.
#[inline]
fn variant_of<C: Context + ?Sized>(
    s: &Snapshot,
    head: &FlagHead,
    entity: &str,
    ctx: &C,
) -> Result<VariantOutcome, Error> {
    match head.program {
        Some(entry) => variant_run(s, head, entry, entity, ctx),
        None => variant_step(s, head.pos, flag_of(s, head)?, entity, ctx),
    }
}

/// The rule a matched program names, for its error messages.
fn rule_at(s: &Snapshot, index: u32) -> Result<&Rule, Error> {
    s.rules
        .get(index as usize)
        .ok_or_else(|| Error::Internal("flag program names no rule".into()))
}

/// The segments a program's matched `End` node reports.
#[inline]
fn matched_at(end: &Node, mask: u64) -> Matched {
    let span = end.segments();
    match end.matched_by() {
        MatchedBy::Mask => Matched::Mask(span, mask),
        MatchedBy::All => Matched::All(span),
        MatchedBy::Threshold => Matched::None,
    }
}

/// Variant evaluation through the flag's program (starting at node `entry`): reads only the
/// flag's head, its program and, when a rule matched, its buckets.
fn variant_run<C: Context + ?Sized>(
    s: &Snapshot,
    head: &FlagHead,
    entry: u32,
    entity: &str,
    ctx: &C,
) -> Result<VariantOutcome, Error> {
    let mut out = VariantOutcome::begin(head.pos, head.has_default);
    if !head.enabled {
        out.reason = Reason::FlagDisabled;
        return Ok(out);
    }
    // The entity's bucket does not depend on the rules: computed first, its CRC overlaps the
    // program's run instead of delaying the result when a rule matches.
    let bucket = variant_bucket(head.salt, entity);
    let (end, how, mask) = run::run(s, entry, entity, ctx, "")?;
    match how {
        End::NoMatch => return Ok(out),
        End::RankOutOfOrder => {
            return Err(rank_error(RankList::Rule, rule_at(s, end.item())?.rank));
        }
        End::Matched => {}
    }
    let matched = matched_at(end, mask);
    out.rule_matched(
        s,
        end.item(),
        end.flag_bit(),
        matched,
        end.buckets(),
        bucket,
    )?;
    Ok(out)
}

impl VariantOutcome {
    /// The result before any rule is tried: the default variant, when the flag has one.
    #[inline(always)]
    fn begin(pos: u32, has_default: bool) -> Self {
        let mut out = VariantOutcome {
            flag: pos,
            matched: false,
            reason: Reason::Unknown,
            variant: VariantSource::None,
            segments: Matched::None,
        };
        if has_default {
            out.reason = Reason::Default;
            out.variant = VariantSource::Default;
        }
        out
    }

    /// Records that rule `rule` matched with `segments`, and picks the distribution the
    /// entity's bucket falls in among the rule's `buckets` (docs/EVALUATION.md §8). A rule without
    /// distributions (only in hand-made seeds) is the engine's error.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn rule_matched(
        &mut self,
        s: &Snapshot,
        rule: u32,
        has_distributions: bool,
        segments: Matched,
        buckets: std::ops::Range<usize>,
        bucket: u32,
    ) -> Result<(), Error> {
        self.segments = segments;
        if !has_distributions {
            return Err(Error::MissingDistributions {
                namespace: s.namespace.to_string(),
                rule_id: rule_at(s, rule)?.id.to_string(),
            });
        }
        self.matched = true;
        self.reason = Reason::Match;
        if buckets.is_empty() {
            return Ok(());
        }
        match bucket::choose(s.buckets.get(buckets).unwrap_or(&[]), bucket) {
            Some(d) => self.variant = VariantSource::Distribution(d),
            None => {
                // Unreachable (the last boundary is 1000), kept for fidelity with the engine.
                self.matched = false;
                self.reason = Reason::Default;
            }
        }
        Ok(())
    }
}

/// Boolean evaluation (docs/EVALUATION.md §9) of a flag already looked up: through its program
/// when it has one, step by step otherwise.
#[inline]
fn boolean_of<C: Context + ?Sized>(
    s: &Snapshot,
    head: &FlagHead,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Result<BooleanOutcome, Error> {
    match head.program {
        Some(entry) => boolean_run(s, head, entry, flag_key, entity, ctx),
        None => boolean_step(s, head.pos, flag_of(s, head)?, flag_key, entity, ctx),
    }
}

/// Boolean evaluation through the flag's program (starting at node `entry`).
fn boolean_run<C: Context + ?Sized>(
    s: &Snapshot,
    head: &FlagHead,
    entry: u32,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Result<BooleanOutcome, Error> {
    let mut out = match BooleanOutcome::begin(head.pos, head.enabled, head.empty) {
        Ok(out) => out,
        Err(disabled) => return Ok(disabled),
    };
    let (end, how, mask) = run::run(s, entry, entity, ctx, flag_key)?;
    match how {
        End::NoMatch => {}
        End::RankOutOfOrder => {
            let rank = s.rollouts.get(end.item() as usize).map_or(0, |r| r.rank);
            return Err(rank_error(RankList::Rollout, rank));
        }
        End::Matched => out.rollout_matched(end.flag_bit(), matched_at(end, mask)),
    }
    Ok(out)
}

impl BooleanOutcome {
    /// The result before any rollout is tried: `Err` with the finished result when the flag is
    /// disabled and has no rollouts (the shipped engine, 0.21.4, answers it FLAG_DISABLED).
    #[inline(always)]
    fn begin(pos: u32, enabled: bool, empty: bool) -> Result<Self, Self> {
        let mut out = BooleanOutcome {
            flag: pos,
            enabled,
            reason: Reason::Default,
            segments: Matched::None,
        };
        if !enabled && empty {
            out.reason = Reason::FlagDisabled;
            return Err(out);
        }
        Ok(out)
    }

    /// Records that a rollout with this value matched.
    #[inline(always)]
    fn rollout_matched(&mut self, value: bool, segments: Matched) {
        self.enabled = value;
        self.reason = Reason::Match;
        self.segments = segments;
    }
}

/// Variant evaluation of the flag at `pos` (a position taken from this snapshot).
pub(crate) fn variant_at<S: Deref<Target = Snapshot>, C: Context + ?Sized>(
    s: S,
    pos: u32,
    entity: &str,
    ctx: &C,
) -> Result<VariantEvaluation<S>, Error> {
    let outcome = match s.heads.get(pos as usize) {
        Some(head) => variant_of(&s, head, entity, ctx)?,
        None => return Err(Error::Internal("flag position out of range".into())),
    };
    Ok(outcome.share(s))
}

/// Boolean evaluation of the flag at `pos` (a position taken from this snapshot).
pub(crate) fn boolean_at<S: Deref<Target = Snapshot>, C: Context + ?Sized>(
    s: S,
    pos: u32,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Result<BooleanEvaluation<S>, Error> {
    let outcome = match s.heads.get(pos as usize) {
        Some(head) => boolean_of(&s, head, flag_key, entity, ctx)?,
        None => return Err(Error::Internal("flag position out of range".into())),
    };
    Ok(outcome.share(s))
}

/// Variant evaluation of `flag_key`; the result takes over `s`, the caller's share of the
/// snapshot (an `Arc`, or a borrow for a reader).
pub(crate) fn variant<S: Deref<Target = Snapshot>, C: Context + ?Sized>(
    s: S,
    namespace: &Arc<str>,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Result<VariantEvaluation<S>, Error> {
    let head = lookup_head(&s, namespace, flag_key, FlagType::Variant)?;
    let outcome = variant_of(&s, head, entity, ctx)?;
    Ok(outcome.share(s))
}

/// Boolean evaluation of `flag_key` (see [`variant`]).
pub(crate) fn boolean<S: Deref<Target = Snapshot>, C: Context + ?Sized>(
    s: S,
    namespace: &Arc<str>,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Result<BooleanEvaluation<S>, Error> {
    let head = lookup_head(&s, namespace, flag_key, FlagType::Boolean)?;
    let outcome = boolean_of(&s, head, flag_key, entity, ctx)?;
    Ok(outcome.share(s))
}

/// Variant evaluation of `flag_key`, or `None` for any failure, without building an error.
pub(crate) fn variant_opt<S: Deref<Target = Snapshot>, C: Context + ?Sized>(
    s: S,
    namespace: &str,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Option<VariantEvaluation<S>> {
    let head = find_head(&s, namespace, flag_key, FlagType::Variant).ok()?;
    let outcome = variant_of(&s, head, entity, ctx).ok()?;
    Some(outcome.share(s))
}

/// Boolean evaluation of `flag_key`, or `None` for any failure, without building an error.
pub(crate) fn boolean_opt<C: Context + ?Sized>(
    s: &Snapshot,
    namespace: &str,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Option<bool> {
    let head = find_head(s, namespace, flag_key, FlagType::Boolean).ok()?;
    let outcome = boolean_of(s, head, flag_key, entity, ctx).ok()?;
    Some(outcome.enabled)
}

/// Batch evaluation (docs/EVALUATION.md §12.1): appends one item per request to `out`. A missing
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
            s.head(r.flag_key)
        } else {
            None
        };
        let item = match found {
            None => BatchItem::Error(ErrorEvaluation {
                flag_key: r.flag_key,
                namespace_key: Arc::clone(namespace),
                reason: ErrorReason::NotFound,
            }),
            Some(head) if head.boolean => BatchItem::Boolean(
                boolean_of(s, head, r.flag_key, r.entity_id, r.context)?.share(Arc::clone(s)),
            ),
            Some(head) => BatchItem::Variant(
                variant_of(s, head, r.entity_id, r.context)?.share(Arc::clone(s)),
            ),
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
        variant(
            Arc::clone(self),
            &self.namespace,
            flag_key,
            entity_id,
            context,
        )
    }

    /// Evaluates a boolean flag against this snapshot, in the snapshot's own namespace.
    pub fn evaluate_boolean<C: Context + ?Sized>(
        self: &Arc<Self>,
        flag_key: &str,
        entity_id: &str,
        context: &C,
    ) -> Result<BooleanEvaluation, Error> {
        boolean(
            Arc::clone(self),
            &self.namespace,
            flag_key,
            entity_id,
            context,
        )
    }
}
