//! TLS: a rustls `ClientConfig` built from [`TlsConfig`] (webpki roots plus custom CAs, the
//! two insecure switches, mTLS), and the ureq connector that wraps connections in it.
//!
//! ureq's own rustls connector cannot skip only the host name check, so this module plugs a
//! connector of its own into ureq's connector chain.

use crate::error::Error;
use crate::options::TlsConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};
use std::io::{Read, Write};
use std::sync::Arc;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// A validation error whose message starts with the option it names (`tls_config.ca_cert_file
/// /path: …`, `tls_config: …`).
fn invalid(msg: impl Into<String>) -> Error {
    let msg = msg.into();
    let option = msg
        .split([':', ' '])
        .next()
        .unwrap_or("tls_config")
        .to_string();
    Error::invalid(option, msg)
}

/// PEM text from inline data, else from a file.
fn pem(
    data: &Option<String>,
    file: &Option<std::path::PathBuf>,
    what: &str,
) -> Result<Option<Vec<u8>>, Error> {
    if let Some(d) = data {
        return Ok(Some(d.as_bytes().to_vec()));
    }
    match file {
        Some(path) => std::fs::read(path)
            .map(Some)
            .map_err(|e| invalid(format!("tls_config.{what}_file {}: {e}", path.display()))),
        None => Ok(None),
    }
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("tls_config.{what}: invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "tls_config.{what}: no certificate found in the PEM data"
        )));
    }
    Ok(certs)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls configuration for `tls` (docs/PROTOCOL.md §11; all problems are reported).
pub(crate) fn client_config(tls: Option<&TlsConfig>) -> Result<Arc<ClientConfig>, Error> {
    let default = TlsConfig::default();
    let tls = tls.unwrap_or(&default);
    let provider = provider();

    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(ca) = pem(&tls.ca_cert_data, &tls.ca_cert_file, "ca_cert")? {
        let what = if tls.ca_cert_data.is_some() {
            "ca_cert_data"
        } else {
            "ca_cert_file"
        };
        for cert in certificates(&ca, what)? {
            roots
                .add(cert)
                .map_err(|e| invalid(format!("tls_config.{what}: unusable CA certificate: {e}")))?;
        }
    }
    let roots = Arc::new(roots);

    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(AcceptAnyCertificate(Arc::clone(&provider)))
    } else {
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
            .build()
            .map_err(|e| invalid(format!("tls_config: {e}")))?;
        if tls.insecure_skip_hostname_verify {
            Arc::new(SkipHostname(webpki))
        } else {
            webpki
        }
    };

    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("tls_config: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);

    // Both halves of an identity must come from the same place: data pair, else file pair.
    let identity = if tls.client_cert_data.is_some() && tls.client_key_data.is_some() {
        Some((
            tls.client_cert_data.clone().map(String::into_bytes),
            tls.client_key_data.clone().map(String::into_bytes),
            "data",
        ))
    } else if tls.client_cert_file.is_some() || tls.client_key_file.is_some() {
        let (Some(cert), Some(key)) = (&tls.client_cert_file, &tls.client_key_file) else {
            return Err(invalid(
                "tls_config: client_cert_file and client_key_file must be given together",
            ));
        };
        let read = |p: &std::path::Path, what: &str| {
            std::fs::read(p).map_err(|e| invalid(format!("tls_config.{what} {}: {e}", p.display())))
        };
        Some((
            Some(read(cert, "client_cert_file")?),
            Some(read(key, "client_key_file")?),
            "file",
        ))
    } else if tls.client_cert_data.is_some() || tls.client_key_data.is_some() {
        return Err(invalid(
            "tls_config: client_cert_data and client_key_data must be given together",
        ));
    } else {
        None
    };

    let config = match identity {
        Some((Some(cert), Some(key), how)) => {
            let chain = certificates(&cert, &format!("client_cert_{how}"))?;
            let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| {
                invalid(format!(
                    "tls_config.client_key_{how}: no usable private key: {e}"
                ))
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                invalid(format!(
                    "tls_config: client certificate and key do not work together: {e}"
                ))
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// `insecure_skip_verify`: any certificate, any name; handshake signatures are still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `insecure_skip_hostname_verify`: the chain must verify; a name mismatch is accepted.
#[derive(Debug)]
struct SkipHostname(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for SkipHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name, so a name error means the chain is good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A ureq connector that wraps `https` connections in our rustls configuration.
#[derive(Debug)]
pub(crate) struct TlsConnector {
    pub config: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Err(ureq::Error::ConnectionFailed);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().ok_or(ureq::Error::HostNotFound)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| ureq::Error::Tls("invalid server name"))?;
        let mut conn = ClientConnection::new(Arc::clone(&self.config), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// An established TLS connection.
pub(crate) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
