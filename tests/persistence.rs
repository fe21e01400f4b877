//! Snapshot persistence: every snapshot from the server is saved atomically, a restart without
//! the server starts from the file, and a broken or foreign file is never half-loaded.

#![cfg(feature = "net")]

mod support;

use flipt_client::{ClientOptions, Error, ErrorStrategy, FliptClient, SnapshotSource};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::eventually;
use support::server::{doc, FakeServer, Reply};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flipt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
    std::fs::remove_dir_all(&dir).unwrap();
}
