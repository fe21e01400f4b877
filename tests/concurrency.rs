//! 8 reader threads evaluate continuously while the poller swaps snapshots hundreds of times:
//! every batch is consistent with exactly one snapshot, nothing deadlocks, and readers never
//! wait for a fetch (they keep evaluating while the server takes its time to answer).

mod support;

use flipt_client::{BatchItem, ClientOptions, EvaluationRequest, FliptClient};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::server::{doc_with, FakeServer, Reply};

#[test]
fn readers_see_whole_snapshots_while_the_poller_swaps() {
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
