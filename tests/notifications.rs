//! Change notifications: callbacks and channels see exactly the flags an update added,
//! removed or changed, and a panicking callback stops nothing.

#![cfg(feature = "net")]

mod support;

use flipt_client::{ClientOptions, FliptClient, Snapshot, SnapshotChange};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::eventually;
use support::server::{doc, doc_with, FakeServer, Reply};

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
