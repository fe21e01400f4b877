//! gzip (the `gzip` feature): requests ask for it, compressed bodies and streams are decoded,
//! and `max_snapshot_size` bounds the decompressed size, so a gzip bomb is refused without the
//! client allocating past the limit. Without the feature the client asks for identity, as the
//! official engine does.

#![cfg(feature = "net")]

mod support;

#[path = "../examples/support/counting.rs"]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

use flipt_client::{ClientOptions, FliptClient};
use support::server::{doc, FakeServer, Reply};

#[cfg(not(feature = "gzip"))]
#[test]
fn without_the_feature_the_client_asks_for_identity() {
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    FliptClient::new(ClientOptions::new().url(server.url())).unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.header("accept-encoding"), None, "{r:?}");
}

#[cfg(feature = "gzip")]
mod gzip {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use flipt_client::{ErrorStrategy, FetchMode, ServerErrorKind};
    use std::io::Write;
    use std::time::Duration;
    use support::eventually;
    use support::server::{stream_line, Chunk};

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn gzipped(body: Vec<u8>) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Content-Encoding".into(), "gzip".into()),
                ("ETag".into(), "\"gz\"".into()),
            ],
            body,
        }
    }

    #[test]
    fn a_gzipped_snapshot_is_asked_for_and_decoded() {
        let server = FakeServer::start(|r| {
            if r.header("accept-encoding") == Some("gzip") {
                gzipped(gzip(doc("default", true).as_bytes()))
            } else {
                Reply::status(406)
            }
        });
        let client = FliptClient::new(ClientOptions::new().url(server.url())).unwrap();
        assert!(client.evaluate_boolean("f", "u", &()).unwrap().is_enabled());
    }

    #[test]
    fn a_gzipped_stream_is_decoded_line_by_line() {
        let (tx, rx) = std::sync::mpsc::channel::<Chunk>();
        let rx = std::sync::Mutex::new(Some(rx));
        let server = FakeServer::start(move |r| {
            if r.path().ends_with("/stream") {
                match rx.lock().unwrap().take() {
                    Some(rx) => {
                        Reply::StreamWith(vec![("Content-Encoding".into(), "gzip".into())], rx)
                    }
                    None => Reply::status(503),
                }
            } else {
                Reply::snapshot(&doc("default", false), "e0")
            }
        });
        let client = FliptClient::new(
            ClientOptions::new()
                .url(server.url())
                .fetch_mode(FetchMode::Streaming)
                .retry_backoff(Duration::from_millis(5)),
        )
        .unwrap();
        assert!(!client.evaluate_boolean("f", "u", &()).unwrap().is_enabled());
        // One gzip stream, flushed after each message as a streaming server flushes.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        for enabled in [true, false, true] {
            encoder
                .write_all(&stream_line(&doc("default", enabled)))
                .unwrap();
            encoder.flush().unwrap();
            let bytes = std::mem::take(encoder.get_mut());
            tx.send(Chunk::Data(bytes)).unwrap();
            assert!(
                eventually(|| client
                    .evaluate_boolean("f", "u", &())
                    .is_ok_and(|r| r.is_enabled() == enabled)),
                "line with enabled={enabled}"
            );
        }
        client.close();
    }

    #[test]
    fn a_gzip_bomb_is_refused_without_allocating_past_the_limit() {
        // 1,024 gzip members of 1 MiB of zeros each: about 1 MB on the wire, 1 GiB inflated.
        let member = gzip(&vec![0u8; 1 << 20]);
        let bomb: Vec<u8> = member
            .iter()
            .copied()
            .cycle()
            .take(member.len() * 1024)
            .collect();
        let wire = bomb.len();
        let server = FakeServer::start(move |_| gzipped(bomb.clone()));
        let limit = ClientOptions::DEFAULT_MAX_SNAPSHOT_SIZE;
        counting::reset_largest();
        let err = FliptClient::new(
            ClientOptions::new()
                .url(server.url())
                .error_strategy(ErrorStrategy::Fail),
        )
        .unwrap_err();
        let largest = counting::largest_allocation();
        println!(
            "gzip bomb: {wire} bytes on the wire, 1 GiB inflated; refused as {err}; largest allocation {largest} bytes (limit {limit})"
        );
        assert_eq!(
            err.as_server().map(|s| s.kind()),
            Some(ServerErrorKind::Body),
            "{err}"
        );
        assert!(err.to_string().contains("limit"), "{err}");
        assert!(
            largest as u64 <= limit,
            "the body buffer stayed within the limit: {largest} bytes"
        );
        assert_eq!(
            server.count(),
            1,
            "a body over the limit is not asked for again"
        );
    }

    #[test]
    fn a_corrupt_gzip_body_is_a_body_error() {
        let server = FakeServer::start(|_| gzipped(b"\x1f\x8b\x08\x00garbage".to_vec()));
        let err = FliptClient::new(ClientOptions::new().url(server.url())).unwrap_err();
        assert_eq!(
            err.as_server().map(|s| s.kind()),
            Some(ServerErrorKind::Body),
            "{err}"
        );
    }
}
