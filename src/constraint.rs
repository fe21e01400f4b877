//! Each constraint operator's whole story in one place: how the wire names it (the type and
//! operator strings), how its value is pre-parsed into a [`Check`] ([`compile`]), what it
//! means ([`check_value`], docs/EVALUATION.md §7), how a program tests it ([`lower`]), and what
//! the program builder assumes about its cost and how often it holds ([`cost`],
//! [`hold_chance`]). The matches on [`Op`] are exhaustive, so a new operator is pointed at every
//! place that must learn it.

use crate::error::SnapshotError;
use crate::program::NodeOp;
use crate::snapshot::{ConstraintType, Snapshot, ENTITY_SLOT};
use crate::util::datetime;
use crate::util::strings::{self, str_eq};

/// A check's operator, decided at compile time from the constraint's type and operator
/// (docs/EVALUATION.md §7). Operators that can never hold compile to [`Op::Never`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Subject is `""` (string `empty`, `notpresent`).
    Empty,
    /// Subject is not `""` (string `notempty`, `present`).
    NotEmpty,
    Eq,
    Neq,
    Prefix,
    Suffix,
    Contains,
    NotContains,
    /// Subject equals one of the strings of `Snapshot::list_strings[a..n]`.
    In,
    NotIn,
    /// The subject parses as an `i32` that compares to `n` as `accept` allows.
    Num,
    /// The subject parses as an `i32` found in `Snapshot::list_ints[a..n]`.
    NumIn,
    NumNotIn,
    BoolTrue,
    BoolFalse,
    /// The subject parses as RFC 3339 and its Unix seconds compare to `n` as `accept` allows.
    Time,
    /// An operator this type does not know, or a value that does not parse: never holds.
    Never,
    /// An unknown constraint type: the whole segment fails once reached.
    Unknown,
}

/// The evaluator's form of one constraint: 16 bytes, operator decided and value pre-parsed,
/// so that a segment's checks share a cache line or two.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Check {
    pub op: Op,
    /// The subject: [`ENTITY_SLOT`], a property slot (`Snapshot::slot_names`) or [`UNCACHED`].
    pub slot: u8,
    /// `Num` and `Time`: bit 0 set = holds when less, bit 1 when equal, bit 2 when greater.
    pub accept: u8,
    /// Strings: offset in `Snapshot::text`; lists: first item.
    pub a: u32,
    /// Strings: length; lists: end of the items; `Num` and `Time`: the constraint's value.
    pub n: i64,
}

impl Check {
    /// Whether the subject's ordering against the value is one `accept` allows.
    #[inline(always)]
    pub(crate) fn accepts(&self, ord: std::cmp::Ordering) -> bool {
        self.accept & (1 << (ord as i8 + 1)) != 0
    }
}

// ---- the wire ----

/// Whether `op` is an operator the engine knows for `kind` (an unknown one never matches).
pub(crate) fn known_operator(kind: ConstraintType, op: &str) -> bool {
    let ordering = accept(op).is_some();
    match kind {
        ConstraintType::String | ConstraintType::EntityId => matches!(
            op,
            "empty"
                | "notempty"
                | "eq"
                | "neq"
                | "prefix"
                | "suffix"
                | "contains"
                | "notcontains"
                | "isoneof"
                | "isnotoneof"
        ),
        ConstraintType::Number => {
            ordering || matches!(op, "present" | "notpresent" | "isoneof" | "isnotoneof")
        }
        ConstraintType::Boolean => matches!(op, "present" | "notpresent" | "true" | "false"),
        ConstraintType::DateTime => ordering || matches!(op, "present" | "notpresent"),
        // The type itself is the problem.
        ConstraintType::Unknown => true,
    }
}

pub(crate) fn constraint_type(s: &str) -> ConstraintType {
    match s {
        "STRING_CONSTRAINT_COMPARISON_TYPE" => ConstraintType::String,
        "NUMBER_CONSTRAINT_COMPARISON_TYPE" => ConstraintType::Number,
        "BOOLEAN_CONSTRAINT_COMPARISON_TYPE" => ConstraintType::Boolean,
        "DATETIME_CONSTRAINT_COMPARISON_TYPE" => ConstraintType::DateTime,
        "ENTITY_ID_CONSTRAINT_COMPARISON_TYPE" => ConstraintType::EntityId,
        _ => ConstraintType::Unknown,
    }
}

/// The orderings a comparison operator accepts, as [`Check::accept`] bits
/// (less = 1, equal = 2, greater = 4).
pub(crate) fn accept(op: &str) -> Option<u8> {
    Some(match op {
        "eq" => 0b010,
        "neq" => 0b101,
        "lt" => 0b001,
        "lte" => 0b011,
        "gt" => 0b100,
        "gte" => 0b110,
        _ => return None,
    })
}

// ---- pre-parsing ----

/// Where [`compile`] puts what it pre-parses: the snapshot's text pool and list tables.
pub(crate) trait Pools {
    /// Appends `value` to the text pool: `(offset, length)`.
    fn text(&mut self, value: &str) -> Result<(u32, u32), SnapshotError>;
    /// Appends the items of a string list: their `start..end` in `Snapshot::list_strings`.
    fn strings(&mut self, items: &[Box<str>]) -> Result<(u32, u32), SnapshotError>;
    /// Appends the items of an integer list: their `start..end` in `Snapshot::list_ints`.
    fn integers(&mut self, items: &[i32]) -> Result<(u32, u32), SnapshotError>;
}

/// A constraint's check: its operator decided from the wire's type and operator strings, its
/// value pre-parsed (docs/EVALUATION.md §7). `slot` is the subject's.
pub(crate) fn compile(
    kind: ConstraintType,
    slot: u8,
    op: &str,
    value: &str,
    pools: &mut impl Pools,
) -> Result<Check, SnapshotError> {
    let mut check = Check {
        op: Op::Never,
        slot,
        accept: 0,
        a: 0,
        n: 0,
    };
    match kind {
        ConstraintType::String | ConstraintType::EntityId => match op {
            "empty" => check.op = Op::Empty,
            "notempty" => check.op = Op::NotEmpty,
            "eq" | "neq" | "prefix" | "suffix" | "contains" | "notcontains" => {
                check.op = match op {
                    "eq" => Op::Eq,
                    "neq" => Op::Neq,
                    "prefix" => Op::Prefix,
                    "suffix" => Op::Suffix,
                    "contains" => Op::Contains,
                    _ => Op::NotContains,
                };
                let (a, n) = pools.text(value)?;
                (check.a, check.n) = (a, i64::from(n));
            }
            "isoneof" | "isnotoneof" => match lists::strings(value) {
                Some(items) => {
                    check.op = if op == "isoneof" { Op::In } else { Op::NotIn };
                    let (a, n) = pools.strings(&items)?;
                    (check.a, check.n) = (a, i64::from(n));
                }
                // An unparsable list matches nothing, so "not one of" any non-empty value.
                None if op == "isnotoneof" => check.op = Op::NotEmpty,
                None => {}
            },
            _ => {}
        },
        ConstraintType::Number => match op {
            "present" => check.op = Op::NotEmpty,
            "notpresent" => check.op = Op::Empty,
            "isoneof" | "isnotoneof" => {
                if let Some(items) = lists::integers(value) {
                    check.op = if op == "isoneof" {
                        Op::NumIn
                    } else {
                        Op::NumNotIn
                    };
                    let (a, n) = pools.integers(&items)?;
                    (check.a, check.n) = (a, i64::from(n));
                }
            }
            _ => {
                if let (Some(accept), Ok(n)) = (accept(op), value.parse::<i32>()) {
                    (check.op, check.accept, check.n) = (Op::Num, accept, i64::from(n));
                }
            }
        },
        ConstraintType::Boolean => {
            check.op = match op {
                "present" => Op::NotEmpty,
                "notpresent" => Op::Empty,
                "true" => Op::BoolTrue,
                "false" => Op::BoolFalse,
                _ => Op::Never,
            }
        }
        ConstraintType::DateTime => match op {
            "present" => check.op = Op::NotEmpty,
            "notpresent" => check.op = Op::Empty,
            _ => {
                if let (Some(accept), Some(n)) = (accept(op), datetime::parse_rfc3339(value)) {
                    (check.op, check.accept, check.n) = (Op::Time, accept, n);
                }
            }
        },
        ConstraintType::Unknown => check.op = Op::Unknown,
    }
    Ok(check)
}

/// Parsers for the JSON lists inside `isoneof` / `isnotoneof` constraint values, with the
/// engine's exact acceptance rules (docs/EVALUATION.md §7.1, §7.2).
pub(crate) mod lists {
    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    }

    /// Walks `[elem, elem, ...]` with optional JSON whitespace; `elem` parses one element
    /// starting at `*i` and must advance past it.
    fn array<T>(
        text: &str,
        mut elem: impl FnMut(&str, &mut usize) -> Option<T>,
    ) -> Option<Box<[T]>> {
        let b = text.as_bytes();
        let mut i = 0;
        let mut out = Vec::new();
        ws(b, &mut i);
        if b.get(i) != Some(&b'[') {
            return None;
        }
        i += 1;
        ws(b, &mut i);
        if b.get(i) == Some(&b']') {
            i += 1;
        } else {
            loop {
                ws(b, &mut i);
                out.push(elem(text, &mut i)?);
                ws(b, &mut i);
                match b.get(i) {
                    Some(b',') => i += 1,
                    Some(b']') => {
                        i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        ws(b, &mut i);
        (i == b.len()).then(|| out.into_boxed_slice())
    }

    /// A JSON array of strings without escape sequences (the engine borrows them).
    pub(crate) fn strings(text: &str) -> Option<Box<[Box<str>]>> {
        array(text, |t, i| {
            let b = t.as_bytes();
            if b.get(*i) != Some(&b'"') {
                return None;
            }
            let start = *i + 1;
            let mut j = start;
            loop {
                match b.get(j)? {
                    b'"' => break,
                    b'\\' | 0x00..=0x1F => return None,
                    _ => j += 1,
                }
            }
            *i = j + 1;
            Some(t[start..j].into())
        })
    }

    /// A JSON array of integers that fit in `i32` (no fractions, no exponents).
    pub(crate) fn integers(text: &str) -> Option<Box<[i32]>> {
        array(text, |t, i| {
            let b = t.as_bytes();
            let start = *i;
            if b.get(*i) == Some(&b'-') {
                *i += 1;
            }
            let digits = *i;
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
            let n = *i - digits;
            // JSON forbids leading zeros; a fraction or exponent makes it a float.
            if n == 0
                || (n > 1 && b[digits] == b'0')
                || matches!(b.get(*i), Some(b'.' | b'e' | b'E'))
            {
                return None;
            }
            t[start..*i].parse::<i32>().ok()
        })
    }
}

// ---- semantics ----

/// One check against the value `v` (docs/EVALUATION.md §7; the evaluator and explanations share
/// this). `None` means an unknown constraint type, which fails the whole segment.
#[inline(always)]
pub(crate) fn check_value(s: &Snapshot, c: &Check, v: &str) -> Option<bool> {
    let text = || s.text_of(c.a, c.n);
    let list = || c.a as usize..c.n as usize;
    Some(match c.op {
        Op::Empty => v.is_empty(),
        Op::NotEmpty => !v.is_empty(),
        Op::Eq => !v.is_empty() && str_eq(v, text()),
        Op::Neq => !v.is_empty() && !str_eq(v, text()),
        Op::Prefix => !v.is_empty() && strings::starts_with(v, text()),
        Op::Suffix => !v.is_empty() && strings::ends_with(v, text()),
        Op::Contains => !v.is_empty() && strings::contains(v, text()),
        Op::NotContains => !v.is_empty() && !strings::contains(v, text()),
        Op::In => !v.is_empty() && one_of(s, list(), v),
        Op::NotIn => !v.is_empty() && !one_of(s, list(), v),
        Op::Num => v
            .parse::<i32>()
            .is_ok_and(|x| c.accepts(i64::from(x).cmp(&c.n))),
        Op::NumIn => v
            .parse::<i32>()
            .is_ok_and(|x| s.list_ints.get(list()).is_some_and(|l| l.contains(&x))),
        Op::NumNotIn => v
            .parse::<i32>()
            .is_ok_and(|x| s.list_ints.get(list()).is_some_and(|l| !l.contains(&x))),
        Op::BoolTrue => v == "true",
        Op::BoolFalse => v == "false",
        Op::Time => datetime::parse_rfc3339(v).is_some_and(|t| c.accepts(t.cmp(&c.n))),
        Op::Never => false,
        Op::Unknown => return None,
    })
}

/// `v` is one of the strings of an `isoneof` list.
#[inline]
fn one_of(s: &Snapshot, items: std::ops::Range<usize>, v: &str) -> bool {
    s.list_strings
        .get(items)
        .is_some_and(|l| l.iter().any(|&(a, n)| str_eq(s.text_of(a, n.into()), v)))
}

// ---- programs ----

/// How a program tests a check (docs/EVALUATION.md §7 as words and parsed values): the node
/// operator and what it compares the subject with.
pub(crate) enum Lowered<'s> {
    /// A node that needs nothing more.
    Plain(NodeOp),
    /// A comparison with a constant; a constant longer than a word falls back to `Slow`.
    Constant(NodeOp, &'s str),
    /// `Num` or `Time`: the parsed subject compared with `value` as `accept` allows.
    Ordered {
        op: NodeOp,
        accept: u8,
        value: i64,
        time: bool,
    },
    /// `InShort` or `NotInShort` over these items (empty ones can never match); a longer
    /// item falls back to `Slow`.
    StrList(NodeOp, Vec<&'s str>),
    /// `NumIn` or `NumNotIn` over `Snapshot::list_ints[start..end]`.
    NumList(NodeOp, u32, u64),
}

/// The node that tests `c`, or `None` if its list is out of range.
pub(crate) fn lower<'s>(c: &Check, snap: &'s Snapshot) -> Option<Lowered<'s>> {
    use Lowered::{Constant, NumList, Ordered, Plain, StrList};
    let text = || snap.text_of(c.a, c.n);
    // An empty constant decides the operator outright (§7.1: every string operator but
    // `empty` needs a non-empty subject).
    let empty_constant = c.n == 0;
    Some(match c.op {
        Op::Empty => Plain(NodeOp::Empty),
        Op::NotEmpty => Plain(NodeOp::NotEmpty),
        Op::Eq | Op::NotContains if empty_constant => Plain(NodeOp::Never),
        Op::Neq | Op::Prefix | Op::Suffix | Op::Contains if empty_constant => {
            Plain(NodeOp::NotEmpty)
        }
        Op::Eq => Constant(NodeOp::EqShort, text()),
        Op::Neq => Constant(NodeOp::NeqShort, text()),
        Op::Prefix => Constant(NodeOp::PrefixShort, text()),
        Op::Suffix => Constant(NodeOp::SuffixShort, text()),
        Op::BoolTrue => Constant(NodeOp::EqShort, "true"),
        Op::BoolFalse => Constant(NodeOp::EqShort, "false"),
        Op::Num => Ordered {
            op: NodeOp::Num,
            accept: c.accept,
            value: c.n,
            time: false,
        },
        Op::Time => Ordered {
            op: NodeOp::Time,
            accept: c.accept,
            value: c.n,
            time: true,
        },
        Op::In | Op::NotIn => {
            let items = snap
                .list_strings
                .get(c.a as usize..c.n as usize)?
                .iter()
                .map(|&(a, len)| snap.text_of(a, i64::from(len)))
                .collect();
            let op = if c.op == Op::In {
                NodeOp::InShort
            } else {
                NodeOp::NotInShort
            };
            StrList(op, items)
        }
        Op::NumIn => NumList(NodeOp::NumIn, c.a, c.n as u64),
        Op::NumNotIn => NumList(NodeOp::NumNotIn, c.a, c.n as u64),
        Op::Contains | Op::NotContains => Plain(NodeOp::Slow),
        Op::Never => Plain(NodeOp::Never),
        Op::Unknown => Plain(NodeOp::Unknown),
    })
}

/// The relative cost of evaluating a check: the entity id is at hand, a property costs a
/// lookup, and parsing a number and above all a datetime cost more.
pub(crate) fn cost(c: &Check) -> u8 {
    match c.op {
        Op::Never => 0,
        _ if c.slot == ENTITY_SLOT => 1,
        Op::Time => 5,
        Op::Num | Op::NumIn | Op::NumNotIn => 3,
        Op::Contains | Op::NotContains => 4,
        _ => 2,
    }
}

/// How often a check is taken to hold, in percent: a prior by operator (an equality rarely
/// holds, an inequality usually does), used only to order a segment's checks.
pub(crate) fn hold_chance(c: &Check) -> u32 {
    match c.op {
        Op::Never | Op::Unknown => 0,
        Op::Empty => 10,
        Op::NotEmpty => 90,
        Op::Eq | Op::BoolTrue | Op::BoolFalse | Op::Prefix | Op::Suffix => 25,
        Op::Neq | Op::NotContains => 75,
        Op::Contains => 30,
        Op::In | Op::NumIn => 35,
        Op::NotIn | Op::NumNotIn => 65,
        // `accept`: less = 1, equal = 2, greater = 4.
        Op::Num | Op::Time => match c.accept {
            2 => 5,
            5 => 95,
            _ => 45,
        },
    }
}
