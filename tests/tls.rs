//! TLS against a rustls fake server with the committed test PKI (`tests/fixtures/tls/gen.sh`):
//! custom CA from a file and inline, a wrong CA refused, `insecure_skip_verify`,
//! `insecure_skip_hostname_verify` with a name mismatch, and mTLS.

#![cfg(feature = "net")]

mod support;

use flipt_client::{ClientOptions, ErrorKind, FliptClient, ServerErrorKind, TlsConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use support::server::{doc, FakeServer, Reply};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server presenting `cert`; with `client_ca`, client certificates signed by it are required.
fn tls_server(cert: &str, client_ca: Option<&str>) -> FakeServer {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixture(&format!("{cert}.pem")))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(fixture(&format!("{cert}.key"))).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(fixture(&format!("{ca}.pem"))).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).unwrap();
    FakeServer::start_with(Some(Arc::new(config)), |_| {
        Reply::snapshot(&doc("default", true), "e")
    })
}

fn connect(
    server: &FakeServer,
    host: &str,
    tls: TlsConfig,
) -> Result<FliptClient, flipt_client::Error> {
    FliptClient::new(
        ClientOptions::new()
            .url(server.https_url(host))
            .tls_config(tls)
            .retry_backoff(Duration::from_millis(1))
            .request_timeout(Duration::from_secs(5)),
    )
}

fn works(client: Result<FliptClient, flipt_client::Error>) {
    let client = client.unwrap_or_else(|e| panic!("expected a working TLS client: {e}"));
    assert!(client.evaluate_boolean("f", "u", &()).unwrap().is_enabled());
    client.close();
}

fn refused(client: Result<FliptClient, flipt_client::Error>) -> String {
    let err = client.expect_err("expected the TLS handshake to fail");
    assert_eq!(err.kind(), ErrorKind::Server);
    err.to_string()
}

#[test]
fn custom_ca_from_file_and_inline() {
    let server = tls_server("server", None);
    works(connect(
        &server,
        "localhost",
        TlsConfig::new().ca_cert_file(fixture("ca.pem")),
    ));
    works(connect(
        &server,
        "127.0.0.1",
        TlsConfig::new().ca_cert_data(read("ca.pem")),
    ));
    // Inline data wins over a file, even a missing one.
    works(connect(
        &server,
        "localhost",
        TlsConfig::new()
            .ca_cert_data(read("ca.pem"))
            .ca_cert_file("/nonexistent"),
    ));
}

#[test]
fn unknown_or_wrong_ca_is_refused() {
    let server = tls_server("server", None);
    let msg = refused(connect(&server, "localhost", TlsConfig::new()));
    assert!(msg.contains("certificate"), "{msg}");
    let before = server.count();
    refused(connect(
        &server,
        "localhost",
        TlsConfig::new().ca_cert_file(fixture("other-ca.pem")),
    ));
    assert_eq!(
        server.count(),
        before,
        "no request is sent over an untrusted connection"
    );
}

#[test]
fn certificate_failures_are_not_retried() {
    for (cert, tls) in [
        ("server", TlsConfig::new()),
        (
            "server",
            TlsConfig::new().ca_cert_file(fixture("other-ca.pem")),
        ),
        (
            "wrong-name",
            TlsConfig::new().ca_cert_file(fixture("ca.pem")),
        ),
    ] {
        let host = "localhost";
        let server = tls_server(cert, None);
        let err = connect(&server, host, tls).expect_err("the certificate must not verify");
        assert_eq!(
            err.as_server().map(|e| e.kind()),
            Some(ServerErrorKind::Tls),
            "{err}"
        );
        assert_eq!(
            server.connections(),
            1,
            "{cert}: a verification failure is final, one connection only ({err})"
        );
    }
}

#[test]
fn a_redirect_from_https_to_http_is_refused() {
    let plain = FakeServer::start(|_| Reply::snapshot(&doc("default", true), "e"));
    let server = tls_server("server", None);
    let target = format!("{}/elsewhere", plain.url());
    server.set_handler(move |_| Reply::Full {
        status: 302,
        headers: vec![("Location".into(), target.clone())],
        body: Vec::new(),
    });
    let err = connect(
        &server,
        "localhost",
        TlsConfig::new().ca_cert_file(fixture("ca.pem")),
    )
    .expect_err("a downgrade must fail");
    assert_eq!(
        err.as_server().map(|e| e.kind()),
        Some(ServerErrorKind::Redirect),
        "{err}"
    );
    assert!(err.to_string().contains("downgrade"), "{err}");
    assert_eq!(server.count(), 1, "not retried");
    assert_eq!(plain.count(), 0, "nothing was sent over plain http");
}

#[test]
fn insecure_skip_verify_accepts_any_certificate() {
    let server = tls_server("server", None);
    works(connect(
        &server,
        "localhost",
        TlsConfig::new().insecure_skip_verify(true),
    ));
    works(connect(
        &server,
        "localhost",
        TlsConfig::new()
            .ca_cert_file(fixture("other-ca.pem"))
            .insecure_skip_verify(true),
    ));
}

#[test]
fn insecure_skip_hostname_verify_checks_the_chain_only() {
    let server = tls_server("wrong-name", None);
    let ca = TlsConfig::new().ca_cert_file(fixture("ca.pem"));
    let msg = refused(connect(&server, "localhost", ca.clone()));
    assert!(msg.contains("certificate"), "{msg}");
    works(connect(
        &server,
        "localhost",
        ca.insecure_skip_hostname_verify(true),
    ));
    // The chain must still verify.
    refused(connect(
        &server,
        "localhost",
        TlsConfig::new()
            .ca_cert_file(fixture("other-ca.pem"))
            .insecure_skip_hostname_verify(true),
    ));
}

#[test]
fn mtls_requires_the_client_certificate() {
    let server = tls_server("server", Some("ca"));
    let ca = TlsConfig::new().ca_cert_file(fixture("ca.pem"));
    refused(connect(&server, "localhost", ca.clone()));
    works(connect(
        &server,
        "localhost",
        ca.clone()
            .client_cert_files(fixture("client.pem"), fixture("client.key")),
    ));
    works(connect(
        &server,
        "localhost",
        ca.clone()
            .client_cert_data(read("client.pem"), read("client.key")),
    ));
    // PKCS#1 RSA key.
    works(connect(
        &server,
        "localhost",
        ca.clone()
            .client_cert_files(fixture("client-rsa.pem"), fixture("client-rsa.key")),
    ));
    // The identity is still presented with insecure_skip_verify (the official engine drops it).
    works(connect(
        &server,
        "localhost",
        TlsConfig::new()
            .insecure_skip_verify(true)
            .client_cert_data(read("client.pem"), read("client.key")),
    ));
    // A certificate from another CA is refused by the server.
    let other = tls_server("server", Some("other-ca"));
    refused(connect(
        &other,
        "localhost",
        ca.client_cert_files(fixture("client.pem"), fixture("client.key")),
    ));
}

#[test]
fn bad_key_material_is_a_validation_error() {
    let server = tls_server("server", None);
    for tls in [
        TlsConfig::new().client_cert_data(read("client.pem"), "not a key"),
        TlsConfig::new().client_cert_data("not a cert", read("client.key")),
        TlsConfig::new().client_cert_files(fixture("client.pem"), fixture("missing.key")),
        TlsConfig::new().client_cert_data(read("client.pem"), read("client-rsa.key")),
    ] {
        let err =
            connect(&server, "localhost", tls).expect_err("bad key material must be rejected");
        assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
    }
    assert_eq!(server.count(), 0);
}
