//! Invariant checks shared by the cargo-fuzz targets in `fuzz/` and by `tests/corpus.rs`,
//! which replays the fuzz corpus on stable Rust. Not part of the stable API.
//!
//! Each function panics when an invariant fails, which is how a fuzzer reports a finding.

use crate::eval::context::Context;
#[cfg(feature = "net")]
use crate::net::stream::{Frame, LineFramer};
use crate::snapshot::Snapshot;
use std::sync::Arc;

/// A small deterministic reader over fuzz bytes.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn pick<'s>(&mut self, options: &[&'s str]) -> &'s str {
        options[self.byte() as usize % options.len()]
    }
}

/// One evaluation's observable result, with segment keys sorted (export reorders them).
fn outcome<C: Context + ?Sized>(s: &Arc<Snapshot>, flag: &str, entity: &str, ctx: &C) -> String {
    describe(
        s.evaluate_variant(flag, entity, ctx),
        s.evaluate_boolean(flag, entity, ctx),
    )
}

/// [`outcome`] evaluated step by step instead of by the flags' programs.
fn step_outcome<C: Context + ?Sized>(
    s: &Arc<Snapshot>,
    flag: &str,
    entity: &str,
    ctx: &C,
) -> String {
    let (variant, boolean) = crate::eval::step_by_step(s, flag, entity, ctx);
    describe(variant, boolean)
}

fn describe(
    variant: Result<crate::VariantEvaluation, crate::Error>,
    boolean: Result<crate::BooleanEvaluation, crate::Error>,
) -> String {
    let sorted = |keys: crate::SegmentKeys<'_>| {
        let mut v: Vec<&str> = keys.collect();
        v.sort_unstable();
        v.join(",")
    };
    let variant = match variant {
        Ok(r) => format!(
            "{} {:?} {} {:?} [{}]",
            r.is_match(),
            r.reason(),
            r.variant_key(),
            r.variant_attachment(),
            sorted(r.segment_keys())
        ),
        Err(e) => e.to_string(),
    };
    let boolean = match boolean {
        Ok(r) => format!(
            "{} {:?} [{}]",
            r.is_enabled(),
            r.reason(),
            sorted(r.segment_keys())
        ),
        Err(e) => e.to_string(),
    };
    format!("{variant} | {boolean}")
}

/// Requests derived from the snapshot itself: every flag, with entities and context values
/// taken from the constraint values it contains, so that constraints can match.
fn probe(original: &Arc<Snapshot>, reloaded: &Arc<Snapshot>, extra: &[u8]) {
    let mut values: Vec<&str> = original
        .constraints
        .iter()
        .map(|c| &*c.value)
        .take(32)
        .collect();
    values.extend(["", "true", "5", "2024-01-01T00:00:00Z", "user-1"]);
    let properties: Vec<&str> = original
        .constraints
        .iter()
        .map(|c| &*c.property)
        .take(16)
        .collect();
    let mut rng = Bytes(extra);
    for flag in original.flags.iter().take(64) {
        let key = Snapshot::lookup_key(flag);
        for round in 0..4 {
            let entity = if round == 0 {
                "user-1"
            } else {
                rng.pick(&values)
            };
            let ctx: Vec<(&str, &str)> =
                properties.iter().map(|p| (*p, rng.pick(&values))).collect();
            let a = outcome(original, key, entity, ctx.as_slice());
            let step = step_outcome(original, key, entity, ctx.as_slice());
            assert_eq!(
                a, step,
                "flag {key:?} entity {entity:?} context {ctx:?}: the program disagrees with step-by-step evaluation"
            );
            let b = outcome(reloaded, key, entity, ctx.as_slice());
            assert_eq!(
                a, b,
                "flag {key:?} entity {entity:?} context {ctx:?}: export/reload changed the result"
            );
        }
    }
    assert_eq!(
        outcome(original, "\u{0}missing", "e", &()),
        outcome(reloaded, "\u{0}missing", "e", &())
    );
}

/// Exports `snapshot` and loads it back; both must answer every probe the same way, and the
/// second export must equal the first.
fn round_trip(snapshot: Snapshot, extra: &[u8]) {
    let original = Arc::new(snapshot);
    let seed = original.to_base64();
    let reloaded = match Snapshot::from_base64(&seed) {
        Ok(s) => Arc::new(s),
        Err(e) => panic!(
            "our own export does not load: {e}\n{}",
            original.to_engine_json()
        ),
    };
    assert_eq!(original.len(), reloaded.len());
    assert_eq!(
        reloaded.to_base64().len(),
        seed.len(),
        "export is not stable"
    );
    probe(&original, &reloaded, extra);
}

/// Target `document`: the server document parser and compiler. Any input either fails with
/// an error or yields a snapshot that survives an export round trip unchanged.
pub fn check_document(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(Snapshot::parse_bytes(data).is_err());
        return;
    };
    match Snapshot::from_document(text) {
        Ok(s) => round_trip(s, data),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Target `seed`: the base64 / engine-JSON seed parser, with the same round-trip invariant.
pub fn check_seed(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // As base64 text, and as the JSON inside a seed.
    if let Ok(s) = Snapshot::from_base64(text) {
        round_trip(s, data);
    }
    if let Ok(s) = Snapshot::from_engine_json(text) {
        round_trip(s, data);
    }
}

/// Target `framer`: the stream line framer yields the same lines however the input is cut.
/// The first byte chooses the cut points.
#[cfg(feature = "net")]
pub fn check_framer(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let collect = |chunks: &mut dyn Iterator<Item = &[u8]>| {
        let mut framer = LineFramer::new();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut push = |f: Frame<'_>| match f {
            Frame::Line(l) => lines.push(l.to_vec()),
            Frame::TooLong => lines.push(b"<too long>".to_vec()),
        };
        for c in chunks {
            framer.push(c, &mut push);
        }
        framer.finish(&mut push);
        lines
    };
    let whole = collect(&mut std::iter::once(input));
    let step = usize::from(seed % 13) + 1;
    let chunked = collect(&mut input.chunks(step));
    assert_eq!(whole, chunked, "chunks of {step} bytes framed differently");
    // Reference: split on '\n'; a non-empty tail is a last line; then drop one trailing '\r'.
    let mut raw: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if raw.last().is_some_and(|l| l.is_empty()) {
        raw.pop();
    }
    let reference: Vec<Vec<u8>> = raw
        .iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .collect();
    assert_eq!(whole, reference);
    // Every line also goes through the stream-line parser without panicking.
    for line in &whole {
        if let Ok(text) = std::str::from_utf8(line) {
            let _ = Snapshot::from_stream_line(text);
        }
    }
}

const TYPES: &[&str] = &[
    "STRING_CONSTRAINT_COMPARISON_TYPE",
    "NUMBER_CONSTRAINT_COMPARISON_TYPE",
    "BOOLEAN_CONSTRAINT_COMPARISON_TYPE",
    "DATETIME_CONSTRAINT_COMPARISON_TYPE",
    "ENTITY_ID_CONSTRAINT_COMPARISON_TYPE",
    "UNKNOWN_CONSTRAINT_COMPARISON_TYPE",
];
const OPERATORS: &[&str] = &[
    "eq",
    "neq",
    "lt",
    "lte",
    "gt",
    "gte",
    "empty",
    "notempty",
    "present",
    "notpresent",
    "prefix",
    "suffix",
    "contains",
    "notcontains",
    "isoneof",
    "isnotoneof",
    "true",
    "false",
    "EQ",
];
const VALUES: &[&str] = &[
    "",
    "a",
    "ab",
    "5",
    "+5",
    "-7",
    "2147483648",
    "true",
    "false",
    "[\"a\",\"b\"]",
    "[1, 5, -7]",
    "[1.5]",
    "2024-01-01T00:00:00Z",
    "2024-06-01T12:00:00+02:00",
    "2024-01-01",
    "user-1",
    "ñ",
    "[\"a\\\"b\"]",
];
const PROPS: &[&str] = &["p", "q", "r", "plan", ""];
const ROLLOUTS: &[&str] = &[
    "0", "0.01", "10", "33.33", "50", "99.99", "100", "-5", "1e-3",
];

/// Target `evaluate`: a valid snapshot built from the fuzz bytes (so that evaluation, not
/// parsing, is exercised), arbitrary requests against it, and the export round trip.
pub fn check_evaluation(data: &[u8]) {
    let mut b = Bytes(data);
    let mut flags = Vec::new();
    for fi in 0..(b.byte() % 4 + 1) {
        let boolean = b.byte() % 2 == 0;
        let mut segments = Vec::new();
        for si in 0..(b.byte() % 4) {
            let mut constraints = Vec::new();
            for _ in 0..(b.byte() % 4) {
                constraints.push(format!(
                    r#"{{"type":"{}","property":"{}","operator":"{}","value":{}}}"#,
                    b.pick(TYPES),
                    b.pick(PROPS),
                    b.pick(OPERATORS),
                    crate::fuzzing::json(b.pick(VALUES))
                ));
            }
            let match_type = if b.byte() % 2 == 0 { "ALL" } else { "ANY" };
            segments.push(format!(
                r#"{{"key":"s{}","matchType":"{match_type}_SEGMENT_MATCH_TYPE","constraints":[{}]}}"#,
                si % 3,
                constraints.join(",")
            ));
        }
        let op = |b: &mut Bytes<'_>| {
            if b.byte() % 2 == 0 {
                "OR_SEGMENT_OPERATOR"
            } else {
                "AND_SEGMENT_OPERATOR"
            }
        };
        let body = if boolean {
            let mut rollouts = Vec::new();
            for _ in 0..(b.byte() % 3) {
                rollouts.push(if b.byte() % 2 == 0 {
                    format!(
                        r#"{{"threshold":{{"percentage":{},"value":{}}}}}"#,
                        b.pick(ROLLOUTS),
                        b.byte() % 2 == 0
                    )
                } else {
                    format!(
                        r#"{{"segment":{{"value":{},"segmentOperator":"{}","segments":[{}]}}}}"#,
                        b.byte() % 2 == 0,
                        op(&mut b),
                        segments.join(",")
                    )
                });
            }
            format!(
                r#""type":"BOOLEAN_FLAG_TYPE","rollouts":[{}]"#,
                rollouts.join(",")
            )
        } else {
            let mut rules = Vec::new();
            for _ in 0..(b.byte() % 3) {
                let dists: Vec<String> = (0..(b.byte() % 4))
                    .map(|d| {
                        format!(
                            r#"{{"variantKey":"v{d}","variantAttachment":"{{}}","rollout":{}}}"#,
                            b.pick(ROLLOUTS)
                        )
                    })
                    .collect();
                rules.push(format!(
                    r#"{{"segmentOperator":"{}","segments":[{}],"distributions":[{}]}}"#,
                    op(&mut b),
                    segments.join(","),
                    dists.join(",")
                ));
            }
            let default = if b.byte() % 2 == 0 {
                r#","defaultVariant":{"id":"d","key":"d","attachment":"null"}"#
            } else {
                ""
            };
            format!(
                r#""type":"VARIANT_FLAG_TYPE","rules":[{}]{default}"#,
                rules.join(",")
            )
        };
        flags.push(format!(
            r#"{{"key":"f{fi}","name":"","enabled":{},{body}}}"#,
            b.byte() % 4 != 0
        ));
    }
    let doc = format!(
        r#"{{"namespace":{{"key":"default"}},"flags":[{}]}}"#,
        flags.join(",")
    );
    let snapshot = match Snapshot::from_document(&doc) {
        Ok(s) => s,
        Err(e) => panic!("generated document does not load: {e}\n{doc}"),
    };
    let snapshot = Arc::new(snapshot);
    // Arbitrary requests: flag keys and entity ids from the remaining bytes.
    let rest = b.0;
    for chunk in rest.chunks(8).take(16) {
        let text = String::from_utf8_lossy(chunk);
        let flag = format!("f{}", chunk.first().copied().unwrap_or(0) % 5);
        let ctx = [
            ("p", text.as_ref()),
            ("q", "5"),
            ("r", "2024-01-01T00:00:00Z"),
            ("plan", "a"),
        ];
        let _ = outcome(&snapshot, &flag, &text, &ctx);
    }
    let owned = match Snapshot::from_base64(&snapshot.to_base64()) {
        Ok(s) => s,
        Err(e) => panic!("export does not load: {e}"),
    };
    probe(&snapshot, &Arc::new(owned), rest);
}

/// `s` as a JSON string literal.
fn json(s: &str) -> String {
    let mut out = String::new();
    crate::util::json::write_str(&mut out, s);
    out
}
