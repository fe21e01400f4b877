//! The worked examples of docs/EVALUATION.md §13 against the bundled snapshot (docs/PROTOCOL.md §5.5),
//! plus the engine's behaviour on hand-made seeds and foreign namespaces.

use flipt_client::{BatchItem, Error, EvaluationRequest, FliptClient, Reason, Snapshot};

fn client() -> FliptClient {
    FliptClient::from_snapshot_json(include_str!("../examples/data/snapshot.json")).unwrap()
}

#[test]
fn checkout_theme_examples() {
    let c = client();
    let pro30 = [("plan", "pro"), ("age", "30")];
    for (entity, variant) in [
        ("user-1", "blue"),
        ("user-2", "green"),
        ("user-3", "blue"),
        ("user-4", "green"),
    ] {
        let r = c
            .evaluate_variant("checkout-theme", entity, &pro30)
            .unwrap();
        assert!(r.is_match());
        assert_eq!(r.reason(), Reason::Match);
        assert_eq!(r.variant_key(), variant, "{entity}");
        assert_eq!(r.segment_keys().collect::<Vec<_>>(), ["pro-users"]);
    }
    let r = c
        .evaluate_variant("checkout-theme", "user-2", &pro30)
        .unwrap();
    assert_eq!(r.variant_attachment(), Some("null"));

    let r = c
        .evaluate_variant(
            "checkout-theme",
            "user-1",
            &[("plan", "pro"), ("age", "17")],
        )
        .unwrap();
    assert!(!r.is_match());
    assert_eq!((r.reason(), r.variant_key()), (Reason::Default, "control"));
    assert_eq!(r.segment_keys().count(), 0);

    let r = c
        .evaluate_variant("checkout-theme", "alice@example.com", &())
        .unwrap();
    assert!(r.is_match());
    assert_eq!((r.reason(), r.variant_key()), (Reason::Match, "control"));
    assert_eq!(r.segment_keys().collect::<Vec<_>>(), ["internal"]);

    let r = c
        .evaluate_variant("checkout-theme", "bob", &[("team", "qa")])
        .unwrap();
    assert_eq!((r.is_match(), r.variant_key()), (true, "control"));
    let r = c
        .evaluate_variant("checkout-theme", "bob", &[("plan", "pro"), ("age", "30.5")])
        .unwrap();
    assert_eq!((r.is_match(), r.reason()), (false, Reason::Default));
}

#[test]
fn new_search_examples() {
    let c = client();
    let r = c
        .evaluate_boolean("new-search", "user-1", &[("beta", "true")])
        .unwrap();
    assert!(
        r.is_enabled(),
        "a disabled boolean flag still evaluates its rollouts"
    );
    assert_eq!(r.reason(), Reason::Match);
    assert_eq!(r.segment_keys().collect::<Vec<_>>(), ["beta-testers"]);
    for (entity, enabled, reason) in [
        ("user-1", false, Reason::Default),
        ("user-2", false, Reason::Default),
        ("user-3", false, Reason::Default),
        ("user-5", true, Reason::Match),
        ("user-6", true, Reason::Match),
    ] {
        let r = c.evaluate_boolean("new-search", entity, &()).unwrap();
        assert_eq!((r.is_enabled(), r.reason()), (enabled, reason), "{entity}");
        assert_eq!(r.segment_keys().count(), 0);
    }
}

#[test]
fn error_texts() {
    let c = client();
    let e = c.evaluate_variant("new-search", "u", &()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid request: new-search is not a variant flag"
    );
    let e = c.evaluate_boolean("checkout-theme", "u", &()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid request: checkout-theme is not a boolean flag"
    );
    let e = c.evaluate_boolean("nope", "u", &()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid request: failed to get flag information default/nope"
    );
}

#[test]
fn another_namespace_finds_nothing() {
    let snapshot = Snapshot::parse(include_str!("../examples/data/snapshot.json")).unwrap();
    let c = FliptClient::from_snapshot_in("mine", snapshot);
    let e = c.evaluate_variant("checkout-theme", "u", &()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid request: failed to get flag information mine/checkout-theme"
    );
    assert_eq!(
        c.list_flags().unwrap_err().to_string(),
        "unknown error: failed to get flags for mine"
    );
    let batch = c
        .evaluate_batch(&[EvaluationRequest::new("checkout-theme", "u", &())])
        .unwrap();
    match &batch.responses[0] {
        BatchItem::Error(e) => {
            assert_eq!(&*e.namespace_key, "mine");
            assert_eq!(e.flag_key, "checkout-theme");
        }
        other => panic!("expected an error item, got {other:?}"),
    }
}

fn seed(namespace_body: &str) -> FliptClient {
    let json = format!(r#"{{"version":1,"namespace":{{"key":"default",{namespace_body}}}}}"#);
    FliptClient::from_snapshot(Snapshot::from_engine_json(&json).unwrap())
}

#[test]
fn incomplete_seeds_fail_like_the_engine() {
    let flags = r#""flags":{"v":{"key":"v","enabled":true,"type":"VARIANT_FLAG_TYPE"},"b":{"key":"b","enabled":true,"type":"BOOLEAN_FLAG_TYPE"}}"#;
    let c = seed(&format!(
        r#"{flags},"eval_rules":{{}},"eval_rollouts":{{}},"eval_distributions":{{}}"#
    ));
    assert_eq!(
        c.evaluate_variant("v", "u", &()).unwrap_err().to_string(),
        "unknown error: error getting evaluation rules for namespace default and flag v"
    );
    assert_eq!(
        c.evaluate_boolean("b", "u", &()).unwrap_err().to_string(),
        "unknown error: error getting evaluation rollouts for namespace default and flag b"
    );
    // A batch fails as a whole on such an error.
    let e = c
        .evaluate_batch(&[EvaluationRequest::new("b", "u", &())])
        .unwrap_err();
    assert!(matches!(e, Error::MissingRollouts { .. }));

    // AND over no segments matches everyone; OR over none matches no one.
    let rule = |id: &str, rank: u32, op: &str| {
        format!(
            r#"{{"id":"{id}","flag_key":"v","segments":{{}},"rank":{rank},"segment_operator":"{op}_SEGMENT_OPERATOR"}}"#
        )
    };
    let c = seed(&format!(
        r#"{flags},"eval_rules":{{"v":[{}]}},"eval_rollouts":{{"b":[]}},"eval_distributions":{{}}"#,
        rule("v-1", 1, "AND")
    ));
    assert_eq!(
        c.evaluate_variant("v", "u", &()).unwrap_err().to_string(),
        "unknown error: error getting evaluation distributions for namespace default and rule v-1"
    );
    let c = seed(&format!(
        r#"{flags},"eval_rules":{{"v":[{},{}]}},"eval_rollouts":{{"b":[]}},"eval_distributions":{{}}"#,
        rule("v-1", 2, "OR"),
        rule("v-2", 1, "AND")
    ));
    assert_eq!(
        c.evaluate_variant("v", "u", &()).unwrap_err().to_string(),
        "invalid request: rule rank: 1 detected out of order"
    );
}

#[test]
fn rank_out_of_order_is_reported() {
    let flags = r#""flags":{"b":{"key":"b","enabled":true,"type":"BOOLEAN_FLAG_TYPE"}}"#;
    let c = seed(&format!(
        r#"{flags},"eval_rules":{{"b":[]}},"eval_rollouts":{{"b":[{{"rollout_type":"THRESHOLD_ROLLOUT_TYPE","rank":2,"threshold":{{"percentage":0,"value":true}}}},{{"rollout_type":"THRESHOLD_ROLLOUT_TYPE","rank":1,"threshold":{{"percentage":0,"value":true}}}}]}},"eval_distributions":{{}}"#
    ));
    assert_eq!(
        c.evaluate_boolean("b", "u", &()).unwrap_err().to_string(),
        "invalid request: rollout rank: 1 detected out of order"
    );
}

#[test]
fn segment_keys_follow_document_order_and_collapse_duplicates() {
    let doc = r#"{"namespace":{"key":"default"},"flags":[{"key":"f","name":"","enabled":true,"rules":[
        {"segmentOperator":"OR_SEGMENT_OPERATOR","distributions":[],"segments":[
          {"key":"z","matchType":"ALL_SEGMENT_MATCH_TYPE","constraints":[]},
          {"key":"a","matchType":"ALL_SEGMENT_MATCH_TYPE","constraints":[{"type":"STRING_CONSTRAINT_COMPARISON_TYPE","property":"p","operator":"eq","value":"never"}]},
          {"key":"m","matchType":"ANY_SEGMENT_MATCH_TYPE","constraints":[]},
          {"key":"a","matchType":"ALL_SEGMENT_MATCH_TYPE","constraints":[]}]}]}]}"#;
    let c = FliptClient::from_snapshot_json(doc).unwrap();
    let r = c.evaluate_variant("f", "u", &()).unwrap();
    // The later definition of "a" (no constraints) wins; it keeps the first position.
    assert_eq!(r.segment_keys().collect::<Vec<_>>(), ["z", "a", "m"]);
}

#[test]
fn many_or_segments_are_all_reported() {
    let segs: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"key":"s{i}","matchType":"ALL_SEGMENT_MATCH_TYPE","constraints":[{{"type":"NUMBER_CONSTRAINT_COMPARISON_TYPE","property":"n","operator":"gte","value":"{i}"}}]}}"#))
        .collect();
    let doc = format!(
        r#"{{"namespace":{{"key":"default"}},"flags":[{{"key":"f","name":"","enabled":true,"rules":[{{"segmentOperator":"OR_SEGMENT_OPERATOR","distributions":[],"segments":[{}]}}]}}]}}"#,
        segs.join(",")
    );
    let c = FliptClient::from_snapshot_json(&doc).unwrap();
    let r = c.evaluate_variant("f", "u", &[("n", "70")]).unwrap();
    let keys: Vec<_> = r.segment_keys().collect();
    assert_eq!(keys.len(), 71);
    assert_eq!(keys[0], "s0");
    assert_eq!(keys[70], "s70");
}
