//! Beyond the official SDKs, offline: flag handles, explanations and staleness. (Change
//! notifications and persistence have files of their own.)

mod support;

use flipt_client::{Error, FliptClient, Reason, Snapshot, SnapshotSource};
use std::collections::HashMap;
use std::time::Duration;
use support::server::doc_with;
use support::vectors;

// ---- flag handles ----

#[test]
fn handles_stay_correct_across_1000_swaps() {
    let with = Snapshot::from_document(&doc_with("default", &[("f", true), ("g", false)])).unwrap();
    let with_off =
        Snapshot::from_document(&doc_with("default", &[("g", true), ("f", false)])).unwrap();
    let without = Snapshot::from_document(&doc_with("default", &[("g", true)])).unwrap();
    let (with, with_off, without) = (with.to_base64(), with_off.to_base64(), without.to_base64());
    let client = FliptClient::from_snapshot(Snapshot::empty("default"));
    let f = client.flag("f");
    let g = client.flag("g");
    let mut checked = 0;
    for i in 0..1000 {
        let (seed, expect) = match i % 3 {
            0 => (&with, Some(true)),
            1 => (&without, None),
            _ => (&with_off, Some(false)),
        };
        client.set_snapshot(Snapshot::from_base64(seed).unwrap());
        // Twice: once re-resolving, once from the cache.
        for _ in 0..2 {
            match (f.evaluate_boolean("u", &()), expect) {
                (Ok(r), Some(v)) => assert_eq!(r.is_enabled(), v, "swap {i}"),
                (Err(Error::FlagNotFound { .. }), None) => {}
                (other, _) => panic!("swap {i}: {other:?}, expected {expect:?}"),
            }
            assert_eq!(
                g.evaluate_boolean("u", &()).unwrap().is_enabled(),
                client.evaluate_boolean("g", "u", &()).unwrap().is_enabled()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2000);
    assert_eq!(
        f.evaluate_variant("u", &()).unwrap_err().to_string(),
        "invalid request: f is not a variant flag"
    );
}

#[test]
fn handles_agree_with_keys_on_the_vectors() {
    for (_, file) in vectors::files() {
        let client = FliptClient::from_snapshot_in(
            file["namespace"].as_str().unwrap(),
            Snapshot::from_document(&file["snapshot"].to_string()).unwrap(),
        );
        let mut handles = HashMap::new();
        for case in file["cases"].as_array().unwrap() {
            let kind = case["type"].as_str().unwrap();
            if kind != "variant" && kind != "boolean" {
                continue;
            }
            let req = &case["request"];
            let key = req["flag_key"].as_str().unwrap();
            let entity = req["entity_id"].as_str().unwrap();
            let ctx: Vec<(String, String)> = vectors::context(req);
            let handle = handles
                .entry(key.to_string())
                .or_insert_with(|| client.flag(key));
            let (by_key, by_handle) = if kind == "variant" {
                (
                    client
                        .evaluate_variant(key, entity, ctx.as_slice())
                        .map(|r| r.to_json()),
                    handle
                        .evaluate_variant(entity, ctx.as_slice())
                        .map(|r| r.to_json()),
                )
            } else {
                (
                    client
                        .evaluate_boolean(key, entity, ctx.as_slice())
                        .map(|r| r.to_json()),
                    handle
                        .evaluate_boolean(entity, ctx.as_slice())
                        .map(|r| r.to_json()),
                )
            };
            assert_eq!(
                by_key.map_err(|e| e.to_string()),
                by_handle.map_err(|e| e.to_string()),
                "{}",
                case["name"]
            );
        }
    }
}

// ---- explanations ----

#[test]
fn explanations_agree_with_results_on_every_vector() {
    let mut checked = 0;
    for (name, file) in vectors::files() {
        let client = FliptClient::from_snapshot_in(
            file["namespace"].as_str().unwrap(),
            Snapshot::from_document(&file["snapshot"].to_string()).unwrap(),
        );
        for case in file["cases"].as_array().unwrap() {
            let kind = case["type"].as_str().unwrap();
            if kind != "variant" && kind != "boolean" {
                continue;
            }
            let req = &case["request"];
            let key = req["flag_key"].as_str().unwrap();
            let entity = req["entity_id"].as_str().unwrap();
            let ctx: HashMap<String, String> = vectors::context(req);
            let (real, why) = if kind == "variant" {
                let real = client.evaluate_variant(key, entity, &ctx).map(|r| {
                    let mut keys: Vec<String> = r.segment_keys().map(str::to_string).collect();
                    keys.sort();
                    (r.is_match(), r.reason(), r.variant_key().to_string(), keys)
                });
                (real, client.explain_variant(key, entity, &ctx))
            } else {
                let real = client.evaluate_boolean(key, entity, &ctx).map(|r| {
                    let mut keys: Vec<String> = r.segment_keys().map(str::to_string).collect();
                    keys.sort();
                    (r.is_enabled(), r.reason(), String::new(), keys)
                });
                (real, client.explain_boolean(key, entity, &ctx))
            };
            match (real, why) {
                (Ok(real), Ok(why)) => {
                    let mut keys = why.outcome.segment_keys.clone();
                    keys.sort();
                    let explained = (
                        why.outcome.value,
                        why.outcome.reason,
                        why.outcome.variant_key.clone(),
                        keys,
                    );
                    let explained = if kind == "boolean" {
                        (explained.0, explained.1, String::new(), explained.3)
                    } else {
                        explained
                    };
                    assert_eq!(real, explained, "{name} / {}:\n{why}", case["name"]);
                    assert!(!why.to_string().is_empty());
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!(
                    "{name} / {}: result {a:?} but explanation {b:?}",
                    case["name"]
                ),
            }
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn an_explanation_reads_well() {
    let client = FliptClient::from_snapshot_file("examples/data/snapshot.json").unwrap();
    let why = client
        .explain_variant(
            "checkout-theme",
            "user-2",
            &[("plan", "pro"), ("age", "30")],
        )
        .unwrap();
    let text = why.to_string();
    assert!(
        text.contains("rule 1 (OR of 1 segments): matched"),
        "{text}"
    );
    assert!(text.contains(r#"context["age"] = "30" gte "18""#), "{text}");
    assert!(
        text.contains("bucket 853 of 1000; boundaries [500, 1000]"),
        "{text}"
    );
    assert!(text.ends_with(r#"result: match=true variant="green" reason=MATCH_EVALUATION_REASON segments=["pro-users"]"#), "{text}");
    let why = client.explain_boolean("new-search", "user-5", &()).unwrap();
    assert!(
        why.to_string()
            .contains("rollout 2: threshold 25%, bucket 17 of 100 -> hit, value true"),
        "{why}"
    );
    assert_eq!(why.outcome.reason, Reason::Match);
}

// ---- staleness ----

#[test]
fn health_tells_the_source_and_age() {
    let client = FliptClient::from_snapshot_file("examples/data/snapshot.json").unwrap();
    let h = client.health();
    assert_eq!(h.source, SnapshotSource::Local);
    assert!(h.snapshot_age() < Duration::from_secs(60));
    assert!(h.last_success.is_none() && h.last_error.is_none());
    client.set_snapshot(Snapshot::empty("default"));
    assert_eq!(client.health().generation, 2);
}
