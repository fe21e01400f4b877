//! Every case of every vector file in `tests/fixtures/` (produced by Flipt's official engine)
//! must come out identical through the public API, compared as `tests/fixtures/CONFORMANCE.md`
//! describes. Each case runs twice: with a `HashMap` context and with a slice of pairs.

mod support;

use base64::Engine as _;
use flipt_client::json::{envelope, flags_json};
use flipt_client::{EvaluationRequest, FliptClient, Snapshot};
use serde_json::Value;
use std::collections::HashMap;
use support::vectors;

fn context_map(req: &Value) -> HashMap<String, String> {
    vectors::context(req)
}

fn context_pairs(req: &Value) -> Vec<(String, String)> {
    vectors::context(req)
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("request field {key}"))
}

/// Runs one case through the public API and renders the engine's envelope.
fn run_case<C: flipt_client::Context>(
    client: &FliptClient,
    kind: &str,
    req: &Value,
    ctx: fn(&Value) -> C,
) -> String {
    match kind {
        "variant" => envelope(
            client
                .evaluate_variant(
                    str_field(req, "flag_key"),
                    str_field(req, "entity_id"),
                    &ctx(req),
                )
                .map(|r| r.to_json()),
        ),
        "boolean" => envelope(
            client
                .evaluate_boolean(
                    str_field(req, "flag_key"),
                    str_field(req, "entity_id"),
                    &ctx(req),
                )
                .map(|r| r.to_json()),
        ),
        "batch" => {
            let items = req["requests"].as_array().expect("batch requests");
            let contexts: Vec<C> = items.iter().map(ctx).collect();
            let requests: Vec<_> = items
                .iter()
                .zip(&contexts)
                .map(|(r, c)| {
                    EvaluationRequest::new(str_field(r, "flag_key"), str_field(r, "entity_id"), c)
                })
                .collect();
            envelope(client.evaluate_batch(&requests).map(|b| b.to_json()))
        }
        "list_flags" => envelope(client.list_flags().map(|f| flags_json(&f))),
        "snapshot" => envelope(client.get_snapshot().map(|b64| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("our base64");
            String::from_utf8(bytes).expect("utf-8")
        })),
        other => panic!("unknown case type {other}"),
    }
}

fn check_file(name: &str, file: &Value, client: &FliptClient, failures: &mut Vec<String>) -> usize {
    let cases = file["cases"].as_array().expect("cases");
    for case in cases {
        let kind = case["type"].as_str().expect("type");
        for ours in [
            run_case(client, kind, &case["request"], context_map),
            run_case(client, kind, &case["request"], context_pairs),
        ] {
            if let Err(e) = vectors::check(case, &ours) {
                failures.push(format!(
                    "{name} / {}:\n  {e}",
                    case["name"].as_str().unwrap_or("?")
                ));
                break;
            }
        }
    }
    cases.len()
}

fn client_for(file: &Value) -> FliptClient {
    let snapshot =
        Snapshot::from_document(&file["snapshot"].to_string()).expect("vector snapshot loads");
    FliptClient::from_snapshot_in(file["namespace"].as_str().expect("namespace"), snapshot)
}

fn report(failures: &[String], what: &str) {
    for f in failures.iter().take(30) {
        eprintln!("{f}");
    }
    assert!(failures.is_empty(), "{} {what}", failures.len());
}

#[test]
fn conformance_vectors_match_the_official_engine() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, file) in vectors::files() {
        total += check_file(&name, &file, &client_for(&file), &mut failures);
    }
    report(&failures, &format!("of {total} conformance cases differ"));
    assert!(total > 10_000, "only {total} cases ran");
}

/// A seed exported by `get_snapshot` and loaded back gives the same answers on every case.
#[test]
fn exported_snapshot_round_trips_through_every_case() {
    let mut failures = Vec::new();
    for (name, file) in vectors::files() {
        let original = client_for(&file);
        let seed = original.get_snapshot().expect("export");
        let snapshot = Snapshot::from_base64(&seed).expect("seed loads");
        let reloaded = FliptClient::from_snapshot_in(original.namespace(), snapshot);
        assert_eq!(
            reloaded.get_snapshot().expect("export again").len(),
            seed.len()
        );
        check_file(&name, &file, &reloaded, &mut failures);
    }
    report(&failures, "cases differ after a get_snapshot round trip");
}
