//! Snapshot content the official engine does not know loads exactly as in the engine (the
//! conformance vectors include such content and pass), and is told: `Snapshot::warnings`
//! names the kind and the path of the first occurrence, and the load logs it.

use flipt_client::{FliptClient, Snapshot, WarningKind};

/// One of each unknown thing, each where it decides the answer.
const DOC: &str = r#"{"namespace":{"key":"default"},"flags":[
  {"key":"ok","name":"","enabled":true,"type":"BOOLEAN_FLAG_TYPE","rollouts":[]},
  {"key":"text","name":"","enabled":true,"type":"STRING_FLAG_TYPE","rules":[
    {"segmentOperator":"XOR_SEGMENT_OPERATOR","segments":[
       {"key":"a","matchType":"ALL_SEGMENT_MATCH_TYPE","constraints":[
          {"type":"STRING_CONSTRAINT_COMPARISON_TYPE","property":"plan","operator":"matches","value":"pro"}]},
       {"key":"b","matchType":"SOME_SEGMENT_MATCH_TYPE","constraints":[
          {"type":"STRING_CONSTRAINT_COMPARISON_TYPE","property":"plan","operator":"eq","value":"pro"},
          {"type":"STRING_CONSTRAINT_COMPARISON_TYPE","property":"plan","operator":"eq","value":"free"}]}],
     "distributions":[{"variantKey":"blue","rollout":100}]},
    {"segmentOperator":"OR_SEGMENT_OPERATOR","segments":[
       {"key":"c","matchType":"ALL_SEGMENT_MATCH_TYPE","constraints":[
          {"type":"REGEX_CONSTRAINT_COMPARISON_TYPE","property":"plan","operator":"eq","value":"pro"}]}],
     "distributions":[{"variantKey":"red","rollout":100}]}]},
  {"key":"gate","name":"","enabled":false,"type":"BOOLEAN_FLAG_TYPE","rollouts":[
    {"type":"PERCENTAGE_ROLLOUT_TYPE","rank":1},
    {"type":"THRESHOLD_ROLLOUT_TYPE","rank":2,"threshold":{"percentage":100,"value":true}}]}]}"#;

#[test]
fn each_unknown_kind_is_named_with_its_first_path() {
    let s = Snapshot::from_document(DOC).unwrap();
    let got: Vec<(WarningKind, &str)> = s.warnings().iter().map(|w| (w.kind(), w.path())).collect();
    assert_eq!(
        got,
        [
            (WarningKind::UnknownFlagType, "flags[1].type"),
            (
                WarningKind::UnknownConstraintType,
                "flags[1].rules[1].segments[0].constraints[0].type"
            ),
            (
                WarningKind::UnknownOperator,
                "flags[1].rules[0].segments[0].constraints[0].operator"
            ),
            (WarningKind::UnknownRolloutType, "flags[2].rollouts[0]"),
            (
                WarningKind::UnknownMatchType,
                "flags[1].rules[0].segments[1].matchType"
            ),
            (
                WarningKind::UnknownSegmentOperator,
                "flags[1].rules[0].segmentOperator"
            ),
        ]
    );
    let texts: Vec<String> = s.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        texts[0],
        r#"flags[1].type: unknown flag type "STRING_FLAG_TYPE", evaluated as a variant flag"#
    );
    assert_eq!(
        texts[2],
        r#"flags[1].rules[0].segments[0].constraints[0].operator: unknown operator "matches" for a STRING_CONSTRAINT_COMPARISON_TYPE constraint: it never matches"#
    );
    // An ordinary snapshot has none.
    let bundled = Snapshot::parse(include_str!("../examples/data/snapshot.json")).unwrap();
    assert!(bundled.warnings().is_empty());
}

#[test]
fn the_answers_are_the_engines() {
    let client = FliptClient::from_snapshot(Snapshot::from_document(DOC).unwrap());
    // STRING_FLAG_TYPE is a variant flag.
    assert!(client.evaluate_boolean("text", "u", &()).is_err());
    // Rule 1: "matches" never matches; segment b's unknown match type is ANY (one of its two
    // constraints holds); the unknown segment operator is OR: one segment of two suffices.
    let r = client
        .evaluate_variant("text", "u", &[("plan", "pro")])
        .unwrap();
    assert_eq!(r.variant_key(), "blue");
    // Neither constraint of b holds for "team"; rule 2's unknown constraint type fails its
    // segment: no match.
    let r = client
        .evaluate_variant("text", "u", &[("plan", "team")])
        .unwrap();
    assert!(!r.is_match());
    // The unknown rollout is skipped; the threshold after it answers.
    assert!(client
        .evaluate_boolean("gate", "u", &())
        .unwrap()
        .is_enabled());
}

#[test]
fn the_conformance_snapshots_with_unknown_content_are_told() {
    // gen-seed2 (from the official engine) has a STRING_FLAG_TYPE flag and unknown operators;
    // its vectors pass in tests/conformance.rs with these answers.
    let file: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/gen-seed2.json")).unwrap();
    let s = Snapshot::parse(&file["snapshot"].to_string()).unwrap();
    let kinds: Vec<WarningKind> = s.warnings().iter().map(|w| w.kind()).collect();
    assert!(kinds.contains(&WarningKind::UnknownFlagType), "{kinds:?}");
    assert!(kinds.contains(&WarningKind::UnknownOperator), "{kinds:?}");
}
