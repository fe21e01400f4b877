//! Errors a program can act on: every invalid option is named by `ValidationError::option`,
//! server errors chain to their cause and name the address, snapshot errors name the file and
//! say what the input looked like.

#![cfg(feature = "net")]

mod support;

use flipt_client::{Authentication, ClientOptions, ErrorKind, FliptClient, TlsConfig};
use std::time::Duration;

fn option_of(options: ClientOptions) -> (String, String) {
    let err = FliptClient::new(options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
    let v = err.as_validation().expect("a validation error");
    (v.option().to_string(), err.to_string())
}

#[test]
fn every_invalid_option_is_named() {
    let dir = std::env::temp_dir().join(format!("flipt-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let blocker = dir.join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let base = || ClientOptions::new().retry_backoff(Duration::from_millis(1));
    let cases: Vec<(&str, ClientOptions)> = vec![
        ("url", base().url("ftp://h")),
        ("namespace", base().namespace("")),
        ("environment", base().environment("a\nb")),
        ("reference", base().reference("r\r")),
        (
            "update_interval",
            base().update_interval(Duration::from_millis(10)),
        ),
        ("retry_backoff", base().retry_backoff(Duration::ZERO)),
        ("request_timeout", base().request_timeout(Duration::ZERO)),
        ("connect_timeout", base().connect_timeout(Duration::ZERO)),
        (
            "initial_fetch_timeout",
            base().initial_fetch_timeout(Duration::ZERO),
        ),
        ("max_snapshot_size", base().max_snapshot_size(0)),
        (
            "authentication",
            base().authentication(Authentication::client_token(" ")),
        ),
        ("proxy", base().proxy("ftp://p")),
        ("snapshot", base().snapshot("not a snapshot")),
        (
            "tls_config.ca_cert_data",
            base().tls_config(TlsConfig::new().ca_cert_data("not pem")),
        ),
        (
            "tls_config.ca_cert_file",
            base().tls_config(TlsConfig::new().ca_cert_file(dir.join("missing.pem"))),
        ),
        (
            "persist_path",
            base().persist_path(blocker.join("flags.json")),
        ),
    ];
    for (want, options) in cases {
        let (option, text) = option_of(options);
        assert_eq!(option, want, "{text}");
        assert!(text.starts_with("invalid option: "), "{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_zero_request_timeout_says_what_none_and_the_default_mean() {
    let (_, text) = option_of(ClientOptions::new().request_timeout(Duration::ZERO));
    assert_eq!(
        text,
        "invalid option: request_timeout must be greater than zero (set the field to None for no limit; the default is 30 s)"
    );
}

#[test]
fn a_refused_connection_names_the_address_and_chains_to_the_io_error() {
    use std::error::Error as _;
    let url = support::server::refused_url();
    let err = FliptClient::new(
        ClientOptions::new()
            .url(&url)
            .retry_backoff(Duration::from_millis(1)),
    )
    .unwrap_err();
    let server = err.as_server().unwrap();
    assert_eq!(server.kind(), flipt_client::ServerErrorKind::Connect);
    let address = url.trim_start_matches("http://");
    assert!(
        err.to_string().contains(&format!("(server {address})")),
        "{err}"
    );
    let io = err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("the io::Error is the source");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused, "{io}");
}

#[test]
fn https_to_a_plain_http_port_says_so() {
    use std::io::{Read, Write};
    // What a plain-HTTP server (nginx, say) does with a TLS ClientHello: a 400, in plain text.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let err = FliptClient::new(ClientOptions::new().url(format!("https://127.0.0.1:{port}")))
        .unwrap_err();
    assert_eq!(
        err.as_server().map(|s| s.kind()),
        Some(flipt_client::ServerErrorKind::Tls),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.ends_with("the server answered in plain HTTP: use http://"),
        "{text}"
    );
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn a_snapshot_file_error_names_the_file() {
    let dir = std::env::temp_dir().join(format!("flipt-errors-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flags.json");
    std::fs::write(
        &path,
        r#"{"namespace":{"key":"default"},"flags":[{"key":"a"}]}"#,
    )
    .unwrap();
    let err = FliptClient::from_snapshot_file(&path).unwrap_err();
    let flipt_client::Error::Snapshot(e) = &err else {
        panic!("{err}")
    };
    assert_eq!(e.file(), Some(path.as_path()));
    assert_eq!(e.path(), Some("flags[0].name"));
    assert_eq!(
        err.to_string(),
        format!(
            "error parsing json: invalid snapshot: {}: flags[0].name: missing required field",
            path.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn text_that_is_neither_json_nor_base64_is_not_a_snapshot() {
    for (input, head) in [
        (
            "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
            "<!DOCTYPE html><html><body>502 Bad Gatew",
        ),
        (
            "namespace: default\nflags: []\n",
            "namespace: default\nflags: []\n",
        ),
    ] {
        let err = flipt_client::Snapshot::parse(input).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "invalid snapshot: not a snapshot: expected a JSON document or a base64 seed; the input starts with {head:?}"
            )
        );
    }
    // Base64 that is not a seed keeps the base64 diagnosis.
    let err = flipt_client::Snapshot::parse("bm90IGpzb24=").unwrap_err();
    assert!(err.to_string().contains("invalid snapshot"), "{err}");
}
