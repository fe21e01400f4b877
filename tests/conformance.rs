//! Every case of every vector file in `tests/fixtures/` (produced by Flipt's official engine)
//! must come out identical through the public API, compared as `tests/fixtures/CONFORMANCE.md`
//! describes. Each case runs twice: with a `HashMap` context and with a slice of pairs.

use base64::Engine as _;
use flipt_client::{envelope, flags_json, EvaluationRequest, FliptClient};
use serde_json::Value;
use std::collections::HashMap;

fn fixtures() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "expected the conformance vector files in {dir}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read fixture");
            (p.file_name().unwrap().to_string_lossy().into_owned(), serde_json::from_str(&text).expect("fixture JSON"))
        })
        .collect()
}

fn context_map(req: &Value) -> HashMap<String, String> {
    match req.get("context") {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
        _ => HashMap::new(),
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("request field {key}"))
}

/// Applies the normalisation rules of the vectors' README.
fn normalise(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("timestamp");
            m.remove("request_duration_millis");
            if let Some(Value::Array(keys)) = m.get_mut("segment_keys") {
                keys.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
            for (_, x) in m.iter_mut() {
                normalise(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalise),
        _ => {}
    }
}

/// JSON equality with numbers compared as f32 (the snapshot export's rollouts).
fn same_f32(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().map(|v| v as f32) == y.as_f64().map(|v| v as f32),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_f32(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_f32(v, w)))
        }
        _ => a == b,
    }
}

fn run_case<C: flipt_client::Context>(client: &FliptClient, kind: &str, req: &Value, ctx: &dyn Fn(&Value) -> C) -> String {
    match kind {
        "variant" => envelope(
            client
                .evaluate_variant(str_field(req, "flag_key"), str_field(req, "entity_id"), &ctx(req))
                .map(|r| r.to_json()),
        ),
        "boolean" => envelope(
            client
                .evaluate_boolean(str_field(req, "flag_key"), str_field(req, "entity_id"), &ctx(req))
                .map(|r| r.to_json()),
        ),
        "batch" => {
            let items = req["requests"].as_array().expect("batch requests");
            let contexts: Vec<C> = items.iter().map(ctx).collect();
            let requests: Vec<_> = items
                .iter()
                .zip(&contexts)
                .map(|(r, c)| EvaluationRequest::new(str_field(r, "flag_key"), str_field(r, "entity_id"), c))
                .collect();
            envelope(client.evaluate_batch(&requests).map(|b| b.to_json()))
        }
        "list_flags" => envelope(client.list_flags().map(|mut f| {
            f.sort_by(|a, b| a.key.cmp(&b.key));
            flags_json(&f)
        })),
        "snapshot" => envelope(client.get_snapshot().map(|b64| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).expect("our base64");
            String::from_utf8(bytes).expect("utf-8")
        })),
        other => panic!("unknown case type {other}"),
    }
}

fn check_file(name: &str, file: &Value, client: &FliptClient, failures: &mut Vec<String>) -> usize {
    let cases = file["cases"].as_array().expect("cases");
    for case in cases {
        let case_name = case["name"].as_str().unwrap_or("?");
        let kind = case["type"].as_str().expect("type");
        let req = &case["request"];
        let mut expected = case["expected"].clone();
        normalise(&mut expected);
        if kind == "list_flags" {
            if let Some(Value::Array(a)) = expected.get_mut("result") {
                a.sort_by(|x, y| x["key"].as_str().cmp(&y["key"].as_str()));
            }
        }
        let outputs = [
            run_case(client, kind, req, &context_map),
            run_case(client, kind, req, &|r: &Value| context_map(r).into_iter().collect::<Vec<(String, String)>>()),
        ];
        for out in outputs {
            let mut got: Value = match serde_json::from_str(&out) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{name} / {case_name}: our output is not JSON ({e}): {out}"));
                    continue;
                }
            };
            normalise(&mut got);
            let ok = if kind == "snapshot" { same_f32(&got, &expected) } else { got == expected };
            if !ok {
                failures.push(format!("{name} / {case_name}:\n  expected {expected}\n  got      {got}"));
                break;
            }
        }
    }
    cases.len()
}

#[test]
fn conformance_vectors_match_the_official_engine() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, file) in fixtures() {
        let doc = file["snapshot"].to_string();
        let namespace = file["namespace"].as_str().expect("namespace");
        let snapshot = flipt_client::Snapshot::from_document(&doc).expect("vector snapshot loads");
        let client = FliptClient::from_snapshot_in(namespace, snapshot);
        total += check_file(&name, &file, &client, &mut failures);
    }
    for f in failures.iter().take(30) {
        eprintln!("{f}");
    }
    assert!(failures.is_empty(), "{} of {total} conformance cases differ", failures.len());
    assert!(total > 10_000, "only {total} cases ran");
}

/// A seed exported by `get_snapshot` and loaded back gives the same answers on every case.
#[test]
fn exported_snapshot_round_trips_through_every_case() {
    let mut failures = Vec::new();
    for (name, file) in fixtures() {
        let namespace = file["namespace"].as_str().expect("namespace");
        let original = FliptClient::from_snapshot_in(
            namespace,
            flipt_client::Snapshot::from_document(&file["snapshot"].to_string()).expect("loads"),
        );
        let seed = original.get_snapshot().expect("export");
        let reloaded = FliptClient::from_snapshot_in(namespace, flipt_client::Snapshot::from_base64(&seed).expect("seed loads"));
        assert_eq!(reloaded.get_snapshot().expect("export again").len(), seed.len());
        check_file(&name, &file, &reloaded, &mut failures);
    }
    for f in failures.iter().take(30) {
        eprintln!("{f}");
    }
    assert!(failures.is_empty(), "{} cases differ after a get_snapshot round trip", failures.len());
}
