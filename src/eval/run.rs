//! Runs a flag's program (see [`crate::snapshot::program`]).
//!
//! Each subject the program tests is looked up once, on first use, and kept with what the
//! tests read: its length, its first and last eight bytes as words, and, when the program
//! compares it as such, its value as a number or as a datetime. Most tests are then a few
//! integer operations without a branch on their outcome.

use super::{check_value, threshold_bucket, Context};
use crate::error::Error;
use crate::snapshot::program::{End, Node, NodeOp, LOCAL_SLOTS};
use crate::snapshot::{Snapshot, ENTITY_SLOT};
use crate::util::datetime;
use std::cmp::Ordering;

/// The first (up to) eight bytes as a little-endian word, zero-padded, read with overlapping
/// loads rather than a variable-length copy.
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 8 {
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    } else if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]);
        u64::from(lo) | (u64::from(hi) << (8 * (n - 4)))
    } else if n > 0 {
        u64::from(b[0])
            | (u64::from(b[n / 2]) << (8 * (n / 2)))
            | (u64::from(b[n - 1]) << (8 * (n - 1)))
    } else {
        0
    }
}

/// The subjects of one run, as the tests read them, by local slot; looked up on first use.
/// Kept small, since every evaluation starts by zeroing it.
#[derive(Default)]
struct Subjects {
    /// Bit `i`: slot `i` is filled in.
    fetched: u32,
    /// Bit `i`: `values[i]` holds the subject's number or datetime.
    parsed: u32,
    /// Lengths, saturated at 255 (tests only compare them with 0 to 8).
    lens: [u8; LOCAL_SLOTS],
    /// The first eight bytes, little-endian, zero-padded.
    heads: [u64; LOCAL_SLOTS],
    /// The last eight bytes, little-endian, placed so that the last byte is the top one.
    tails: [u64; LOCAL_SLOTS],
    /// The value as an `i32` or as Unix seconds, as the slot's tests need (a program never
    /// needs both of one slot).
    values: [i64; LOCAL_SLOTS],
}

/// The value a node's subject has: the entity id or a context property (`""` when missing).
#[inline]
fn subject<'c, C: Context + ?Sized>(
    s: &Snapshot,
    node: &Node,
    entity: &'c str,
    ctx: &'c C,
) -> &'c str {
    if node.bit == ENTITY_SLOT {
        entity
    } else {
        let name = s.slot_names.get(usize::from(node.bit)).map_or("", |n| &**n);
        ctx.get(name).unwrap_or("")
    }
}

impl Subjects {
    /// Looks up the subject of `node` (in its local slot) and fills the slot in.
    #[inline(always)]
    fn fetch<C: Context + ?Sized>(
        &mut self,
        s: &Snapshot,
        needs: u32,
        node: &Node,
        entity: &str,
        ctx: &C,
    ) {
        let local = usize::from(node.slot) % LOCAL_SLOTS;
        let text = subject(s, node, entity, ctx);
        let b = text.as_bytes();
        let len = b.len();
        let head = word(b);
        self.lens[local] = len.min(255) as u8;
        self.heads[local] = head;
        self.tails[local] = if len > 8 {
            word(&b[len - 8..])
        } else {
            // Shift the bytes up so that the last one is the top byte (nothing when empty).
            head << ((64 - 8 * len) & 63)
        };
        let value = if needs & (1 << local) != 0 {
            text.parse::<i32>().ok().map(i64::from)
        } else if needs & (1 << (8 + local)) != 0 {
            datetime::parse_rfc3339(text)
        } else {
            None
        };
        if let Some(v) = value {
            self.values[local] = v;
            self.parsed |= 1 << local;
        }
        self.fetched |= 1 << local;
    }
}

/// Whether `ord` is one of the orderings in `accept` (less = 1, equal = 2, greater = 4).
#[inline(always)]
fn accepts(accept: u8, ord: Ordering) -> bool {
    accept & (1 << (ord as i8 + 1)) != 0
}

/// The mask of a short constant's `len` bytes.
#[inline(always)]
fn low_bytes(len: u8) -> u64 {
    u64::MAX >> ((64 - 8 * u32::from(len)) & 63)
}

/// The list tests (`InShort`, `NotInShort`, `NumIn`, `NumNotIn`) of the subject in local
/// slot `i`; out of line, as the main loop is leaner without their lists' bases.
#[inline(never)]
fn in_list(s: &Snapshot, node: &Node, sub: &Subjects, i: usize) -> bool {
    match node.op {
        NodeOp::InShort | NodeOp::NotInShort => {
            let (n, head) = (u64::from(sub.lens[i]), sub.heads[i]);
            let items = s.short_items.get(node.a as usize..node.n as usize);
            let found = items.is_some_and(|items| {
                items
                    .iter()
                    .fold(false, |f, it| f | ((it.len == n) & (it.word == head)))
            });
            (n != 0) & (found == (node.op == NodeOp::InShort))
        }
        NodeOp::NumIn | NodeOp::NumNotIn => {
            let v = sub.values[i];
            let list = s.list_ints.get(node.a as usize..node.n as usize);
            let found = list.is_some_and(|l| l.iter().fold(false, |f, &x| f | (i64::from(x) == v)));
            (sub.parsed & (1 << i) != 0) & (found == (node.op == NodeOp::NumIn))
        }
        _ => false,
    }
}

/// A `Threshold` node after a segment rollout: whether the entity's bucket (computed once)
/// is below the percentage. Out of line, like [`in_list`].
#[inline(never)]
fn below_threshold(node: &Node, bucket: &mut Option<u32>, entity: &str, flag_key: &str) -> bool {
    let p = *bucket.get_or_insert_with(|| threshold_bucket(entity, flag_key));
    (p as f32) < f32::from_bits(node.n as u32)
}

/// A test the node cannot do on words: the full check against the subject's text.
#[inline(never)]
fn slow(s: &Snapshot, node: &Node, text: &str) -> bool {
    s.checks
        .get(node.a as usize)
        .and_then(|c| check_value(s, c, text))
        .unwrap_or(false)
}

/// Runs the program starting at `entry`: the `End` node it reached (see [`NodeOp::End`]),
/// how it ended, and the mask of the OR segments that matched.
pub(crate) fn run<'s, C: Context + ?Sized>(
    s: &'s Snapshot,
    entry: u32,
    entity: &str,
    ctx: &C,
    flag_key: &str,
) -> Result<(&'s Node, End, u64), Error> {
    let broken = |what: &str| Err(Error::Internal(format!("flag program {what}")));
    let nodes = &s.nodes[..];
    let Some(header) = nodes.get(entry as usize).filter(|h| h.op == NodeOp::Header) else {
        return broken("has no header");
    };
    let needs = header.a;
    let mut mask = 0u64;
    let mut bucket: Option<u32> = None;
    let mut pc = entry as usize + 1;
    // Leading threshold rollouts, which decide many boolean flags, need no subject: run
    // them before setting the subjects up.
    while let Some(node) = nodes.get(pc) {
        match node.op {
            NodeOp::Threshold => {
                let p = *bucket.get_or_insert_with(|| threshold_bucket(entity, flag_key));
                let holds = (p as f32) < f32::from_bits(node.n as u32);
                pc = if holds { node.on_true } else { node.on_false } as usize;
            }
            NodeOp::End => {
                return match End::from_code(node.len) {
                    Some(end) => Ok((node, end, mask)),
                    None => broken("has an unknown end"),
                }
            }
            _ => break,
        }
    }
    let mut sub = Subjects::default();
    // Every edge points forward (`program::build` checks it), so this loop ends.
    while let Some(node) = nodes.get(pc) {
        // The local slot of the node's subject, looked up on first use (in one place, so
        // that the lookup is inlined once).
        let i = usize::from(node.slot) % LOCAL_SLOTS;
        if node.op.reads_subject() && sub.fetched & (1 << i) == 0 {
            sub.fetch(s, needs, node, entity, ctx);
        }
        let len = u64::from(node.len);
        let holds = match node.op {
            NodeOp::EqShort => (u64::from(sub.lens[i]) == len) & (sub.heads[i] == node.n),
            NodeOp::NeqShort => {
                let n = u64::from(sub.lens[i]);
                (n != 0) & !((n == len) & (sub.heads[i] == node.n))
            }
            NodeOp::PrefixShort => {
                (u64::from(sub.lens[i]) >= len) & (sub.heads[i] & low_bytes(node.len) == node.n)
            }
            NodeOp::SuffixShort => {
                let shift = (64 - 8 * u32::from(node.len)) & 63;
                (u64::from(sub.lens[i]) >= len) & (sub.tails[i] >> shift == node.n)
            }
            NodeOp::Empty => sub.lens[i] == 0,
            NodeOp::NotEmpty => sub.lens[i] != 0,
            NodeOp::InShort | NodeOp::NotInShort | NodeOp::NumIn | NodeOp::NumNotIn => {
                in_list(s, node, &sub, i)
            }
            NodeOp::Num | NodeOp::Time => {
                (sub.parsed & (1 << i) != 0)
                    & accepts(node.len, sub.values[i].cmp(&(node.n as i64)))
            }
            NodeOp::Slow => slow(s, node, subject(s, node, entity, ctx)),
            NodeOp::Mark => {
                mask |= 1 << (node.bit & 63);
                true
            }
            NodeOp::AnyMatched => mask != 0,
            NodeOp::Threshold => below_threshold(node, &mut bucket, entity, flag_key),
            NodeOp::Never | NodeOp::Unknown | NodeOp::Header => false,
            NodeOp::End => {
                return match End::from_code(node.len) {
                    Some(end) => Ok((node, end, mask)),
                    None => broken("has an unknown end"),
                }
            }
        };
        pc = if holds { node.on_true } else { node.on_false } as usize;
    }
    broken("runs past its end")
}

#[cfg(test)]
mod tests {
    use crate::eval::{boolean_of, lookup_head, step_by_step, variant_of};
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
