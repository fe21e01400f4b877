//! A scriptable fake Flipt server on 127.0.0.1: plain `TcpListener`, HTTP/1.1 with keep-alive,
//! optional TLS through rustls. Every request is recorded; a handler closure decides each reply.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One received request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// Parts of a streamed response.
pub enum Chunk {
    Data(Vec<u8>),
    /// End the response properly (final chunk).
    End,
    /// Close the connection without finishing the response.
    Abort,
}

/// What the server does with a request.
pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Headers promising `declared` bytes, then only `body`, then the connection closes.
    CutBody {
        status: u16,
        declared: usize,
        body: Vec<u8>,
    },
    /// Close the connection without answering.
    Close,
    /// Wait, then answer as the inner reply.
    Delay(Duration, Box<Reply>),
    /// A chunked response fed from a channel until `End`/`Abort` or the channel closes.
    Stream(Receiver<Chunk>),
    /// A stream with extra response headers (e.g. `Content-Encoding`).
    StreamWith(Vec<(String, String)>, Receiver<Chunk>),
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }
    pub fn snapshot(body: &str, etag: &str) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("ETag".into(), etag.into()),
            ],
            body: body.as_bytes().to_vec(),
        }
    }
    pub fn status(status: u16) -> Reply {
        Reply::json(
            status,
            &format!("{{\"code\":{status},\"message\":\"scripted\",\"details\":[]}}"),
        )
    }
}

type Handler = Box<dyn FnMut(&Request) -> Reply + Send>;

pub struct FakeServer {
    pub port: u16,
    /// TCP connections accepted.
    connections: Arc<std::sync::atomic::AtomicUsize>,
    requests: Arc<Mutex<Vec<Request>>>,
    handler: Arc<Mutex<Handler>>,
    done: Arc<AtomicBool>,
}

trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

impl FakeServer {
    /// Starts a plain HTTP server.
    pub fn start(handler: impl FnMut(&Request) -> Reply + Send + 'static) -> FakeServer {
        FakeServer::start_with(None, handler)
    }

    /// Starts a server; with `tls`, every connection is wrapped in that rustls config.
    pub fn start_with(
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: impl FnMut(&Request) -> Reply + Send + 'static,
    ) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Mutex<Handler>> = Arc::new(Mutex::new(Box::new(handler)));
        let done = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (r, h, d, c) = (
            requests.clone(),
            handler.clone(),
            done.clone(),
            connections.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if d.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let (r, h, tls) = (r.clone(), h.clone(), tls.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    match tls {
                        None => serve(Box::new(stream), &r, &h),
                        Some(cfg) => {
                            let Ok(conn) = rustls::ServerConnection::new(cfg) else {
                                return;
                            };
                            serve(Box::new(rustls::StreamOwned::new(conn, stream)), &r, &h)
                        }
                    }
                });
            }
        });
        FakeServer {
            port,
            connections,
            requests,
            handler,
            done,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn https_url(&self, host: &str) -> String {
        format!("https://{host}:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Replaces the handler.
    pub fn set_handler(&self, handler: impl FnMut(&Request) -> Reply + Send + 'static) {
        *self.handler.lock().unwrap() = Box::new(handler);
    }

    /// Waits until at least `n` requests arrived (up to `timeout`).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.count() >= n
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_request(reader: &mut BufReader<Box<dyn Conn>>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Some(Request {
        method,
        target,
        headers,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Other",
    }
}

fn serve(conn: Box<dyn Conn>, requests: &Mutex<Vec<Request>>, handler: &Mutex<Handler>) {
    let mut reader = BufReader::new(conn);
    while let Some(req) = read_request(&mut reader) {
        requests.lock().unwrap().push(req.clone());
        let mut reply = (handler.lock().unwrap())(&req);
        // `Connection: close` (as a proxy forwarding one request asks): answer, then close.
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if let (true, Reply::Full { headers, .. }) = (close, &mut reply) {
            headers.push(("Connection".into(), "close".into()));
        }
        if !respond(reader.get_mut(), reply) || close {
            return;
        }
    }
}

/// Writes a reply; returns whether the connection may be reused.
fn respond(w: &mut Box<dyn Conn>, reply: Reply) -> bool {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            w.write_all(head.as_bytes()).is_ok() && w.write_all(&body).is_ok() && w.flush().is_ok()
        }
        Reply::CutBody {
            status,
            declared,
            body,
        } => {
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n",
                reason(status)
            );
            let _ = w.write_all(head.as_bytes());
            let _ = w.write_all(&body);
            let _ = w.flush();
            false
        }
        Reply::Close => false,
        Reply::Delay(d, inner) => {
            std::thread::sleep(d);
            respond(w, *inner)
        }
        Reply::Stream(rx) => respond(w, Reply::StreamWith(Vec::new(), rx)),
        Reply::StreamWith(headers, rx) => {
            let mut head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n".to_string();
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            if w.write_all(head.as_bytes()).is_err() || w.flush().is_err() {
                return false;
            }
            loop {
                match rx.recv_timeout(Duration::from_secs(60)) {
                    Ok(Chunk::Data(d)) => {
                        let ok = w.write_all(format!("{:x}\r\n", d.len()).as_bytes()).is_ok()
                            && w.write_all(&d).is_ok()
                            && w.write_all(b"\r\n").is_ok()
                            && w.flush().is_ok();
                        if !ok {
                            return false;
                        }
                    }
                    Ok(Chunk::End) | Err(RecvTimeoutError::Disconnected) => {
                        let _ = w.write_all(b"0\r\n\r\n");
                        let _ = w.flush();
                        return true;
                    }
                    Ok(Chunk::Abort) | Err(RecvTimeoutError::Timeout) => return false,
                }
            }
        }
    }
}

/// A minimal valid snapshot document with one boolean flag `f` whose value is `enabled`.
pub fn doc(namespace: &str, enabled: bool) -> String {
    doc_with(namespace, &[("f", enabled)])
}

/// A snapshot document with boolean flags (no rollouts: the value is `enabled`).
pub fn doc_with(namespace: &str, flags: &[(&str, bool)]) -> String {
    let flags: Vec<String> = flags
        .iter()
        .map(|(k, on)| {
            format!(r#"{{"key":"{k}","name":"","description":"","enabled":{on},"type":"BOOLEAN_FLAG_TYPE","rules":[],"rollouts":[{{"type":"THRESHOLD_ROLLOUT_TYPE","rank":1,"threshold":{{"percentage":100,"value":{on}}}}}]}}"#)
        })
        .collect();
    format!(
        r#"{{"namespace":{{"key":"{namespace}"}},"flags":[{}],"digest":"x"}}"#,
        flags.join(",")
    )
}

/// A stream line carrying a document.
pub fn stream_line(doc: &str) -> Vec<u8> {
    format!("{{\"result\":{doc}}}\n").into_bytes()
}

/// The URL of a loopback port nothing listens on (bound, then released): connections to it
/// are refused.
pub fn refused_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port();
    format!("http://127.0.0.1:{port}")
}

/// A server that accepts connections and never sends a byte: a hung server, or (for an https
/// URL) a TLS handshake that never completes.
pub struct SilentServer {
    pub port: u16,
    done: Arc<AtomicBool>,
}

impl SilentServer {
    pub fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if d.load(Ordering::SeqCst) {
                    break;
                }
                held.extend(stream.ok());
            }
        });
        SilentServer { port, done }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A listener that never accepts, with its accept queue filled: the kernel then drops new
/// SYNs, so a connect to it hangs as one to a blackholed address does.
pub struct Blackhole {
    pub port: u16,
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
}

impl Blackhole {
    pub fn start() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        // Fill the queue until a connect no longer completes (the backlog is the system's
        // somaxconn, a few thousand at most).
        while queued.len() < 10_000 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Ok(s) => queued.push(s),
                Err(_) => break,
            }
        }
        assert!(queued.len() < 10_000, "the accept queue never filled");
        Blackhole {
            port,
            _listener: listener,
            _queued: queued,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
