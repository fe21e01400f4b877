//! Client options: the official SDKs' option set, with a builder that reads well in Rust and
//! validation that rejects bad options at construction (the official engine silently falls
//! back to defaults instead).

use crate::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How the client authenticates to the Flipt server.
///
/// `Debug` output never shows the token.
///
/// ```
/// use flipt_client::Authentication;
/// let auth = Authentication::client_token("secret");
/// assert_eq!(format!("{auth:?}"), "ClientToken(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub enum Authentication {
    /// A static or client token, sent as `Authorization: Bearer {token}`.
    ClientToken(String),
    /// A JSON Web Token, sent as `Authorization: JWT {token}`.
    Jwt(String),
}

impl Authentication {
    /// A client token (`Authorization: Bearer {token}`).
    pub fn client_token(token: impl Into<String>) -> Self {
        Authentication::ClientToken(token.into())
    }

    /// A JWT (`Authorization: JWT {token}`).
    pub fn jwt(token: impl Into<String>) -> Self {
        Authentication::Jwt(token.into())
    }

    pub(crate) fn header_value(&self) -> String {
        match self {
            Authentication::ClientToken(t) => format!("Bearer {t}"),
            Authentication::Jwt(t) => format!("JWT {t}"),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        let token = match self {
            Authentication::ClientToken(t) | Authentication::Jwt(t) => t,
        };
        if token.trim().is_empty() {
            return Err(Error::invalid(
                "authentication",
                "authentication token is empty",
            ));
        }
        if token.bytes().any(|b| b < 0x20 || b == 0x7F) {
            return Err(Error::invalid(
                "authentication",
                "authentication token contains control characters",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authentication::ClientToken(_) => f.write_str("ClientToken(<redacted>)"),
            Authentication::Jwt(_) => f.write_str("Jwt(<redacted>)"),
        }
    }
}

/// How the client keeps its snapshot fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub enum FetchMode {
    /// Fetch the snapshot every `update_interval` (default).
    #[default]
    Polling,
    /// Hold a stream open and apply each snapshot the server pushes.
    Streaming,
}

/// How requests reach the Flipt server; see [`ClientOptions::proxy`] and
/// [`ClientOptions::proxy_from_env`].
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub enum Proxy {
    /// Straight to the server (default), whatever the environment says.
    #[default]
    Direct,
    /// Every request through this proxy: `http://[user:password@]host:port` (a CONNECT tunnel
    /// for `https` servers, absolute-form requests for `http` ones), or `socks5://`,
    /// `socks5h://` (the proxy resolves the name), `socks4://`, `socks4a://`.
    Url(String),
    /// As the proxy environment variables say, read when the client is built: `HTTPS_PROXY`
    /// for `https` servers and `HTTP_PROXY` for `http` ones, else `ALL_PROXY`, each in upper
    /// case first, then lower case; `NO_PROXY` lists the hosts reached directly. The official
    /// engine does this by default.
    FromEnv,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proxy::Direct => f.write_str("Direct"),
            Proxy::Url(url) => write!(f, "Url({:?})", redacted_proxy(url)),
            Proxy::FromEnv => f.write_str("FromEnv"),
        }
    }
}

/// A proxy URL with its user information hidden (`user:***@`, or `***@` for a bare token).
pub(crate) fn redacted_proxy(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        None => url.to_string(),
        Some(at) => {
            let user = match rest[..at].split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => "***".to_string(),
            };
            format!("{scheme}{user}{}", &rest[at..])
        }
    }
}

/// What happens when an update fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub enum ErrorStrategy {
    /// Construction fails if the first fetch fails; later failures make evaluations return
    /// the error until the next successful update (default, as in the official SDKs).
    #[default]
    Fail,
    /// Construction succeeds from the seed (or an empty snapshot); failures keep the last
    /// good snapshot and are only logged.
    Fallback,
}

/// TLS settings, with the eight fields of the official SDKs. Inline `*_data` takes precedence
/// over the matching `*_file`.
///
/// `Debug` output never shows key material.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust in addition to the built-in (webpki) roots.
    pub ca_cert_file: Option<PathBuf>,
    /// PEM text of CA certificates; takes precedence over `ca_cert_file`.
    pub ca_cert_data: Option<String>,
    /// Accept any server certificate and host name. For tests only.
    pub insecure_skip_verify: bool,
    /// Verify the certificate chain but not the host name.
    pub insecure_skip_hostname_verify: bool,
    /// PEM file of the client certificate chain (mTLS).
    pub client_cert_file: Option<PathBuf>,
    /// PEM file of the client private key (PKCS#8, PKCS#1 or SEC1).
    pub client_key_file: Option<PathBuf>,
    /// PEM text of the client certificate chain; with `client_key_data`, takes precedence.
    pub client_cert_data: Option<String>,
    /// PEM text of the client private key.
    pub client_key_data: Option<String>,
}

impl TlsConfig {
    /// An empty configuration: the built-in roots, full verification, no client certificate.
    pub fn new() -> Self {
        TlsConfig::default()
    }

    /// Trusts the CA certificates in a PEM file.
    pub fn ca_cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_cert_file = Some(path.into());
        self
    }

    /// Trusts the CA certificates in PEM text.
    pub fn ca_cert_data(mut self, pem: impl Into<String>) -> Self {
        self.ca_cert_data = Some(pem.into());
        self
    }

    /// Accepts any server certificate. Never use this in production.
    pub fn insecure_skip_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_verify = skip;
        self
    }

    /// Verifies the chain but accepts any host name.
    pub fn insecure_skip_hostname_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_hostname_verify = skip;
        self
    }

    /// Presents a client certificate read from PEM files (mTLS).
    pub fn client_cert_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert_file = Some(cert.into());
        self.client_key_file = Some(key.into());
        self
    }

    /// Presents a client certificate given as PEM text (mTLS).
    pub fn client_cert_data(mut self, cert: impl Into<String>, key: impl Into<String>) -> Self {
        self.client_cert_data = Some(cert.into());
        self.client_key_data = Some(key.into());
        self
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("TlsConfig")
            .field("ca_cert_file", &self.ca_cert_file)
            .field(
                "ca_cert_data",
                &self
                    .ca_cert_data
                    .as_ref()
                    .map(|d| format!("<{} bytes of PEM>", d.len())),
            )
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field(
                "insecure_skip_hostname_verify",
                &self.insecure_skip_hostname_verify,
            )
            .field("client_cert_file", &self.client_cert_file)
            .field("client_key_file", &self.client_key_file)
            .field(
                "client_cert_data",
                &self
                    .client_cert_data
                    .as_ref()
                    .map(|d| format!("<{} bytes of PEM>", d.len())),
            )
            .field("client_key_data", &redacted(&self.client_key_data))
            .finish()
    }
}

/// Options of a [`crate::FliptClient`] connected to a Flipt server.
///
/// Names and defaults follow the official SDKs. Build with chained setters; validation
/// happens in [`crate::FliptClient::new`].
///
/// ```
/// use flipt_client::{Authentication, ClientOptions, ErrorStrategy, FetchMode};
/// use std::time::Duration;
///
/// let options = ClientOptions::new()
///     .url("https://flipt.example.com")
///     .namespace("production")
///     .environment("default")
///     .authentication(Authentication::client_token("secret"))
///     .update_interval(Duration::from_secs(30))
///     .request_timeout(Duration::from_secs(5))
///     .fetch_mode(FetchMode::Streaming)
///     .error_strategy(ErrorStrategy::Fallback);
/// assert_eq!(options.namespace, "production");
/// assert!(!format!("{options:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub struct ClientOptions {
    /// Base URL of the Flipt server (default `http://localhost:8080`). A path prefix is kept.
    pub url: String,
    /// Namespace to fetch and evaluate (default `default`).
    pub namespace: String,
    /// Environment, sent as `X-Flipt-Environment` and used in the stream path (default
    /// `default`; empty omits the header).
    pub environment: String,
    /// Optional reference (`?reference=`), for servers that support it.
    pub reference: Option<String>,
    /// Total time allowed for one snapshot request (connect, headers and body), default 30 s
    /// as in the official engine; `None` = no limit. For a stream it bounds the wait for the
    /// response headers; an open stream then stays open indefinitely.
    pub request_timeout: Option<Duration>,
    /// Time allowed to open a connection, TLS handshake included (default 10 s).
    pub connect_timeout: Duration,
    /// How long [`crate::FliptClient::new`] waits for the first snapshot, retries included
    /// (default 5 s). Under [`ErrorStrategy::Fail`] a first fetch that has not succeeded by then
    /// fails construction with a timeout; under [`ErrorStrategy::Fallback`] the client starts
    /// from its seed, persisted file or an empty snapshot and the fetch goes on in the
    /// background. Under `Fallback` with a seed or a persisted file `new` does not wait at all.
    pub initial_fetch_timeout: Duration,
    /// Largest snapshot accepted: a response body, a stream line or a persisted file
    /// (default [`ClientOptions::DEFAULT_MAX_SNAPSHOT_SIZE`], 64 MiB). A body whose
    /// `Content-Length` says more is refused before it is read.
    pub max_snapshot_size: u64,
    /// Polling period (default 120 s).
    pub update_interval: Duration,
    /// Credentials, if the server requires them.
    pub authentication: Option<Authentication>,
    /// Polling (default) or streaming.
    pub fetch_mode: FetchMode,
    /// Fail (default) or fallback.
    pub error_strategy: ErrorStrategy,
    /// A seed snapshot to start from: base64 (the format of `get_snapshot`), or any other
    /// text [`crate::Snapshot::parse`] accepts (a server document, engine JSON, or the cache
    /// file `persist_path` writes).
    pub snapshot: Option<String>,
    /// TLS settings for `https` URLs.
    pub tls_config: Option<TlsConfig>,
    /// Base of the full-jitter exponential backoff between retries and stream reconnects
    /// (default 1 s; delays are uniform in `[0, min(30 s, base × 2ⁿ))`).
    pub retry_backoff: Duration,
    /// A file to write every snapshot from the server to, and to start from when the server
    /// cannot be reached (see [`ClientOptions::persist_path`]).
    pub persist_path: Option<PathBuf>,
    /// Direct (default), one proxy, or the proxy environment variables.
    pub proxy: Proxy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            url: "http://localhost:8080".into(),
            namespace: "default".into(),
            environment: "default".into(),
            reference: None,
            request_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(10),
            initial_fetch_timeout: Duration::from_secs(5),
            max_snapshot_size: ClientOptions::DEFAULT_MAX_SNAPSHOT_SIZE,
            update_interval: Duration::from_secs(120),
            authentication: None,
            fetch_mode: FetchMode::Polling,
            error_strategy: ErrorStrategy::Fail,
            snapshot: None,
            tls_config: None,
            retry_backoff: Duration::from_secs(1),
            persist_path: None,
            proxy: Proxy::Direct,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("url", &redacted_url(&self.url))
            .field("namespace", &self.namespace)
            .field("environment", &self.environment)
            .field("reference", &self.reference)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("initial_fetch_timeout", &self.initial_fetch_timeout)
            .field("max_snapshot_size", &self.max_snapshot_size)
            .field("update_interval", &self.update_interval)
            .field("authentication", &self.authentication)
            .field("fetch_mode", &self.fetch_mode)
            .field("error_strategy", &self.error_strategy)
            .field(
                "snapshot",
                &self
                    .snapshot
                    .as_ref()
                    .map(|s| format!("<{} bytes>", s.len())),
            )
            .field("tls_config", &self.tls_config)
            .field("retry_backoff", &self.retry_backoff)
            .field("persist_path", &self.persist_path)
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// `url` with any password replaced by `***`, for messages, logs and `Debug`.
pub(crate) fn redacted_url(url: &str) -> std::borrow::Cow<'_, str> {
    let Some(scheme_end) = url.find("://") else {
        return url.into();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.into();
    };
    let user = match authority[..at].split_once(':') {
        Some((user, _password)) => user,
        None => return url.into(),
    };
    format!(
        "{}{user}:***{}",
        &url[..scheme_end + 3],
        &url[scheme_end + 3 + at..]
    )
    .into()
}

/// Validates a server URL and returns it without trailing slashes (so that no `//` reaches the
/// request path): `http` or `https`, a host, an optional port and path prefix, no query or
/// fragment, and only characters a URI may hold.
pub(crate) fn base_url(url: &str) -> Result<String, Error> {
    let shown = redacted_url(url);
    let bad = |why: &str| Error::invalid("url", format!("url {shown:?}: {why}"));
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(bad("missing http:// or https://"));
    };
    if scheme != "http" && scheme != "https" {
        return Err(bad(&format!("scheme {scheme} is not http or https")));
    }
    if url.chars().any(char::is_control) {
        return Err(bad("contains control characters"));
    }
    // RFC 3986: unreserved, reserved (gen-delims and sub-delims) and percent signs.
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c);
    if let Some(c) = rest.chars().find(|&c| !allowed(c)) {
        return Err(bad(&format!("not a URL (character {c:?})")));
    }
    if rest.contains('?') {
        return Err(bad("must not contain a query"));
    }
    if rest.contains('#') {
        return Err(bad("must not contain a fragment"));
    }
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = match host_port.strip_prefix('[') {
        // [IPv6]:port
        Some(v6) => match v6.split_once(']') {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => return Err(bad("unclosed [ in the host")),
        },
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(bad(&format!("invalid port {port:?}")));
        }
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Rejects CR, LF and other control characters, which have no place in a header or a path.
fn no_control_characters(what: &str, value: &str) -> Result<(), Error> {
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(
            what,
            format!("{what} contains control characters"),
        ));
    }
    Ok(())
}

impl ClientOptions {
    /// The default of [`ClientOptions::max_snapshot_size`]: 64 MiB.
    pub const DEFAULT_MAX_SNAPSHOT_SIZE: u64 = crate::util::DEFAULT_MAX_SNAPSHOT_SIZE;

    /// The shortest [`ClientOptions::update_interval`] accepted: 1 s.
    pub const MIN_UPDATE_INTERVAL: Duration = Duration::from_secs(1);

    /// The defaults of the official SDKs.
    pub fn new() -> Self {
        ClientOptions::default()
    }

    /// Sets the server's base URL.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Sets the namespace.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets the environment.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = environment.into();
        self
    }

    /// Sets the reference.
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }

    /// Sets the total timeout of one snapshot request (default 30 s). For no limit, set the
    /// field: `options.request_timeout = None`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Sets the timeout of opening a connection, TLS handshake included (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long construction waits for the first snapshot (default 5 s); see
    /// [`ClientOptions::initial_fetch_timeout`](struct.ClientOptions.html#structfield.initial_fetch_timeout).
    /// Zero is allowed under [`ErrorStrategy::Fallback`]: `new` then never waits.
    pub fn initial_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.initial_fetch_timeout = timeout;
        self
    }

    /// Sets the largest snapshot accepted from the server or the persisted file, in bytes
    /// (default 64 MiB).
    pub fn max_snapshot_size(mut self, bytes: u64) -> Self {
        self.max_snapshot_size = bytes;
        self
    }

    /// Sets the polling period (default 120 s, at least 1 s; use
    /// [`crate::FliptClient::refresh`] to fetch at once).
    pub fn update_interval(mut self, interval: Duration) -> Self {
        self.update_interval = interval;
        self
    }

    /// Sets the credentials.
    pub fn authentication(mut self, authentication: Authentication) -> Self {
        self.authentication = Some(authentication);
        self
    }

    /// Chooses polling or streaming.
    pub fn fetch_mode(mut self, mode: FetchMode) -> Self {
        self.fetch_mode = mode;
        self
    }

    /// Chooses fail or fallback.
    pub fn error_strategy(mut self, strategy: ErrorStrategy) -> Self {
        self.error_strategy = strategy;
        self
    }

    /// Starts from a seed snapshot: base64 as `get_snapshot` returns it, or any text
    /// [`crate::Snapshot::parse`] accepts, such as the contents of a `persist_path` file.
    pub fn snapshot(mut self, seed: impl Into<String>) -> Self {
        self.snapshot = Some(seed.into());
        self
    }

    /// Sets the TLS configuration.
    pub fn tls_config(mut self, tls: TlsConfig) -> Self {
        self.tls_config = Some(tls);
        self
    }

    /// Sets the base delay of retry backoff (default 1 s; must be greater than zero).
    pub fn retry_backoff(mut self, base: Duration) -> Self {
        self.retry_backoff = base;
        self
    }

    /// Persists every snapshot from the server to `path` (atomically) and starts from that
    /// file when it exists: a CLI or service restarted without its server keeps the last
    /// known flags (use [`ErrorStrategy::Fallback`] so construction does not fail). A file that
    /// is corrupt, truncated, or for another namespace or environment is logged and ignored.
    pub fn persist_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.persist_path = Some(path.into());
        self
    }

    /// Sends every request through the proxy at `url`: `http://host:port` (a CONNECT tunnel
    /// for an `https` server, verified end to end with the same [`TlsConfig`]; absolute-form
    /// requests for an `http` one), or `socks5://host:port` (and `socks5h`, `socks4`,
    /// `socks4a`). Credentials in the URL (`http://user:password@host:port`, percent-encoded)
    /// are sent to the proxy and shown as `user:***` in `Debug`, errors and logs.
    ///
    /// ```
    /// use flipt_client::{ClientOptions, Proxy};
    /// let options = ClientOptions::new().proxy("http://alice:secret@proxy.internal:3128");
    /// assert!(matches!(options.proxy, Proxy::Url(_)));
    /// assert!(format!("{options:?}").contains("alice:***@proxy.internal:3128"));
    /// ```
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Proxy::Url(url.into());
        self
    }

    /// Takes the proxy from the environment when the client is built, as the official engine
    /// does: `HTTPS_PROXY` for an `https` server, `HTTP_PROXY` for an `http` one, else
    /// `ALL_PROXY` (each upper case first, then lower case). `NO_PROXY` (comma-separated) names
    /// what is reached directly: `*`, a host and its subdomains (`example.com`,
    /// `.example.com`), a `host:port`, an IP address, or a CIDR range (`10.0.0.0/8`). A missing
    /// or empty variable means a direct connection; an unusable value is logged and ignored.
    pub fn proxy_from_env(mut self) -> Self {
        self.proxy = Proxy::FromEnv;
        self
    }

    /// Checks everything that can be checked without the network.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        base_url(&self.url)?;
        if let Proxy::Url(url) = &self.proxy {
            crate::net::proxy::ProxyUrl::parse(url).map_err(|why| {
                Error::invalid("proxy", format!("proxy {:?}: {why}", redacted_proxy(url)))
            })?;
        }
        if self.namespace.is_empty() {
            return Err(Error::invalid("namespace", "namespace is empty"));
        }
        no_control_characters("namespace", &self.namespace)?;
        no_control_characters("environment", &self.environment)?;
        if let Some(r) = &self.reference {
            no_control_characters("reference", r)?;
        }
        if self.update_interval < ClientOptions::MIN_UPDATE_INTERVAL {
            return Err(Error::invalid("update_interval", format!(
                "update_interval must be at least 1s, not {:?} (use FliptClient::refresh to fetch at once)",
                self.update_interval
            )));
        }
        if self.retry_backoff.is_zero() {
            return Err(Error::invalid(
                "retry_backoff",
                "retry_backoff must be greater than zero",
            ));
        }
        const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
        let too_long = [
            ("update_interval", Some(self.update_interval)),
            ("request_timeout", self.request_timeout),
            ("connect_timeout", Some(self.connect_timeout)),
            ("initial_fetch_timeout", Some(self.initial_fetch_timeout)),
            ("retry_backoff", Some(self.retry_backoff)),
        ];
        for (name, value) in too_long {
            if value.is_some_and(|v| v > YEAR) {
                return Err(Error::invalid(
                    name,
                    format!("{name} must be at most a year"),
                ));
            }
        }
        if self.request_timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid("request_timeout", 
                "request_timeout must be greater than zero (set the field to None for no limit; the default is 30 s)",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::invalid(
                "connect_timeout",
                "connect_timeout must be greater than zero",
            ));
        }
        if self.initial_fetch_timeout.is_zero() && self.error_strategy == ErrorStrategy::Fail {
            return Err(Error::invalid(
                "initial_fetch_timeout",
                "initial_fetch_timeout of zero fails every start under ErrorStrategy::Fail",
            ));
        }
        if self.max_snapshot_size == 0 {
            return Err(Error::invalid(
                "max_snapshot_size",
                "max_snapshot_size must be greater than zero",
            ));
        }
        if let Some(auth) = &self.authentication {
            auth.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_validated_and_trimmed() {
        assert_eq!(base_url("http://h:8080/").unwrap(), "http://h:8080");
        assert_eq!(base_url("https://h/flipt").unwrap(), "https://h/flipt");
        assert_eq!(base_url("http://[::1]:80").unwrap(), "http://[::1]:80");
        assert_eq!(base_url("http://u:p@h").unwrap(), "http://u:p@h");
        for bad in [
            "",
            "localhost:8080",
            "ftp://h",
            "http://",
            "http://:80",
            "not a url",
            "http://h/?x=1",
            "http://h/#top",
            "http://h:0",
            "http://h:99999",
            "http://h:x",
            "http://h /",
            "http://h/\n",
            "http://[::1",
            "http://h/{x}",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redacted_url("http://user:pa:ss@h:8080/x?a=b@c"),
            "http://user:***@h:8080/x?a=b@c"
        );
        assert_eq!(redacted_url("https://user@h/"), "https://user@h/");
        assert_eq!(redacted_url("http://h/p@q"), "http://h/p@q");
        assert_eq!(redacted_url("no scheme"), "no scheme");
    }
}
