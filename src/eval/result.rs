//! Evaluation results. They share the snapshot they came from through an `Arc` and read
//! keys and attachments from it, so building one allocates nothing.

use crate::snapshot::{Snapshot, Span};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Why an evaluation came out the way it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No rule matched and the flag has no default variant.
    Unknown,
    /// A variant flag is disabled.
    FlagDisabled,
    /// A rule (variant flag) or rollout (boolean flag) matched.
    Match,
    /// Nothing matched; the default variant (or the flag's `enabled` value) applies.
    Default,
}

impl Reason {
    /// The engine's name, e.g. `"MATCH_EVALUATION_REASON"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unknown => "UNKNOWN_EVALUATION_REASON",
            Reason::FlagDisabled => "FLAG_DISABLED_EVALUATION_REASON",
            Reason::Match => "MATCH_EVALUATION_REASON",
            Reason::Default => "DEFAULT_EVALUATION_REASON",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which segments of the deciding rule or rollout matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Matched {
    None,
    /// All segments of the span of `Snapshot::segment_refs` (AND operator).
    All(Span),
    /// Bit `i` set = segment `segment_refs[span.start + i]` matched (OR, up to 64 segments).
    Mask(Span, u64),
    /// Segment ids (OR operator with more than 64 segments; allocates).
    List(Arc<[u32]>),
}

/// The segment keys of a result, in snapshot document order, borrowed from the snapshot.
#[derive(Clone)]
pub struct SegmentKeys<'a> {
    snapshot: &'a Snapshot,
    matched: &'a Matched,
    pos: usize,
}

impl<'a> SegmentKeys<'a> {
    pub(crate) fn new(snapshot: &'a Snapshot, matched: &'a Matched) -> Self {
        SegmentKeys {
            snapshot,
            matched,
            pos: 0,
        }
    }
}

impl<'a> Iterator for SegmentKeys<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let refs = &self.snapshot.segment_refs;
        let id = match self.matched {
            Matched::None => return None,
            Matched::All(span) => {
                let i = span.start as usize + self.pos;
                if i >= span.end as usize {
                    return None;
                }
                self.pos += 1;
                *refs.get(i)?
            }
            Matched::Mask(span, mask) => {
                let rest = if self.pos >= 64 { 0 } else { mask >> self.pos };
                if rest == 0 {
                    return None;
                }
                let step = rest.trailing_zeros() as usize;
                let i = span.start as usize + self.pos + step;
                self.pos += step + 1;
                *refs.get(i)?
            }
            Matched::List(list) => {
                let id = *list.get(self.pos)?;
                self.pos += 1;
                id
            }
        };
        self.snapshot.segments.get(id as usize).map(|s| &*s.key)
    }
}

impl fmt::Debug for SegmentKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// Where a variant result's key and attachment come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VariantSource {
    None,
    Default,
    Distribution(u32),
}

/// The result of a variant evaluation.
///
/// ```
/// # let doc = include_str!("../../examples/data/snapshot.json");
/// let client = flipt_client::FliptClient::from_snapshot_json(doc)?;
/// let r = client.evaluate_variant("checkout-theme", "user-1", &[("plan", "pro"), ("age", "30")])?;
/// assert!(r.is_match());
/// assert_eq!(r.variant_key(), "blue");
/// assert_eq!(r.variant_attachment(), Some(r##"{"color":"#0000ff"}"##));
/// assert_eq!(r.segment_keys().collect::<Vec<_>>(), ["pro-users"]);
/// # Ok::<(), flipt_client::Error>(())
/// ```
///
/// `S` is how the result holds its snapshot: an `Arc` (the default, from
/// [`crate::FliptClient`]) or a borrow (`VariantEvaluation<&Snapshot>`, from a
/// [`crate::Reader`]); the accessors are the same.
#[derive(Clone)]
pub struct VariantEvaluation<S = Arc<Snapshot>> {
    pub(crate) snapshot: S,
    pub(crate) outcome: VariantOutcome,
}

/// What a variant evaluation found, before the result shares the snapshot: evaluation works
/// on a borrowed snapshot, and the caller then clones its `Arc` into the result or, when it
/// owns one, moves it in.
#[derive(Clone)]
pub(crate) struct VariantOutcome {
    pub(crate) flag: u32,
    pub(crate) matched: bool,
    pub(crate) reason: Reason,
    pub(crate) variant: VariantSource,
    pub(crate) segments: Matched,
}

impl VariantOutcome {
    /// The result, holding `snapshot` (the one evaluated).
    #[inline(always)]
    pub(crate) fn share<S>(self, snapshot: S) -> VariantEvaluation<S> {
        VariantEvaluation {
            snapshot,
            outcome: self,
        }
    }
}

impl<S: Deref<Target = Snapshot>> VariantEvaluation<S> {
    /// The evaluated flag's key.
    pub fn flag_key(&self) -> &str {
        self.snapshot
            .flags
            .get(self.outcome.flag as usize)
            .map_or("", |f| &f.key)
    }

    /// Whether a rule matched (`match` in the official SDKs).
    pub fn is_match(&self) -> bool {
        self.outcome.matched
    }

    /// Why the result came out this way.
    pub fn reason(&self) -> Reason {
        self.outcome.reason
    }

    /// The chosen variant's key, or `""` when there is none.
    pub fn variant_key(&self) -> &str {
        variant_key_in(&self.snapshot, &self.outcome)
    }

    /// The chosen variant's attachment as JSON text, verbatim from the snapshot (a v2 server
    /// sends the text `null` for variants without one). `None` when absent.
    pub fn variant_attachment(&self) -> Option<&str> {
        match self.outcome.variant {
            VariantSource::None => None,
            VariantSource::Default => self.default_variant()?.attachment.as_deref(),
            VariantSource::Distribution(d) => self
                .snapshot
                .distributions
                .get(d as usize)?
                .attachment
                .as_deref(),
        }
    }

    /// The keys of the segments that matched in the deciding rule, in document order.
    pub fn segment_keys(&self) -> SegmentKeys<'_> {
        SegmentKeys::new(&self.snapshot, &self.outcome.segments)
    }

    /// Whole milliseconds the evaluation took, as the engine reports it: evaluations take
    /// well under a millisecond, so this is always `0.0`.
    pub fn request_duration_millis(&self) -> f64 {
        0.0
    }

    /// The snapshot this result was computed from.
    pub fn snapshot(&self) -> &S {
        &self.snapshot
    }

    fn default_variant(&self) -> Option<&crate::snapshot::DefaultVariant> {
        self.snapshot
            .flags
            .get(self.outcome.flag as usize)?
            .default_variant
            .as_ref()
    }
}

/// The chosen variant's key in `s`, or `""`.
fn variant_key_in<'s>(s: &'s Snapshot, outcome: &VariantOutcome) -> &'s str {
    match outcome.variant {
        VariantSource::None => "",
        VariantSource::Default => s
            .flags
            .get(outcome.flag as usize)
            .and_then(|f| f.default_variant.as_ref())
            .map_or("", |v| &v.key),
        VariantSource::Distribution(d) => s
            .distributions
            .get(d as usize)
            .map_or("", |d| &d.variant_key),
    }
}

impl<'s> VariantEvaluation<&'s Snapshot> {
    /// The chosen variant's key, borrowed from the snapshot rather than from the result.
    pub fn into_variant_key(self) -> &'s str {
        variant_key_in(self.snapshot, &self.outcome)
    }
}

impl<S: Deref<Target = Snapshot>> fmt::Debug for VariantEvaluation<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VariantEvaluation")
            .field("flag_key", &self.flag_key())
            .field("match", &self.outcome.matched)
            .field("reason", &self.outcome.reason)
            .field("variant_key", &self.variant_key())
            .field("variant_attachment", &self.variant_attachment())
            .field("segment_keys", &self.segment_keys())
            .finish()
    }
}

/// The result of a boolean evaluation.
///
/// ```
/// # let doc = include_str!("../../examples/data/snapshot.json");
/// let client = flipt_client::FliptClient::from_snapshot_json(doc)?;
/// let r = client.evaluate_boolean("new-search", "user-1", &[("beta", "true")])?;
/// assert!(r.is_enabled());
/// assert_eq!(r.reason(), flipt_client::Reason::Match);
/// # Ok::<(), flipt_client::Error>(())
/// ```
///
/// `S` is how the result holds its snapshot; see [`VariantEvaluation`].
#[derive(Clone)]
pub struct BooleanEvaluation<S = Arc<Snapshot>> {
    pub(crate) snapshot: S,
    pub(crate) outcome: BooleanOutcome,
}

/// What a boolean evaluation found, before the result shares the snapshot (see
/// [`VariantOutcome`]).
#[derive(Clone)]
pub(crate) struct BooleanOutcome {
    pub(crate) flag: u32,
    pub(crate) enabled: bool,
    pub(crate) reason: Reason,
    pub(crate) segments: Matched,
}

impl BooleanOutcome {
    /// The result, holding `snapshot` (the one evaluated).
    #[inline(always)]
    pub(crate) fn share<S>(self, snapshot: S) -> BooleanEvaluation<S> {
        BooleanEvaluation {
            snapshot,
            outcome: self,
        }
    }
}

impl<S: Deref<Target = Snapshot>> BooleanEvaluation<S> {
    /// The evaluated flag's key.
    pub fn flag_key(&self) -> &str {
        self.snapshot
            .flags
            .get(self.outcome.flag as usize)
            .map_or("", |f| &f.key)
    }

    /// The boolean value (`enabled` in the official SDKs).
    pub fn is_enabled(&self) -> bool {
        self.outcome.enabled
    }

    /// Why the result came out this way.
    pub fn reason(&self) -> Reason {
        self.outcome.reason
    }

    /// The keys of the segments that matched in the deciding rollout, in document order.
    pub fn segment_keys(&self) -> SegmentKeys<'_> {
        SegmentKeys::new(&self.snapshot, &self.outcome.segments)
    }

    /// Always `0.0`; see [`VariantEvaluation::request_duration_millis`].
    pub fn request_duration_millis(&self) -> f64 {
        0.0
    }

    /// The snapshot this result was computed from.
    pub fn snapshot(&self) -> &S {
        &self.snapshot
    }
}

impl<S: Deref<Target = Snapshot>> fmt::Debug for BooleanEvaluation<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BooleanEvaluation")
            .field("flag_key", &self.flag_key())
            .field("enabled", &self.outcome.enabled)
            .field("reason", &self.outcome.reason)
            .field("segment_keys", &self.segment_keys())
            .finish()
    }
}

/// Why a batch item could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorReason {
    /// The flag is not in the snapshot (`NOT_FOUND_ERROR_EVALUATION_REASON`).
    NotFound,
    /// Any other failure (`UNKNOWN_ERROR_EVALUATION_REASON`; the engine never produces it).
    Unknown,
}

impl ErrorReason {
    /// The engine's name, e.g. `"NOT_FOUND_ERROR_EVALUATION_REASON"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::NotFound => "NOT_FOUND_ERROR_EVALUATION_REASON",
            ErrorReason::Unknown => "UNKNOWN_ERROR_EVALUATION_REASON",
        }
    }
}

/// A batch item for a flag that could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorEvaluation<'r> {
    /// The requested flag key.
    pub flag_key: &'r str,
    /// The namespace the client evaluates in.
    pub namespace_key: Arc<str>,
    /// Why it failed.
    pub reason: ErrorReason,
}

/// One response of a batch evaluation.
#[derive(Debug, Clone)]
pub enum BatchItem<'r> {
    /// The flag is a variant flag.
    Variant(VariantEvaluation),
    /// The flag is a boolean flag.
    Boolean(BooleanEvaluation),
    /// The flag could not be evaluated (not found).
    Error(ErrorEvaluation<'r>),
}

impl BatchItem<'_> {
    /// The engine's response type name, e.g. `"VARIANT_EVALUATION_RESPONSE_TYPE"`.
    pub fn type_str(&self) -> &'static str {
        match self {
            BatchItem::Variant(_) => "VARIANT_EVALUATION_RESPONSE_TYPE",
            BatchItem::Boolean(_) => "BOOLEAN_EVALUATION_RESPONSE_TYPE",
            BatchItem::Error(_) => "ERROR_EVALUATION_RESPONSE_TYPE",
        }
    }
}

/// The responses of a batch evaluation, in request order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchEvaluation<'r> {
    /// One response per request.
    pub responses: Vec<BatchItem<'r>>,
}

impl BatchEvaluation<'_> {
    /// Always `0.0`; see [`VariantEvaluation::request_duration_millis`].
    pub fn request_duration_millis(&self) -> f64 {
        0.0
    }
}

/// One request of a batch: a flag key, an entity id and a context.
///
/// ```
/// use flipt_client::EvaluationRequest;
/// let ctx = [("plan", "pro")];
/// let req = EvaluationRequest::new("checkout-theme", "user-1", &ctx);
/// assert_eq!(req.flag_key, "checkout-theme");
/// ```
#[derive(Debug)]
pub struct EvaluationRequest<'a, C: ?Sized> {
    /// The flag to evaluate.
    pub flag_key: &'a str,
    /// The entity (user, device, ...) to evaluate for.
    pub entity_id: &'a str,
    /// The evaluation context.
    pub context: &'a C,
}

impl<'a, C: ?Sized> EvaluationRequest<'a, C> {
    /// Bundles one request.
    pub fn new(flag_key: &'a str, entity_id: &'a str, context: &'a C) -> Self {
        EvaluationRequest {
            flag_key,
            entity_id,
            context,
        }
    }
}

impl<C: ?Sized> Clone for EvaluationRequest<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C: ?Sized> Copy for EvaluationRequest<'_, C> {}

/// The answer of the `evaluate_variant_or` helpers (on [`crate::FliptClient`],
/// [`crate::FlagHandle`] and [`crate::Reader`]): the evaluation, or the caller's default when
/// the evaluation failed. Building it never allocates. `S` is how the evaluation holds its
/// snapshot, as in [`VariantEvaluation`]: an `Arc` from the client and handles, a borrow from
/// a reader.
///
/// A flag that evaluates without a match is not a failure: its (empty) variant key is the
/// answer, as in the official engine.
#[derive(Clone)]
pub enum VariantOr<'d, S = Arc<Snapshot>> {
    /// The flag was evaluated.
    Evaluated(VariantEvaluation<S>),
    /// The evaluation failed; this is the caller's default.
    Default(&'d str),
}

impl<S: Deref<Target = Snapshot>> fmt::Debug for VariantOr<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VariantOr::Evaluated(r) => f.debug_tuple("Evaluated").field(r).finish(),
            VariantOr::Default(d) => f.debug_tuple("Default").field(d).finish(),
        }
    }
}

impl<S: Deref<Target = Snapshot>> VariantOr<'_, S> {
    /// The evaluated variant key, or the default.
    pub fn variant_key(&self) -> &str {
        match self {
            VariantOr::Evaluated(r) => r.variant_key(),
            VariantOr::Default(d) => d,
        }
    }

    /// Whether this is the caller's default (the evaluation failed).
    pub fn is_default(&self) -> bool {
        matches!(self, VariantOr::Default(_))
    }

    /// The evaluation, unless it failed.
    pub fn evaluation(&self) -> Option<&VariantEvaluation<S>> {
        match self {
            VariantOr::Evaluated(r) => Some(r),
            VariantOr::Default(_) => None,
        }
    }
}
