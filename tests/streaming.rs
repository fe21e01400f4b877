//! Streaming mode against a fake server: the stream request, snapshots applied line by line
//! (however the lines are split), error lines, a server dying mid-stream, reconnects with
//! backoff, and `close()` while the stream is idle.

#![cfg(feature = "net")]

mod support;

use support::eventually;

use flipt_client::{ClientOptions, ErrorStrategy, FetchMode, FliptClient};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::server::{doc, stream_line, Chunk, FakeServer, Reply};

fn enabled(client: &FliptClient) -> Option<bool> {
    client
        .evaluate_boolean("f", "user", &())
        .ok()
        .map(|r| r.is_enabled())
}

/// A server whose snapshot endpoint serves `doc(default, false)` and whose stream endpoint
/// hands out streams fed by the senders pushed into the returned list, one per connection.
fn streaming_server() -> (FakeServer, Arc<Mutex<Vec<Sender<Chunk>>>>) {
    let senders: Arc<Mutex<Vec<Sender<Chunk>>>> = Arc::new(Mutex::new(Vec::new()));
    let s = senders.clone();
    let server = FakeServer::start(move |r| {
        if r.path().ends_with("/stream") {
            let (tx, rx) = channel();
            s.lock().unwrap().push(tx);
            Reply::Stream(rx)
        } else {
            Reply::snapshot(&doc("default", false), "e0")
        }
    });
    (server, senders)
}

fn client(server: &FakeServer, strategy: ErrorStrategy) -> FliptClient {
    FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .fetch_mode(FetchMode::Streaming)
            .error_strategy(strategy)
            .retry_backoff(Duration::from_millis(5)),
    )
    .unwrap()
}

fn sender(senders: &Arc<Mutex<Vec<Sender<Chunk>>>>, n: usize) -> Sender<Chunk> {
    assert!(
        eventually(|| senders.lock().unwrap().len() > n),
        "stream connection {n} was not opened"
    );
    senders.lock().unwrap()[n].clone()
}

#[test]
fn stream_request_and_snapshots_applied_per_line() {
    let (server, senders) = streaming_server();
    let client = client(&server, ErrorStrategy::Fail);
    assert_eq!(enabled(&client), Some(false));
    let tx = sender(&senders, 0);
    let reqs = server.requests();
    assert_eq!(
        reqs[0].path(),
        "/internal/v1/evaluation/snapshot/namespace/default"
    );
    let stream = reqs.iter().find(|r| r.path().ends_with("/stream")).unwrap();
    assert_eq!(
        stream.target,
        "/client/v2/environments/default/namespaces/default/stream"
    );
    assert_eq!(stream.header("accept"), Some("application/json"));
    assert_eq!(stream.header("x-flipt-environment"), Some("default"));

    tx.send(Chunk::Data(stream_line(&doc("default", true))))
        .unwrap();
    assert!(eventually(|| enabled(&client) == Some(true)));
    let generation = client.generation();
    tx.send(Chunk::Data(stream_line(&doc("default", false))))
        .unwrap();
    assert!(eventually(|| enabled(&client) == Some(false)));
    assert!(client.generation() > generation);
    client.close();
}

#[test]
fn lines_split_across_chunks_are_reassembled() {
    let (server, senders) = streaming_server();
    let client = client(&server, ErrorStrategy::Fail);
    let tx = sender(&senders, 0);
    let mut bytes = stream_line(&doc("default", true));
    bytes.extend(b"\r\n"); // a blank keep-alive line, ignored
    bytes.extend(stream_line(&doc("default", false)));
    bytes.extend(stream_line(&doc("default", true)));
    let generation = client.generation();
    // Byte by byte for the first part, then odd-sized pieces.
    for b in &bytes[..40] {
        tx.send(Chunk::Data(vec![*b])).unwrap();
    }
    for piece in bytes[40..].chunks(7) {
        tx.send(Chunk::Data(piece.to_vec())).unwrap();
    }
    assert!(eventually(|| client.generation() == generation + 3));
    assert_eq!(enabled(&client), Some(true));
    assert!(
        client.health().last_error.is_none(),
        "{:?}",
        client.health().last_error
    );
}

#[test]
fn error_lines_and_garbage_never_replace_a_good_snapshot() {
    let (server, senders) = streaming_server();
    let fallback = client(&server, ErrorStrategy::Fallback);
    let tx = sender(&senders, 0);
    tx.send(Chunk::Data(stream_line(&doc("default", true))))
        .unwrap();
    assert!(eventually(|| enabled(&fallback) == Some(true)));
    let last_error = |c: &FliptClient| {
        c.health()
            .last_error
            .map(|last| last.error.to_string())
            .unwrap_or_default()
    };
    tx.send(Chunk::Data(
        b"{\"error\":{\"code\":13,\"message\":\"boom\",\"details\":[]}}\n".to_vec(),
    ))
    .unwrap();
    assert!(eventually(
        || last_error(&fallback).contains("the server reported: boom")
    ));
    tx.send(Chunk::Data(b"not json at all\n".to_vec())).unwrap();
    assert!(
        eventually(|| last_error(&fallback).contains("at line 1 column 1")),
        "{}",
        last_error(&fallback)
    );
    assert_eq!(enabled(&fallback), Some(true));

    let fail = client(&server, ErrorStrategy::Fail);
    let tx = sender(&senders, 1);
    tx.send(Chunk::Data(
        b"{\"error\":{\"code\":13,\"message\":\"boom\",\"details\":[]}}\n".to_vec(),
    ))
    .unwrap();
    assert!(eventually(|| fail.evaluate_boolean("f", "u", &()).is_err()));
    let err = fail
        .evaluate_boolean("f", "u", &())
        .unwrap_err()
        .to_string();
    assert!(err.contains("boom"), "{err}");
    tx.send(Chunk::Data(stream_line(&doc("default", true))))
        .unwrap();
    assert!(
        eventually(|| enabled(&fail) == Some(true)),
        "the next good line clears the error"
    );
}

#[test]
fn a_stream_cut_mid_line_reconnects_and_resumes() {
    let (server, senders) = streaming_server();
    let client = client(&server, ErrorStrategy::Fallback);
    let tx = sender(&senders, 0);
    let line = stream_line(&doc("default", true));
    tx.send(Chunk::Data(line[..line.len() / 2].to_vec()))
        .unwrap();
    tx.send(Chunk::Abort).unwrap();
    // The half line is not applied; the client reconnects.
    let tx = sender(&senders, 1);
    assert_eq!(enabled(&client), Some(false));
    assert!(client.health().last_error.is_some());
    tx.send(Chunk::Data(stream_line(&doc("default", true))))
        .unwrap();
    assert!(eventually(|| enabled(&client) == Some(true)));
    // A stream the server ends properly is reopened too.
    tx.send(Chunk::End).unwrap();
    let _tx = sender(&senders, 2);
}

#[test]
fn failing_reconnects_back_off() {
    let phase = Arc::new(Mutex::new(0));
    let p = phase.clone();
    let server = FakeServer::start(move |r| {
        if r.path().ends_with("/stream") {
            Reply::status(401)
        } else {
            *p.lock().unwrap() += 1;
            Reply::snapshot(&doc("default", true), "e")
        }
    });
    let client = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .fetch_mode(FetchMode::Streaming)
            .error_strategy(ErrorStrategy::Fallback)
            .retry_backoff(Duration::from_millis(20)),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    client.close();
    let streams = server
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/stream"))
        .count();
    // Without backoff a 401 loop makes thousands of requests in 600 ms; with 20 ms × 2ⁿ
    // full jitter it makes a handful.
    println!("stream requests in 600 ms against a 401: {streams}");
    assert!((2..=40).contains(&streams), "{streams} stream requests");
    assert_eq!(enabled(&client), Some(true));
}

#[test]
fn close_while_the_stream_is_idle() {
    let (server, senders) = streaming_server();
    let client = client(&server, ErrorStrategy::Fail);
    let _tx = sender(&senders, 0);
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    client.close();
    let took = t.elapsed();
    println!("close() with an idle stream: {took:?}");
    assert!(took < Duration::from_secs(2), "close took {took:?}");
    let n = server.count();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.count(), n, "no reconnect after close");
}

/// `doc(default, enabled)` with a v2 server's 40-character digest.
fn doc_with_digest(enabled: bool, digest: &str) -> String {
    doc("default", enabled).replace(r#""digest":"x""#, &format!(r#""digest":"{digest}""#))
}

/// A v2 server: the snapshot it holds (flag value and digest), served at the snapshot path;
/// its stream sends that snapshot unless the request names its digest, and stays open.
fn digest_server(
    state: Arc<Mutex<(bool, String)>>,
) -> (FakeServer, Arc<Mutex<Vec<Sender<Chunk>>>>) {
    let senders: Arc<Mutex<Vec<Sender<Chunk>>>> = Arc::new(Mutex::new(Vec::new()));
    let s = senders.clone();
    let server = FakeServer::start(move |r| {
        let (enabled, digest) = state.lock().unwrap().clone();
        let body = doc_with_digest(enabled, &digest);
        if !r.path().ends_with("/stream") {
            return Reply::snapshot(&body, &digest);
        }
        let (tx, rx) = channel();
        let has = r.target.split_once("?digest=").map(|(_, d)| d.to_string());
        if has.as_deref() != Some(digest.as_str()) {
            tx.send(Chunk::Data(stream_line(&body))).unwrap();
        }
        s.lock().unwrap().push(tx);
        Reply::Stream(rx)
    });
    (server, senders)
}

const D1: &str = "0123456789abcdef0123456789abcdef01234567";
const D2: &str = "fedcba9876543210fedcba9876543210fedcba98";

#[test]
fn a_reconnect_with_the_current_digest_receives_and_installs_nothing() {
    let state = Arc::new(Mutex::new((true, D1.to_string())));
    let (server, senders) = digest_server(state);
    let client = client(&server, ErrorStrategy::Fail);
    assert_eq!(enabled(&client), Some(true));
    let generation = client.generation();
    let first = sender(&senders, 0);
    // The stream drops; the client reconnects, still naming what it holds.
    first.send(Chunk::End).unwrap();
    let _second = sender(&senders, 1);
    let streams: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path().ends_with("/stream"))
        .collect();
    assert_eq!(streams.len(), 2);
    for r in &streams {
        assert_eq!(
            r.target,
            format!("/client/v2/environments/default/namespaces/default/stream?digest={D1}")
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        client.generation(),
        generation,
        "no snapshot line, nothing installed"
    );
    assert!(client.health().last_error.is_none());
    client.close();
}

#[test]
fn a_stale_digest_gets_the_new_snapshot() {
    let state = Arc::new(Mutex::new((true, D1.to_string())));
    let (server, senders) = digest_server(state.clone());
    let client = client(&server, ErrorStrategy::Fail);
    assert_eq!(enabled(&client), Some(true));
    let first = sender(&senders, 0);
    // The namespace changes while the client is between streams.
    *state.lock().unwrap() = (false, D2.to_string());
    first.send(Chunk::End).unwrap();
    assert!(eventually(|| enabled(&client) == Some(false)));
    assert_eq!(client.snapshot().digest(), Some(D2));
    let stream = server
        .requests()
        .into_iter()
        .filter(|r| r.path().ends_with("/stream"))
        .nth(1)
        .unwrap();
    assert!(
        stream.target.ends_with(&format!("?digest={D1}")),
        "{}",
        stream.target
    );
    client.close();
}

#[test]
fn digests_that_are_not_40_characters_are_not_sent() {
    let short = "0123456789abcdef0123456789abcdef"; // 32: the v1 ETag form
    let state = Arc::new(Mutex::new((true, short.to_string())));
    let (server, senders) = digest_server(state);
    let client = client(&server, ErrorStrategy::Fail);
    let _tx = sender(&senders, 0);
    let stream = server
        .requests()
        .into_iter()
        .find(|r| r.path().ends_with("/stream"))
        .unwrap();
    assert!(!stream.target.contains("digest"), "{}", stream.target);
    client.close();
}
