//! Runs a flag's program (the interpreter; see [`crate::program`]).
//!
//! Each subject the program tests is looked up once, on first use, and kept with what the
//! tests read: its length, its first and last eight bytes as words, and, when the program
//! compares it as such, its value as a number or as a datetime. Most tests are then a few
//! integer operations without a branch on their outcome.

use super::{End, Node, NodeOp, LOCAL_SLOTS};
use crate::constraint::check_value;
use crate::error::Error;
use crate::eval::bucket::threshold_bucket;
use crate::eval::context::Context;
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

/// Whether a `Threshold` node holds: the entity's bucket (computed once per run) is below
/// the percentage. The one statement of the test, for both loops of [`run`].
#[inline(always)]
fn threshold_holds(node: &Node, bucket: &mut Option<u32>, entity: &str, flag_key: &str) -> bool {
    let p = *bucket.get_or_insert_with(|| threshold_bucket(entity, flag_key));
    (p as f32) < f32::from_bits(node.n as u32)
}

/// [`threshold_holds`] out of line, for a threshold after a segment rollout: the main loop
/// is leaner without it, like [`in_list`].
#[inline(never)]
fn below_threshold(node: &Node, bucket: &mut Option<u32>, entity: &str, flag_key: &str) -> bool {
    threshold_holds(node, bucket, entity, flag_key)
}

/// What an `End` node means: the end, how the run ended, and the mask. The one place that
/// decodes an end, for both loops of [`run`].
#[inline(always)]
fn finish(node: &Node, mask: u64) -> Result<(&Node, End, u64), Error> {
    match node.end_kind() {
        Some(end) => Ok((node, end, mask)),
        None => Err(Error::Internal("flag program has an unknown end".into())),
    }
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
                let holds = threshold_holds(node, &mut bucket, entity, flag_key);
                pc = if holds { node.on_true } else { node.on_false } as usize;
            }
            NodeOp::End => return finish(node, mask),
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
            NodeOp::End => return finish(node, mask),
        };
        pc = if holds { node.on_true } else { node.on_false } as usize;
    }
    broken("runs past its end")
}
