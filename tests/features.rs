//! Beyond the official SDKs: change notifications, snapshot persistence, flag handles,
//! explanations and staleness.

mod support;

use support::eventually;

use flipt_client::{
    ClientOptions, Error, ErrorStrategy, FliptClient, Reason, Snapshot, SnapshotChange,
    SnapshotSource,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::server::{doc, doc_with, FakeServer, Reply};
use support::vectors;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flipt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- change notifications ----

#[test]
fn a_callback_sees_exactly_the_changed_flags() {
    let body = Arc::new(Mutex::new(doc_with(
        "default",
        &[("a", true), ("b", true), ("c", true)],
    )));
    let b = body.clone();
    let server = FakeServer::start(move |_| {
        let text = b.lock().unwrap().clone();
        Reply::snapshot(
            &text,
            &format!("{}", text.len() + text.matches("true").count()),
        )
    });
    let client = FliptClient::new(ClientOptions::new().url(server.url())).unwrap();
    let seen: Arc<Mutex<Vec<SnapshotChange>>> = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    client.on_change(move |c| s.lock().unwrap().push(c.clone()));
    let rx = client.subscribe();

    // Change one flag.
    *body.lock().unwrap() = doc_with("default", &[("a", true), ("b", false), ("c", true)]);
    assert!(eventually(|| {
        client.refresh();
        !seen.lock().unwrap().is_empty()
    }));
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(first.changed, ["b"]);
    assert!(first.added.is_empty() && first.removed.is_empty());
    assert_eq!(first.generation, client.generation());
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), first);

    // Remove one, add one.
    *body.lock().unwrap() = doc_with("default", &[("a", true), ("b", false), ("d", true)]);
    assert!(eventually(|| {
        client.refresh();
        seen.lock().unwrap().len() >= 2
    }));
    let second = seen.lock().unwrap()[1].clone();
    assert_eq!(
        (second.added.as_slice(), second.removed.as_slice()),
        (&["d".to_string()][..], &["c".to_string()][..])
    );
    assert!(second.changed.is_empty());
    client.close();
}

#[test]
fn a_panicking_callback_does_not_stop_updates() {
    let client =
        FliptClient::from_snapshot(Snapshot::from_document(&doc("default", false)).unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    client.on_change(|_| panic!("listener bug"));
    // A listener may register another listener from inside a notification.
    let inner = client.clone();
    let registered = Arc::new(AtomicUsize::new(0));
    let r = registered.clone();
    client.on_change(move |_| {
        if r.fetch_add(1, Ordering::SeqCst) == 0 {
            inner.on_change(|_| {});
        }
    });
    let c = calls.clone();
    client.on_change(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    for i in 0..3 {
        client.set_snapshot(Snapshot::from_document(&doc("default", i % 2 == 0)).unwrap());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the second listener ran every time"
    );
    assert!(client.evaluate_boolean("f", "u", &()).unwrap().is_enabled());

    // The same through the poller thread.
    let n = Arc::new(AtomicUsize::new(0));
    let k = n.clone();
    let server = FakeServer::start(move |_| {
        let i = k.fetch_add(1, Ordering::SeqCst);
        Reply::snapshot(&doc("default", i % 2 == 0), &i.to_string())
    });
    let client = FliptClient::new(ClientOptions::new().url(server.url())).unwrap();
    client.on_change(|_| panic!("listener bug"));
    let start = client.generation();
    assert!(
        eventually(|| {
            client.refresh();
            client.generation() >= start + 5
        }),
        "the poller kept going"
    );
}

// ---- persistence ----

fn persisted_client(server: &FakeServer, path: &PathBuf) -> Result<FliptClient, Error> {
    FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .persist_path(path)
            .error_strategy(ErrorStrategy::Fallback)
            .retry_backoff(Duration::from_millis(1)),
    )
}

#[test]
fn a_restart_without_the_server_serves_the_persisted_snapshot() {
    let dir = temp_dir("persist");
    let path = dir.join("flags.json");
    let up = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e1"));
    let client = persisted_client(&up, &path).unwrap();
    assert!(path.exists(), "the first snapshot is written at once");
    client.close();
    drop(up);

    let down = FakeServer::start(|_| Reply::status(503));
    let client = persisted_client(&down, &path).unwrap();
    assert_eq!(client.health().source, SnapshotSource::Persisted);
    // `new` returned at once from the file; the first fetch fails in the background.
    assert!(eventually(|| client.health().last_error.is_some()));
    assert!(client.evaluate_boolean("f", "u", &()).unwrap().is_enabled());
    client.close();

    // A file for another namespace is refused (and the client starts empty).
    let other = FliptClient::new(
        ClientOptions::new()
            .url(down.url())
            .namespace("other")
            .persist_path(&path)
            .error_strategy(ErrorStrategy::Fallback)
            .retry_backoff(Duration::from_millis(1)),
    )
    .unwrap();
    assert_eq!(other.health().source, SnapshotSource::Empty);
    // And so is one for another environment.
    let env = FliptClient::new(
        ClientOptions::new()
            .url(down.url())
            .environment("staging")
            .persist_path(&path)
            .error_strategy(ErrorStrategy::Fallback)
            .retry_backoff(Duration::from_millis(1)),
    )
    .unwrap();
    assert_eq!(env.health().source, SnapshotSource::Empty);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_crash_between_write_and_rename_leaves_the_old_file_intact() {
    let dir = temp_dir("crash");
    let path = dir.join("flags.json");
    let up = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e1"));
    persisted_client(&up, &path).unwrap().close();
    let good = std::fs::read(&path).unwrap();
    // What a crash after writing the temporary file but before the rename leaves behind.
    std::fs::write(dir.join(".flags.json.tmp.999.0"), &good[..good.len() / 2]).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), good);

    let down = FakeServer::start(|_| Reply::status(503));
    let client = persisted_client(&down, &path).unwrap();
    assert_eq!(client.health().source, SnapshotSource::Persisted);
    assert!(client.evaluate_boolean("f", "u", &()).unwrap().is_enabled());

    // A truncated or corrupted file is reported and ignored, never half-loaded.
    // One base64 character of the snapshot changed: still valid JSON, wrong content.
    let mut corrupt = good.clone();
    let at = good.len() - 40;
    corrupt[at] = if good[at] == b'x' { b'y' } else { b'x' };
    for (what, broken) in [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("corrupt", corrupt),
    ] {
        std::fs::write(&path, broken).unwrap();
        let client = persisted_client(&down, &path).unwrap();
        assert_eq!(client.health().source, SnapshotSource::Empty, "{what}");
        assert!(client.evaluate_boolean("f", "u", &()).is_err());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_new_snapshot_is_persisted() {
    let dir = temp_dir("every");
    let path = dir.join("flags.json");
    let on = Arc::new(AtomicUsize::new(1));
    let o = on.clone();
    let server = FakeServer::start(move |_| {
        let v = o.load(Ordering::SeqCst);
        Reply::snapshot(&doc("default", v == 1), &v.to_string())
    });
    let client = persisted_client(&server, &path).unwrap();
    on.store(0, Ordering::SeqCst);
    assert!(eventually(|| {
        client.refresh();
        client
            .evaluate_boolean("f", "u", &())
            .is_ok_and(|r| !r.is_enabled())
    }));
    client.close();
    let down = FakeServer::start(|_| Reply::status(503));
    let client = persisted_client(&down, &path).unwrap();
    assert!(
        !client.evaluate_boolean("f", "u", &()).unwrap().is_enabled(),
        "the latest snapshot was saved"
    );
    assert!(
        FliptClient::new(ClientOptions::new().persist_path("/nonexistent-dir/flags.json")).is_err()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

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
