//! One snapshot request with retries, and opening the stream, over a ureq agent
//! (docs/PROTOCOL.md §3, §4, §5.4, §8). Knows nothing of evaluation: it hands back a parsed
//! [`Snapshot`] or a typed [`Error`].

use super::proxy::{ForwardConnector, ForwardResolver, ProxyUrl, Routes};
use super::stop::Stop;
use super::tls::TlsConnector;
use crate::error::{Error, ServerErrorKind, SnapshotError};
use crate::options::{
    base_url, redacted_proxy, redacted_url, Authentication, ClientOptions, Proxy,
};
use crate::snapshot::Snapshot;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use ureq::http::Uri;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    ConnectProxyConnector, Connector, SocksConnector, TcpConnector,
};

/// Retries after the first attempt.
pub(crate) const MAX_RETRIES: u32 = 3;
/// Upper bound of one backoff delay, and of a server's `Retry-After`.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Redirects followed for one request.
const MAX_REDIRECTS: u32 = 5;
/// Constant sent to Flipt v1 servers for feature negotiation, as the official engine does.
const SERVER_VERSION: &str = "1.47.0";

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

/// Full-jitter exponential backoff: uniform in `[0, min(cap, base * 2^n))`.
pub(crate) fn backoff(base: Duration, n: u32) -> Duration {
    let ceiling = base.saturating_mul(1u32 << n.min(16)).min(BACKOFF_CAP);
    ceiling.mul_f64((crate::util::random_u64() >> 11) as f64 / (1u64 << 53) as f64)
}

/// A 64-bit fingerprint of a snapshot body, to recognise a 200 that repeats what we hold.
pub(crate) fn digest(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    // Fixed keys: the same body gives the same value in every call.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    h.write(bytes);
    h.finish() ^ (bytes.len() as u64).rotate_left(32)
}

/// The delay a `Retry-After` value asks for: delta-seconds, or an HTTP date (IMF-fixdate,
/// e.g. `Sun, 06 Nov 1994 08:49:37 GMT`), capped at 30 s. `None` if it cannot be read.
pub(crate) fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(BACKOFF_CAP));
    }
    // "Sun, 06 Nov 1994 08:49:37 GMT" -> "1994-11-06T08:49:37Z"
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? + 1;
    let when =
        crate::util::datetime::parse_rfc3339(&format!("{year:0>4}-{month:02}-{day:0>2}T{time}Z"))?;
    let now = now.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(Duration::from_secs(when.saturating_sub(now).max(0) as u64).min(BACKOFF_CAP))
}

/// Reads a body of at most `limit` bytes (after decompression; the reader enforces the limit
/// too) without its buffer ever growing past the limit, as doubling a `Vec` would: a small
/// compressed body that inflates far past `max_snapshot_size` costs at most that much memory.
pub(crate) fn read_bounded(
    mut reader: impl std::io::Read,
    limit: u64,
    size_hint: Option<u64>,
) -> std::io::Result<Vec<u8>> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    const CHUNK: usize = 64 * 1024;
    let first = size_hint
        .and_then(|h| usize::try_from(h).ok())
        .unwrap_or(CHUNK)
        .min(limit);
    let mut out = Vec::with_capacity(first);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if out.len() + n > limit {
            return Err(ureq::Error::BodyExceedsLimit(limit as u64).into_io());
        }
        if out.capacity() < out.len() + n {
            let grown = out
                .capacity()
                .saturating_mul(2)
                .max(out.len() + n)
                .min(limit);
            out.reserve_exact(grown - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// What a successful snapshot request gave.
pub(crate) enum Fetched {
    /// A new snapshot.
    Snapshot(Box<Update>),
    NotModified,
}

/// A snapshot from the server and what the update policy needs to know of its bytes.
pub(crate) struct Update {
    pub snapshot: Snapshot,
    /// The [`digest`] of the bytes it came from.
    pub digest: u64,
    /// The document JSON it was compiled from, kept only when it is to be persisted.
    pub document: Option<String>,
}

impl Fetched {
    /// A new snapshot compiled from `bytes`; `document`, the document JSON within them, is
    /// kept when given.
    pub(crate) fn snapshot(snapshot: Snapshot, bytes: &[u8], document: Option<&str>) -> Fetched {
        Fetched::Snapshot(Box::new(Update {
            snapshot,
            digest: digest(bytes),
            document: document.map(str::to_string),
        }))
    }
}

/// One attempt's failure, and whether another attempt may succeed.
struct Failure {
    error: Error,
    retryable: bool,
    /// How long the server asked us to wait (`Retry-After` on 429 and 503).
    wait: Option<Duration>,
}

impl Failure {
    fn new(kind: ServerErrorKind, message: String, retryable: bool) -> Failure {
        Failure {
            error: Error::server(kind, message),
            retryable,
            wait: None,
        }
    }
}

/// Whether an I/O error from the TLS layer is a rustls error (a certificate that does not
/// verify, an alert from the server): those are not transient.
fn is_tls_failure(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// Whether a TLS failure is the server answering in plain HTTP (an `https://` URL for a
/// plain-HTTP port): rustls then reads an HTTP response as a record of an unknown type.
fn is_plain_http_answer(e: &ureq::Error) -> bool {
    let plain = |r: &rustls::Error| {
        matches!(
            r,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
        )
    };
    match e {
        ureq::Error::Rustls(r) => plain(r),
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(plain),
        _ => false,
    }
}

/// Classifies a ureq error from a request to `url`. `reading_body`: the response had started,
/// so an I/O error means a body cut short. Connection and TLS failures name the server's
/// host and port; the I/O or TLS error becomes the error's `source()`.
fn transport_error(e: ureq::Error, reading_body: bool, url: &str) -> Failure {
    use ServerErrorKind as K;
    let (kind, retryable) = match &e {
        ureq::Error::Timeout(_) => (K::Timeout, true),
        ureq::Error::Io(io) if is_tls_failure(io) => (K::Tls, false),
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) => (K::Tls, false),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => (K::Timeout, true),
        ureq::Error::Io(_) if reading_body => (K::Body, true),
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            (K::Connect, true)
        }
        ureq::Error::Protocol(_) => (K::Other, true),
        ureq::Error::BodyExceedsLimit(_) => (K::Body, false),
        // A corrupt or truncated gzip body.
        #[cfg(feature = "gzip")]
        ureq::Error::Decompress(..) => (K::Body, false),
        // The proxy refused the tunnel (a 403 or 407): asking again will not help.
        ureq::Error::ConnectProxyFailed(_) => (K::Connect, false),
        _ => (K::Other, false),
    };
    let mut message = match &e {
        ureq::Error::BodyExceedsLimit(limit) => format!(
            "response body exceeds the limit of {limit} bytes (max_snapshot_size; after decompression)"
        ),
        _ => format!("failed to make request: {e}"),
    };
    if matches!(kind, K::Connect | K::Tls | K::Timeout) {
        if let Some((_, host, port)) = origin(url) {
            message.push_str(&format!(" (server {host}:{port})"));
        }
    }
    if is_plain_http_answer(&e) {
        message.push_str(": the server answered in plain HTTP: use http://");
    }
    let source: Option<Arc<dyn std::error::Error + Send + Sync>> = match e {
        ureq::Error::Io(io) => Some(Arc::new(io)),
        ureq::Error::Rustls(r) => Some(Arc::new(r)),
        _ => None,
    };
    Failure {
        error: Error::server_caused(kind, message, source),
        retryable,
        wait: None,
    }
}

fn status_error(code: u16, url: &str, headers: &ureq::http::HeaderMap) -> Failure {
    let reason = ureq::http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let kind = ServerErrorKind::Status(code);
    let class = match code {
        400..=499 => "client error",
        500..=599 => "server error",
        _ => {
            return Failure::new(
                kind,
                format!("unexpected http response: {code} {reason}"),
                false,
            )
        }
    };
    let mut failure = Failure::new(
        kind,
        format!(
            "response: HTTP status {class} ({code} {reason}) for url ({})",
            redacted_url(url)
        ),
        code >= 500 || code == 408 || code == 429,
    );
    if code == 429 || code == 503 {
        failure.wait = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, std::time::SystemTime::now()));
    }
    failure
}

/// Scheme, host and port of a URL, for same-origin checks.
fn origin(url: &str) -> Option<(String, String, u16)> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some((scheme, uri.host()?.to_ascii_lowercase(), port))
}

/// Where a redirect from `from` to `location` leads: absolute, scheme-relative, absolute-path
/// or relative references.
fn resolve_location(from: &str, location: &str) -> Option<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Some(location.to_string());
    }
    let scheme_end = from.find("://")? + 3;
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{}{rest}", &from[..scheme_end]));
    }
    let path_start = from[scheme_end..]
        .find('/')
        .map_or(from.len(), |i| scheme_end + i);
    if location.starts_with('/') {
        return Some(format!("{}{location}", &from[..path_start]));
    }
    let path = from[path_start..].split(['?', '#']).next().unwrap_or("");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    Some(format!("{}{dir}{location}", &from[..path_start]))
}

/// Talks to one Flipt server for one namespace.
pub(crate) struct Fetcher {
    agent: ureq::Agent,
    snapshot_url: String,
    stream_url: String,
    /// Scheme, host and port of the configured URL: only requests there carry credentials.
    origin: Option<(String, String, u16)>,
    environment: String,
    request_timeout: Option<Duration>,
    retry_base: Duration,
    body_limit: u64,
    auth: Arc<RwLock<Option<Authentication>>>,
    /// ETag of the snapshot we hold, sent as `If-None-Match`.
    etag: Option<String>,
    stop: Arc<Stop>,
    /// Whether snapshots carry their document JSON (for `persist_path`).
    keep_documents: bool,
    /// Which proxy, if any, each request goes through.
    routes: Arc<Routes>,
}

/// The routes `proxy` describes; the environment is read now.
fn routes(proxy: &Proxy) -> Result<Routes, Error> {
    Ok(match proxy {
        Proxy::Direct => Routes::default(),
        Proxy::Url(url) => Routes::all_through(ProxyUrl::parse(url).map_err(|why| {
            Error::invalid("proxy", format!("proxy {:?}: {why}", redacted_proxy(url)))
        })?),
        Proxy::FromEnv => {
            let (routes, warnings) = Routes::from_env(|name| std::env::var(name).ok());
            for w in warnings {
                log::warn!("flipt: proxy environment: {w}");
            }
            routes
        }
    })
}

impl Fetcher {
    pub(crate) fn new(
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
        let routes = Arc::new(routes(&options.proxy)?);
        let base_uri: Option<Uri> = base.parse().ok();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Connecting includes the TLS handshake (our connector honours this timeout).
            .timeout_connect(Some(options.connect_timeout))
            // Redirects are followed here, not by ureq, to enforce the origin rules.
            .max_redirects(0)
            .user_agent(concat!("flipt-client-rust/", env!("CARGO_PKG_VERSION")))
            // Our routes, never ureq's reading of the environment.
            .proxy(base_uri.as_ref().and_then(|u| routes.ureq_proxy(u)))
            .build();
        let connector = ()
            .chain(SocksConnector::default())
            .chain(ConnectProxyConnector::default())
            .chain(TcpConnector::default())
            .chain(ForwardConnector {
                routes: Arc::clone(&routes),
            })
            .chain(TlsConnector { config: tls });
        let resolver = ForwardResolver {
            routes: Arc::clone(&routes),
            inner: DefaultResolver::default(),
        };
        let agent = ureq::Agent::with_parts(config, connector, resolver);
        Ok(Fetcher {
            agent,
            origin: origin(&base),
            snapshot_url,
            stream_url,
            environment: options.environment.clone(),
            request_timeout: options.request_timeout,
            retry_base: options.retry_backoff,
            body_limit: options.max_snapshot_size,
            auth,
            etag: None,
            stop,
            keep_documents: options.persist_path.is_some(),
            routes,
        })
    }

    /// A handle that can shut down every connection of this fetcher from another thread.
    pub(crate) fn agent(&self) -> ureq::Agent {
        self.agent.clone()
    }

    /// Sends a GET to `url`, following redirects: never from https to http, and with the
    /// credentials only while the request goes to the configured origin. `stream`: the
    /// request timeout bounds only the wait for the response head.
    fn get(&self, url: &str, stream: bool) -> Result<ureq::http::Response<ureq::Body>, Failure> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self
                .agent
                .get(&url)
                .header("Accept", "application/json")
                .header("X-Flipt-Accept-Server-Version", SERVER_VERSION);
            if !self.environment.is_empty() {
                req = req.header("X-Flipt-Environment", &self.environment);
            }
            if let Some(tag) = &self.etag {
                req = req.header("If-None-Match", tag);
            }
            if origin(&url) == self.origin {
                let auth = self
                    .auth
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map(Authentication::header_value);
                if let Some(value) = auth {
                    req = req.header("Authorization", value);
                }
            }
            let mut config = req.config();
            if self.routes.any() {
                // A redirect may lead to a host with another route.
                let uri: Option<Uri> = url.parse().ok();
                config = config.proxy(uri.as_ref().and_then(|u| self.routes.ureq_proxy(u)));
            }
            let req = match (self.request_timeout, stream) {
                (Some(t), false) => config.timeout_global(Some(t)).build(),
                (Some(t), true) => config.timeout_recv_response(Some(t)).build(),
                (None, _) => config.build(),
            };
            let response = req.call().map_err(|e| transport_error(e, false, &url))?;
            let code = response.status().as_u16();
            if !matches!(code, 301 | 302 | 303 | 307 | 308) {
                return Ok(response);
            }
            let refuse = |why: &str| {
                Failure::new(
                    ServerErrorKind::Redirect,
                    format!("redirect from {}: {why}", redacted_url(&url)),
                    false,
                )
            };
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| refuse("no usable Location header"))?;
            // An http(s) URL with a host; unlike the configured base URL it may carry a query.
            let next = resolve_location(&url, location)
                .filter(|next| origin(next).is_some() && !next.chars().any(char::is_control))
                .ok_or_else(|| refuse("Location is not an http(s) URL"))?;
            if url.starts_with("https://") && !next.starts_with("https://") {
                return Err(refuse(&format!(
                    "refusing to downgrade to {}",
                    redacted_url(&next)
                )));
            }
            log::debug!(
                "flipt: following a {code} redirect from {} to {}",
                redacted_url(&url),
                redacted_url(&next)
            );
            url = next;
        }
        Err(Failure::new(
            ServerErrorKind::Redirect,
            format!("more than {MAX_REDIRECTS} redirects"),
            false,
        ))
    }

    /// Runs `attempt` with up to [`MAX_RETRIES`] retries and interruptible backoff (or the
    /// server's `Retry-After`, when longer).
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
                        return Err(Error::closed());
                    }
                    if !f.retryable || n >= MAX_RETRIES {
                        return Err(f.error);
                    }
                    let delay = backoff(self.retry_base, n).max(f.wait.unwrap_or_default());
                    log::debug!("flipt: {} (retry {} in {:?})", f.error, n + 1, delay);
                    if self.stop.sleep(delay) {
                        return Err(Error::closed());
                    }
                    n += 1;
                }
            }
        }
    }

    /// One snapshot fetch, with retries. Any failure clears the stored ETag, so that the next
    /// request is unconditional.
    pub(crate) fn fetch(&mut self) -> Result<Fetched, Error> {
        let result = self.with_retries(|this| this.fetch_once());
        if result.is_err() {
            self.etag = None;
        }
        result
    }

    fn fetch_once(&mut self) -> Result<Fetched, Failure> {
        let url = self.snapshot_url.clone();
        let mut response = self.get(&url, false)?;
        let code = response.status().as_u16();
        match code {
            200 => {
                let etag = response
                    .headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let declared = response
                    .headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if let Some(declared) = declared.filter(|&d| d > self.body_limit) {
                    return Err(Failure::new(
                        ServerErrorKind::Body,
                        format!(
                            "response body of {declared} bytes exceeds the limit of {} bytes (max_snapshot_size)",
                            self.body_limit
                        ),
                        false,
                    ));
                }
                // A body cut short is a cut connection: retryable.
                let reader = response
                    .body_mut()
                    .with_config()
                    .limit(self.body_limit)
                    .reader();
                let body = read_bounded(reader, self.body_limit, declared)
                    .map_err(|e| transport_error(e.into(), true, &url))?;
                let parsed = std::str::from_utf8(&body)
                    .map_err(|e| {
                        SnapshotError::whole(format!(
                            "failed to parse response body: not UTF-8: {e}"
                        ))
                    })
                    .and_then(|text| {
                        Snapshot::from_document(text)
                            .map(|s| (s, text))
                            .map_err(|e| {
                                SnapshotError::whole(format!("failed to parse response body: {e}"))
                            })
                    });
                match parsed {
                    Ok((snapshot, text)) => {
                        self.etag = etag;
                        let document = self.keep_documents.then_some(text);
                        Ok(Fetched::snapshot(snapshot, &body, document))
                    }
                    Err(e) => Err(Failure {
                        error: Error::Snapshot(e),
                        retryable: false,
                        wait: None,
                    }),
                }
            }
            304 if self.etag.is_some() => Ok(Fetched::NotModified),
            304 => Err(Failure::new(
                ServerErrorKind::Status(304),
                "no data received from server".into(),
                false,
            )),
            _ => Err(status_error(code, &url, response.headers())),
        }
    }

    /// Opens the stream (retrying until response headers arrive) and returns its body.
    /// `digest`, the digest of the snapshot we hold, is sent when it is 40 characters long
    /// (the server refuses other lengths), so that the server skips sending that snapshot
    /// again (docs/PROTOCOL.md §18.2).
    pub(crate) fn open_stream(
        &mut self,
        digest: Option<&str>,
    ) -> Result<ureq::BodyReader<'static>, Error> {
        let url = match digest.filter(|d| d.chars().count() == 40) {
            Some(d) => format!("{}?digest={}", self.stream_url, encode(d)),
            None => self.stream_url.clone(),
        };
        self.with_retries(|this| {
            let url = url.clone();
            let response = this.get(&url, true)?;
            let code = response.status().as_u16();
            if !(200..300).contains(&code) {
                return Err(status_error(code, &url, response.headers()));
            }
            Ok(response
                .into_body()
                .into_with_config()
                .limit(u64::MAX)
                .reader())
        })
    }

    pub(crate) fn retry_base(&self) -> Duration {
        self.retry_base
    }

    /// Whether snapshots carry their document JSON (for `persist_path`).
    pub(crate) fn keeps_documents(&self) -> bool {
        self.keep_documents
    }

    /// The longest snapshot (body or stream line) accepted.
    pub(crate) fn body_limit(&self) -> u64 {
        self.body_limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_unreserved_characters() {
        assert_eq!(encode("default"), "default");
        assert_eq!(encode("a b/c?d&e"), "a%20b%2Fc%3Fd%26e");
        assert_eq!(encode("ñ"), "%C3%B1");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(30))
        );
        for bad in [
            "",
            "-1",
            "soon",
            "Sun, 06 Nov 1994 08:49:47 UTC",
            "Sun, 06 Foo 1994 08:49:47 GMT",
        ] {
            assert_eq!(retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn redirect_locations_resolve_like_a_browser() {
        let from = "http://h:1/a/b/c?x=1";
        assert_eq!(
            resolve_location(from, "https://o/p").unwrap(),
            "https://o/p"
        );
        assert_eq!(resolve_location(from, "//o:2/p").unwrap(), "http://o:2/p");
        assert_eq!(resolve_location(from, "/p?q").unwrap(), "http://h:1/p?q");
        assert_eq!(resolve_location(from, "d").unwrap(), "http://h:1/a/b/d");
        assert_eq!(resolve_location("http://h", "d").unwrap(), "http://h/d");
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(origin("http://H:80/x"), origin("http://h/y"));
        assert_ne!(origin("http://h:8080/"), origin("http://h:8081/"));
        assert_ne!(origin("http://h/"), origin("https://h/"));
        assert_eq!(
            origin("https://h/"),
            Some(("https".into(), "h".into(), 443))
        );
    }

    #[test]
    fn a_closed_client_reports_closed_not_internal() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let options = ClientOptions::new().url(format!("http://127.0.0.1:{port}"));
        let stop = Arc::new(Stop::default());
        let mut fetcher =
            Fetcher::new(&options, Arc::new(RwLock::new(None)), Arc::clone(&stop)).unwrap();
        stop.stop();
        let err = fetcher.fetch().err().unwrap();
        assert_eq!(
            err.as_server().map(|e| e.kind()),
            Some(ServerErrorKind::Closed)
        );
        assert_eq!(err.kind(), crate::ErrorKind::Server);
        assert_eq!(err.to_string(), "server error: client closed");
    }

    #[test]
    fn digests_tell_bodies_apart() {
        assert_eq!(digest(b"{}"), digest(b"{}"));
        assert_ne!(digest(b"{}"), digest(b"{ }"));
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
