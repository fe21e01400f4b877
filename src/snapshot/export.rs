//! [`Snapshot`] → the engine's internal snapshot JSON (docs/PROTOCOL.md §10.2), which every
//! official Flipt SDK accepts as its `snapshot` option.

use super::{ConstraintType, Flag, MatchType, RolloutKind, Rule, SegmentOperator, Snapshot, Span};
use crate::util::json::write_str;
use std::fmt::Write;

/// An f32 the way serde_json prints one (shortest round-trip, `.0` on whole numbers).
pub(crate) fn write_f32(out: &mut String, x: f32) {
    if x.is_finite() {
        let _ = write!(out, "{x:?}");
    } else {
        out.push_str("null");
    }
}

fn key(out: &mut String, k: &str) {
    write_str(out, k);
    out.push(':');
}

fn operator(op: SegmentOperator) -> &'static str {
    op.as_str()
}

pub(crate) fn constraint_type(t: ConstraintType) -> &'static str {
    t.as_str()
}

fn segments(out: &mut String, s: &Snapshot, span: Span) {
    out.push('{');
    let segs = s.segment_refs[span.range()]
        .iter()
        .filter_map(|&id| s.segments.get(id as usize));
    for (i, seg) in segs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        key(out, &seg.key);
        out.push_str("{\"segment_key\":");
        write_str(out, &seg.key);
        out.push_str(",\"match_type\":");
        out.push_str(match seg.match_type {
            MatchType::All => "\"ALL_SEGMENT_MATCH_TYPE\"",
            MatchType::Any => "\"ANY_SEGMENT_MATCH_TYPE\"",
        });
        out.push_str(",\"constraints\":[");
        for (j, c) in s.constraints[seg.constraints.range()].iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"type\":\"");
            out.push_str(constraint_type(c.kind));
            out.push_str("\",\"property\":");
            write_str(out, &c.property);
            out.push_str(",\"operator\":");
            write_str(out, &c.operator);
            out.push_str(",\"value\":");
            write_str(out, &c.value);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push('}');
}

/// A flag object (`flags` entry).
fn write_flag(out: &mut String, f: &Flag) {
    out.push_str("{\"key\":");
    write_str(out, &f.key);
    let _ = write!(
        out,
        ",\"enabled\":{},\"type\":\"{}\"",
        f.enabled,
        f.kind.as_str()
    );
    if let Some(d) = &f.description {
        out.push_str(",\"description\":");
        write_str(out, d);
    }
    if let Some(v) = &f.default_variant {
        out.push_str(",\"default_variant\":{\"id\":");
        write_str(out, &v.id);
        out.push_str(",\"key\":");
        write_str(out, &v.key);
        if let Some(a) = &v.attachment {
            out.push_str(",\"attachment\":");
            write_str(out, a);
        }
        out.push('}');
    }
    out.push('}');
}

/// A flag's rule list (`eval_rules` entry).
fn write_rules(out: &mut String, s: &Snapshot, f: &Flag, rules: Span) {
    out.push('[');
    for (i, r) in s.rules[rules.range()].iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        write_str(out, &r.id);
        out.push_str(",\"flag_key\":");
        write_str(out, &f.key);
        out.push_str(",\"segments\":");
        segments(out, s, r.segments);
        let _ = write!(
            out,
            ",\"rank\":{},\"segment_operator\":\"{}\"}}",
            r.rank,
            operator(r.operator)
        );
    }
    out.push(']');
}

/// A flag's rollout list (`eval_rollouts` entry).
fn write_rollouts(out: &mut String, s: &Snapshot, rollouts: Span) {
    out.push('[');
    for (i, r) in s.rollouts[rollouts.range()].iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match &r.kind {
            RolloutKind::Threshold { percentage, value } => {
                let _ = write!(
                    out,
                    "{{\"rollout_type\":\"THRESHOLD_ROLLOUT_TYPE\",\"rank\":{},",
                    r.rank
                );
                out.push_str("\"threshold\":{\"percentage\":");
                write_f32(out, *percentage);
                let _ = write!(out, ",\"value\":{value}}}}}");
            }
            RolloutKind::Segment {
                value,
                operator: op,
                segments: segs,
            } => {
                let _ = write!(
                    out,
                    "{{\"rollout_type\":\"SEGMENT_ROLLOUT_TYPE\",\"rank\":{},",
                    r.rank
                );
                let _ = write!(
                    out,
                    "\"segment\":{{\"value\":{value},\"segment_operator\":\"{}\",\"segments\":",
                    operator(*op)
                );
                segments(out, s, *segs);
                out.push_str("}}");
            }
            RolloutKind::Unknown => {
                let _ = write!(
                    out,
                    "{{\"rollout_type\":\"UNKNOWN_ROLLOUT_TYPE\",\"rank\":{}}}",
                    r.rank
                );
            }
        }
    }
    out.push(']');
}

/// A rule's distributions (`eval_distributions` entry).
fn write_distributions(out: &mut String, s: &Snapshot, r: &Rule, dists: Span) {
    out.push('[');
    for (i, d) in s.distributions[dists.range()].iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"rule_id\":");
        write_str(out, &r.id);
        out.push_str(",\"rollout\":");
        write_f32(out, d.rollout);
        out.push_str(",\"variant_key\":");
        write_str(out, &d.variant_key);
        if let Some(a) = &d.attachment {
            out.push_str(",\"variant_attachment\":");
            write_str(out, a);
        }
        out.push('}');
    }
    out.push(']');
}

/// Everything that decides a flag's results, as text: equal text, equal behaviour.
pub(crate) fn flag_fingerprint(s: &Snapshot, f: &Flag) -> String {
    let mut out = String::with_capacity(256);
    write_flag(&mut out, f);
    if let Some(rules) = f.rules {
        write_rules(&mut out, s, f, rules);
        for r in &s.rules[rules.range()] {
            if let Some(d) = r.distributions {
                write_distributions(&mut out, s, r, d);
            }
        }
    }
    if let Some(rollouts) = f.rollouts {
        write_rollouts(&mut out, s, rollouts);
    }
    out
}

/// Writes the whole snapshot as compact engine JSON.
pub(crate) fn engine_json(s: &Snapshot) -> String {
    let mut out = String::with_capacity(256 + s.flags.len() * 512);
    out.push_str("{\"version\":1,\"namespace\":{\"key\":");
    write_str(&mut out, &s.namespace);

    out.push_str(",\"flags\":{");
    for (i, f) in s.flags.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        key(&mut out, Snapshot::lookup_key(f));
        write_flag(&mut out, f);
    }

    out.push_str("},\"eval_rules\":{");
    let mut first = true;
    for f in &s.flags {
        let Some(rules) = f.rules else { continue };
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        key(&mut out, Snapshot::lookup_key(f));
        write_rules(&mut out, s, f, rules);
    }

    out.push_str("},\"eval_rollouts\":{");
    let mut first = true;
    for f in &s.flags {
        let Some(rollouts) = f.rollouts else { continue };
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        key(&mut out, Snapshot::lookup_key(f));
        write_rollouts(&mut out, s, rollouts);
    }

    out.push_str("},\"eval_distributions\":{");
    let mut first = true;
    // A hand-made seed may give two rules one id; they share one distributions entry.
    let mut written = std::collections::HashSet::new();
    for f in &s.flags {
        let Some(rules) = f.rules else { continue };
        for r in &s.rules[rules.range()] {
            let Some(dists) = r.distributions else {
                continue;
            };
            if !written.insert(&*r.id) {
                continue;
            }
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            key(&mut out, &r.id);
            write_distributions(&mut out, s, r, dists);
        }
    }
    out.push_str("}}}");
    out
}
