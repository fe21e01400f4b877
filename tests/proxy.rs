//! Proxies, against the fake server and a fake forward proxy on loopback: absolute-form
//! requests for `http` servers, CONNECT tunnels for `https` ones with TLS verified end to end,
//! proxy credentials sent and redacted, invalid proxy URLs refused, and the proxy environment
//! variables (read in a child process, so this binary's environment stays untouched).
//! `tests/deployments.rs` repeats the important cases against a real tinyproxy.

#![cfg(feature = "net")]

mod support;

use flipt_client::{ClientOptions, ErrorKind, FliptClient, TlsConfig};
use std::path::PathBuf;
use std::sync::Arc;
use support::proxy::FakeProxy;
use support::server::{doc, FakeServer, Reply};

const SNAPSHOT_PATH: &str = "/internal/v1/evaluation/snapshot/namespace/default";

fn enabled(client: &FliptClient) -> bool {
    client
        .evaluate_boolean("f", "u", &())
        .is_ok_and(|r| r.is_enabled())
}

#[test]
fn an_http_server_is_reached_with_absolute_form_requests_and_proxy_credentials() {
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e1"));
    let proxy = FakeProxy::start();
    let url = format!("http://alice:s%3Acret@127.0.0.1:{}", proxy.port);
    let client = FliptClient::new(ClientOptions::new().url(server.url()).proxy(&url)).unwrap();
    assert!(enabled(&client));
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].line,
        format!(
            "GET http://127.0.0.1:{}{SNAPSHOT_PATH} HTTP/1.1",
            server.port
        )
    );
    // "alice:s:cret", percent-decoded, in Basic form.
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Basic YWxpY2U6czpjcmV0")
    );
    assert_eq!(server.count(), 1);
    let shown = format!("{:?}", ClientOptions::new().proxy(&url));
    assert!(shown.contains("alice:***@127.0.0.1"), "{shown}");
    assert!(!shown.contains("cret"), "{shown}");
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn tls_server() -> FakeServer {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    FakeServer::start_with(Some(Arc::new(config)), |_| {
        Reply::snapshot(&doc("default", true), "e1")
    })
}

#[test]
fn an_https_server_is_reached_through_a_connect_tunnel_verified_end_to_end() {
    let server = tls_server();
    let proxy = FakeProxy::start();
    let options = |ca: &str| {
        ClientOptions::new()
            .url(server.https_url("localhost"))
            .proxy(proxy.url())
            .tls_config(TlsConfig::new().ca_cert_file(fixture(ca)))
            .retry_backoff(std::time::Duration::from_millis(1))
    };
    let client = FliptClient::new(options("ca.pem")).unwrap();
    assert!(enabled(&client));
    let seen = proxy.seen();
    assert_eq!(
        seen[0].line,
        format!("CONNECT localhost:{} HTTP/1.1", server.port)
    );
    // The certificate is checked through the tunnel: a CA that did not sign it is refused.
    let err = FliptClient::new(options("other-ca.pem")).unwrap_err();
    assert_eq!(
        err.as_server().map(|s| s.kind()),
        Some(flipt_client::ServerErrorKind::Tls),
        "{err}"
    );
}

#[test]
fn invalid_proxy_urls_are_validation_errors_naming_the_proxy() {
    for bad in [
        "ftp://p:1",
        "http://p:0",
        "http://user:pw@p:80/path",
        "https://p:443",
    ] {
        let err = FliptClient::new(ClientOptions::new().proxy(bad)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation, "{bad}");
        let text = err.to_string();
        assert!(text.contains("proxy"), "{bad}: {text}");
        assert!(!text.contains("pw@"), "{bad}: credentials shown: {text}");
    }
}

#[test]
fn a_proxy_that_is_down_is_a_connect_error() {
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e1"));
    let err = FliptClient::new(
        ClientOptions::new()
            .url(server.url())
            .proxy(support::server::refused_url())
            .retry_backoff(std::time::Duration::from_millis(1)),
    )
    .unwrap_err();
    assert_eq!(
        err.as_server().map(|s| s.kind()),
        Some(flipt_client::ServerErrorKind::Connect),
        "{err}"
    );
    assert_eq!(server.count(), 0, "nothing went around the proxy");
}

/// The `evaluate` example for `url` with `--proxy-from-env`, in an environment of its own.
fn evaluate_from_env(url: &str, env: &[(&str, String)]) -> std::process::Output {
    let args = [
        "--url",
        url,
        "--proxy-from-env",
        "--flag",
        "f",
        "--entity",
        "u",
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    support::evaluate_with_proxy_env(&args, env)
}

#[test]
fn proxy_from_env_follows_http_proxy_and_no_proxy() {
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e1"));
    let proxy = FakeProxy::start();
    let out = evaluate_from_env(&server.url(), &[("HTTP_PROXY", proxy.url())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("enabled     true"));
    assert_eq!(proxy.seen().len(), 1, "through the proxy");

    // HTTPS_PROXY is for https servers only.
    let out = evaluate_from_env(&server.url(), &[("HTTPS_PROXY", proxy.url())]);
    assert!(out.status.success());
    assert_eq!(proxy.seen().len(), 1, "direct");

    // NO_PROXY, by IP literal and by host:port.
    for no_proxy in [
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{}", server.port),
    ] {
        let out = evaluate_from_env(
            &server.url(),
            &[("http_proxy", proxy.url()), ("no_proxy", no_proxy.clone())],
        );
        assert!(out.status.success(), "{no_proxy}");
        assert_eq!(proxy.seen().len(), 1, "{no_proxy} bypasses the proxy");
    }
    // ALL_PROXY when the scheme's own variable is missing; an empty one is unset.
    let out = evaluate_from_env(
        &server.url(),
        &[("ALL_PROXY", proxy.url()), ("HTTP_PROXY", String::new())],
    );
    assert!(out.status.success());
    assert_eq!(proxy.seen().len(), 2);
    assert_eq!(server.count(), 5);
}

#[test]
fn socks5_and_socks5h_proxies_carry_the_requests() {
    use support::proxy::FakeSocks5;
    let server = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e1"));
    let socks = FakeSocks5::start();
    for (scheme, url, want) in [
        // socks5: the client resolves the name; socks5h: the proxy does.
        ("socks5", server.url(), format!("127.0.0.1:{}", server.port)),
        (
            "socks5h",
            format!("http://localhost:{}", server.port),
            format!("localhost:{}", server.port),
        ),
    ] {
        let proxy = format!("{scheme}://127.0.0.1:{}", socks.port);
        let client = FliptClient::new(ClientOptions::new().url(url).proxy(proxy)).unwrap();
        assert!(enabled(&client), "{scheme}");
        assert_eq!(socks.seen().last(), Some(&want), "{scheme}");
    }
}
