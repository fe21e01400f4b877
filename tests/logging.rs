//! Log lines that a misbehaving server can trigger are rate-bounded: a stream of junk at full
//! speed costs about one warning a second and a dropped, backed-off stream, not a record per
//! line. Its own test binary: the logger is global, and these counts must see only this test.

#![cfg(feature = "net")]

mod support;

use flipt_client::{ClientOptions, ErrorStrategy, FetchMode, FliptClient};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::eventually;
use support::server::{doc, stream_line, Chunk, FakeServer, Reply};

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}", record.level(), record.args());
            RECORDS.lock().unwrap().push(line);
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

fn install_logger() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_logger(&CAPTURE).unwrap();
        log::set_max_level(log::LevelFilter::Info);
    });
}

fn records_containing(text: &str) -> Vec<String> {
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(text))
        .cloned()
        .collect()
}

#[test]
fn a_junk_line_flood_is_logged_at_a_bounded_rate_and_drops_the_stream() {
    install_logger();

    let flood = Duration::from_secs(3);
    let started = Instant::now();
    let junk_sent = Arc::new(AtomicUsize::new(0));
    let sent = Arc::clone(&junk_sent);
    // Every stream: one good line, then junk as fast as the connection takes it.
    let server = FakeServer::start(move |r| {
        if !r.path().ends_with("/stream") {
            return Reply::snapshot(&doc("default", false), "e0");
        }
        let (tx, rx) = sync_channel(16);
        let sent = Arc::clone(&sent);
        std::thread::spawn(move || {
            let _ = tx.send(Chunk::Data(stream_line(&doc("default", true))));
            let junk = "not json at all\n".repeat(256).into_bytes();
            while started.elapsed() < flood {
                if tx.send(Chunk::Data(junk.clone())).is_err() {
                    return;
                }
                sent.fetch_add(256, Ordering::Relaxed);
            }
            // Then quiet but open, so that the client is not reconnecting when it is closed.
            std::thread::sleep(Duration::from_secs(2));
            drop(tx);
        });
        Reply::Stream(rx)
    });
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .fetch_mode(FetchMode::Streaming)
            .error_strategy(ErrorStrategy::Fallback)
            .retry_backoff(Duration::from_millis(10)),
    )
    .unwrap();
    assert!(eventually(|| client
        .evaluate_boolean("f", "u", &())
        .is_ok_and(|r| r.is_enabled())));
    // During the flood the outage is visible in health().
    assert!(eventually(|| client.health().last_error.is_some()));
    std::thread::sleep(flood.saturating_sub(started.elapsed()) + Duration::from_millis(200));
    client.close();

    let records = RECORDS.lock().unwrap().clone();
    let failures: Vec<&String> = records
        .iter()
        .filter(|l| l.contains("snapshot update failed: error parsing json"))
        .collect();
    let drops = records
        .iter()
        .filter(|l| l.contains("bad lines in a row"))
        .count();
    let streams = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/stream"))
        .count();
    println!(
        "{:.1} s of junk ({} lines written): {} records in all, {} update warnings, {} stream drops, {} streams opened",
        flood.as_secs_f64(),
        junk_sent.load(Ordering::Relaxed),
        records.len(),
        failures.len(),
        drops,
        streams
    );
    for line in records.iter().take(12) {
        println!("  {line}");
    }
    // One warning of a kind a second (the first at once), whatever the server sends.
    assert!(
        !failures.is_empty() && failures.len() <= 6,
        "{} update warnings",
        failures.len()
    );
    // The held-back count is told with the next line that goes out.
    if failures.len() > 1 {
        assert!(failures[1].contains(" more since "), "{}", failures[1]);
    }
    // Each stream is dropped after 100 bad lines and reopened with growing backoff.
    assert!(drops >= 1, "the stream was dropped");
    assert!(streams >= 2, "and reopened");
    assert!(streams <= 40, "{streams} streams: reconnects back off");
    assert!(records.len() <= 80, "{} records", records.len());
    // The good snapshot stayed.
    assert!(client.evaluate_boolean("f", "u", &()).unwrap().is_enabled());
}

#[test]
fn a_snapshot_that_cannot_be_persisted_is_logged_as_an_error_naming_the_file_and_sizes() {
    use flipt_client::Snapshot;
    install_logger();
    let dir = std::env::temp_dir().join(format!("flipt-log-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("flags.json");
    // A stream line with a member besides `result`: the engine JSON is persisted instead of
    // the document, and here it is larger than the limit the line itself fits under.
    let body = doc("default", true);
    let line = format!("{{\"result\":{body},\"note\":1}}\n").into_bytes();
    let engine_len = Snapshot::from_document(&body)
        .unwrap()
        .to_engine_json()
        .len();
    let limit = line.len() as u64;
    assert!(engine_len as u64 > limit, "{engine_len} vs {limit}");
    let server = FakeServer::start(move |r| {
        if r.path().ends_with("/stream") {
            let (tx, rx) = sync_channel(4);
            let _ = tx.send(Chunk::Data(line.clone()));
            std::mem::forget(tx);
            Reply::Stream(rx)
        } else {
            Reply::Close
        }
    });
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .fetch_mode(FetchMode::Streaming)
            .persist_path(&path)
            .max_snapshot_size(limit)
            .error_strategy(ErrorStrategy::Fallback)
            .initial_fetch_timeout(Duration::ZERO)
            .retry_backoff(Duration::from_millis(10)),
    )
    .unwrap();
    assert!(eventually(|| client
        .evaluate_boolean("f", "u", &())
        .is_ok_and(|r| r.is_enabled())));
    assert!(eventually(|| !records_containing("not written").is_empty()));
    client.close();
    let line = &records_containing("not written")[0];
    println!("{line}");
    assert!(line.starts_with("ERROR"), "{line}");
    assert!(line.contains(&path.display().to_string()), "{line}");
    assert!(line.contains(&format!("{engine_len} bytes")), "{line}");
    assert!(line.contains(&format!("limit of {limit} bytes")), "{line}");
    assert!(!path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_snapshot_content_is_logged_once_per_kind_at_a_bounded_rate() {
    install_logger();
    let doc = r#"{"namespace":{"key":"warned"},"flags":[
        {"key":"a","name":"","enabled":true,"type":"STRING_FLAG_TYPE","rules":[]},
        {"key":"b","name":"","enabled":true,"type":"JSON_FLAG_TYPE","rules":[]}]}"#;
    for _ in 0..50 {
        let s = flipt_client::Snapshot::from_document(doc).unwrap();
        assert_eq!(s.warnings()[0].more(), 1, "two flags, one warning");
    }
    let lines = records_containing(r#"snapshot of namespace "warned""#);
    assert!(!lines.is_empty() && lines.len() <= 2, "{lines:?}");
    assert!(
        lines[0].contains(r#"flags[0].type: unknown flag type "STRING_FLAG_TYPE", evaluated as a variant flag (1 more like it)"#),
        "{lines:?}"
    );
}
