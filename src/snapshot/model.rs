//! The compiled model a [`Snapshot`](super::Snapshot) is made of: flags, rules, rollouts,
//! segments, constraints and the evaluator's pre-parsed checks, in flat arrays addressed by
//! [`Span`]s.

use std::ops::Range;

/// The type of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagType {
    /// A flag that evaluates to one of several variants (`VARIANT_FLAG_TYPE`).
    Variant,
    /// A flag that evaluates to `true` or `false` (`BOOLEAN_FLAG_TYPE`).
    Boolean,
}

impl FlagType {
    /// The protobuf enum name Flipt uses on the wire, e.g. `"BOOLEAN_FLAG_TYPE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Variant => "VARIANT_FLAG_TYPE",
            FlagType::Boolean => "BOOLEAN_FLAG_TYPE",
        }
    }
}

/// A compact `start..end` into one of the snapshot's arrays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
    pub(crate) fn is_empty(self) -> bool {
        self.start == self.end
    }
}

#[derive(Debug)]
pub(crate) struct Flag {
    pub key: Box<str>,
    /// The key the flag is found under, when it differs from `key` (hand-made seeds only).
    pub lookup_key: Option<Box<str>>,
    pub enabled: bool,
    pub kind: FlagType,
    pub description: Option<Box<str>>,
    pub default_variant: Option<DefaultVariant>,
    /// `None` only in hand-made seeds without an `eval_rules` entry.
    pub rules: Option<Span>,
    /// `None` only in hand-made seeds without an `eval_rollouts` entry.
    pub rollouts: Option<Span>,
    /// CRC-32 register after the flag key: the bucketing hash continues from here.
    pub salt: u32,
    /// The first node of the flag's program, for evaluations of its own type; `None` when
    /// a program cannot express it (see `program`) and it is evaluated step by step.
    pub program: Option<u32>,
}

#[derive(Debug)]
pub(crate) struct DefaultVariant {
    pub id: Box<str>,
    pub key: Box<str>,
    pub attachment: Option<Box<str>>,
}

/// How a rule or rollout combines its segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SegmentOperator {
    /// Any segment matches (`OR_SEGMENT_OPERATOR`, the default).
    Or,
    /// Every segment matches (`AND_SEGMENT_OPERATOR`).
    And,
}

impl SegmentOperator {
    /// The name on the wire, e.g. `AND_SEGMENT_OPERATOR`.
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentOperator::Or => "OR_SEGMENT_OPERATOR",
            SegmentOperator::And => "AND_SEGMENT_OPERATOR",
        }
    }
}

/// `OR` or `AND`.
impl std::fmt::Display for SegmentOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SegmentOperator::Or => "OR",
            SegmentOperator::And => "AND",
        })
    }
}

/// How a segment combines its constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MatchType {
    /// Every constraint holds (`ALL_SEGMENT_MATCH_TYPE`).
    All,
    /// Any constraint holds (`ANY_SEGMENT_MATCH_TYPE`, the default).
    Any,
}

impl MatchType {
    /// The name on the wire, e.g. `ALL_SEGMENT_MATCH_TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::All => "ALL_SEGMENT_MATCH_TYPE",
            MatchType::Any => "ANY_SEGMENT_MATCH_TYPE",
        }
    }
}

/// `ALL` or `ANY`.
impl std::fmt::Display for MatchType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MatchType::All => "ALL",
            MatchType::Any => "ANY",
        })
    }
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub id: Box<str>,
    pub rank: u64,
    pub operator: SegmentOperator,
    /// Into `Snapshot::segment_refs`.
    pub segments: Span,
    /// `None` only in hand-made seeds without an `eval_distributions` entry.
    pub distributions: Option<Span>,
    /// Into `Snapshot::buckets`.
    pub buckets: Span,
}

#[derive(Debug)]
pub(crate) struct Rollout {
    pub rank: u64,
    pub kind: RolloutKind,
}

#[derive(Debug)]
pub(crate) enum RolloutKind {
    Threshold {
        percentage: f32,
        value: bool,
    },
    Segment {
        value: bool,
        operator: SegmentOperator,
        segments: Span,
    },
    Unknown,
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub key: Box<str>,
    pub match_type: MatchType,
    pub constraints: Span,
}

/// What a constraint compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConstraintType {
    /// A context property as text.
    String,
    /// A context property as a number.
    Number,
    /// A context property as `true`/`false`.
    Boolean,
    /// A context property as an RFC 3339 timestamp.
    DateTime,
    /// The entity id.
    EntityId,
    /// A type this engine does not know: the constraint fails.
    Unknown,
}

impl ConstraintType {
    /// The name on the wire, e.g. `STRING_CONSTRAINT_COMPARISON_TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConstraintType::String => "STRING_CONSTRAINT_COMPARISON_TYPE",
            ConstraintType::Number => "NUMBER_CONSTRAINT_COMPARISON_TYPE",
            ConstraintType::Boolean => "BOOLEAN_CONSTRAINT_COMPARISON_TYPE",
            ConstraintType::DateTime => "DATETIME_CONSTRAINT_COMPARISON_TYPE",
            ConstraintType::EntityId => "ENTITY_ID_CONSTRAINT_COMPARISON_TYPE",
            ConstraintType::Unknown => "UNKNOWN_CONSTRAINT_COMPARISON_TYPE",
        }
    }
}

/// The name on the wire.
impl std::fmt::Display for ConstraintType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A constraint as the document gives it (export and explanations read this; the evaluator
/// reads the [`Check`] at the same position).
#[derive(Debug)]
pub(crate) struct Constraint {
    pub kind: ConstraintType,
    pub property: Box<str>,
    pub operator: Box<str>,
    pub value: Box<str>,
}

/// The subject slot of entity-id constraints.
pub(crate) const ENTITY_SLOT: u8 = 0;
/// Subject slots the evaluator caches per evaluation: the entity id and 15 properties.
/// Slots from `SLOTS` on are looked up by name on every use.
pub(crate) const SLOTS: usize = 16;
/// The slot of a property beyond the 254th distinct one: found through its constraint.
pub(crate) const UNCACHED: u8 = u8::MAX;

#[derive(Debug)]
pub(crate) struct Distribution {
    pub rollout: f32,
    pub variant_key: Box<str>,
    pub attachment: Option<Box<str>>,
}
