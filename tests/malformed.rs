//! Bad snapshot input never panics and always yields a typed error that says what is wrong.

use flipt_client::{Error, ErrorKind, FliptClient, Snapshot};

const GOOD: &str = include_str!("../examples/data/snapshot.json");

fn err(input: &str) -> flipt_client::SnapshotError {
    match Snapshot::parse(input) {
        Ok(_) => panic!("accepted malformed input: {:.80}", input),
        Err(e) => e,
    }
}

#[test]
fn empty_input() {
    assert_eq!(err("").to_string(), "invalid snapshot: empty input");
    assert_eq!(err("   \n").to_string(), "invalid snapshot: empty input");
    assert!(Snapshot::from_document("")
        .unwrap_err()
        .to_string()
        .contains("empty input"));
}

#[test]
fn every_truncation_of_a_good_document_is_rejected() {
    let good = GOOD.trim_end();
    for cut in 1..good.len() {
        if !good.is_char_boundary(cut) {
            continue;
        }
        let e = Snapshot::from_document(&good[..cut]).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
    let e = Snapshot::from_document(&good[..good.len() / 2]).unwrap_err();
    assert!(e.to_string().contains("unexpected end of input"), "{e}");
}

#[test]
fn syntax_errors_name_line_and_column() {
    let e = err("{\"namespace\": {\"key\": \"default\"},\n \"flags\": [,]}");
    assert_eq!(
        e.to_string(),
        "invalid snapshot: expected a value at line 2 column 12"
    );
    let e = err(r#"{"namespace":{"key":"default"},"flags":[]} trailing"#);
    assert!(e.to_string().contains("trailing characters"), "{e}");
}

#[test]
fn wrong_types_name_the_field_path() {
    let cases = [
        (
            r#"{"namespace":{"key":1},"flags":[]}"#,
            "namespace.key: expected a string",
        ),
        (
            r#"{"namespace":{"key":"d"},"flags":{}}"#,
            "flags: expected an array",
        ),
        (
            r#"{"namespace":{"key":"d"}}"#,
            "flags: missing required field",
        ),
        (
            r#"{"namespace":{"key":"d"},"flags":[{"key":"a","name":"","enabled":"yes"}]}"#,
            "flags[0].enabled: expected true or false",
        ),
        (
            r#"{"namespace":{"key":"d"},"flags":[{"key":"a","name":"","enabled":true,"rules":[{"segmentOperator":"OR_SEGMENT_OPERATOR","distributions":[{"variantKey":"v","rollout":"50"}]}]}]}"#,
            "flags[0].rules[0].distributions[0].rollout: expected a number",
        ),
        (
            r#"{"namespace":{"key":"d"},"flags":[{"key":"a","name":"","enabled":true,"rules":[{"distributions":[]}]}]}"#,
            "flags[0].rules[0].segmentOperator: missing required field",
        ),
        (
            r#"{"namespace":{"key":"d"},"flags":[{"key":"a","name":"","enabled":true,"rollouts":[{"segment":{"value":true,"segments":[{"key":"s","matchType":"ALL_SEGMENT_MATCH_TYPE","constraints":[{"type":"x","property":"p","operator":"eq"}]}]}}]}]}"#,
            "flags[0].rollouts[0].segment.segments[0].constraints[0].value: missing required field",
        ),
        (
            r#"{"namespace":{"key":"d"},"flags":[{"key":null,"name":"","enabled":true}]}"#,
            "flags[0].key: missing required field",
        ),
        (r#"[]"#, "expected an object"),
    ];
    for (input, want) in cases {
        let e = err(input);
        assert!(
            e.to_string().ends_with(want),
            "for {input}\n got {e}\nwant …{want}"
        );
        let as_error: Error = e.into();
        assert_eq!(as_error.kind(), ErrorKind::InvalidJson);
    }
}

#[test]
fn huge_numbers_are_rejected() {
    let doc = |n: &str| {
        format!(
            r#"{{"namespace":{{"key":"d"}},"flags":[{{"key":"a","name":"","enabled":true,"rules":[{{"segmentOperator":"OR_SEGMENT_OPERATOR","distributions":[{{"variantKey":"v","rollout":{n}}}]}}]}}]}}"#
        )
    };
    let e = err(&doc("1e39"));
    assert_eq!(e.path(), Some("flags[0].rules[0].distributions[0].rollout"));
    assert_eq!(e.message(), "number out of range for a 32-bit float");
    assert!(err(&doc("1e400")).to_string().contains("out of range"));
    assert!(err(&doc("-1e39")).to_string().contains("out of range"));
    let digits = "9".repeat(5000);
    assert!(Snapshot::parse(&doc(&digits)).is_err());
    // In range values still load.
    assert!(Snapshot::parse(&doc("3.4e38")).is_ok());
}

#[test]
fn invalid_escapes_are_rejected() {
    for bad in [
        r#"\ud800"#,
        r#"\udc00x"#,
        r#"\u12"#,
        r#"\x41"#,
        r#"\ud800\u0041"#,
    ] {
        let input = format!(r#"{{"namespace":{{"key":"{bad}"}},"flags":[]}}"#);
        let e = err(&input);
        assert!(e.to_string().contains("invalid string"), "{bad}: {e}");
    }
    // A raw control character inside a string.
    assert!(err("{\"namespace\":{\"key\":\"a\u{1}\"},\"flags\":[]}")
        .to_string()
        .contains("invalid string"));
}

#[test]
fn invalid_utf8_bytes_are_rejected() {
    let mut bytes = GOOD.as_bytes().to_vec();
    bytes[20] = 0xFF;
    let e = Snapshot::parse_bytes(&bytes).unwrap_err();
    assert!(e.to_string().contains("not UTF-8"), "{e}");
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    for depth in [1_000, 100_000, 1_000_000] {
        let input = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(Snapshot::from_document(&input).is_err());
        let unclosed = format!(
            r#"{{"namespace":{{"key":"d"}},"flags":{}"#,
            "[".repeat(depth)
        );
        assert!(Snapshot::from_document(&unclosed).is_err());
    }
    let input = format!(
        r#"{{"namespace":{{"key":"d"}},"flags":[],"x":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    // Unknown fields are ignored however deep they are.
    assert!(Snapshot::from_document(&input).is_ok());
}

#[test]
fn base64_that_is_not_base64() {
    for bad in ["not base64!", "eyJ", "====", "eyJ2ZXJzaW9uIjoxfQ", "%%%%"] {
        let e = Snapshot::from_base64(bad).unwrap_err();
        assert!(e.to_string().contains("base64"), "{bad}: {e}");
    }
    // Valid base64 of something that is not a snapshot.
    let e = Snapshot::from_base64("eyJ2ZXJzaW9uIjoxfQ==").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid snapshot: namespace: missing required field"
    );
    // Valid base64 of bytes that are not UTF-8.
    assert!(Snapshot::from_base64("//79")
        .unwrap_err()
        .to_string()
        .contains("UTF-8"));
    // A server document is not a seed.
    use base64::Engine as _;
    let doc = base64::engine::general_purpose::STANDARD.encode(GOOD);
    assert!(Snapshot::from_base64(&doc).is_err());
}

#[test]
fn engine_seed_errors_name_the_field() {
    let e = Snapshot::from_engine_json(
        r#"{"version":1,"namespace":{"key":"d","flags":{"a":{"key":"a","enabled":true}},"eval_rules":{},"eval_rollouts":{},"eval_distributions":{}}}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid snapshot: namespace.flags["a"].type: missing required field"#
    );
}

#[test]
fn client_from_file_reports_io_and_parse_errors() {
    let e = FliptClient::from_snapshot_file("/nonexistent/flags.json").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("/nonexistent/flags.json"), "{e}");
    let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
    assert_eq!(
        source.map(|s| s.kind()),
        Some(std::io::ErrorKind::NotFound),
        "the io::Error is the source"
    );
    let dir = std::env::temp_dir().join(format!("flipt-malformed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    std::fs::write(&path, "{\"namespace\":").unwrap();
    let e = FliptClient::from_snapshot_file(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidJson);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_digest_of_any_type_is_ignored_as_the_engine_ignores_it() {
    for digest in ["5", "null", "{}", "[1]", "\"short\""] {
        let text = format!(r#"{{"namespace":{{"key":"default"}},"flags":[],"digest":{digest}}}"#);
        let s = flipt_client::Snapshot::from_document(&text).unwrap();
        assert_eq!(
            s.digest(),
            (digest == "\"short\"").then_some("short"),
            "{digest}"
        );
    }
}
