//! Each flag's evaluation compiled to one branching program: a header naming the subjects the
//! flag tests, then a run of nodes, each a test with the node to go to when it holds and when
//! it does not.
//!
//! Rules (or rollouts) and their segments become straight-line code, so the evaluator runs one
//! flat loop instead of nested loops over rules, segments and constraints; an outcome only
//! selects the next node. Short string constants are stored in the node as a little-endian
//! word, so that `eq`, `neq`, `prefix` and `suffix` against them are a few integer operations
//! on words the evaluator reads once per subject. The program is equivalent to the step-by-step
//! evaluation (docs/EVALUATION.md §4–§9), which the evaluator keeps for flags without a program
//! and which the fuzz checks compare it with:
//!
//! - ALL segment: a check that holds goes to the next check, one that fails leaves the
//!   segment unmatched; ANY: the reverse. An unknown constraint type leaves it unmatched.
//! - AND rule: a matched segment goes to the next segment, an unmatched one to the next rule.
//! - OR rule: every segment runs; a matched segment passes through a [`NodeOp::Mark`] node
//!   that sets its bit in a mask, and an [`NodeOp::AnyMatched`] node after the last segment
//!   tests the mask.
//! - A segment without constraints matches everyone: it emits no node.
//! - A rule whose rank is lower than the previous rule's ends the program with an error,
//!   where the engine reports it: on reaching that rule.
//!
//! Every edge points forward (checked once the programs are built), so a run ends at an
//! [`NodeOp::End`] node.

//! The program lives here in three parts: this file, the node format (the only place that
//! knows how a node packs its fields); [`build`], which compiles flags to programs (the cost
//! model and the emitter); and [`run`], the interpreter.

pub(crate) mod build;
pub(crate) mod run;

use crate::snapshot::Span;

/// Subjects one program may test (the entity id and context properties); a flag testing more
/// is evaluated step by step.
pub(crate) const LOCAL_SLOTS: usize = 8;

/// How a program ends: the `len` of its [`NodeOp::End`] node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// No rule or rollout matched.
    NoMatch = 0,
    /// Rule or rollout `a` matched.
    Matched = 1,
    /// Rule or rollout `a` has a lower rank than the one before it.
    RankOutOfOrder = 2,
}

impl End {
    pub(crate) fn from_code(n: u8) -> Option<End> {
        match n {
            0 => Some(End::NoMatch),
            1 => Some(End::Matched),
            2 => Some(End::RankOutOfOrder),
            _ => None,
        }
    }
}

/// What a node tests. "Short" operators compare with a constant of 1 to 8 bytes held in `n`
/// (little-endian, zero-padded), of length `len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeOp {
    /// The program's first node: `n` holds the global slot of each local slot (one byte
    /// each), `len` how many there are, `a` which need a number (bits 0–7) and a datetime
    /// (bits 8–15) parsed from their value.
    Header,
    /// The subject is `""`.
    Empty,
    /// The subject is not `""`.
    NotEmpty,
    /// The subject equals the constant.
    EqShort,
    /// The subject is not empty and differs from the constant.
    NeqShort,
    /// The subject starts with the constant.
    PrefixShort,
    /// The subject ends with the constant.
    SuffixShort,
    /// The subject is one of the short constants `Snapshot::short_items[a..n]`.
    InShort,
    /// The subject is not empty and none of the short constants `Snapshot::short_items[a..n]`.
    NotInShort,
    /// The subject parses as an `i32` comparing to `n` (as `i64`) as `accept` allows.
    Num,
    /// The subject parses as an `i32` found in `Snapshot::list_ints[a..n]`.
    NumIn,
    /// The subject parses as an `i32` not found in `Snapshot::list_ints[a..n]`.
    NumNotIn,
    /// The subject parses as RFC 3339, comparing to `n` (Unix seconds) as `accept` allows.
    Time,
    /// Any other test: check `a` of `Snapshot::checks` against the subject's text.
    Slow,
    /// Never holds.
    Never,
    /// An unknown constraint type: never holds, and both edges leave the segment unmatched.
    Unknown,
    /// Sets bit `bit` of the OR mask: segment `bit` of the rule matched. Holds.
    Mark,
    /// Holds when a segment of the current OR rule matched (the mask is not empty).
    AnyMatched,
    /// Holds when the threshold bucket is below the percentage `f32::from_bits(n as u32)`.
    Threshold,
    /// Ends the program with an [`End`] kind, for rule or rollout `a`. A matched end also
    /// carries what the result needs, so that the evaluator need not read the rule: see
    /// [`Node::matched`] and its accessors.
    End,
}

/// An item of an `isoneof` list of short strings: its bytes as a word, and its length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShortItem {
    pub word: u64,
    pub len: u64,
}

impl NodeOp {
    /// Whether the node compares its subject's words (read before it runs). Exhaustive, so
    /// that a new operator has to say.
    #[inline(always)]
    pub(crate) fn reads_subject(self) -> bool {
        match self {
            NodeOp::Empty
            | NodeOp::NotEmpty
            | NodeOp::EqShort
            | NodeOp::NeqShort
            | NodeOp::PrefixShort
            | NodeOp::SuffixShort
            | NodeOp::InShort
            | NodeOp::NotInShort
            | NodeOp::Num
            | NodeOp::NumIn
            | NodeOp::NumNotIn
            | NodeOp::Time => true,
            NodeOp::Header
            | NodeOp::Slow
            | NodeOp::Never
            | NodeOp::Unknown
            | NodeOp::Mark
            | NodeOp::AnyMatched
            | NodeOp::Threshold
            | NodeOp::End => false,
        }
    }
}

/// One program node (24 bytes). The fields are seen only by the builder and the
/// interpreter (this module's children); everything else goes through the accessors below.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    op: NodeOp,
    /// The local slot of the subject tested.
    slot: u8,
    /// `Num`, `Time`: the orderings that hold ([`Check::accept`]); short strings: the length
    /// of the constant; `Header`: the number of local slots.
    len: u8,
    /// `Mark`: the segment's bit in the OR mask; a test: the global slot of its subject.
    bit: u8,
    a: u32,
    n: u64,
    /// The next node when the test holds.
    on_true: u32,
    /// The next node when it does not.
    on_false: u32,
}

// The node stays small: the interpreter reads it every step.
const _: () = assert!(std::mem::size_of::<Node>() == 24);

/// How a matched rule or rollout's segments are reported (the `slot` of its `End` node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum MatchedBy {
    /// An OR rule: the segments whose bits are set in the run's mask.
    Mask = 0,
    /// An AND rule (or a one-segment OR rule run as AND): all of its segments.
    All = 1,
    /// A threshold rollout: no segments.
    Threshold = 2,
}

impl Node {
    /// A node of `op` with its fields zero and its edges unset.
    pub(crate) fn new(op: NodeOp) -> Node {
        Node {
            op,
            slot: 0,
            len: 0,
            bit: 0,
            a: 0,
            n: 0,
            on_true: 0,
            on_false: 0,
        }
    }

    /// An end that matched nothing, or found rule or rollout `index` out of order.
    pub(crate) fn end(end: End, index: u32) -> Node {
        let mut n = Node::new(NodeOp::End);
        n.a = index;
        n.len = end as u8;
        n
    }

    /// The end of matched rule `index`: whether it has distributions, and its buckets (a
    /// `start..end` into `Snapshot::buckets`). Its segments are set by [`Node::set_segments`].
    pub(crate) fn matched_rule(index: u32, has_distributions: bool, buckets: Span) -> Node {
        let mut n = Node::end(End::Matched, index);
        n.bit = u8::from(has_distributions);
        n.n = u64::from(buckets.start) | (u64::from(buckets.end) << 32);
        n
    }

    /// The end of matched rollout `index`, answering `value`.
    pub(crate) fn matched_rollout(index: u32, value: bool) -> Node {
        let mut n = Node::end(End::Matched, index);
        n.bit = u8::from(value);
        n.slot = MatchedBy::Threshold as u8;
        n
    }

    /// Sets the segments a matched end reports: `segments` of `Snapshot::segment_refs`,
    /// reported as `by` says.
    pub(crate) fn set_segments(&mut self, segments: Span, by: MatchedBy) {
        (self.on_true, self.on_false) = (segments.start, segments.end);
        self.slot = by as u8;
    }

    /// An `End` node's kind, or `None` for a corrupt code.
    #[inline(always)]
    pub(crate) fn end_kind(&self) -> Option<End> {
        End::from_code(self.len)
    }

    /// An `End` node's rule or rollout (its position in `Snapshot::rules` or `rollouts`).
    #[inline(always)]
    pub(crate) fn item(&self) -> u32 {
        self.a
    }

    /// A matched end's segments, a `start..end` into `Snapshot::segment_refs`.
    #[inline(always)]
    pub(crate) fn segments(&self) -> Span {
        Span {
            start: self.on_true,
            end: self.on_false,
        }
    }

    /// How a matched end reports its segments.
    #[inline(always)]
    pub(crate) fn matched_by(&self) -> MatchedBy {
        match self.slot {
            0 => MatchedBy::Mask,
            1 => MatchedBy::All,
            _ => MatchedBy::Threshold,
        }
    }

    /// A matched rule: whether it has distributions. A matched rollout: its value.
    #[inline(always)]
    pub(crate) fn flag_bit(&self) -> bool {
        self.bit != 0
    }

    /// A matched rule's buckets, a range of `Snapshot::buckets`.
    #[inline(always)]
    pub(crate) fn buckets(&self) -> std::ops::Range<usize> {
        (self.n as u32) as usize..(self.n >> 32) as usize
    }
}
