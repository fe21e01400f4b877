//! Proxies (docs/PROTOCOL.md §18.3): which route each request takes, from an explicit proxy URL
//! or the proxy environment variables, and the pieces ureq lacks to take it.
//!
//! * `https` targets through an HTTP proxy: a CONNECT tunnel (ureq's `ConnectProxyConnector`),
//!   with TLS to the Flipt server inside it, verified as on a direct connection.
//! * `http` targets through an HTTP proxy: absolute-form requests (`GET http://host/path`), as
//!   proxies expect and as most allow (many refuse CONNECT to ports other than 443). ureq always
//!   tunnels, so [`ForwardResolver`] connects such requests to the proxy and [`ForwardConnector`]
//!   rewrites their request line.
//! * SOCKS: ureq's `SocksConnector`.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::sync::Arc;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// The most `NO_PROXY` entries read.
const MAX_NO_PROXY: usize = 1024;

/// A proxy's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Http,
    Socks,
}

/// A checked proxy URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyUrl {
    pub kind: Kind,
    /// The host, without IPv6 brackets, lower case.
    pub host: String,
    pub port: u16,
    /// `Basic` credentials for an HTTP proxy, already base64-encoded.
    pub basic: Option<String>,
    /// The URL with its scheme, as ureq takes it.
    text: String,
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("invalid percent-encoding in the credentials")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "credentials are not UTF-8".to_string())
}

/// `host[:port]` with IPv6 in brackets: the host (brackets removed) and the port, if any.
fn split_host_port(s: &str) -> Result<(&str, Option<&str>), String> {
    match s.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, "")) => Ok((host, None)),
            Some((host, rest)) => match rest.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err("unexpected text after ]".into()),
            },
            None => Err("unclosed [ in the host".into()),
        },
        None => match s.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => Ok((host, Some(port))),
            Some(_) => Err("an IPv6 address must be in brackets".into()),
            None => Ok((s, None)),
        },
    }
}

impl ProxyUrl {
    /// Checks a proxy URL: `[scheme://][user[:password]@]host[:port][/]`, scheme `http`
    /// (the default), `socks5`, `socks5h`, `socks4` or `socks4a`.
    pub(crate) fn parse(text: &str) -> Result<ProxyUrl, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty".into());
        }
        if text.chars().any(char::is_control) {
            return Err("contains control characters".into());
        }
        let (scheme, rest) = match text.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("http".to_string(), text),
        };
        let kind = match scheme.as_str() {
            "http" => Kind::Http,
            "socks4" | "socks4a" | "socks5" | "socks5h" => Kind::Socks,
            "https" => {
                return Err("TLS to the proxy (https://) is not supported; use http://".into())
            }
            other => {
                return Err(format!(
                    "scheme {other} is not http, socks5(h) or socks4(a)"
                ))
            }
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err("a proxy URL has no path, query or fragment".into());
        }
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(host_port)?;
        if host.is_empty() {
            return Err("missing host".into());
        }
        let port = match port {
            None => match kind {
                Kind::Http => 80,
                Kind::Socks => 1080,
            },
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("invalid port {p:?}"))?,
        };
        let basic = match userinfo {
            None => None,
            Some(u) => {
                let (user, password) = u.split_once(':').unwrap_or((u, ""));
                let pair = format!("{}:{}", percent_decode(user)?, percent_decode(password)?);
                Some(base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    pair,
                ))
            }
        };
        let text = format!("{scheme}://{authority}");
        // ureq must take it too (it reads the credentials itself for CONNECT and SOCKS).
        ureq::Proxy::new(&text).map_err(|e| format!("not usable: {e}"))?;
        Ok(ProxyUrl {
            kind,
            host: host.to_ascii_lowercase(),
            port,
            basic,
            text,
        })
    }

    fn is(&self, host: &str, port: u16) -> bool {
        self.port == port && self.host.eq_ignore_ascii_case(host)
    }
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bypass {
    All,
    /// A host and its subdomains.
    Domain(String),
    HostPort(String, u16),
    Ip(IpAddr),
    Cidr(IpAddr, u8),
}

/// What `NO_PROXY` exempts from the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NoProxy(Vec<Bypass>);

impl NoProxy {
    /// Parses a comma-separated list; entries that mean nothing are skipped.
    pub(crate) fn parse(list: &str) -> NoProxy {
        NoProxy(
            list.split(',')
                .filter_map(|e| Bypass::parse(e.trim()))
                .take(MAX_NO_PROXY)
                .collect(),
        )
    }

    /// Whether `host:port` (host without brackets) is reached directly.
    pub(crate) fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.');
        let ip = host.parse::<IpAddr>().ok();
        self.0.iter().any(|b| match b {
            Bypass::All => true,
            Bypass::Domain(d) => domain_matches(host, d),
            Bypass::HostPort(h, p) => *p == port && domain_matches(host, h),
            Bypass::Ip(a) => ip == Some(*a),
            Bypass::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
        })
    }
}

fn domain_matches(host: &str, domain: &str) -> bool {
    let host = host.as_bytes();
    let domain = domain.as_bytes();
    if host.len() == domain.len() {
        return host.eq_ignore_ascii_case(domain);
    }
    host.len() > domain.len()
        && host[host.len() - domain.len() - 1] == b'.'
        && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl Bypass {
    fn parse(entry: &str) -> Option<Bypass> {
        if entry.is_empty() {
            return None;
        }
        if entry == "*" {
            return Some(Bypass::All);
        }
        let bare = entry.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Some(Bypass::Ip(ip));
        }
        if let Some((net, bits)) = entry.split_once('/') {
            let net = net.parse::<IpAddr>().ok()?;
            let bits = bits.parse::<u8>().ok()?;
            let max = if net.is_ipv4() { 32 } else { 128 };
            return (bits <= max).then_some(Bypass::Cidr(net, bits));
        }
        if let Ok((host, Some(port))) = split_host_port(entry) {
            let port = port.parse::<u16>().ok()?;
            let host = host.trim_start_matches("*.").trim_start_matches('.');
            return Some(Bypass::HostPort(host.to_ascii_lowercase(), port));
        }
        let domain = entry.trim_start_matches("*.").trim_start_matches('.');
        (!domain.is_empty()).then(|| Bypass::Domain(domain.to_ascii_lowercase()))
    }
}

/// The proxy of each target scheme, and what is reached directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Routes {
    http: Option<ProxyUrl>,
    https: Option<ProxyUrl>,
    no_proxy: NoProxy,
}

impl Routes {
    /// Every request through `proxy`.
    pub(crate) fn all_through(proxy: ProxyUrl) -> Routes {
        Routes {
            http: Some(proxy.clone()),
            https: Some(proxy),
            no_proxy: NoProxy::default(),
        }
    }

    /// The routes the proxy environment variables describe, read through `var`; unusable
    /// values are returned as warnings and ignored. As reqwest (the official engine's HTTP
    /// library) does, upper case wins, an empty value is unset, and `HTTP_PROXY` is ignored
    /// when `REQUEST_METHOD` says we run as a CGI script (where it is request input).
    pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> (Routes, Vec<String>) {
        let mut warnings = Vec::new();
        let cgi = var("REQUEST_METHOD").is_some();
        let mut read = |names: &[&str]| {
            for name in names {
                if *name == "HTTP_PROXY" && cgi {
                    continue;
                }
                let Some(value) = var(name).filter(|v| !v.trim().is_empty()) else {
                    continue;
                };
                match ProxyUrl::parse(&value) {
                    Ok(p) => return Some(p),
                    Err(why) => {
                        warnings.push(format!(
                            "ignoring {name}={:?}: {why}",
                            crate::options::redacted_proxy(&value)
                        ));
                    }
                }
            }
            None
        };
        let all = read(&["ALL_PROXY", "all_proxy"]);
        let http = read(&["HTTP_PROXY", "http_proxy"]).or_else(|| all.clone());
        let https = read(&["HTTPS_PROXY", "https_proxy"]).or(all);
        let no_proxy = ["NO_PROXY", "no_proxy"]
            .iter()
            .find_map(|n| var(n))
            .map(|v| NoProxy::parse(&v))
            .unwrap_or_default();
        (
            Routes {
                http,
                https,
                no_proxy,
            },
            warnings,
        )
    }

    /// The proxy for `scheme://host:port`, if any.
    pub(crate) fn proxy_for(&self, scheme: &str, host: &str, port: u16) -> Option<&ProxyUrl> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let proxy = match scheme {
            "https" => self.https.as_ref(),
            _ => self.http.as_ref(),
        }?;
        // The connection to the proxy itself is always direct.
        if proxy.is(host, port) || self.no_proxy.matches(host, port) {
            return None;
        }
        Some(proxy)
    }

    fn for_uri(&self, uri: &Uri) -> Option<&ProxyUrl> {
        let scheme = uri.scheme_str()?;
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        self.proxy_for(scheme, uri.host()?, port)
    }

    /// The HTTP proxy that `uri`, an `http` target, is forwarded through in absolute form.
    fn forward(&self, uri: &Uri) -> Option<&ProxyUrl> {
        if uri.scheme_str() != Some("http") {
            return None;
        }
        self.for_uri(uri).filter(|p| p.kind == Kind::Http)
    }

    /// What ureq's own proxy setting is for a request to `uri`: the tunnel or SOCKS proxy,
    /// or `None` (direct, or forwarded by our resolver and connector).
    pub(crate) fn ureq_proxy(&self, uri: &Uri) -> Option<ureq::Proxy> {
        if self.forward(uri).is_some() {
            return None;
        }
        self.for_uri(uri)
            .and_then(|p| ureq::Proxy::new(&p.text).ok())
    }

    /// Whether any request may go through a proxy.
    pub(crate) fn any(&self) -> bool {
        self.http.is_some() || self.https.is_some()
    }
}

/// Resolves forwarded targets to their proxy's addresses, others as usual: the target's name
/// is then resolved by the proxy, where it may be the only one that can.
#[derive(Debug)]
pub(crate) struct ForwardResolver {
    pub routes: Arc<Routes>,
    pub inner: DefaultResolver,
}

impl Resolver for ForwardResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match self.routes.forward(uri) {
            Some(p) => {
                let host = if p.host.contains(':') {
                    format!("[{}]", p.host)
                } else {
                    p.host.clone()
                };
                let proxy: Uri = format!("http://{host}:{}/", p.port)
                    .parse()
                    .map_err(|_| ureq::Error::InvalidProxyUrl)?;
                self.inner.resolve(&proxy, config, timeout)
            }
            None => self.inner.resolve(uri, config, timeout),
        }
    }
}

/// Wraps the connection of a forwarded target (already made to the proxy) so that its
/// request lines are in absolute form.
#[derive(Debug)]
pub(crate) struct ForwardConnector {
    pub routes: Arc<Routes>,
}

impl<In: Transport> Connector<In> for ForwardConnector {
    type Out = Either<In, ForwardTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        let Some(proxy) = self.routes.forward(details.uri) else {
            return Ok(Some(Either::A(transport)));
        };
        let authority = details
            .uri
            .authority()
            .ok_or(ureq::Error::HostNotFound)?
            .as_str();
        // Credentials in the target URL are the server's, never the proxy's.
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        Ok(Some(Either::B(ForwardTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            sock,
            origin: format!("http://{authority}"),
            proxy_authorization: proxy.basic.clone(),
        })))
    }
}

/// A connection to an HTTP proxy that writes each request line in absolute form.
pub(crate) struct ForwardTransport {
    buffers: LazyBuffers,
    sock: TransportAdapter,
    /// `http://host:port` of the target, put before each request's path.
    origin: String,
    proxy_authorization: Option<String>,
}

impl std::fmt::Debug for ForwardTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardTransport")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// `head` with its request line's origin-form target made absolute, and a
/// `Proxy-Authorization` header after it; `None` if `head` does not start a request.
pub(crate) fn absolute_form(head: &[u8], origin: &str, basic: Option<&str>) -> Option<Vec<u8>> {
    let space = head.iter().take(16).position(|&b| b == b' ')?;
    if !head[..space].iter().all(u8::is_ascii_uppercase) || head.get(space + 1) != Some(&b'/') {
        return None;
    }
    let line_end = head.windows(2).position(|w| w == b"\r\n")? + 2;
    let mut out = Vec::with_capacity(head.len() + origin.len() + 64);
    out.extend_from_slice(&head[..=space]);
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&head[space + 1..line_end]);
    if let Some(b) = basic {
        out.extend_from_slice(b"Proxy-Authorization: Basic ");
        out.extend_from_slice(b.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&head[line_end..]);
    Some(out)
}

impl Transport for ForwardTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.sock.set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        // We send only GETs, each head in one piece: a chunk that starts a request line is a
        // new request's head.
        match absolute_form(output, &self.origin, self.proxy_authorization.as_deref()) {
            Some(head) => self.sock.write_all(&head)?,
            None => self.sock.write_all(output)?,
        }
        self.sock.flush()?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.sock.set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.sock.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.sock.get_mut().is_open()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn proxy_urls_are_checked() {
        let p = ProxyUrl::parse("http://alice:s%40cret@Proxy.Local:3128/").unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port),
            (Kind::Http, "proxy.local", 3128)
        );
        let basic =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:s@cret");
        assert_eq!(p.basic.as_deref(), Some(basic.as_str()));
        assert_eq!(ProxyUrl::parse("proxy:8080").unwrap().port, 8080);
        assert_eq!(ProxyUrl::parse("http://proxy").unwrap().port, 80);
        assert_eq!(ProxyUrl::parse("socks5h://[::1]:1080").unwrap().host, "::1");
        assert_eq!(ProxyUrl::parse("socks5://s").unwrap().port, 1080);
        for (bad, why) in [
            ("", "empty"),
            ("ftp://p:21", "scheme"),
            ("https://p:443", "not supported"),
            ("http://p:0", "port"),
            ("http://p:99999", "port"),
            ("http://:8080", "missing host"),
            ("http://p:80/path", "no path"),
            ("http://p\n:80", "control"),
            ("http://::1:80", "brackets"),
        ] {
            let e = ProxyUrl::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn no_proxy_matches_suffixes_host_ports_ips_cidrs_and_star() {
        let n = NoProxy::parse(" example.com, .internal ,*.corp, api.io:8443, 10.1.2.3, [::1], 192.168.0.0/16,fd00::/8, ,bogus/x");
        assert!(n.matches("example.com", 80));
        assert!(n.matches("flipt.example.com", 443));
        assert!(!n.matches("notexample.com", 80));
        assert!(n.matches("a.b.internal", 80));
        assert!(n.matches("internal", 80));
        assert!(n.matches("x.corp", 80));
        assert!(n.matches("api.io", 8443));
        assert!(!n.matches("api.io", 443));
        assert!(n.matches("10.1.2.3", 1));
        assert!(!n.matches("10.1.2.4", 1));
        assert!(n.matches("::1", 8080));
        assert!(n.matches("192.168.7.9", 80));
        assert!(!n.matches("192.169.0.1", 80));
        assert!(n.matches("fd12::5", 80));
        assert!(n.matches("EXAMPLE.COM.", 80));
        assert!(NoProxy::parse("*").matches("anything", 1));
        assert!(!NoProxy::parse("").matches("anything", 1));
        assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8", 1));
    }

    #[test]
    fn the_environment_picks_a_proxy_per_scheme_upper_case_first() {
        let (r, warnings) = Routes::from_env(env(&[
            ("HTTP_PROXY", "http://h:1"),
            ("http_proxy", "http://lower:1"),
            ("https_proxy", "http://s:2"),
            ("NO_PROXY", "skip.me"),
        ]));
        assert!(warnings.is_empty());
        assert_eq!(r.proxy_for("http", "flipt", 80).unwrap().host, "h");
        assert_eq!(r.proxy_for("https", "flipt", 443).unwrap().host, "s");
        assert!(r.proxy_for("https", "a.skip.me", 443).is_none());
        // The proxy itself is reached directly.
        assert!(r.proxy_for("http", "h", 1).is_none());

        let (r, _) = Routes::from_env(env(&[("all_proxy", "socks5h://a:3"), ("HTTPS_PROXY", "")]));
        assert_eq!(
            r.proxy_for("https", "flipt", 443).unwrap().kind,
            Kind::Socks
        );
        assert_eq!(r.proxy_for("http", "flipt", 80).unwrap().host, "a");

        let (r, warnings) = Routes::from_env(env(&[
            ("HTTPS_PROXY", "ftp://x"),
            ("https_proxy", "http://ok:1"),
        ]));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("HTTPS_PROXY"), "{warnings:?}");
        assert_eq!(r.proxy_for("https", "flipt", 443).unwrap().host, "ok");

        let (r, _) = Routes::from_env(env(&[
            ("HTTP_PROXY", "http://h:1"),
            ("REQUEST_METHOD", "GET"),
        ]));
        assert!(r.proxy_for("http", "flipt", 80).is_none(), "httpoxy");
        let (r, _) = Routes::from_env(env(&[]));
        assert!(!r.any());
    }

    #[test]
    fn request_lines_become_absolute_with_the_proxy_credentials() {
        let head = b"GET /internal/v1/x?reference=a HTTP/1.1\r\nhost: f:8080\r\n\r\n";
        let out = absolute_form(head, "http://f:8080", Some("YTpi")).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET http://f:8080/internal/v1/x?reference=a HTTP/1.1\r\nProxy-Authorization: Basic YTpi\r\nhost: f:8080\r\n\r\n"
        );
        assert!(absolute_form(b"body bytes", "http://f", None).is_none());
        assert!(absolute_form(b"GET http://x/ HTTP/1.1\r\n", "http://f", None).is_none());
    }
}
