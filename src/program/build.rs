//! Compiling flags to programs: the cost model that orders checks and segments, and the
//! emitter that lays the nodes out and patches their forward edges.

use super::{End, MatchedBy, Node, NodeOp, ShortItem, LOCAL_SLOTS};
use crate::constraint::{self, cost, hold_chance, Check, Lowered, Op};
use crate::snapshot::FlagType;
use crate::snapshot::{
    Flag, MatchType, RolloutKind, Segment, SegmentOperator, Snapshot, Span, UNCACHED,
};

/// Edges whose target is not known yet: `(node, the true edge?)`.
type Pending = Vec<(usize, bool)>;

/// Compiles every flag of `snap` (flags, rules, rollouts, segments and checks already built).
pub(crate) fn build(snap: &mut Snapshot) {
    let mut emitter = Emitter {
        nodes: Vec::new(),
        items: Vec::new(),
        locals: Vec::new(),
        needs: 0,
    };
    let programs: Vec<Option<u32>> = snap
        .flags
        .iter()
        .map(|flag| emitter.flag(snap, flag))
        .collect();
    // The evaluator relies on every edge pointing forward, within the nodes.
    let nodes = &emitter.nodes;
    let forward = nodes.iter().enumerate().all(|(i, n)| {
        matches!(n.op, NodeOp::Header | NodeOp::End)
            || [n.on_true, n.on_false]
                .iter()
                .all(|&to| to as usize > i && (to as usize) < nodes.len())
    });
    for (flag, program) in snap.flags.iter_mut().zip(programs) {
        flag.program = program.filter(|_| forward);
    }
    if forward {
        snap.nodes = emitter.nodes;
        snap.short_items = emitter.items;
    }
}

struct Emitter {
    nodes: Vec<Node>,
    /// Becomes `Snapshot::short_items`.
    items: Vec<ShortItem>,
    /// The global slot of each local slot of the flag being compiled.
    locals: Vec<u8>,
    /// Local slots needing a number (bits 0–7) or a datetime (bits 8–15).
    needs: u32,
}

/// The order key of a check in a segment: its cost over the chance that it decides the
/// segment (fails an ALL segment, holds in an ANY one), so that the checks likely to end the
/// segment cheaply run first; this order minimises the expected cost of a chain of
/// independent checks.
fn order_key(c: &Check, all: bool) -> u32 {
    let p = hold_chance(c);
    let decides = if all { 100 - p } else { p };
    (u32::from(cost(c)) * 10_000)
        .checked_div(decides)
        .unwrap_or(u32::MAX)
}

/// A segment's checks (with their positions) in the order its program tests them: by
/// [`order_key`], unless an unknown constraint type makes the order matter.
fn check_order(checks: &[Check], all: bool) -> Vec<(usize, &Check)> {
    let mut order: Vec<(usize, &Check)> = checks.iter().enumerate().collect();
    if !checks.iter().any(|c| c.op == Op::Unknown) {
        order.sort_by_key(|&(_, c)| order_key(c, all));
    }
    order
}

/// The expected cost of testing a segment, in [`cost`] units, over the chance that it fails,
/// by the priors of [`hold_chance`]: the order key of the segments of an AND rule, which
/// fails at its first unmatched segment. `None` for a segment of unknown constraints.
fn segment_key(snap: &Snapshot, seg: &Segment) -> Option<f64> {
    let checks = snap.checks.get(seg.constraints.range())?;
    let all = seg.match_type == MatchType::All;
    // The chance that the checks so far let the test go on, and the segment's cost.
    let (mut go_on, mut cost_sum) = (1.0, 0.0);
    for (_, c) in check_order(checks, all) {
        cost_sum += go_on * f64::from(cost(c));
        let p = f64::from(hold_chance(c)) / 100.0;
        go_on *= if all { p } else { 1.0 - p };
    }
    // ALL: matched when every check held (`go_on`); ANY: when not every check failed.
    let matched = if checks.is_empty() {
        1.0
    } else if all {
        go_on
    } else {
        1.0 - go_on
    };
    Some(cost_sum / (1.0 - matched).max(1e-9))
}

/// A constant of 1 to 8 bytes as a little-endian word, zero-padded.
fn short(text: &str) -> Option<(u64, u8)> {
    let b = text.as_bytes();
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    Some((u64::from_le_bytes(w), b.len() as u8))
}

impl Emitter {
    /// The program of a flag, for evaluations of its own type; `None` when it cannot have one.
    fn flag(&mut self, snap: &Snapshot, flag: &Flag) -> Option<u32> {
        let start = self.nodes.len();
        self.locals.clear();
        self.needs = 0;
        self.nodes.push(Node::new(NodeOp::Header));
        let built = match flag.kind {
            FlagType::Variant => flag.rules.and_then(|rules| self.rules(snap, rules)),
            FlagType::Boolean => flag.rollouts.and_then(|r| self.rollouts(snap, r)),
        };
        // Node positions are u32.
        match (built, u32::try_from(self.nodes.len()), u32::try_from(start)) {
            (Some(()), Ok(_), Ok(entry)) => {
                let mut slots = [0u8; 8];
                slots[..self.locals.len()].copy_from_slice(&self.locals);
                let header = &mut self.nodes[start];
                header.n = u64::from_le_bytes(slots);
                header.len = self.locals.len() as u8;
                header.a = self.needs;
                Some(entry)
            }
            _ => {
                self.nodes.truncate(start);
                None
            }
        }
    }

    fn here(&self) -> usize {
        self.nodes.len()
    }

    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Patches the pending edges to point at the next node to be emitted.
    fn patch(&mut self, pending: &mut Pending) {
        let target = self.here() as u32;
        for (at, edge) in pending.drain(..) {
            if let Some(n) = self.nodes.get_mut(at) {
                if edge {
                    n.on_true = target;
                } else {
                    n.on_false = target;
                }
            }
        }
    }

    /// An end that matched nothing or found ranks out of order.
    fn end(&mut self, end: End, index: u32) {
        self.push(Node::end(end, index));
    }

    /// Variant flags: rules in order, the first that matches wins (docs/EVALUATION.md §4).
    fn rules(&mut self, snap: &Snapshot, span: Span) -> Option<()> {
        let mut next_rule = Pending::new();
        let mut last_rank = 0;
        for (rule, index) in snap.rules.get(span.range())?.iter().zip(span.start..) {
            self.patch(&mut next_rule);
            if rule.rank < last_rank {
                self.end(End::RankOutOfOrder, index);
                return Some(());
            }
            last_rank = rule.rank;
            let matched = Node::matched_rule(index, rule.distributions.is_some(), rule.buckets);
            self.segments(snap, rule.segments, rule.operator, matched, &mut next_rule)?;
        }
        self.patch(&mut next_rule);
        self.end(End::NoMatch, 0);
        Some(())
    }

    /// Boolean flags: rollouts in order (docs/EVALUATION.md §9).
    fn rollouts(&mut self, snap: &Snapshot, span: Span) -> Option<()> {
        let mut next = Pending::new();
        let mut last_rank = 0;
        for (rollout, index) in snap.rollouts.get(span.range())?.iter().zip(span.start..) {
            self.patch(&mut next);
            if rollout.rank < last_rank {
                self.end(End::RankOutOfOrder, index);
                return Some(());
            }
            last_rank = rollout.rank;
            match rollout.kind {
                RolloutKind::Threshold { percentage, value } => {
                    let mut n = Node::new(NodeOp::Threshold);
                    n.n = u64::from(percentage.to_bits());
                    n.on_true = self.here() as u32 + 1;
                    let at = self.push(n);
                    next.push((at, false));
                    self.push(Node::matched_rollout(index, value));
                }
                RolloutKind::Segment {
                    operator,
                    segments,
                    value,
                } => {
                    let matched = Node::matched_rollout(index, value);
                    self.segments(snap, segments, operator, matched, &mut next)?
                }
                RolloutKind::Unknown => {}
            }
        }
        self.patch(&mut next);
        self.end(End::NoMatch, 0);
        Some(())
    }

    /// A rule's or rollout's segments under its operator (docs/EVALUATION.md §5): ends in
    /// `matched` (an `End` node, completed here), or leaves edges to the next rule in `next`.
    fn segments(
        &mut self,
        snap: &Snapshot,
        span: Span,
        operator: SegmentOperator,
        mut matched: Node,
        next: &mut Pending,
    ) -> Option<()> {
        let ids = snap.segment_refs.get(span.range())?;
        // One segment under OR matches exactly when it would under AND, with the same
        // segment keys: run it as AND, without the mask's `Mark` and `AnyMatched` nodes.
        let operator = match operator {
            SegmentOperator::Or if ids.len() == 1 => SegmentOperator::And,
            other => other,
        };
        let by = match operator {
            SegmentOperator::And => MatchedBy::All,
            SegmentOperator::Or => MatchedBy::Mask,
        };
        matched.set_segments(span, by);
        match operator {
            SegmentOperator::And => {
                // The rule matches when every segment does, whatever their order, and reports
                // them in document order (its span): test first the segments likeliest to
                // fail it for their cost.
                let mut ids = ids.to_vec();
                let keys: Option<Vec<f64>> = ids
                    .iter()
                    .map(|&id| segment_key(snap, snap.segments.get(id as usize)?))
                    .collect();
                if let Some(keys) = keys {
                    let mut keyed: Vec<(f64, u32)> = keys.into_iter().zip(ids).collect();
                    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
                    ids = keyed.into_iter().map(|(_, id)| id).collect();
                }
                for id in ids {
                    let (mut matched, unmatched) =
                        self.segment(snap, snap.segments.get(id as usize)?)?;
                    next.extend(unmatched);
                    self.patch(&mut matched);
                }
                // Zero segments match everyone.
                self.push(matched);
            }
            SegmentOperator::Or if ids.len() <= 64 => {
                if ids.is_empty() {
                    // Nothing can set a bit: the rule never matches and emits nothing.
                    return Some(());
                }
                for (&id, bit) in ids.iter().zip(0u8..) {
                    let (mut matched, mut unmatched) =
                        self.segment(snap, snap.segments.get(id as usize)?)?;
                    self.patch(&mut matched);
                    let mut mark = Node::new(NodeOp::Mark);
                    mark.bit = bit;
                    mark.on_true = self.here() as u32 + 1;
                    mark.on_false = mark.on_true;
                    self.push(mark);
                    self.patch(&mut unmatched);
                }
                let mut n = Node::new(NodeOp::AnyMatched);
                n.on_true = self.here() as u32 + 1;
                let at = self.push(n);
                next.push((at, false));
                self.push(matched);
            }
            // Over 64 segments do not fit the mask: evaluated step by step instead.
            SegmentOperator::Or => return None,
        }
        Some(())
    }

    /// One segment's checks (docs/EVALUATION.md §6): the edges that leave it matched and
    /// unmatched. Without constraints it matches everyone: no node, control flows on.
    fn segment(&mut self, snap: &Snapshot, seg: &Segment) -> Option<(Pending, Pending)> {
        let range = seg.constraints.range();
        let first = range.start;
        let checks = snap.checks.get(range)?;
        let (mut matched, mut unmatched) = (Pending::new(), Pending::new());
        let all = seg.match_type == MatchType::All;
        // Without an unknown constraint type, a segment's outcome does not depend on the order
        // of its checks (they have no effects; ALL is their conjunction, ANY their
        // disjunction), so they run in the order that decides the segment soonest for least.
        let order = check_order(checks, all);
        for (k, &(original, c)) in order.iter().enumerate() {
            let mut n = self.test(snap, c, first + original)?;
            let at = self.here();
            if n.op == NodeOp::Unknown {
                // Reaching it fails the segment; the checks after it are never reached.
                self.push(n);
                unmatched.extend([(at, true), (at, false)]);
                break;
            }
            let last = k + 1 == checks.len();
            if all {
                // Holds: on to the next check. Fails: the segment is unmatched.
                unmatched.push((at, false));
                if last {
                    matched.push((at, true));
                } else {
                    n.on_true = at as u32 + 1;
                }
            } else {
                // Holds: the segment is matched. Fails: on to the next check.
                matched.push((at, true));
                if last {
                    unmatched.push((at, false));
                } else {
                    n.on_false = at as u32 + 1;
                }
            }
            self.push(n);
        }
        Some((matched, unmatched))
    }

    /// Marks a local slot as compared as a number or as a datetime; `None` if it is already
    /// compared as the other (the evaluator keeps one parsed value per slot).
    fn need(&mut self, slot: u8, time: bool) -> Option<()> {
        let (this, other) = if time {
            (8 + slot, slot)
        } else {
            (slot, 8 + slot)
        };
        if self.needs & (1 << other) != 0 {
            return None;
        }
        self.needs |= 1 << this;
        Some(())
    }

    /// The local slot of a global one, adding it to the flag's header.
    fn local(&mut self, global: u8) -> Option<u8> {
        if global == UNCACHED {
            return None;
        }
        if let Some(i) = self.locals.iter().position(|&g| g == global) {
            return Some(i as u8);
        }
        if self.locals.len() == LOCAL_SLOTS {
            return None;
        }
        self.locals.push(global);
        Some(self.locals.len() as u8 - 1)
    }

    /// The node testing check `index` (edges and bit left for the caller): how the check is
    /// lowered is `constraint::lower`'s; here it gets its slot, constants and list items.
    fn test(&mut self, snap: &Snapshot, c: &Check, index: usize) -> Option<Node> {
        let slot = self.local(c.slot)?;
        let mut n = Node::new(NodeOp::Slow);
        n.slot = slot;
        n.bit = c.slot;
        n.a = u32::try_from(index).ok()?;
        match constraint::lower(c, snap)? {
            Lowered::Plain(op) => n.op = op,
            Lowered::Constant(op, text) => {
                if let Some((word, len)) = short(text) {
                    (n.op, n.n, n.len) = (op, word, len);
                }
            }
            Lowered::Ordered {
                op,
                accept,
                value,
                time,
            } => {
                (n.op, n.len, n.n) = (op, accept, value as u64);
                self.need(slot, time)?;
            }
            Lowered::StrList(op, items) => {
                // Lists of short strings compare words; an empty item can never match (the
                // subject must not be empty).
                let items: Option<Vec<ShortItem>> = items
                    .into_iter()
                    .filter(|item| !item.is_empty())
                    .map(|item| {
                        short(item).map(|(word, len)| ShortItem {
                            word,
                            len: len.into(),
                        })
                    })
                    .collect();
                if let Some(items) = items {
                    n.op = op;
                    n.a = u32::try_from(self.items.len()).ok()?;
                    self.items.extend(items);
                    n.n = u64::try_from(self.items.len()).ok()?;
                }
            }
            Lowered::NumList(op, start, end) => {
                (n.op, n.a, n.n) = (op, start, end);
                self.need(slot, false)?;
            }
        }
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{NodeOp, LOCAL_SLOTS};
    use crate::Snapshot;

    fn flag_with(constraints: &[(&str, &str, &str, &str)]) -> Snapshot {
        let list: Vec<String> = constraints
            .iter()
            .map(|(kind, property, op, value)| {
                format!(
                    r#"{{"type":"{kind}_CONSTRAINT_COMPARISON_TYPE","property":"{property}","operator":"{op}","value":"{value}"}}"#
                )
            })
            .collect();
        let doc = format!(
            r#"{{"namespace":{{"key":"default"}},"flags":[{{"key":"f","name":"","enabled":true,
            "type":"VARIANT_FLAG_TYPE","rules":[{{"segmentOperator":"OR_SEGMENT_OPERATOR",
            "segments":[{{"key":"s","matchType":"ANY_SEGMENT_MATCH_TYPE","constraints":[{}]}}],
            "distributions":[]}}]}}]}}"#,
            list.join(",")
        );
        Snapshot::from_document(&doc).unwrap()
    }

    #[test]
    fn programs_jump_forward_and_end() {
        let s = Snapshot::parse(include_str!("../../examples/data/snapshot.json")).unwrap();
        assert!(s.flags.iter().all(|f| f.program.is_some()));
        for (i, n) in s.nodes.iter().enumerate() {
            if !matches!(n.op, NodeOp::Header | NodeOp::End) {
                assert!(
                    n.on_true as usize > i && n.on_false as usize > i,
                    "node {i}"
                );
            }
        }
        assert_eq!(s.nodes.last().map(|n| n.op), Some(NodeOp::End));
    }

    #[test]
    fn segment_checks_run_likeliest_deciders_first() {
        // An ANY segment (what `flag_with` builds) is decided by a check that holds: the
        // inequality, which usually does, runs before the equality and the number test, which
        // seldom and about half of the time hold.
        let s = flag_with(&[
            ("NUMBER", "age", "gt", "30"),
            ("STRING", "plan", "eq", "pro"),
            ("STRING", "plan", "neq", "free"),
        ]);
        let ops: Vec<NodeOp> = s.nodes.iter().map(|n| n.op).collect();
        let at = |op| ops.iter().position(|&o| o == op).unwrap();
        assert!(at(NodeOp::NeqShort) < at(NodeOp::EqShort), "{ops:?}");
        assert!(at(NodeOp::NeqShort) < at(NodeOp::Num), "{ops:?}");
        // In an ALL segment the check that usually fails decides it: the equality first.
        let check = |op: crate::constraint::Op| crate::constraint::Check {
            op,
            slot: 1,
            accept: 0,
            a: 0,
            n: 0,
        };
        let (eq, neq) = (
            check(crate::constraint::Op::Eq),
            check(crate::constraint::Op::Neq),
        );
        assert!(super::order_key(&eq, true) < super::order_key(&neq, true));
        assert!(super::order_key(&neq, false) < super::order_key(&eq, false));
    }

    /// A flag with one rule over two segments, `a` (`plan neq free`) and `b` (`plan eq pro`),
    /// under `operator`.
    fn two_segments(operator: &str, segments: &str) -> Snapshot {
        let seg = |key: &str, op: &str, value: &str| {
            format!(
                r#"{{"key":"{key}","matchType":"ALL_SEGMENT_MATCH_TYPE","constraints":[{{"type":"STRING_CONSTRAINT_COMPARISON_TYPE","property":"plan","operator":"{op}","value":"{value}"}}]}}"#
            )
        };
        let (a, b) = (seg("a", "neq", "free"), seg("b", "eq", "pro"));
        let list = segments.replace('a', &a).replace('b', &b);
        let doc = format!(
            r#"{{"namespace":{{"key":"default"}},"flags":[{{"key":"f","name":"","enabled":true,
            "type":"VARIANT_FLAG_TYPE","rules":[{{"segmentOperator":"{operator}_SEGMENT_OPERATOR",
            "segments":[{list}],"distributions":[]}}]}}]}}"#
        );
        Snapshot::from_document(&doc).unwrap()
    }

    #[test]
    fn and_rules_test_the_segment_likeliest_to_fail_first() {
        let s = two_segments("AND", "a,b");
        let ops: Vec<NodeOp> = s.nodes.iter().map(|n| n.op).collect();
        let at = |op| ops.iter().position(|&o| o == op).unwrap();
        // `b`'s equality seldom holds, so it runs before `a`, which comes first in the rule.
        assert!(at(NodeOp::EqShort) < at(NodeOp::NeqShort), "{ops:?}");
        // The result still lists the segments in document order.
        let s = std::sync::Arc::new(s);
        let r = s.evaluate_variant("f", "u", &[("plan", "pro")]).unwrap();
        assert_eq!(r.segment_keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn a_one_segment_or_rule_needs_no_mask() {
        let mask_nodes = |s: &Snapshot| {
            s.nodes
                .iter()
                .filter(|n| matches!(n.op, NodeOp::Mark | NodeOp::AnyMatched))
                .count()
        };
        assert_eq!(mask_nodes(&two_segments("OR", "b")), 0);
        assert!(mask_nodes(&two_segments("OR", "a,b")) > 0);
        let s = std::sync::Arc::new(two_segments("OR", "b"));
        let r = s.evaluate_variant("f", "u", &[("plan", "pro")]).unwrap();
        assert!(r.is_match());
        assert_eq!(r.segment_keys().collect::<Vec<_>>(), ["b"]);
        let r = s.evaluate_variant("f", "u", &[("plan", "free")]).unwrap();
        assert!(!r.is_match());
    }

    #[test]
    fn flags_beyond_a_program_are_evaluated_step_by_step() {
        // One subject more than a program holds.
        let names: Vec<String> = (0..LOCAL_SLOTS).map(|i| format!("p{i}")).collect();
        let many: Vec<_> = names
            .iter()
            .map(|p| ("STRING", p.as_str(), "eq", "x"))
            .chain([("ENTITY_ID", "", "eq", "u")])
            .collect();
        let s = flag_with(&many);
        assert!(s.flags[0].program.is_none());
        // A property compared both as a number and as a datetime.
        let both = flag_with(&[
            ("NUMBER", "n", "gt", "1"),
            ("DATETIME", "n", "gt", "2024-01-01T00:00:00Z"),
        ]);
        assert!(both.flags[0].program.is_none());
        // Within the limits, a program.
        let fits = flag_with(&many[1..]);
        assert!(fits.flags[0].program.is_some());
        let s = std::sync::Arc::new(s);
        let r = s.evaluate_variant("f", "u", &()).unwrap();
        assert!(
            r.is_match(),
            "the entity constraint matches through the step-by-step path"
        );
    }
}
