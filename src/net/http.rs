//! One snapshot request with retries, and opening the stream, over a ureq agent
//! (PROTOCOL.md §3, §4, §5.4, §8). Knows nothing of evaluation: it hands back a parsed
//! [`Snapshot`] or a typed [`Error`].

use super::stop::Stop;
use super::tls::TlsConnector;
use crate::error::{Error, SnapshotError};
use crate::options::{Authentication, ClientOptions};
use crate::snapshot::Snapshot;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector, TcpConnector};

/// Retries after the first attempt.
pub(crate) const MAX_RETRIES: u32 = 3;
/// Upper bound of one backoff delay.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Largest snapshot body accepted.
const BODY_LIMIT: u64 = 512 * 1024 * 1024;
/// Constant sent to Flipt v1 servers for feature negotiation, as the official engine does.
const SERVER_VERSION: &str = "1.47.0";

/// Validates `url` and returns it without trailing slashes (so that no `//` reaches the path).
pub(crate) fn base_url(url: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::Validation(format!("url {url:?}: {why}"));
    let uri: ureq::http::Uri = url.parse().map_err(|e| bad(&format!("not a URL ({e})")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(bad(&format!("scheme {other} is not http or https"))),
        None => return Err(bad("missing http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("missing host"));
    }
    if uri.query().is_some() {
        return Err(bad("must not contain a query"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A uniform random fraction in `[0, 1)` without a dependency: a xorshift seeded per call from
/// the clock, a counter and the thread, which is plenty for jitter.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Full-jitter exponential backoff: uniform in `[0, min(cap, base * 2^n))`.
pub(crate) fn backoff(base: Duration, n: u32) -> Duration {
    let ceiling = base.saturating_mul(1u32 << n.min(16)).min(BACKOFF_CAP);
    ceiling.mul_f64(jitter())
}

/// What a successful snapshot request gave.
pub(crate) enum Fetched {
    Snapshot(Box<Snapshot>),
    NotModified,
}

/// One attempt's failure, and whether another attempt may succeed.
struct Failure {
    error: Error,
    retryable: bool,
}

fn transport_error(e: ureq::Error) -> Failure {
    let retryable = matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    );
    Failure {
        error: Error::Server(format!("failed to make request: {e}")),
        retryable,
    }
}

fn status_error(code: u16, url: &str) -> Failure {
    let reason = ureq::http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let class = match code {
        400..=499 => "client error",
        500..=599 => "server error",
        _ => {
            return Failure {
                error: Error::Server(format!("unexpected http response: {code} {reason}")),
                retryable: false,
            }
        }
    };
    Failure {
        error: Error::Server(format!(
            "response: HTTP status {class} ({code} {reason}) for url ({url})"
        )),
        retryable: code >= 500 || code == 408 || code == 429,
    }
}

/// Talks to one Flipt server for one namespace.
pub(crate) struct Fetcher {
    agent: ureq::Agent,
    snapshot_url: String,
    stream_url: String,
    environment: String,
    request_timeout: Option<Duration>,
    retry_base: Duration,
    auth: Arc<RwLock<Option<Authentication>>>,
    /// ETag of the snapshot we hold, sent as `If-None-Match`.
    etag: Option<String>,
    stop: Arc<Stop>,
}

impl Fetcher {
    pub fn new(
        options: &ClientOptions,
        auth: Arc<RwLock<Option<Authentication>>>,
        stop: Arc<Stop>,
    ) -> Result<Fetcher, Error> {
        let base = base_url(&options.url)?;
        let tls = super::tls::client_config(options.tls_config.as_ref())?;
        let ns = encode(&options.namespace);
        let mut snapshot_url = format!("{base}/internal/v1/evaluation/snapshot/namespace/{ns}");
        if let Some(r) = &options.reference {
            snapshot_url.push_str("?reference=");
            snapshot_url.push_str(&encode(r));
        }
        let stream_url = format!(
            "{base}/client/v2/environments/{}/namespaces/{ns}/stream",
            encode(&options.environment)
        );
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .user_agent(concat!("flipt-client-rust/", env!("CARGO_PKG_VERSION")))
            // Direct connections only: proxy environment variables are not consulted.
            .proxy(None)
            .build();
        let connector = ().chain(TcpConnector::default()).chain(TlsConnector { config: tls });
        let agent = ureq::Agent::with_parts(config, connector, DefaultResolver::default());
        Ok(Fetcher {
            agent,
            snapshot_url,
            stream_url,
            environment: options.environment.clone(),
            request_timeout: options.request_timeout,
            retry_base: options.retry_backoff,
            auth,
            etag: None,
            stop,
        })
    }

    /// A handle that can shut down every connection of this fetcher from another thread.
    pub fn agent(&self) -> ureq::Agent {
        self.agent.clone()
    }

    fn request(&self, url: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let mut req = self
            .agent
            .get(url)
            .header("Accept", "application/json")
            .header("X-Flipt-Accept-Server-Version", SERVER_VERSION);
        if !self.environment.is_empty() {
            req = req.header("X-Flipt-Environment", &self.environment);
        }
        if let Some(tag) = &self.etag {
            req = req.header("If-None-Match", tag);
        }
        let auth = self
            .auth
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(Authentication::header_value);
        if let Some(value) = auth {
            req = req.header("Authorization", value);
        }
        req
    }

    /// Runs `attempt` with up to [`MAX_RETRIES`] retries and interruptible backoff.
    fn with_retries<T>(
        &mut self,
        mut attempt: impl FnMut(&mut Self) -> Result<T, Failure>,
    ) -> Result<T, Error> {
        let mut n = 0;
        loop {
            match attempt(self) {
                Ok(v) => return Ok(v),
                Err(f) => {
                    if self.stop.is_stopped() {
                        return Err(Error::Internal("client closed".into()));
                    }
                    if !f.retryable || n >= MAX_RETRIES {
                        return Err(f.error);
                    }
                    let delay = backoff(self.retry_base, n);
                    log::debug!("flipt: {} (retry {} in {:?})", f.error, n + 1, delay);
                    if self.stop.sleep(delay) {
                        return Err(Error::Internal("client closed".into()));
                    }
                    n += 1;
                }
            }
        }
    }

    /// One snapshot fetch, with retries. Any failure clears the stored ETag, so that the next
    /// request is unconditional.
    pub fn fetch(&mut self) -> Result<Fetched, Error> {
        let result = self.with_retries(|this| this.fetch_once());
        if result.is_err() {
            self.etag = None;
        }
        result
    }

    fn fetch_once(&mut self) -> Result<Fetched, Failure> {
        let url = self.snapshot_url.clone();
        let mut req = self.request(&url);
        if let Some(t) = self.request_timeout {
            req = req.config().timeout_global(Some(t)).build();
        }
        let mut response = req.call().map_err(transport_error)?;
        let code = response.status().as_u16();
        match code {
            200 => {
                let etag = response
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                // A body cut short is a cut connection: retryable.
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(BODY_LIMIT)
                    .read_to_vec()
                    .map_err(transport_error)?;
                let parsed = std::str::from_utf8(&body)
                    .map_err(|e| {
                        SnapshotError::whole(format!(
                            "failed to parse response body: not UTF-8: {e}"
                        ))
                    })
                    .and_then(|text| {
                        Snapshot::from_document(text).map_err(|e| {
                            SnapshotError::whole(format!("failed to parse response body: {e}"))
                        })
                    });
                match parsed {
                    Ok(snapshot) => {
                        self.etag = etag;
                        Ok(Fetched::Snapshot(Box::new(snapshot)))
                    }
                    Err(e) => Err(Failure {
                        error: Error::Snapshot(e),
                        retryable: false,
                    }),
                }
            }
            304 if self.etag.is_some() => Ok(Fetched::NotModified),
            304 => Err(Failure {
                error: Error::Server("no data received from server".into()),
                retryable: false,
            }),
            _ => Err(status_error(code, &url)),
        }
    }

    /// Opens the stream (retrying until response headers arrive) and returns its body.
    pub fn open_stream(&mut self) -> Result<ureq::BodyReader<'static>, Error> {
        self.with_retries(|this| {
            let url = this.stream_url.clone();
            let response = this.request(&url).call().map_err(transport_error)?;
            let code = response.status().as_u16();
            if !(200..300).contains(&code) {
                return Err(status_error(code, &url));
            }
            Ok(response
                .into_body()
                .into_with_config()
                .limit(u64::MAX)
                .reader())
        })
    }

    pub fn retry_base(&self) -> Duration {
        self.retry_base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_validated_and_trimmed() {
        assert_eq!(base_url("http://h:8080/").unwrap(), "http://h:8080");
        assert_eq!(base_url("https://h/flipt").unwrap(), "https://h/flipt");
        for bad in [
            "",
            "localhost:8080",
            "ftp://h",
            "http://",
            "not a url",
            "http://h/?x=1",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encoding_keeps_unreserved_characters() {
        assert_eq!(encode("default"), "default");
        assert_eq!(encode("a b/c?d&e"), "a%20b%2Fc%3Fd%26e");
        assert_eq!(encode("ñ"), "%C3%B1");
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        let base = Duration::from_secs(1);
        for n in 0..8 {
            let ceiling = (base * (1 << n)).min(BACKOFF_CAP);
            for _ in 0..100 {
                assert!(backoff(base, n) < ceiling);
            }
        }
        let samples: Vec<_> = (0..100).map(|_| backoff(base, 0)).collect();
        assert!(samples.iter().any(|d| *d < Duration::from_millis(500)));
        assert!(samples.iter().any(|d| *d >= Duration::from_millis(500)));
    }
}
