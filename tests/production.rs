//! Production robustness under injected faults (loopback only): a server that never answers, a
//! blackholed connect, a TLS handshake that never completes, Retry-After, redirects across
//! origins, passwords in URLs, control characters, a document of another namespace, a 50 MB
//! error line, bodies over the size limit, repeated bodies without an ETag, typed errors.
//!
//! Timing is asserted only as generous bounds; the measured figures are printed.

#![cfg(feature = "net")]

mod support;

use flipt_client::{
    Authentication, ClientOptions, Error, ErrorKind, ErrorStrategy, FetchMode, FliptClient,
    ServerErrorKind, Snapshot, SnapshotSource,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};
use support::server::{
    doc, refused_url, stream_line, Blackhole, Chunk, FakeServer, Reply, SilentServer,
};
use support::{eventually, eventually_within};

const FAST: Duration = Duration::from_millis(1);

fn seed(namespace: &str, enabled: bool) -> String {
    Snapshot::from_document(&doc(namespace, enabled))
        .unwrap()
        .to_base64()
}

fn enabled(client: &FliptClient) -> Result<bool, Error> {
    client
        .evaluate_boolean("f", "user", &())
        .map(|r| r.is_enabled())
}

fn server_kind(e: &Error) -> Option<ServerErrorKind> {
    e.as_server().map(|s| s.kind())
}

/// Every line any code in this test binary logs, at every level.
fn captured_logs() -> &'static Mutex<Vec<String>> {
    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            let line = format!("{} {}: {}", record.level(), record.target(), record.args());
            LINES.lock().unwrap().push(line);
        }
        fn flush(&self) {}
    }
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        static CAPTURE: Capture = Capture;
        log::set_logger(&CAPTURE).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    &LINES
}

// ---- startup and timeouts ----

#[test]
fn the_defaults_bound_every_wait() {
    let o = ClientOptions::new();
    assert_eq!(o.request_timeout, Some(Duration::from_secs(30)));
    assert_eq!(o.connect_timeout, Duration::from_secs(10));
    assert_eq!(o.initial_fetch_timeout, Duration::from_secs(5));
    assert_eq!(o.max_snapshot_size, 64 * 1024 * 1024);
}

#[test]
fn new_with_default_options_gives_up_on_a_server_that_never_answers() {
    let silent = SilentServer::start();
    let started = Instant::now();
    let err = FliptClient::new(ClientOptions::new().url(silent.url())).unwrap_err();
    let took = started.elapsed();
    println!("new() against a silent server, default options: {took:?}");
    assert_eq!(server_kind(&err), Some(ServerErrorKind::Timeout), "{err}");
    assert!(err.to_string().contains("initial_fetch_timeout"), "{err}");
    assert!(
        took >= Duration::from_secs(4),
        "waited the 5 s deadline: {took:?}"
    );
    assert!(
        took < Duration::from_secs(15),
        "and not much more: {took:?}"
    );
}

#[test]
fn fallback_with_a_seed_starts_at_once_and_fetches_in_the_background() {
    let silent = SilentServer::start();
    let started = Instant::now();
    let client = FliptClient::new(
        ClientOptions::new()
            .url(silent.url())
            .snapshot(seed("default", true))
            .error_strategy(ErrorStrategy::Fallback),
    )
    .unwrap();
    let took = started.elapsed();
    println!("new() from a seed under Fallback, silent server: {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(enabled(&client).unwrap());
    assert_eq!(client.health().source, SnapshotSource::Seed);

    // The background fetch lands once the server answers.
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", false), "e"));
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .snapshot(seed("default", true))
            .error_strategy(ErrorStrategy::Fallback),
    )
    .unwrap();
    assert!(eventually(|| enabled(&client).ok() == Some(false)));
    assert_eq!(client.health().source, SnapshotSource::Server);
}

#[test]
fn fallback_without_a_seed_waits_only_its_deadline() {
    let silent = SilentServer::start();
    let started = Instant::now();
    let client = FliptClient::new(
        ClientOptions::new()
            .url(silent.url())
            .error_strategy(ErrorStrategy::Fallback)
            .initial_fetch_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let health = client.health();
    assert_eq!(health.source, SnapshotSource::Empty);
    // The outage is visible: the first fetch is overdue.
    let flipt_client::LastError { error: err, .. } = health
        .last_error
        .expect("health reports the overdue first fetch");
    assert_eq!(server_kind(&err), Some(ServerErrorKind::Timeout), "{err}");
    assert!(err.to_string().contains("initial_fetch_timeout"), "{err}");
    assert!(health.last_success.is_none());
    // Under fallback, evaluations still answer from the (empty) snapshot.
    assert_eq!(
        client.evaluate_boolean("f", "u", &()).unwrap_err().kind(),
        ErrorKind::InvalidRequest
    );
    // Zero: never wait.
    let started = Instant::now();
    let _client = FliptClient::new(
        ClientOptions::new()
            .url(silent.url())
            .error_strategy(ErrorStrategy::Fallback)
            .initial_fetch_timeout(Duration::ZERO),
    )
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_late_first_fetch_replaces_the_overdue_state() {
    let server = FakeServer::start(|_| {
        Reply::Delay(
            Duration::from_millis(400),
            Box::new(Reply::snapshot(&doc("default", true), "e")),
        )
    });
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .error_strategy(ErrorStrategy::Fallback)
            .initial_fetch_timeout(Duration::from_millis(50)),
    )
    .unwrap();
    assert!(client.health().last_error.is_some());
    assert!(eventually(|| client.health().last_error.is_none()));
    assert!(client.health().last_success.is_some());
    assert!(enabled(&client).unwrap());
}

/// `FliptClient::new` with `options`, fast retries and a startup deadline long enough for all
/// four attempts: its error, and how long it took.
fn failing_start(options: ClientOptions) -> (Error, Duration) {
    let started = Instant::now();
    let err = FliptClient::new(
        options
            .retry_backoff(FAST)
            .initial_fetch_timeout(Duration::from_secs(30)),
    )
    .unwrap_err();
    (err, started.elapsed())
}

#[test]
fn a_request_timeout_bounds_each_attempt() {
    let silent = SilentServer::start();
    let (err, took) = failing_start(
        ClientOptions::new()
            .url(silent.url())
            .request_timeout(Duration::from_millis(100)),
    );
    println!("4 attempts of 100 ms against a silent server: {took:?}");
    assert_eq!(server_kind(&err), Some(ServerErrorKind::Timeout), "{err}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_blackholed_connect_is_bounded_by_the_connect_timeout() {
    let hole = Blackhole::start();
    let (err, took) = failing_start(
        ClientOptions::new()
            .url(hole.url())
            .connect_timeout(Duration::from_millis(200)),
    );
    println!("4 blackholed connects of 200 ms: {took:?}");
    assert_eq!(server_kind(&err), Some(ServerErrorKind::Timeout), "{err}");
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
}

/// `close()` while the update thread is blocked where no socket shutdown reaches it.
#[test]
fn close_returns_at_once_during_a_hanging_connect_or_handshake() {
    let hole = Blackhole::start();
    let silent = SilentServer::start();
    let cases = [
        ("connect", hole.url()),
        (
            "TLS handshake",
            format!("https://127.0.0.1:{}", silent.port),
        ),
    ];
    for (what, url) in cases {
        let client = FliptClient::new(
            ClientOptions::new()
                .url(url)
                .snapshot(seed("default", true))
                .error_strategy(ErrorStrategy::Fallback),
        )
        .unwrap();
        // Let the update thread get stuck.
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        client.close();
        let took = started.elapsed();
        println!("close() during a hanging {what}: {took:?}");
        assert!(took < Duration::from_secs(2), "{what}: {took:?}");
        // Evaluations still answer from the seed; dropping is as quick.
        assert!(enabled(&client).unwrap());
        let started = Instant::now();
        drop(client);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

#[test]
fn polling_faster_than_a_second_and_zero_backoff_are_rejected() {
    for (options, want) in [
        (
            ClientOptions::new().update_interval(Duration::from_millis(999)),
            "update_interval",
        ),
        (
            ClientOptions::new().update_interval(Duration::from_millis(1)),
            "update_interval",
        ),
        (
            ClientOptions::new().retry_backoff(Duration::ZERO),
            "retry_backoff",
        ),
        (
            ClientOptions::new().connect_timeout(Duration::ZERO),
            "connect_timeout",
        ),
        (
            ClientOptions::new().initial_fetch_timeout(Duration::ZERO),
            "initial_fetch_timeout",
        ),
        (
            ClientOptions::new().max_snapshot_size(0),
            "max_snapshot_size",
        ),
    ] {
        let err = FliptClient::new(options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
        assert!(err.to_string().contains(want), "{err} should name {want}");
    }
}

#[test]
fn retry_after_is_honoured() {
    for status in [429u16, 503] {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let server = FakeServer::start(move |_| {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::Full {
                    status,
                    headers: vec![("Retry-After".into(), "1".into())],
                    body: Vec::new(),
                }
            } else {
                Reply::snapshot(&doc("default", true), "e")
            }
        });
        let started = Instant::now();
        let client =
            FliptClient::new(ClientOptions::new().url(server.url()).retry_backoff(FAST)).unwrap();
        let took = started.elapsed();
        println!("{status} with Retry-After: 1, then 200: {took:?}");
        assert!(took >= Duration::from_millis(950), "{status}: {took:?}");
        assert_eq!(server.count(), 2);
        assert!(enabled(&client).unwrap());
    }
}

// ---- security ----

/// On Windows too: std's `symlink_file` (wine maps it to a Unix symlink; on Windows it needs
/// the symlink privilege or developer mode, which CI's wine run has).
#[test]
fn persisting_never_writes_through_a_planted_symlink() {
    #[cfg(unix)]
    use std::os::unix::fs::symlink;
    #[cfg(windows)]
    use std::os::windows::fs::symlink_file as symlink;
    let dir = std::env::temp_dir().join(format!("flipt-symlink-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let path = dir.join("flags.json");
    // Symlinks at the final path and at every temporary name the old scheme would pick.
    symlink(&victim, &path).unwrap();
    for n in 0..16 {
        let name = format!(".flags.json.tmp.{}.{n}", std::process::id());
        symlink(&victim, dir.join(name)).unwrap();
    }
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .persist_path(&path)
            .error_strategy(ErrorStrategy::Fallback),
    )
    .unwrap();
    assert!(enabled(&client).unwrap());
    client.close();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the symlink was replaced, not followed"
    );
    // Owner-only where permissions are Unix modes; on Windows the file takes its directory's
    // ACL (a user's profile directories are private to that user).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn redirecting_to(target: String) -> FakeServer {
    FakeServer::start(move |r| {
        if r.path().starts_with("/moved") {
            Reply::snapshot(&doc("default", true), "e")
        } else {
            Reply::Full {
                status: 307,
                headers: vec![("Location".into(), target.clone())],
                body: Vec::new(),
            }
        }
    })
}

#[test]
fn same_origin_redirects_keep_credentials() {
    let server = redirecting_to("/moved/snapshot".into());
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .authentication(Authentication::client_token("tok")),
    )
    .unwrap();
    assert!(enabled(&client).unwrap());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].path(), "/moved/snapshot");
    assert_eq!(reqs[1].header("authorization"), Some("Bearer tok"));
}

#[test]
fn a_redirect_may_carry_a_query() {
    let server = redirecting_to("/moved/snapshot?reference=main".into());
    let client = FliptClient::new(ClientOptions::new().url(server.url())).unwrap();
    assert!(enabled(&client).unwrap());
    assert_eq!(
        server.requests()[1].target,
        "/moved/snapshot?reference=main"
    );
}

#[test]
fn cross_origin_redirects_drop_credentials() {
    let other = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    let server = redirecting_to(format!("{}/moved/snapshot", other.url()));
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .authentication(Authentication::client_token("tok")),
    )
    .unwrap();
    assert!(enabled(&client).unwrap());
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer tok")
    );
    let reqs = other.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].header("authorization"),
        None,
        "another port is another origin"
    );
}

#[test]
fn redirect_loops_end() {
    let server = FakeServer::start(|_| Reply::Full {
        status: 302,
        headers: vec![("Location".into(), "/again".into())],
        body: Vec::new(),
    });
    let err = FliptClient::new(ClientOptions::new().url(server.url())).unwrap_err();
    assert_eq!(server_kind(&err), Some(ServerErrorKind::Redirect), "{err}");
    assert_eq!(
        server.count(),
        6,
        "the request and 5 redirects, not retried"
    );
}

#[test]
fn a_password_in_the_url_appears_nowhere() {
    let logs = captured_logs();
    let server = FakeServer::start(|_| Reply::status(503));
    let url = format!("http://alice:Pa55w0rd-9f2@127.0.0.1:{}", server.port);
    let options = ClientOptions::new()
        .url(&url)
        .retry_backoff(FAST)
        .error_strategy(ErrorStrategy::Fallback);
    let mut seen = vec![format!("{options:?}")];
    let client = FliptClient::new(options).unwrap();
    assert!(eventually(|| client.health().last_error.is_some()));
    seen.push(format!("{:?}", client.health()));
    seen.push(format!("{client:?}"));
    let err = FliptClient::new(ClientOptions::new().url(&url).retry_backoff(FAST)).unwrap_err();
    seen.push(err.to_string());
    seen.push(format!("{err:?}"));
    let bad = FliptClient::new(ClientOptions::new().url(format!("{url}?q=1"))).unwrap_err();
    seen.push(bad.to_string());
    seen.extend(logs.lock().unwrap().iter().cloned());
    assert!(seen.iter().any(|s| s.contains("alice:***@")), "{seen:#?}");
    for text in &seen {
        assert!(!text.contains("Pa55w0rd-9f2"), "leaked: {text}");
        // Nor as HTTP basic credentials.
        assert!(!text.contains("YWxpY2U6UGE1NXcwcmQtOWYy"), "leaked: {text}");
    }
}

#[test]
fn control_characters_are_rejected_at_construction() {
    for (options, want) in [
        (
            ClientOptions::new().namespace("a\r\nX-Evil: 1"),
            "namespace",
        ),
        (ClientOptions::new().environment("prod\n"), "environment"),
        (ClientOptions::new().reference("main\r"), "reference"),
        (
            ClientOptions::new().authentication(Authentication::jwt("tok\r\nX: y")),
            "control",
        ),
        (ClientOptions::new().url("http://h/\n"), "url"),
    ] {
        let err = FliptClient::new(options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
        assert!(err.to_string().contains(want), "{err} should name {want}");
    }
}

// ---- bounded resources ----

#[test]
fn a_document_of_another_namespace_never_replaces_the_snapshot() {
    let wrong = Arc::new(AtomicUsize::new(0));
    let w = wrong.clone();
    let server = FakeServer::start(move |_| {
        if w.load(Ordering::SeqCst) == 0 {
            Reply::snapshot(&doc("default", true), "a")
        } else {
            Reply::snapshot(&doc("other", false), "b")
        }
    });
    // At start, under Fail: no client.
    wrong.store(1, Ordering::SeqCst);
    let err = FliptClient::new(ClientOptions::new().url(server.url())).unwrap_err();
    assert!(err.to_string().contains("\"other\""), "{err}");
    // During polling, under Fallback: the good snapshot stays.
    wrong.store(0, Ordering::SeqCst);
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .error_strategy(ErrorStrategy::Fallback),
    )
    .unwrap();
    let generation = client.generation();
    wrong.store(1, Ordering::SeqCst);
    assert!(eventually(|| {
        client.refresh();
        client.health().last_error.is_some()
    }));
    assert_eq!(client.generation(), generation);
    assert!(enabled(&client).unwrap());
    assert_eq!(client.snapshot().namespace(), "default");
    let flipt_client::LastError { error: e, .. } = client.health().last_error.unwrap();
    assert!(e.to_string().contains("namespace"), "{e}");
}

/// A streaming client, its server, and the sender feeding the first stream connection. The
/// snapshot endpoint serves `doc(default, true)`.
fn streaming(options: ClientOptions) -> (FakeServer, FliptClient, Sender<Chunk>) {
    let senders: Arc<Mutex<Vec<Sender<Chunk>>>> = Arc::new(Mutex::new(Vec::new()));
    let s = senders.clone();
    let server = FakeServer::start(move |r| {
        if r.path().ends_with("/stream") {
            let (tx, rx) = channel();
            s.lock().unwrap().push(tx);
            Reply::Stream(rx)
        } else {
            Reply::snapshot(&doc("default", true), "e0")
        }
    });
    let client = FliptClient::new(
        options
            .url(server.url())
            .fetch_mode(FetchMode::Streaming)
            .retry_backoff(Duration::from_millis(5)),
    )
    .unwrap();
    assert!(eventually(|| !senders.lock().unwrap().is_empty()));
    let tx = senders.lock().unwrap()[0].clone();
    (server, client, tx)
}

#[test]
fn a_stream_document_of_another_namespace_is_refused() {
    let (_server, client, tx) = streaming(ClientOptions::new());
    let generation = client.generation();
    tx.send(Chunk::Data(stream_line(&doc("other", false))))
        .unwrap();
    assert!(eventually(|| client.health().last_error.is_some()));
    assert!(
        enabled(&client).is_err(),
        "under Fail the refusal is reported"
    );
    assert_eq!(client.snapshot().namespace(), "default");
    assert_eq!(client.generation(), generation);
    tx.send(Chunk::Data(stream_line(&doc("default", false))))
        .unwrap();
    assert!(eventually(|| enabled(&client).ok() == Some(false)));
    client.close();
}

#[test]
fn a_50_mb_error_line_is_stored_capped() {
    let (_server, client, tx) = streaming(ClientOptions::new());
    let message = "x".repeat(50 * 1024 * 1024);
    let line = format!("{{\"error\":{{\"code\":13,\"message\":\"{message}\"}}}}\n");
    drop(message);
    tx.send(Chunk::Data(line.into_bytes())).unwrap();
    // 50 MB to frame and parse: seconds under emulation.
    assert!(eventually_within(Duration::from_secs(120), || enabled(
        &client
    )
    .is_err()));
    let err = enabled(&client).unwrap_err();
    let text = err.to_string();
    println!(
        "stored error after a 50 MB error line: {} bytes",
        text.len()
    );
    assert!(
        text.len() < 2 * flipt_client::MAX_ERROR_TEXT,
        "{} bytes",
        text.len()
    );
    assert!(
        text.contains("the server reported: xxx"),
        "{}",
        &text[..200]
    );
    assert!(text.contains("more bytes)"));
    let flipt_client::LastError { error: stored, .. } = client.health().last_error.unwrap();
    assert!(stored.to_string().len() < 2 * flipt_client::MAX_ERROR_TEXT);
    client.close();
}

#[test]
fn a_stream_line_over_the_limit_is_dropped() {
    let (_server, client, tx) = streaming(ClientOptions::new().max_snapshot_size(4096));
    let mut big = doc("default", false);
    big.push_str(&" ".repeat(8192));
    tx.send(Chunk::Data(stream_line(&big))).unwrap();
    assert!(eventually(|| client.health().last_error.is_some()));
    let flipt_client::LastError { error: e, .. } = client.health().last_error.unwrap();
    assert!(e.to_string().contains("max_snapshot_size"), "{e}");
    // The next line within the limit is read normally.
    tx.send(Chunk::Data(stream_line(&doc("default", false))))
        .unwrap();
    assert!(eventually(|| enabled(&client).ok() == Some(false)));
    client.close();
}

#[test]
fn a_body_over_the_limit_is_refused_before_it_is_read() {
    // Declares 100 MB and sends a few bytes: refused on the header alone, not retried.
    let server = FakeServer::start(|_| Reply::CutBody {
        status: 200,
        declared: 100 * 1024 * 1024,
        body: b"{\"namespace\":".to_vec(),
    });
    let err =
        FliptClient::new(ClientOptions::new().url(server.url()).retry_backoff(FAST)).unwrap_err();
    assert_eq!(server_kind(&err), Some(ServerErrorKind::Body), "{err}");
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
    assert_eq!(server.count(), 1, "not retried");

    // A real body over a configured limit.
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    let size = doc("default", true).len() as u64;
    let err = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .max_snapshot_size(size - 1),
    )
    .unwrap_err();
    assert_eq!(server_kind(&err), Some(ServerErrorKind::Body), "{err}");
    assert!(FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .max_snapshot_size(size)
    )
    .is_ok());
}

#[test]
fn a_persisted_snapshot_over_the_limit_is_ignored() {
    let dir = std::env::temp_dir().join(format!("flipt-limit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flags.json");
    let up = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    FliptClient::new(ClientOptions::new().url(up.url()).persist_path(&path))
        .unwrap()
        .close();
    // The limit is on the snapshot the file holds: the server's document, embedded as sent.
    let size = doc("default", true).len() as u64;
    assert!(std::fs::metadata(&path).unwrap().len() > size);
    let down = FakeServer::start(|_| Reply::status(503));
    let start = |limit: u64| {
        FliptClient::new(
            ClientOptions::new()
                .url(down.url())
                .persist_path(&path)
                .max_snapshot_size(limit)
                .retry_backoff(FAST)
                .error_strategy(ErrorStrategy::Fallback),
        )
        .unwrap()
        .health()
        .source
    };
    assert_eq!(start(size), SnapshotSource::Persisted);
    assert_eq!(start(size - 1), SnapshotSource::Empty);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_same_body_without_etag_changes_nothing() {
    let phase = Arc::new(AtomicUsize::new(0));
    let p = phase.clone();
    // No ETag at all; phase 1 is an outage.
    let server = FakeServer::start(move |_| match p.load(Ordering::SeqCst) {
        1 => Reply::status(500),
        _ => Reply::json(200, &doc("default", true)),
    });
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .retry_backoff(FAST)
            .error_strategy(ErrorStrategy::Fallback),
    )
    .unwrap();
    let changes = client.subscribe();
    let generation = client.generation();
    let n = server.count();
    assert!(eventually(|| {
        client.refresh();
        server.count() >= n + 3
    }));
    assert_eq!(
        client.generation(),
        generation,
        "the same content is no update"
    );

    // An outage, then recovery with the same content: no notification, the error is over.
    phase.store(1, Ordering::SeqCst);
    assert!(eventually(|| {
        client.refresh();
        client.health().last_error.is_some()
    }));
    phase.store(0, Ordering::SeqCst);
    assert!(eventually(|| {
        client.refresh();
        client.health().last_error.is_none()
    }));
    let health = client.health();
    assert!(health.last_success.is_some());
    assert_eq!(client.generation(), generation);
    assert!(
        changes.recv_timeout(Duration::from_millis(100)).is_err(),
        "no empty change notification"
    );
}

#[test]
fn under_fail_a_recovery_with_the_same_content_clears_the_error() {
    let phase = Arc::new(AtomicUsize::new(0));
    let p = phase.clone();
    let server = FakeServer::start(move |_| match p.load(Ordering::SeqCst) {
        1 => Reply::status(500),
        _ => Reply::json(200, &doc("default", true)),
    });
    let client =
        FliptClient::new(ClientOptions::new().url(server.url()).retry_backoff(FAST)).unwrap();
    let mut reader = client.reader();
    assert!(reader.evaluate_boolean("f", "u", &()).is_ok());
    phase.store(1, Ordering::SeqCst);
    assert!(eventually(|| {
        client.refresh();
        enabled(&client).is_err()
    }));
    // A reader sees the stored error too, though no snapshot was swapped.
    let err = reader.evaluate_boolean("f", "u", &()).unwrap_err();
    assert_eq!(
        server_kind(&err),
        Some(ServerErrorKind::Status(500)),
        "{err}"
    );
    assert!(!reader.evaluate_boolean_or("f", "u", &(), false));
    phase.store(0, Ordering::SeqCst);
    assert!(eventually(|| {
        client.refresh();
        enabled(&client).is_ok()
    }));
    assert!(client.health().last_error.is_none());
    assert!(reader.evaluate_boolean("f", "u", &()).unwrap().is_enabled());
}

// ---- typed errors ----

#[test]
fn server_errors_tell_their_kind() {
    let server = FakeServer::start(|_| Reply::status(503));
    let err =
        FliptClient::new(ClientOptions::new().url(server.url()).retry_backoff(FAST)).unwrap_err();
    let s = err.as_server().unwrap();
    assert_eq!(s.kind(), ServerErrorKind::Status(503));
    assert_eq!(s.status(), Some(503));
    assert!(
        err.to_string().starts_with(
            "server error: response: HTTP status server error (503 Service Unavailable)"
        ),
        "the engine's text: {err}"
    );

    let err =
        FliptClient::new(ClientOptions::new().url(refused_url()).retry_backoff(FAST)).unwrap_err();
    assert_eq!(server_kind(&err), Some(ServerErrorKind::Connect), "{err}");
    assert!(err
        .to_string()
        .starts_with("server error: failed to make request:"));

    let cut = FakeServer::start(|_| Reply::CutBody {
        status: 200,
        declared: 1000,
        body: b"{\"namespace\":".to_vec(),
    });
    let err =
        FliptClient::new(ClientOptions::new().url(cut.url()).retry_backoff(FAST)).unwrap_err();
    assert_eq!(server_kind(&err), Some(ServerErrorKind::Body), "{err}");
    assert_eq!(cut.count(), 4, "a cut body is retried");
}
