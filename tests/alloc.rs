//! Successful evaluations on a warmed client perform no heap allocation. Counted with a
//! global allocator that counts only on the measuring thread.

mod support;

use support::vectors;

use flipt_client::{BatchItem, EvaluationRequest, FliptClient, Snapshot};
use serde_json::Value;
use std::collections::HashMap;

#[path = "../examples/support/counting.rs"]
mod counting;
use counting::allocations;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

struct Case {
    kind: String,
    flag: String,
    entity: String,
    context: HashMap<String, String>,
    pairs: Vec<(String, String)>,
}

fn load(name: &str) -> (FliptClient, Vec<Case>) {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let snapshot = Snapshot::from_document(&file["snapshot"].to_string()).unwrap();
    let client = FliptClient::from_snapshot_in(file["namespace"].as_str().unwrap(), snapshot);
    let mut cases = Vec::new();
    for c in file["cases"].as_array().unwrap() {
        let kind = c["type"].as_str().unwrap();
        if (kind == "variant" || kind == "boolean") && c["expected"]["status"] == "success" {
            let r = &c["request"];
            let context: HashMap<String, String> = vectors::context(r);
            cases.push(Case {
                kind: kind.into(),
                flag: r["flag_key"].as_str().unwrap().into(),
                entity: r["entity_id"].as_str().unwrap().into(),
                pairs: context.clone().into_iter().collect(),
                context,
            });
        }
    }
    (client, cases)
}

#[test]
fn variant_and_boolean_evaluations_allocate_nothing() {
    let mut checked = 0;
    for seed in 1..=5 {
        let (client, cases) = load(&format!("gen-seed{seed}.json"));
        for case in &cases {
            let (n, ok) = allocations(|| match case.kind.as_str() {
                "variant" => {
                    let a = client
                        .evaluate_variant(&case.flag, &case.entity, &case.context)
                        .is_ok();
                    let b = client
                        .evaluate_variant(&case.flag, &case.entity, case.pairs.as_slice())
                        .is_ok();
                    a && b
                }
                _ => {
                    let a = client
                        .evaluate_boolean(&case.flag, &case.entity, &case.context)
                        .is_ok();
                    let b = client
                        .evaluate_boolean(&case.flag, &case.entity, case.pairs.as_slice())
                        .is_ok();
                    a && b
                }
            });
            assert!(ok, "case should succeed: {} {}", case.flag, case.entity);
            assert_eq!(
                n, 0,
                "{} evaluation of {} for {:?} allocated {n} times",
                case.kind, case.flag, case.entity
            );
            checked += 1;
        }
    }
    assert!(checked > 5000, "only {checked} cases checked");
}

#[test]
fn evaluations_through_flag_handles_allocate_nothing() {
    let (client, cases) = load("gen-seed2.json");
    // Handles are created (one allocation each) before measuring.
    let handles: Vec<_> = cases.iter().map(|c| client.flag(&c.flag)).collect();
    for (case, handle) in cases.iter().zip(&handles) {
        let (n, ok) = allocations(|| match case.kind.as_str() {
            "variant" => handle
                .evaluate_variant(&case.entity, case.pairs.as_slice())
                .is_ok(),
            _ => handle
                .evaluate_boolean(&case.entity, case.pairs.as_slice())
                .is_ok(),
        });
        assert!(ok, "{}", case.flag);
        assert_eq!(n, 0, "handle evaluation of {} allocated", case.flag);
    }
}

#[test]
fn reading_results_allocates_nothing() {
    let client =
        FliptClient::from_snapshot_json(include_str!("../examples/data/snapshot.json")).unwrap();
    let ctx = [("plan", "pro"), ("age", "30")];
    let (n, total) = allocations(|| {
        let r = client
            .evaluate_variant("checkout-theme", "user-1", &ctx)
            .unwrap();
        let mut total = r.variant_key().len() + r.variant_attachment().map_or(0, str::len);
        total += r.segment_keys().map(str::len).sum::<usize>();
        let b = client
            .evaluate_boolean("new-search", "user-1", &[("beta", "true")])
            .unwrap();
        total += b.segment_keys().count() + usize::from(b.is_enabled()) + b.flag_key().len();
        total
    });
    assert!(total > 0);
    assert_eq!(n, 0);
}

#[test]
fn batch_allocates_only_its_result_vector() {
    let (client, cases) = load("gen-seed1.json");
    let requests: Vec<_> = cases
        .iter()
        .take(64)
        .map(|c| EvaluationRequest::new(c.flag.as_str(), c.entity.as_str(), &c.context))
        .collect();
    // evaluate_batch: exactly one allocation, the response vector.
    let (n, batch) = allocations(|| client.evaluate_batch(&requests).unwrap());
    assert_eq!(batch.responses.len(), 64);
    assert!(batch
        .responses
        .iter()
        .all(|r| !matches!(r, BatchItem::Error(_))));
    assert_eq!(n, 1, "evaluate_batch of 64 allocated {n} times");
    // evaluate_batch_into with a reused vector: none.
    let mut out = Vec::with_capacity(64);
    let (n, ()) = allocations(|| {
        for _ in 0..10 {
            out.clear();
            client.evaluate_batch_into(&requests, &mut out).unwrap();
        }
    });
    assert_eq!(out.len(), 64);
    assert_eq!(n, 0, "evaluate_batch_into allocated {n} times");
}

#[cfg(feature = "net")]
#[test]
fn evaluations_allocate_nothing_while_a_poller_swaps_snapshots() {
    use support::server::{FakeServer, Reply};
    let doc = std::fs::read_to_string(format!(
        "{}/tests/fixtures/gen-seed1.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let file: Value = serde_json::from_str(&doc).unwrap();
    let body = file["snapshot"].to_string();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let server = FakeServer::start(move |_| {
        let n = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Two encodings of one snapshot: a body identical to the last is not installed again.
        let text = if n % 2 == 0 {
            body.clone()
        } else {
            format!("{body} ")
        };
        Reply::snapshot(&text, &n.to_string())
    });
    let client = FliptClient::new(flipt_client::ClientOptions::new().url(server.url())).unwrap();
    let pump = support::pump(&client);
    let (_, cases) = load("gen-seed1.json");
    let start = client.generation();
    let mut rounds = 0;
    while client.generation() < start + 20 && rounds < 10_000 {
        for case in &cases {
            let (n, ok) = allocations(|| match case.kind.as_str() {
                "variant" => client
                    .evaluate_variant(&case.flag, &case.entity, case.pairs.as_slice())
                    .is_ok(),
                _ => client
                    .evaluate_boolean(&case.flag, &case.entity, case.pairs.as_slice())
                    .is_ok(),
            });
            assert!(ok);
            assert_eq!(n, 0, "allocated during a live poll");
        }
        rounds += 1;
    }
    assert!(
        client.generation() >= start + 20,
        "the poller swapped only {} times",
        client.generation() - start
    );
    drop(pump);
    client.close();
}

#[test]
fn a_missing_flag_or_a_wrong_type_allocates_nothing() {
    let client =
        FliptClient::from_snapshot_json(include_str!("../examples/data/snapshot.json")).unwrap();
    let ctx = [("plan", "pro"), ("age", "30")];
    let short = "no-such-flag";
    let long = "a-flag-key-that-is-longer-than-thirty-bytes";
    assert!(
        short.len() <= flipt_client::FlagKey::INLINE && long.len() > flipt_client::FlagKey::INLINE
    );
    // Warm up (the evaluator builds per-thread caches on first use).
    let _ = client.evaluate_variant(short, "u", &ctx[..]);
    let _ = client.evaluate_boolean(short, "u", &ctx[..]);

    let (n, r) = allocations(|| client.evaluate_variant(short, "u", &ctx[..]).map(drop));
    assert_eq!(n, 0, "FlagNotFound by key");
    assert!(matches!(r, Err(flipt_client::Error::FlagNotFound { .. })));
    let (n, r) = allocations(|| {
        client
            .evaluate_boolean("checkout-theme", "u", &ctx[..])
            .map(drop)
    });
    assert_eq!(n, 0, "WrongFlagType by key");
    assert!(matches!(r, Err(flipt_client::Error::WrongFlagType { .. })));
    // A key too long to store inline is shared: one allocation, as documented.
    let (n, _) = allocations(|| client.evaluate_boolean(long, "u", &ctx[..]).map(drop));
    assert_eq!(n, 1, "a long key is copied once");

    // Through handles, whatever the key's length.
    for key in [short, long] {
        let handle = client.flag(key);
        let _ = handle.evaluate_boolean("u", &ctx[..]);
        let (n, r) = allocations(|| handle.evaluate_boolean("u", &ctx[..]).map(drop));
        assert_eq!(n, 0, "FlagNotFound through a handle of {key}");
        assert_eq!(
            r.unwrap_err().to_string(),
            format!("invalid request: failed to get flag information default/{key}")
        );
    }
    let handle = client.flag("checkout-theme");
    let (n, _) = allocations(|| handle.evaluate_boolean("u", &ctx[..]).map(drop));
    assert_eq!(n, 0, "WrongFlagType through a handle");

    // The _or helpers never allocate, found or not.
    for key in [short, long, "checkout-theme", "new-search"] {
        let (n, _) = allocations(|| client.evaluate_boolean_or(key, "u", &ctx[..], true));
        assert_eq!(n, 0, "evaluate_boolean_or({key})");
        let (n, v) = allocations(|| {
            client
                .evaluate_variant_or(key, "user-1", &ctx[..], "fallback")
                .variant_key()
                .len()
        });
        assert_eq!(n, 0, "evaluate_variant_or({key})");
        assert!(v > 0);
        let handle = client.flag(key);
        let _ = handle.evaluate_boolean_or("u", &ctx[..], true);
        let (n, _) = allocations(|| {
            (
                handle.evaluate_boolean_or("u", &ctx[..], true),
                handle.evaluate_variant_or("u", &ctx[..], "x").is_default(),
            )
        });
        assert_eq!(n, 0, "handle _or helpers for {key}");
    }
    assert!(!client.evaluate_boolean_or("no-such-flag", "u", &ctx[..], false));
    assert_eq!(
        client
            .evaluate_variant_or("checkout-theme", "user-1", &ctx[..], "fallback")
            .variant_key(),
        "blue"
    );
}

#[test]
fn evaluations_through_a_reader_allocate_nothing() {
    for name in ["gen-seed1.json", "gen-seed2.json"] {
        let (client, cases) = load(name);
        let mut reader = client.reader();
        let handles: Vec<_> = cases.iter().map(|c| client.flag(&c.flag)).collect();
        // Warm up: first use builds per-thread caches.
        for case in &cases {
            let _ = reader.evaluate_variant(&case.flag, &case.entity, &case.context);
        }
        let mut evaluated = 0;
        for (case, handle) in cases.iter().zip(&handles) {
            let (n, ok) = allocations(|| match case.kind.as_str() {
                "variant" => {
                    let by_key = reader
                        .evaluate_variant(&case.flag, &case.entity, &case.context)
                        .map(|r| r.variant_key().len());
                    let by_handle = handle
                        .evaluate_variant_with(&mut reader, &case.entity, case.pairs.as_slice())
                        .map(|r| r.variant_key().len());
                    let or = reader
                        .evaluate_variant_or(&case.flag, &case.entity, &case.context, "d")
                        .variant_key()
                        .len();
                    by_key.is_ok() && by_key == by_handle && by_key == Ok(or)
                }
                _ => {
                    reader
                        .evaluate_boolean(&case.flag, &case.entity, case.pairs.as_slice())
                        .is_ok()
                        && handle
                            .evaluate_boolean_with(&mut reader, &case.entity, &case.context)
                            .is_ok()
                }
            });
            assert!(ok, "{name}: {} failed", case.flag);
            assert_eq!(n, 0, "{name}: {} allocated through the reader", case.flag);
            evaluated += 1;
        }
        assert!(evaluated > 10);
        // After a swap the reader catches up without allocating either.
        client.set_snapshot(Snapshot::from_base64(&client.get_snapshot().unwrap()).unwrap());
        let case = &cases[0];
        let (n, _) = allocations(|| {
            reader.evaluate_boolean_or(&case.flag, &case.entity, &case.context, false)
        });
        assert_eq!(n, 0, "catching up with a swap");
        assert_eq!(reader.generation(), client.generation());
    }
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the guard: a test that allocates must be counted.
    let (n, v) = allocations(|| vec![1u8; 16]);
    assert_eq!(v.len(), 16);
    assert_eq!(n, 1);
}
