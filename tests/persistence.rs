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

/// A document of `n` boolean flags, the smallest form the server sends.
fn many_flags(n: usize) -> String {
    let mut out = String::from(r#"{"namespace":{"key":"default"},"flags":["#);
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"key":"flag-{i:06}","name":"","enabled":{},"type":"BOOLEAN_FLAG_TYPE","rollouts":[]}}"#,
            i % 2 == 0
        ));
    }
    out.push_str(r#"],"digest":"d"}"#);
    out
}

#[test]
fn a_snapshot_at_the_size_limit_is_persisted_and_reloaded_by_a_restart_and_by_from_snapshot_file() {
    let dir = temp_dir("large");
    let path = dir.join("flags.json");
    let body = many_flags(100_000);
    // The limit is exactly the document: what the server's answer may take.
    let limit = body.len() as u64;
    let served = body.clone();
    let up = FakeServer::start(move |_| Reply::snapshot(&served, "e1"));
    let options = |url: String| {
        ClientOptions::new()
            .url(url)
            .persist_path(&path)
            .max_snapshot_size(limit)
            .error_strategy(ErrorStrategy::Fallback)
            .retry_backoff(Duration::from_millis(1))
    };
    let client = FliptClient::new(options(up.url())).unwrap();
    assert_eq!(client.list_flags().unwrap().len(), 100_000);
    client.close();
    drop(up);
    let file = std::fs::metadata(&path).unwrap().len();
    println!(
        "100,000 flags: document {} bytes, persisted file {file} bytes (+{})",
        body.len(),
        file - body.len() as u64
    );
    assert!(
        file <= body.len() as u64 + 512,
        "the file is the document and a short header: {file} bytes for {}",
        body.len()
    );

    // A restart with the server down starts from the file, under the same limit.
    let down = FakeServer::start(|_| Reply::status(503));
    let restarted = FliptClient::new(options(down.url())).unwrap();
    assert_eq!(restarted.health().source, SnapshotSource::Persisted);
    assert_eq!(restarted.list_flags().unwrap().len(), 100_000);
    assert!(restarted
        .evaluate_boolean("flag-099998", "u", &())
        .unwrap()
        .is_enabled());
    restarted.close();

    // Any program reads the cache as a snapshot file.
    let cli = FliptClient::from_snapshot_file(&path).unwrap();
    assert_eq!(cli.list_flags().unwrap().len(), 100_000);
    assert!(!cli
        .evaluate_boolean("flag-000001", "u", &())
        .unwrap()
        .is_enabled());
    let parsed = flipt_client::Snapshot::parse_bytes(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(parsed.len(), 100_000);
    // And as a seed, like any other snapshot text.
    let seeded = FliptClient::new(
        ClientOptions::new()
            .url(down.url())
            .snapshot(std::fs::read_to_string(&path).unwrap())
            .max_snapshot_size(limit)
            .error_strategy(ErrorStrategy::Fallback),
    )
    .unwrap();
    assert_eq!(seeded.health().source, SnapshotSource::Seed);
    assert_eq!(seeded.list_flags().unwrap().len(), 100_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_streamed_snapshot_is_persisted_as_its_document() {
    use support::server::{stream_line, Chunk};
    let dir = temp_dir("streamed");
    let path = dir.join("flags.json");
    let body = doc("default", true);
    let line = stream_line(&body);
    let server = FakeServer::start(move |r| {
        if r.path().ends_with("/stream") {
            let (tx, rx) = std::sync::mpsc::channel();
            tx.send(Chunk::Data(line.clone())).unwrap();
            // Held open: the sender lives in the server's handler thread.
            std::mem::forget(tx);
            Reply::Stream(rx)
        } else {
            Reply::snapshot(&doc("default", false), "e1")
        }
    });
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .fetch_mode(flipt_client::FetchMode::Streaming)
            .persist_path(&path),
    )
    .unwrap();
    assert!(eventually(|| client
        .evaluate_boolean("f", "u", &())
        .is_ok_and(|r| r.is_enabled())));
    client.close();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.trim_end()
            .ends_with(&format!(",\"snapshot\":{body}}}")),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sets the modification time of `path` to `ago` in the past.
fn backdate(path: &std::path::Path, ago: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - ago).unwrap();
}

#[test]
fn temporary_files_a_crash_left_behind_are_removed_at_start_and_after_each_write() {
    let dir = temp_dir("orphans");
    let path = dir.join("flags.json");
    let old = Duration::from_secs(120);
    // What a process killed mid-write leaves: our name pattern, a random 16-digit suffix.
    let orphan = dir.join(".flags.json.tmp.0123456789abcdef");
    std::fs::write(&orphan, vec![b'{'; 4096]).unwrap();
    backdate(&orphan, old);
    // Kept: a young one (maybe another process writing now), another file's, other names.
    let young = dir.join(".flags.json.tmp.fedcba9876543210");
    std::fs::write(&young, b"{").unwrap();
    let other_file = dir.join(".other.json.tmp.0123456789abcdef");
    std::fs::write(&other_file, b"{").unwrap();
    backdate(&other_file, old);
    let other_name = dir.join(".flags.json.tmp.999.0");
    std::fs::write(&other_name, b"{").unwrap();
    backdate(&other_name, old);

    let server = FakeServer::start(|_| Reply::status(503));
    let client = persisted_client(&server, &path).unwrap();
    assert!(!orphan.exists(), "removed at start");
    for kept in [&young, &other_file, &other_name] {
        assert!(kept.exists(), "{} is not ours to remove", kept.display());
    }
    client.close();

    // A later orphan goes after the next successful write.
    let later = dir.join(".flags.json.tmp.00000000000000aa");
    std::fs::write(&later, b"{").unwrap();
    let up = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e1"));
    backdate(&later, old);
    backdate(&young, old);
    let before = std::fs::read_dir(&dir).unwrap().count();
    let client = persisted_client(&up, &path).unwrap();
    client.close();
    assert!(path.exists());
    assert!(!later.exists() && !young.exists());
    assert!(other_file.exists() && other_name.exists());
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), before - 2 + 1, "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_persist_directory_is_created_owner_only() {
    let dir = temp_dir("mkdir");
    let path = dir.join("cache").join("flipt").join("flags.json");
    let up = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e1"));
    let client = persisted_client(&up, &path).unwrap();
    client.close();
    assert!(path.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{mode:o}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // Windows has no mode bits: the directory and file take the parent's ACL. What holds is
    // that both exist as what they should be and the client can replace the file.
    #[cfg(windows)]
    {
        assert!(path.parent().unwrap().is_dir());
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.is_file() && !meta.permissions().readonly());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_persist_directory_that_cannot_be_made_is_logged_under_fallback_and_fatal_under_fail() {
    let dir = temp_dir("nodir");
    // A directory cannot be made below a regular file, whoever we are.
    let blocker = dir.join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let path = blocker.join("flags.json");
    let up = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e1"));
    let client = persisted_client(&up, &path).unwrap();
    assert!(client.evaluate_boolean("f", "u", &()).unwrap().is_enabled());
    client.close();
    let err = FliptClient::new(
        ClientOptions::new()
            .url(up.url())
            .persist_path(&path)
            .error_strategy(ErrorStrategy::Fail),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cannot create directory"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
