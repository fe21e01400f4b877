//! The reference walker: evaluation step by step over rules, rollouts, segments and
//! constraints, exactly as docs/EVALUATION.md describes it. Flags without a program (very wide OR
//! rules) are evaluated this way, and the tests and fuzz targets hold every program to it.

use super::*;

/// The segments of a rule or rollout under its operator (docs/EVALUATION.md §5): `Some` with the
/// matching segments when satisfied.
#[inline]
pub(super) fn segments_match<C: Context + ?Sized>(
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

/// The first rule of `rules` that matches (its position, the rule, its segments), evaluated
/// step by step.
pub(super) fn first_rule<'s, C: Context + ?Sized>(
    s: &'s Snapshot,
    rules: Span,
    subjects: &mut Subjects<'_, C>,
) -> Result<Option<(u32, &'s Rule, Matched)>, Error> {
    let mut last_rank = 0;
    for (rule, index) in s
        .rules
        .get(rules.range())
        .unwrap_or(&[])
        .iter()
        .zip(rules.start..)
    {
        if rule.rank < last_rank {
            return Err(rank_error(RankList::Rule, rule.rank));
        }
        last_rank = rule.rank;
        if let Some(matched) = segments_match(s, rule.segments, rule.operator, subjects) {
            return Ok(Some((index, rule, matched)));
        }
    }
    Ok(None)
}

/// The first rollout of `rollouts` that matches, evaluated step by step.
pub(super) fn first_rollout<'s, C: Context + ?Sized>(
    s: &'s Snapshot,
    rollouts: Span,
    subjects: &mut Subjects<'_, C>,
    entity: &str,
    flag_key: &str,
) -> Result<Option<(&'s Rollout, Matched)>, Error> {
    // The threshold bucket is the same for every threshold rollout of the flag.
    let mut bucket: Option<u32> = None;
    let mut last_rank = 0;
    for rollout in s.rollouts.get(rollouts.range()).unwrap_or(&[]) {
        if rollout.rank < last_rank {
            return Err(rank_error(RankList::Rollout, rollout.rank));
        }
        last_rank = rollout.rank;
        match rollout.kind {
            RolloutKind::Threshold { percentage, .. } => {
                let p = *bucket.get_or_insert_with(|| threshold_bucket(entity, flag_key));
                if (p as f32) < percentage {
                    return Ok(Some((rollout, Matched::None)));
                }
            }
            RolloutKind::Segment {
                operator, segments, ..
            } => {
                if let Some(matched) = segments_match(s, segments, operator, subjects) {
                    return Ok(Some((rollout, matched)));
                }
            }
            RolloutKind::Unknown => {}
        }
    }
    Ok(None)
}

/// The flag a head belongs to, for the step-by-step path.
pub(super) fn flag_of<'s>(s: &'s Snapshot, head: &FlagHead) -> Result<&'s Flag, Error> {
    s.flags
        .get(head.pos as usize)
        .ok_or_else(|| Error::Internal("flag position out of range".into()))
}

/// Variant evaluation step by step: the reference the programs are checked against, and the
/// path of flags without a program.
pub(super) fn variant_step<C: Context + ?Sized>(
    s: &Snapshot,
    i: u32,
    flag: &Flag,
    entity: &str,
    ctx: &C,
) -> Result<VariantOutcome, Error> {
    let mut out = VariantOutcome::begin(i, flag.default_variant.is_some());
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
    let Some((index, rule, matched)) = first_rule(s, rules, &mut Subjects::new(entity, ctx))?
    else {
        return Ok(out);
    };
    let has_distributions = rule.distributions.is_some();
    let buckets = rule.buckets.range();
    out.rule_matched(
        s,
        index,
        has_distributions,
        matched,
        buckets,
        variant_bucket(flag.salt, entity),
    )?;
    Ok(out)
}

/// Boolean evaluation step by step (see [`variant_step`]).
pub(super) fn boolean_step<C: Context + ?Sized>(
    s: &Snapshot,
    i: u32,
    flag: &Flag,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> Result<BooleanOutcome, Error> {
    let Some(rollouts) = flag.rollouts else {
        return Err(Error::MissingRollouts {
            namespace: s.namespace.to_string(),
            flag_key: flag.key.to_string(),
        });
    };
    let mut out = match BooleanOutcome::begin(i, flag.enabled, rollouts.is_empty()) {
        Ok(out) => out,
        Err(disabled) => return Ok(disabled),
    };
    let found = first_rollout(
        s,
        rollouts,
        &mut Subjects::new(entity, ctx),
        entity,
        flag_key,
    )?;
    if let Some((rollout, matched)) = found {
        if let RolloutKind::Threshold { value, .. } | RolloutKind::Segment { value, .. } =
            rollout.kind
        {
            out.rollout_matched(value, matched);
        }
    }
    Ok(out)
}

/// Variant and boolean evaluation of `flag_key` step by step, ignoring flags' programs: the
/// reference the fuzz checks hold the programs to.
pub(crate) fn step_by_step<C: Context + ?Sized>(
    s: &Arc<Snapshot>,
    flag_key: &str,
    entity: &str,
    ctx: &C,
) -> (
    Result<VariantEvaluation, Error>,
    Result<BooleanEvaluation, Error>,
) {
    let variant = lookup_head(s, &s.namespace, flag_key, FlagType::Variant)
        .and_then(|head| variant_step(s, head.pos, flag_of(s, head)?, entity, ctx))
        .map(|o| o.share(Arc::clone(s)));
    let boolean = lookup_head(s, &s.namespace, flag_key, FlagType::Boolean)
        .and_then(|head| boolean_step(s, head.pos, flag_of(s, head)?, flag_key, entity, ctx))
        .map(|o| o.share(Arc::clone(s)));
    (variant, boolean)
}

#[cfg(test)]
mod tests {
    use super::super::{boolean_of, lookup_head, variant_of};
    use super::step_by_step;
    use crate::{FlagType, Snapshot};
    use std::sync::Arc;

    fn answer<T>(r: &Result<T, crate::Error>, show: impl Fn(&T) -> String) -> String {
        match r {
            Ok(v) => show(v),
            Err(e) => format!("error: {e}"),
        }
    }

    /// Every flag of every conformance snapshot, with the entity and context of every request
    /// of its file, answers the same through its program as step by step.
    #[test]
    fn programs_agree_with_step_by_step_on_the_vectors() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut compared = 0;
        for file in 1..=5 {
            let path = format!("{dir}/gen-seed{file}.json");
            let text = std::fs::read_to_string(&path).expect("fixture");
            let v: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
            let snap = Arc::new(Snapshot::from_document(&v["snapshot"].to_string()).unwrap());
            let with_program = snap.heads.iter().filter(|h| h.program.is_some()).count();
            assert!(
                with_program * 10 >= snap.heads.len() * 9,
                "{path}: few programs"
            );
            let mut requests: Vec<(String, Vec<(String, String)>)> = Vec::new();
            for case in v["cases"].as_array().into_iter().flatten() {
                let r = &case["request"];
                let items = r["requests"].as_array().cloned().unwrap_or(vec![r.clone()]);
                for item in items {
                    let ctx = item["context"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect();
                    let entity = item["entity_id"].as_str().unwrap_or("").to_string();
                    requests.push((entity, ctx));
                }
            }
            for flag in &snap.flags {
                let key = Snapshot::lookup_key(flag);
                for (entity, ctx) in requests.iter().step_by(7) {
                    let ctx = ctx.as_slice();
                    let (step_v, step_b) = step_by_step(&snap, key, entity, ctx);
                    let run_v = lookup_head(&snap, &snap.namespace, key, FlagType::Variant)
                        .and_then(|h| variant_of(&snap, h, entity, ctx))
                        .map(|o| o.share(Arc::clone(&snap)));
                    let run_b = lookup_head(&snap, &snap.namespace, key, FlagType::Boolean)
                        .and_then(|h| boolean_of(&snap, h, key, entity, ctx))
                        .map(|o| o.share(Arc::clone(&snap)));
                    let show_v = |r: &crate::VariantEvaluation| {
                        let keys: Vec<&str> = r.segment_keys().collect();
                        format!(
                            "{} {:?} {} {:?} {keys:?}",
                            r.is_match(),
                            r.reason(),
                            r.variant_key(),
                            r.variant_attachment()
                        )
                    };
                    let show_b = |r: &crate::BooleanEvaluation| {
                        let keys: Vec<&str> = r.segment_keys().collect();
                        format!("{} {:?} {keys:?}", r.is_enabled(), r.reason())
                    };
                    assert_eq!(
                        answer(&run_v, show_v),
                        answer(&step_v, show_v),
                        "{path}: variant {key:?} for {entity:?} {ctx:?}"
                    );
                    assert_eq!(
                        answer(&run_b, show_b),
                        answer(&step_b, show_b),
                        "{path}: boolean {key:?} for {entity:?} {ctx:?}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 10_000, "only {compared} comparisons");
    }
}
