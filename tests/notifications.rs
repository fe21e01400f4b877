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

/// A server whose flag `f` flips on every request, so that every poll is a change.
fn flipping_server() -> FakeServer {
    let n = Arc::new(AtomicUsize::new(0));
    FakeServer::start(move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        Reply::snapshot(&doc("default", i % 2 == 0), &i.to_string())
    })
}

fn polling_client(server: &FakeServer) -> FliptClient {
    FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .update_interval(Duration::from_secs(1)),
    )
    .unwrap()
}

#[test]
fn a_listener_holding_a_weak_client_lets_the_last_drop_stop_polling() {
    let server = flipping_server();
    let client = polling_client(&server);
    let weak = client.downgrade();
    let reached = Arc::new(AtomicUsize::new(0));
    let r = reached.clone();
    client.on_change(move |_| {
        if let Some(c) = weak.upgrade() {
            // The listener reaches its own client.
            if c.evaluate_boolean("f", "u", &()).is_ok() {
                r.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    assert!(eventually(|| reached.load(Ordering::SeqCst) >= 1));
    let probe = client.downgrade();
    drop(client);
    assert!(probe.upgrade().is_none(), "nothing else holds the client");
    let after = server.count();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        server.count() <= after + 1,
        "polling stopped: {} requests after the drop",
        server.count() - after
    );
}

#[test]
fn a_listener_holding_a_clone_keeps_polling_after_the_last_drop() {
    // The cycle that WeakClient avoids, shown so the documentation stays true.
    let server = flipping_server();
    let client = polling_client(&server);
    let kept = client.clone();
    client.on_change(move |_| {
        let _ = kept.generation();
    });
    let probe = client.downgrade();
    drop(client);
    let after = server.count();
    assert!(eventually(|| server.count() >= after + 2), "still polling");
    // The only way left to stop it.
    probe.upgrade().expect("kept alive by its listener").close();
}
