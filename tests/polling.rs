//! The network client in polling mode against a fake Flipt server: paths and headers, ETag,
//! updates, retries, error strategies, authentication changes, validation and `close()`.

#![cfg(feature = "net")]

mod support;

use support::eventually;

use flipt_client::{
    Authentication, ClientOptions, Error, ErrorKind, ErrorStrategy, FliptClient, SnapshotSource,
    TlsConfig,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::server::{doc, refused_url, FakeServer, Reply};

const FAST: Duration = Duration::from_millis(1);

fn options(server: &FakeServer) -> ClientOptions {
    ClientOptions::new().url(server.url()).retry_backoff(FAST)
}

fn enabled(client: &FliptClient) -> Result<bool, Error> {
    client
        .evaluate_boolean("f", "user", &())
        .map(|r| r.is_enabled())
}

#[test]
fn initial_fetch_sends_the_official_path_and_headers() {
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "etag-1"));
    let client =
        FliptClient::new(options(&server).authentication(Authentication::client_token("tok")))
            .unwrap();
    assert!(enabled(&client).unwrap());
    let reqs = server.requests();
    assert_eq!(
        reqs.len(),
        1,
        "one blocking fetch, no immediate second poll"
    );
    let r = &reqs[0];
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.target,
        "/internal/v1/evaluation/snapshot/namespace/default"
    );
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(r.header("x-flipt-accept-server-version"), Some("1.47.0"));
    assert_eq!(r.header("x-flipt-environment"), Some("default"));
    assert_eq!(r.header("authorization"), Some("Bearer tok"));
    assert!(r
        .header("user-agent")
        .unwrap()
        .starts_with("flipt-client-rust/"));
    assert_eq!(r.header("if-none-match"), None);
    // Identity unless built with the gzip feature (docs/PROTOCOL.md §18.1).
    let encoding = cfg!(feature = "gzip").then_some("gzip");
    assert_eq!(r.header("accept-encoding"), encoding);
    assert_eq!(client.health().source, SnapshotSource::Server);
    client.close();
}

#[test]
fn options_shape_the_request() {
    let server = FakeServer::start(|_| Reply::snapshot(&doc("a b/c?d", true), "e"));
    let client = FliptClient::new(
        options(&server)
            .namespace("a b/c?d")
            .environment("")
            .reference("main&x=1")
            .authentication(Authentication::jwt("jwt-token")),
    )
    .unwrap();
    let r = &server.requests()[0];
    assert_eq!(
        r.target,
        "/internal/v1/evaluation/snapshot/namespace/a%20b%2Fc%3Fd?reference=main%26x%3D1"
    );
    assert_eq!(
        r.header("x-flipt-environment"),
        None,
        "empty environment omits the header"
    );
    assert_eq!(r.header("authorization"), Some("JWT jwt-token"));
    assert!(enabled(&client).unwrap());

    // A base URL with a path prefix and a trailing slash.
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    let _client = FliptClient::new(
        options(&server)
            .url(format!("{}/flipt/", server.url()))
            .environment("staging"),
    )
    .unwrap();
    let r = &server.requests()[0];
    assert_eq!(
        r.target,
        "/flipt/internal/v1/evaluation/snapshot/namespace/default"
    );
    assert_eq!(r.header("x-flipt-environment"), Some("staging"));
    assert_eq!(r.header("authorization"), None);
}

#[test]
fn etag_and_304_keep_the_snapshot() {
    let server = FakeServer::start(|r| match r.header("if-none-match") {
        Some("v1") => Reply::status(304),
        _ => Reply::snapshot(&doc("default", true), "v1"),
    });
    let client = FliptClient::new(options(&server)).unwrap();
    let generation = client.generation();
    assert!(eventually(|| {
        client.refresh();
        server.count() >= 4
    }));
    let reqs = server.requests();
    assert!(reqs[1..]
        .iter()
        .all(|r| r.header("if-none-match") == Some("v1")));
    assert_eq!(client.generation(), generation, "304 installs nothing");
    assert!(enabled(&client).unwrap());
    assert!(client.health().last_success.is_some());
}

#[test]
fn polling_picks_up_a_change() {
    let version = Arc::new(AtomicUsize::new(0));
    let v = version.clone();
    let server = FakeServer::start(move |_| {
        let n = v.load(Ordering::SeqCst);
        Reply::snapshot(&doc("default", n == 1), &format!("v{n}"))
    });
    let client = FliptClient::new(options(&server)).unwrap();
    assert!(!enabled(&client).unwrap());
    version.store(1, Ordering::SeqCst);
    assert!(eventually(|| {
        client.refresh();
        enabled(&client).unwrap()
    }));
    assert!(client.generation() >= 2);
}

fn failing_start(reply: fn() -> Reply) -> (usize, Error) {
    let server = FakeServer::start(move |_| reply());
    let err = FliptClient::new(options(&server)).unwrap_err();
    (server.count(), err)
}

#[test]
fn transient_statuses_are_retried_three_times() {
    for status in [429u16, 500, 502, 503, 504, 408] {
        let server = FakeServer::start(move |_| Reply::status(status));
        let err = FliptClient::new(options(&server)).unwrap_err();
        assert_eq!(server.count(), 4, "status {status}: 1 attempt + 3 retries");
        assert_eq!(err.kind(), ErrorKind::Server);
        let msg = err.to_string();
        assert!(
            msg.starts_with("server error: response: HTTP status"),
            "{msg}"
        );
        assert!(msg.contains(&status.to_string()), "{msg}");
        assert!(msg.contains(&server.url()), "{msg}");
    }
    let (count, err) = failing_start(|| Reply::status(503));
    assert_eq!(count, 4);
    assert_eq!(
        err.to_string(),
        format!(
            "server error: response: HTTP status server error (503 Service Unavailable) for url ({})",
            err.to_string().split("for url (").nth(1).map(|s| s.trim_end_matches(')')).unwrap_or("")
        )
    );
}

#[test]
fn other_client_errors_are_not_retried() {
    for status in [400u16, 401, 403, 404] {
        let server = FakeServer::start(move |_| Reply::status(status));
        let err = FliptClient::new(options(&server)).unwrap_err();
        assert_eq!(server.count(), 1, "status {status} must not be retried");
        assert!(err.to_string().contains("client error"), "{err}");
    }
    let (count, err) = failing_start(|| Reply::status(401));
    assert_eq!(count, 1);
    assert!(err.to_string().contains("(401 Unauthorized)"), "{err}");
}

#[test]
fn cut_connections_are_retried_then_reported() {
    let (count, err) = failing_start(|| Reply::Close);
    assert_eq!(count, 4);
    assert!(
        err.to_string()
            .starts_with("server error: failed to make request:"),
        "{err}"
    );

    let (count, err) = failing_start(|| Reply::CutBody {
        status: 200,
        declared: 1000,
        body: br#"{"namespace":{"key""#.to_vec(),
    });
    assert_eq!(count, 4, "a body cut mid-way is retried");
    assert!(
        err.to_string()
            .starts_with("server error: failed to make request:"),
        "{err}"
    );
}

#[test]
fn a_cut_body_followed_by_a_good_one_succeeds() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = FakeServer::start(move |_| {
        if c.fetch_add(1, Ordering::SeqCst) < 2 {
            Reply::CutBody {
                status: 200,
                declared: 500,
                body: b"{\"namespace\":".to_vec(),
            }
        } else {
            Reply::snapshot(&doc("default", true), "e")
        }
    });
    let client = FliptClient::new(options(&server)).unwrap();
    assert_eq!(server.count(), 3);
    assert!(enabled(&client).unwrap());
}

#[test]
fn connection_refused_is_retried() {
    let err =
        FliptClient::new(ClientOptions::new().url(refused_url()).retry_backoff(FAST)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("server error: failed to make request:"),
        "{err}"
    );
}

#[test]
fn timeouts_are_retried() {
    let server =
        FakeServer::start(|_| Reply::Delay(Duration::from_secs(5), Box::new(Reply::status(200))));
    let started = Instant::now();
    let err =
        FliptClient::new(options(&server).request_timeout(Duration::from_millis(100))).unwrap_err();
    assert_eq!(server.count(), 4);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(err.to_string().contains("failed to make request"), "{err}");
}

#[test]
fn garbage_never_replaces_a_good_snapshot() {
    let good = Arc::new(AtomicUsize::new(1));
    let g = good.clone();
    let server = FakeServer::start(move |_| {
        if g.load(Ordering::SeqCst) == 1 {
            Reply::snapshot(&doc("default", true), "good")
        } else {
            Reply::json(
                200,
                r#"{"namespace": {"key": "default"}, "flags": [{"key": 7}]}"#,
            )
        }
    });
    // fallback: the good snapshot keeps answering, the failure shows in health().
    let fallback =
        FliptClient::new(options(&server).error_strategy(ErrorStrategy::Fallback)).unwrap();
    let fail = FliptClient::new(options(&server)).unwrap();
    good.store(0, Ordering::SeqCst);
    assert!(eventually(|| {
        fallback.refresh();
        fallback.health().last_error.is_some()
    }));
    assert!(enabled(&fallback).unwrap());
    let flipt_client::LastError { error: e, .. } = fallback.health().last_error.unwrap();
    assert!(
        e.to_string()
            .starts_with("error parsing json: invalid snapshot: failed to parse response body:"),
        "{e}"
    );

    // fail: evaluations report the error until the next good update.
    assert!(eventually(|| {
        fail.refresh();
        enabled(&fail).is_err()
    }));
    let err = enabled(&fail).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidJson);
    assert!(fail.list_flags().is_err());
    assert!(fail.get_snapshot().is_err());
    good.store(1, Ordering::SeqCst);
    assert!(eventually(|| {
        fail.refresh();
        enabled(&fail).is_ok()
    }));
    assert!(enabled(&fail).unwrap());
}

#[test]
fn a_failed_update_clears_the_etag() {
    let phase = Arc::new(AtomicUsize::new(0));
    let p = phase.clone();
    let server = FakeServer::start(move |_| match p.load(Ordering::SeqCst) {
        0 => Reply::snapshot(&doc("default", true), "A"),
        1 => Reply::status(500),
        _ => Reply::snapshot(&doc("default", false), "B"),
    });
    let client = FliptClient::new(options(&server)).unwrap();
    phase.store(1, Ordering::SeqCst);
    assert!(eventually(|| {
        client.refresh();
        enabled(&client).is_err()
    }));
    phase.store(2, Ordering::SeqCst);
    assert!(eventually(|| {
        client.refresh();
        enabled(&client).ok() == Some(false)
    }));
    let reqs = server.requests();
    let first_after_failure = reqs
        .iter()
        .position(|r| r.header("if-none-match").is_none() && reqs[0].target == r.target);
    assert!(first_after_failure.is_some());
    assert!(
        reqs.iter()
            .skip(1)
            .any(|r| r.header("if-none-match").is_none()),
        "an unconditional request followed the failure"
    );
}

#[test]
fn error_strategies_at_start() {
    let server = FakeServer::start(|_| Reply::status(500));
    // fail: no client.
    assert!(FliptClient::new(options(&server)).is_err());
    // fallback without seed: an empty snapshot of the configured namespace.
    let client = FliptClient::new(
        options(&server)
            .namespace("mine")
            .error_strategy(ErrorStrategy::Fallback),
    )
    .unwrap();
    assert_eq!(
        enabled(&client).unwrap_err().to_string(),
        "invalid request: failed to get flag information mine/f"
    );
    assert_eq!(client.list_flags().unwrap(), vec![]);
    assert_eq!(client.health().source, SnapshotSource::Empty);
    assert!(client.health().last_error.is_some());
    // fallback with a seed: the seed answers.
    let seed = flipt_client::Snapshot::from_document(&doc("default", true))
        .unwrap()
        .to_base64();
    let client = FliptClient::new(
        options(&server)
            .snapshot(seed)
            .error_strategy(ErrorStrategy::Fallback),
    )
    .unwrap();
    assert!(enabled(&client).unwrap());
    assert_eq!(client.health().source, SnapshotSource::Seed);
}

#[test]
fn a_304_to_the_first_request_is_an_error() {
    let (count, err) = failing_start(|| Reply::status(304));
    assert_eq!(count, 1);
    assert_eq!(
        err.to_string(),
        "server error: no data received from server"
    );
}

#[test]
fn authentication_can_change_between_requests() {
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    let client =
        FliptClient::new(options(&server).authentication(Authentication::client_token("one")))
            .unwrap();
    client
        .update_authentication(Some(Authentication::jwt("two")))
        .unwrap();
    let n = server.count();
    assert!(eventually(|| {
        client.refresh();
        server.count() >= n + 2
    }));
    assert_eq!(
        server.requests().last().unwrap().header("authorization"),
        Some("JWT two")
    );
    client.update_authentication(None).unwrap();
    let n = server.count();
    assert!(eventually(|| {
        client.refresh();
        server.count() >= n + 2
    }));
    assert_eq!(
        server.requests().last().unwrap().header("authorization"),
        None
    );
    assert!(client
        .update_authentication(Some(Authentication::jwt(" ")))
        .is_err());
    let offline = FliptClient::from_snapshot_json(&doc("default", true)).unwrap();
    assert!(offline.update_authentication(None).is_err());
}

#[test]
fn bad_options_are_rejected_at_construction() {
    let mut half_identity = TlsConfig::new();
    half_identity.client_cert_file = Some("/nonexistent/c.pem".into());
    let seed_other_ns = flipt_client::Snapshot::from_document(&doc("other", true))
        .unwrap()
        .to_base64();
    let cases: Vec<(ClientOptions, &str)> = vec![
        (ClientOptions::new().url("localhost:8080"), "url"),
        (ClientOptions::new().url("ftp://h"), "scheme"),
        (ClientOptions::new().url(""), "url"),
        (
            ClientOptions::new().update_interval(Duration::ZERO),
            "update_interval",
        ),
        (
            ClientOptions::new().request_timeout(Duration::ZERO),
            "request_timeout",
        ),
        (ClientOptions::new().namespace(""), "namespace"),
        (
            ClientOptions::new().update_interval(Duration::MAX),
            "at most a year",
        ),
        (
            ClientOptions::new().request_timeout(Duration::MAX),
            "at most a year",
        ),
        (
            ClientOptions::new().snapshot("not base64!"),
            "snapshot option",
        ),
        (ClientOptions::new().snapshot(seed_other_ns), "namespace"),
        (
            ClientOptions::new().authentication(Authentication::client_token("")),
            "token",
        ),
        (
            ClientOptions::new().authentication(Authentication::client_token("a\nb")),
            "control",
        ),
        (
            ClientOptions::new().tls_config(TlsConfig::new().ca_cert_file("/nonexistent/ca.pem")),
            "ca_cert_file",
        ),
        (
            ClientOptions::new().tls_config(TlsConfig::new().ca_cert_data("not a pem")),
            "ca_cert_data",
        ),
        (
            ClientOptions::new().tls_config(TlsConfig::new().client_cert_data("x", "y")),
            "client_cert_data",
        ),
        (ClientOptions::new().tls_config(half_identity), "together"),
    ];
    for (opts, want) in cases {
        let started = Instant::now();
        let err = FliptClient::new(opts).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
        assert!(
            err.to_string().contains(want),
            "{err} should mention {want}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "validation happens before any request"
        );
    }
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let opts = ClientOptions::new()
        .authentication(Authentication::client_token("s3cr3t-token"))
        .tls_config(TlsConfig::new().client_cert_data("CERTDATA", "KEYDATA-s3cr3t"));
    let dbg = format!("{opts:?}");
    assert!(!dbg.contains("s3cr3t"), "{dbg}");
    assert!(dbg.contains("redacted"));
}

/// close() during the various waits: it must return promptly and stop all requests.
#[test]
fn close_is_prompt_everywhere() {
    // Mid-interval.
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    let client =
        FliptClient::new(options(&server).update_interval(Duration::from_secs(3600))).unwrap();
    let t = Instant::now();
    client.close();
    let mid_interval = t.elapsed();

    // Mid-backoff: the first update fails and waits an hour before retrying.
    let phase = Arc::new(AtomicUsize::new(0));
    let p = phase.clone();
    let server = FakeServer::start(move |_| {
        if p.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::snapshot(&doc("default", true), "e")
        } else {
            Reply::status(503)
        }
    });
    let client = FliptClient::new(
        options(&server)
            .retry_backoff(Duration::from_secs(3600))
            .error_strategy(ErrorStrategy::Fallback),
    )
    .unwrap();
    client.refresh();
    assert!(server.wait_for(2, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(20));
    let t = Instant::now();
    client.close();
    let mid_backoff = t.elapsed();
    let count = server.count();

    // Mid-request: the server takes an hour to answer a poll.
    let phase = Arc::new(AtomicUsize::new(0));
    let p = phase.clone();
    let slow = FakeServer::start(move |_| {
        if p.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::snapshot(&doc("default", true), "e")
        } else {
            Reply::Delay(Duration::from_secs(3600), Box::new(Reply::status(200)))
        }
    });
    let client = FliptClient::new(options(&slow)).unwrap();
    client.refresh();
    assert!(slow.wait_for(2, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(20));
    let t = Instant::now();
    client.close();
    let mid_request = t.elapsed();

    println!("close(): mid-interval {mid_interval:?}, mid-backoff {mid_backoff:?}, mid-request {mid_request:?}");
    for d in [mid_interval, mid_backoff, mid_request] {
        assert!(d < Duration::from_secs(2), "close took {d:?}");
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(server.count(), count, "no request after close()");
    // Evaluations still work after close, and close is idempotent.
    assert!(enabled(&client).unwrap());
    client.close();
}

#[test]
fn dropping_the_last_clone_stops_the_thread() {
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    let client = FliptClient::new(options(&server)).unwrap();
    let clone = client.clone();
    drop(client);
    assert!(
        eventually(|| {
            clone.refresh();
            server.count() >= 3
        }),
        "a clone keeps the poller alive"
    );
    drop(clone);
    let n = server.count();
    std::thread::sleep(Duration::from_millis(100));
    assert!(server.count() <= n + 1);
}
