//! 8 reader threads evaluate continuously while the poller swaps snapshots hundreds of times:
//! every batch is consistent with exactly one snapshot, nothing deadlocks, and readers never
//! wait for a fetch (they keep evaluating while the server takes its time to answer).

mod support;

use flipt_client::FliptClient;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(feature = "net")]
#[test]
fn readers_see_whole_snapshots_while_the_poller_swaps() {
    use flipt_client::{BatchItem, ClientOptions, EvaluationRequest};
    use support::server::{doc_with, FakeServer, Reply};

    let served = Arc::new(AtomicUsize::new(0));
    let s = served.clone();
    // Each poll gets the other of two snapshots: all flags on, or all off. A slow answer
    // (2 ms) makes every fetch overlap many evaluations.
    let server = FakeServer::start(move |_| {
        let n = s.fetch_add(1, Ordering::SeqCst);
        let on = n % 2 == 0;
        let body = doc_with("default", &[("a", on), ("b", on), ("c", on), ("d", on)]);
        Reply::Delay(
            Duration::from_millis(2),
            Box::new(Reply::snapshot(&body, &format!("v{n}"))),
        )
    });
    let client = FliptClient::new(ClientOptions::new().url(server.url())).unwrap();
    let pump = support::pump(&client);

    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let ctx = [("reader", "x")];
                let keys = ["a", "b", "c", "d"];
                let requests: Vec<_> = keys
                    .iter()
                    .map(|k| EvaluationRequest::new(k, "user", &ctx[..]))
                    .collect();
                let (mut evaluations, mut mixed) = (0u64, 0u64);
                let mut out = Vec::with_capacity(4);
                while !done.load(Ordering::Relaxed) {
                    out.clear();
                    client
                        .evaluate_batch_into(&requests, &mut out)
                        .expect("batch");
                    let values: Vec<bool> = out
                        .iter()
                        .map(|item| match item {
                            BatchItem::Boolean(b) => b.is_enabled(),
                            other => panic!("reader {i}: unexpected {other:?}"),
                        })
                        .collect();
                    if values.iter().any(|v| *v != values[0]) {
                        mixed += 1;
                    }
                    // Single evaluations, too.
                    let _ = client
                        .evaluate_boolean("a", "user", &ctx[..])
                        .expect("boolean")
                        .is_enabled();
                    evaluations += 5;
                }
                (evaluations, mixed)
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(60);
    while client.generation() < 301 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    done.store(true, Ordering::Relaxed);
    drop(pump);
    let results: Vec<(u64, u64)> = readers
        .into_iter()
        .map(|r| r.join().expect("reader panicked"))
        .collect();
    let swaps = client.generation() - 1;
    client.close();

    let total: u64 = results.iter().map(|r| r.0).sum();
    let mixed: u64 = results.iter().map(|r| r.1).sum();
    let fetches = served.load(Ordering::SeqCst) as u64;
    println!(
        "{swaps} swaps, {fetches} fetches, {total} evaluations by 8 readers, {mixed} mixed batches"
    );
    assert!(swaps >= 300, "only {swaps} swaps");
    assert_eq!(mixed, 0, "a batch mixed two snapshots");
    // Readers are not held up by fetches: each did far more evaluations than there were
    // fetches (every fetch takes at least 2 ms, an evaluation well under a microsecond).
    for (i, (n, _)) in results.iter().enumerate() {
        assert!(
            *n > fetches * 10,
            "reader {i} made only {n} evaluations during {fetches} fetches"
        );
    }
}

/// A snapshot whose variant flag `v` answers `v{n}` with attachment `{"n":n}`, and whose
/// boolean flag `b` is on for even `n`.
fn numbered(n: usize) -> flipt_client::Snapshot {
    let doc = format!(
        r#"{{"namespace":{{"key":"default"}},"flags":[
        {{"key":"v","name":"","description":"","enabled":true,"type":"VARIANT_FLAG_TYPE","rules":[],"rollouts":[],
          "defaultVariant":{{"id":"v/{n}","key":"v{n}","attachment":"{{\"n\":{n}}}"}}}},
        {{"key":"b","name":"","description":"","enabled":{},"type":"BOOLEAN_FLAG_TYPE","rules":[],"rollouts":[]}}]}}"#,
        n % 2 == 0
    );
    flipt_client::Snapshot::from_document(&doc).unwrap()
}

/// 4 threads evaluate through their own `Reader` (by key and through a flag handle) while the
/// main thread installs 300 snapshots, each only once every reader has seen the one before:
/// every result is whole (key and attachment from one snapshot), readers never go back, and
/// every swap is picked up.
#[test]
fn readers_pick_up_every_swap_and_see_whole_snapshots() {
    const SWAPS: usize = 300;
    const READERS: usize = 4;
    let client = FliptClient::from_snapshot(numbered(0));
    let seen: Arc<Vec<AtomicUsize>> = Arc::new((0..READERS).map(|_| AtomicUsize::new(0)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..READERS)
        .map(|i| {
            let (mut reader, handle) = (client.reader(), client.flag("v"));
            let (seen, done) = (seen.clone(), done.clone());
            std::thread::spawn(move || {
                let mut last = 0usize;
                let mut evaluations = 0u64;
                while !done.load(Ordering::Relaxed) {
                    let r = if evaluations % 2 == 0 {
                        reader.evaluate_variant("v", "user", &()).expect("variant")
                    } else {
                        handle
                            .evaluate_variant_with(&mut reader, "user", &())
                            .expect("variant by handle")
                    };
                    let n: usize = r.variant_key()[1..].parse().expect("v{n}");
                    assert_eq!(
                        r.variant_attachment(),
                        Some(format!("{{\"n\":{n}}}").as_str()),
                        "reader {i}: a torn result"
                    );
                    drop(r);
                    let on = reader
                        .evaluate_boolean("b", "user", &())
                        .unwrap()
                        .is_enabled();
                    // `b` comes from the same or a later snapshot.
                    let later = reader.generation();
                    assert!(
                        on == (n % 2 == 0) || later as usize > n + 1,
                        "reader {i}: stale b"
                    );
                    assert!(n >= last, "reader {i} went back from {last} to {n}");
                    last = n;
                    seen[i].store(n, Ordering::Release);
                    evaluations += 1;
                }
                evaluations
            })
        })
        .collect();
    for n in 1..=SWAPS {
        client.set_snapshot(numbered(n));
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.iter().any(|s| s.load(Ordering::Acquire) < n) {
            assert!(
                Instant::now() < deadline,
                "swap {n} was not picked up by every reader"
            );
            std::thread::yield_now();
        }
    }
    done.store(true, Ordering::Relaxed);
    let total: u64 = threads.into_iter().map(|t| t.join().expect("reader")).sum();
    println!("{SWAPS} swaps picked up by {READERS} readers in {total} evaluations");
    assert_eq!(client.generation(), SWAPS as u64 + 1);
}

/// A document with boolean flags in this order (the order decides their positions).
fn ordered(flags: &[(&str, bool)]) -> flipt_client::Snapshot {
    let body: Vec<String> = flags
        .iter()
        .map(|(k, on)| {
            format!(r#"{{"key":"{k}","name":"","enabled":{on},"type":"BOOLEAN_FLAG_TYPE","rollouts":[]}}"#)
        })
        .collect();
    flipt_client::Snapshot::from_document(&format!(
        r#"{{"namespace":{{"key":"default"}},"flags":[{}]}}"#,
        body.join(",")
    ))
    .unwrap()
}

#[test]
fn one_flag_handle_shared_by_threads_never_pairs_a_position_with_another_snapshot() {
    // `f` is always on and `g` always off, but they swap positions between the two
    // snapshots: a position cached for one generation and used with another would evaluate
    // `g` and answer false.
    let a = || ordered(&[("f", true), ("g", false)]);
    let b = || ordered(&[("g", false), ("x", false), ("f", true)]);
    let client = FliptClient::from_snapshot(a());
    let handle = client.flag("f");
    let stop = AtomicBool::new(false);
    let evaluated = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let r = handle.evaluate_boolean("u", &()).unwrap();
                    assert!(r.is_enabled(), "a torn handle cache evaluated another flag");
                    assert!(handle.evaluate_boolean_or("u", &(), false));
                    evaluated.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for i in 0..400 {
            client.set_snapshot(if i % 2 == 0 { b() } else { a() });
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(evaluated.load(Ordering::Relaxed) > 0);
    println!(
        "{} evaluations through one shared handle during 400 swaps",
        evaluated.load(Ordering::Relaxed)
    );
}
