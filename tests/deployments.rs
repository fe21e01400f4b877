//! The client against real components, from Debian's packages, that this suite starts on
//! loopback: nginx serving a snapshot document at the v1 snapshot path (its own ETags and 304s,
//! `gzip on` for `application/json`, plain HTTP and TLS with the test CA), and tinyproxy as a
//! forward proxy. What is asserted is read from their own logs.
//!
//! Needs `nginx` and `tinyproxy` installed (`apt-get install nginx tinyproxy`) and `python3`
//! (for the benchmark workload). Behind the `deployment-tests` feature, so that `cargo test`
//! on a machine without them stays green; `.ci/run` runs it as
//! `cargo test --features gzip,deployment-tests --test deployments`. A component that cannot
//! be started fails the suite; nothing is skipped.

#![cfg(feature = "deployment-tests")]

mod support;

use flipt_client::{ClientOptions, ErrorStrategy, FliptClient, TlsConfig};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SNAPSHOT_PATH: &str = "/internal/v1/evaluation/snapshot/namespace/default";

/// One test at a time: each starts its own nginx and tinyproxy on ports it picked.
static SERIAL: Mutex<()> = Mutex::new(());

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port()
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "{what} did not start on port {port}:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn binary(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: apt-get install nginx tinyproxy");
}

/// nginx and tinyproxy, running until dropped.
struct Deployment {
    dir: PathBuf,
    http: u16,
    https: u16,
    proxy: u16,
    nginx: Child,
    tinyproxy: Child,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl Deployment {
    fn start(snapshot: &[u8]) -> Deployment {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let dir = std::env::temp_dir().join(format!(
            "flipt-deploy-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("snapshot.json"), snapshot).unwrap();
        let (http, https, proxy) = (free_port(), free_port(), free_port());
        let d = dir.display();
        let nginx_conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
  log_format flipt '$scheme $request_method $request_uri $status $body_bytes_sent "$http_accept_encoding" "$sent_http_content_encoding" "$http_if_none_match"';
  access_log {d}/access.log flipt;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  types {{ application/json json; }}
  default_type application/json;
  gzip on;
  gzip_types application/json;
  gzip_min_length 0;
  gzip_proxied any;
  server {{
    listen 127.0.0.1:{http};
    listen 127.0.0.1:{https} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location = {SNAPSHOT_PATH} {{ alias {d}/snapshot.json; }}
  }}
}}
"#,
            cert = fixture("server.pem").display(),
            key = fixture("server.key").display(),
        );
        std::fs::write(dir.join("nginx.conf"), nginx_conf).unwrap();
        let tinyproxy_conf = format!(
            "Port {proxy}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{d}/tinyproxy.log\"\nLogLevel Info\nPidFile \"{d}/tinyproxy.pid\"\nMaxClients 20\nAllow 127.0.0.1\n"
        );
        std::fs::write(dir.join("tinyproxy.conf"), tinyproxy_conf).unwrap();
        let out = |name: &str| Stdio::from(std::fs::File::create(dir.join(name)).unwrap());
        let nginx = Command::new(binary("nginx"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(&dir)
            .stdout(out("nginx.out"))
            .stderr(out("nginx.err"))
            .spawn()
            .expect("start nginx");
        let tinyproxy = Command::new(binary("tinyproxy"))
            .arg("-d")
            .arg("-c")
            .arg(dir.join("tinyproxy.conf"))
            .stdout(out("tinyproxy.out"))
            .stderr(out("tinyproxy.err"))
            .spawn()
            .expect("start tinyproxy");
        let deployment = Deployment {
            dir,
            http,
            https,
            proxy,
            nginx,
            tinyproxy,
            _serial: serial,
        };
        wait_for_port(http, "nginx", &deployment.dir.join("nginx.err"));
        wait_for_port(https, "nginx (TLS)", &deployment.dir.join("nginx.err"));
        wait_for_port(proxy, "tinyproxy", &deployment.dir.join("tinyproxy.log"));
        deployment
    }

    fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }

    fn https_url(&self) -> String {
        format!("https://localhost:{}", self.https)
    }

    fn proxy_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy)
    }

    /// nginx's access log: one line per request, in the `flipt` format above.
    fn access(&self) -> Vec<Access> {
        std::fs::read_to_string(self.dir.join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(Access::parse)
            .collect()
    }

    /// Waits until nginx has logged `n` requests; returns them.
    fn wait_access(&self, n: usize) -> Vec<Access> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = self.access();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// tinyproxy's request lines (`GET http://…` or `CONNECT host:port`).
    fn proxied(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("tinyproxy.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once("]: Request (file descriptor "))
            .filter_map(|(_, rest)| rest.split_once("): ").map(|(_, r)| r.to_string()))
            .collect()
    }

    fn edit(&self, snapshot: &[u8]) {
        let path = self.dir.join("snapshot.json");
        std::fs::write(&path, snapshot).unwrap();
        // nginx's ETag is the modification second and the size: make the change visible even
        // within the same second as the last write.
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
            .unwrap();
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = self.nginx.kill();
        let _ = self.tinyproxy.kill();
        let _ = self.nginx.wait();
        let _ = self.tinyproxy.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("logs kept in {}", self.dir.display());
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Access {
    scheme: String,
    status: u16,
    bytes: u64,
    accept_encoding: String,
    content_encoding: String,
    if_none_match: String,
}

impl Access {
    fn parse(line: &str) -> Access {
        let (head, quoted) = line.split_once(" \"").expect("log line");
        let f: Vec<&str> = head.split(' ').collect();
        let q: Vec<&str> = quoted.split("\" \"").collect();
        let unquote = |s: &str| s.trim_end_matches('"').to_string();
        assert_eq!(f[2], SNAPSHOT_PATH, "{line}");
        Access {
            scheme: f[0].to_string(),
            status: f[3].parse().unwrap(),
            bytes: f[4].parse().unwrap(),
            accept_encoding: unquote(q[0]),
            content_encoding: unquote(q[1]),
            if_none_match: unquote(q[2]),
        }
    }
}

const DOC_A: &str = include_str!("../examples/data/snapshot.json");

/// The bundled snapshot with `new-search`'s threshold rollout at 5% instead of 25%: `user-5`
/// (bucket 17) falls through to the flag's own value, false. A different size, so a new ETag.
fn doc_b() -> String {
    let threshold = "\"percentage\": 25";
    assert_eq!(DOC_A.matches(threshold).count(), 1);
    DOC_A.replace(threshold, "\"percentage\": 5")
}

fn new_search(client: &FliptClient) -> bool {
    client
        .evaluate_boolean("new-search", "user-5", &())
        .unwrap()
        .is_enabled()
}

fn client(options: ClientOptions) -> FliptClient {
    FliptClient::new(
        options
            .error_strategy(ErrorStrategy::Fail)
            .retry_backoff(Duration::from_millis(50)),
    )
    .unwrap()
}

/// `options` with a CA that did not sign nginx's certificate: refused as a TLS error.
fn refused_by_tls(options: ClientOptions) {
    let err = FliptClient::new(
        options.tls_config(TlsConfig::new().ca_cert_file(fixture("other-ca.pem"))),
    )
    .unwrap_err();
    assert_eq!(
        err.as_server().map(|s| s.kind()),
        Some(flipt_client::ServerErrorKind::Tls),
        "{err}"
    );
}

/// Polls `n` times through `refresh()`, waiting for each answer in nginx's log.
fn refresh_times(client: &FliptClient, deployment: &Deployment, n: usize) {
    for _ in 0..n {
        let before = deployment.access().len();
        client.refresh();
        let got = deployment.wait_access(before + 1).len();
        assert!(got > before, "no request reached nginx");
    }
}

fn statuses(lines: &[Access]) -> Vec<u16> {
    lines.iter().map(|a| a.status).collect()
}

#[test]
fn polling_nginx_gets_304s_until_the_file_changes_then_the_new_snapshot() {
    let d = Deployment::start(DOC_A.as_bytes());
    let c = client(ClientOptions::new().url(d.http_url()));
    assert!(new_search(&c));
    refresh_times(&c, &d, 2);
    d.edit(doc_b().as_bytes());
    refresh_times(&c, &d, 1);
    assert!(
        support::eventually(|| !new_search(&c)),
        "picked up the edit"
    );
    refresh_times(&c, &d, 2);
    c.close();
    let log = d.access();
    println!("nginx access log: {log:#?}");
    assert_eq!(statuses(&log), [200, 304, 304, 200, 304, 304]);
    // Each conditional request carried the ETag of what the client held.
    assert_eq!(log[0].if_none_match, "-");
    assert!(log[1].if_none_match.contains("\\x22"), "{:?}", log[1]);
    assert_eq!(log[1].if_none_match, log[2].if_none_match);
    assert_ne!(log[3].if_none_match, "-");
    assert_ne!(log[4].if_none_match, log[1].if_none_match, "the new ETag");
    // 304s carry no body.
    assert!(log.iter().filter(|a| a.status == 304).all(|a| a.bytes == 0));
}

#[test]
fn tls_to_nginx_is_verified_with_the_test_ca() {
    let d = Deployment::start(DOC_A.as_bytes());
    let c = client(
        ClientOptions::new()
            .url(d.https_url())
            .tls_config(TlsConfig::new().ca_cert_file(fixture("ca.pem"))),
    );
    assert!(new_search(&c));
    refresh_times(&c, &d, 1);
    c.close();
    refused_by_tls(ClientOptions::new().url(d.https_url()));
    let log = d.access();
    assert_eq!(statuses(&log), [200, 304]);
    assert!(log.iter().all(|a| a.scheme == "https"));
}

#[test]
fn through_tinyproxy_http_is_forwarded_in_absolute_form_and_https_tunnelled() {
    let d = Deployment::start(DOC_A.as_bytes());
    let plain = client(ClientOptions::new().url(d.http_url()).proxy(d.proxy_url()));
    assert!(new_search(&plain));
    refresh_times(&plain, &d, 1);
    plain.close();
    let tls = client(
        ClientOptions::new()
            .url(d.https_url())
            .proxy(d.proxy_url())
            .tls_config(TlsConfig::new().ca_cert_file(fixture("ca.pem"))),
    );
    assert!(new_search(&tls));
    refresh_times(&tls, &d, 1);
    tls.close();
    // Through the tunnel the certificate is still checked against the CA given.
    refused_by_tls(ClientOptions::new().url(d.https_url()).proxy(d.proxy_url()));

    let proxied = d.proxied();
    println!("tinyproxy requests: {proxied:#?}");
    let get = format!("GET http://127.0.0.1:{}{SNAPSHOT_PATH} HTTP/1.1", d.http);
    assert_eq!(
        proxied.iter().filter(|l| **l == get).count(),
        2,
        "{proxied:?}"
    );
    let connect = format!("CONNECT localhost:{} HTTP/1.1", d.https);
    assert!(
        proxied.iter().filter(|l| **l == connect).count() >= 2,
        "{proxied:?}"
    );
    let log = d.access();
    assert_eq!(statuses(&log), [200, 304, 200, 304]);
    assert_eq!(log[0].scheme, "http");
    assert_eq!(log[2].scheme, "https");
}

/// The `evaluate` example against `url` with `--proxy-from-env`, in an environment of its own.
fn evaluate_from_env(url: &str, env: &[(&str, String)]) -> std::process::Output {
    let ca = fixture("ca.pem");
    let args = [
        "--url",
        url,
        "--proxy-from-env",
        "--flag",
        "new-search",
        "--entity",
        "u",
        "--ca-cert",
    ];
    let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    args.push(ca.as_os_str());
    support::evaluate_with_proxy_env(&args, env)
}

#[test]
fn the_proxy_variables_route_through_tinyproxy_and_no_proxy_bypasses_it() {
    let d = Deployment::start(DOC_A.as_bytes());
    let out = evaluate_from_env(&d.https_url(), &[("HTTPS_PROXY", d.proxy_url())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(d.proxied().len(), 1, "{:?}", d.proxied());
    for no_proxy in ["localhost", ".localhost", "*", "localhost:1,localhost"] {
        let out = evaluate_from_env(
            &d.https_url(),
            &[
                ("https_proxy", d.proxy_url()),
                ("NO_PROXY", no_proxy.to_string()),
            ],
        );
        assert!(out.status.success(), "{no_proxy}");
        assert_eq!(
            d.proxied().len(),
            1,
            "NO_PROXY={no_proxy} bypasses tinyproxy"
        );
    }
    // NO_PROXY for another port of the same host does not apply.
    let out = evaluate_from_env(
        &d.https_url(),
        &[
            ("HTTPS_PROXY", d.proxy_url()),
            ("NO_PROXY", "localhost:1".to_string()),
        ],
    );
    assert!(out.status.success());
    assert_eq!(d.proxied().len(), 2);
    assert_eq!(d.access().len(), 6, "every run reached nginx");
}

#[cfg(feature = "gzip")]
#[test]
fn with_gzip_nginx_sends_the_benchmark_snapshot_compressed() {
    let dir = std::env::temp_dir().join(format!("flipt-deploy-wl-{}", std::process::id()));
    let status = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/gen_workload.py"
        ))
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .expect("python3 runs the workload generator");
    assert!(status.success());
    let snapshot = std::fs::read(dir.join("snapshot.json")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let d = Deployment::start(&snapshot);
    let c = client(ClientOptions::new().url(d.http_url()));
    assert_eq!(c.list_flags().unwrap().len(), 500);
    refresh_times(&c, &d, 1);
    let through_proxy = client(ClientOptions::new().url(d.http_url()).proxy(d.proxy_url()));
    assert_eq!(through_proxy.list_flags().unwrap().len(), 500);
    c.close();
    through_proxy.close();
    let log = d.access();
    println!(
        "default benchmark snapshot: identity {} bytes, gzip on the wire {} bytes ({:.1}x); nginx log: {log:?}",
        snapshot.len(),
        log[0].bytes,
        snapshot.len() as f64 / log[0].bytes as f64
    );
    assert_eq!(statuses(&log), [200, 304, 200]);
    for a in [&log[0], &log[2]] {
        assert_eq!(a.accept_encoding, "gzip");
        assert_eq!(a.content_encoding, "gzip");
        assert!(a.bytes * 5 < snapshot.len() as u64, "{a:?}");
    }
    // The 304 answered the weak ETag nginx gives a gzipped body.
    // (nginx logs the quotes as \x22.)
    assert!(log[1].if_none_match.starts_with("W/"), "{:?}", log[1]);
}
