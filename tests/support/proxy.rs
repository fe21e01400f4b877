//! A forward proxy on 127.0.0.1 for tests: CONNECT tunnels and absolute-form requests, one
//! connection at a time per client connection, everything piped both ways. Every request head
//! it receives is recorded.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request head the proxy received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request line, e.g. `CONNECT 127.0.0.1:443 HTTP/1.1`.
    pub line: String,
    /// `Proxy-Authorization`, if sent.
    pub authorization: Option<String>,
}

/// Listens on a loopback port; each connection is served by `serve` on a thread of its own,
/// recording into the returned list.
fn listen<T: Send + 'static>(
    serve: fn(TcpStream, &Mutex<Vec<T>>) -> std::io::Result<()>,
) -> (u16, Arc<Mutex<Vec<T>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let s = s.clone();
            std::thread::spawn(move || {
                let _ = serve(client, &s);
            });
        }
    });
    (port, seen)
}

pub struct FakeProxy {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeProxy {
    pub fn start() -> FakeProxy {
        let (port, seen) = listen(serve);
        FakeProxy { port, seen }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn serve(client: TcpStream, seen: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end().to_string();
    let mut headers = Vec::new();
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("proxy-authorization") {
                authorization = Some(v.trim().to_string());
                continue;
            }
        }
        headers.push(h);
    }
    seen.lock().unwrap().push(Seen {
        line: line.clone(),
        authorization,
    });
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut client = client;
    if method == "CONNECT" {
        let upstream = match TcpStream::connect(target) {
            Ok(u) => u,
            Err(_) => {
                client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")?;
                return Ok(());
            }
        };
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        let (c2, u2) = (client.try_clone()?, upstream.try_clone()?);
        let up = std::thread::spawn(move || pipe(c2, u2));
        pipe(upstream, client);
        let _ = up.join();
        return Ok(());
    }
    // Absolute form: http://host:port/path -> connect and send the origin form.
    let Some(rest) = target.strip_prefix("http://") else {
        client.write_all(
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut upstream = TcpStream::connect(authority)?;
    let version = parts.next().unwrap_or("HTTP/1.1");
    let path = if path.is_empty() { "/" } else { path };
    let mut head = format!("{method} {path} {version}\r\n");
    for h in headers {
        head.push_str(&h);
    }
    // One request per connection keeps the piping simple.
    head.push_str("connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes())?;
    let leftover = reader.buffer().to_vec();
    upstream.write_all(&leftover)?;
    pipe(upstream, client);
    Ok(())
}

/// A SOCKS5 proxy without authentication: records each CONNECT target as `host:port`.
pub struct FakeSocks5 {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl FakeSocks5 {
    pub fn start() -> FakeSocks5 {
        let (port, seen) = listen(socks5);
        FakeSocks5 { port, seen }
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn socks5(mut client: TcpStream, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head)?;
    let mut methods = vec![0u8; head[1] as usize];
    client.read_exact(&mut methods)?;
    client.write_all(&[5, 0])?;
    let mut req = [0u8; 4];
    client.read_exact(&mut req)?;
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            client.read_exact(&mut a)?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; len[0] as usize];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return Ok(()),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    seen.lock().unwrap().push(target.clone());
    let upstream = TcpStream::connect(&target)?;
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    let (c2, u2) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::spawn(move || pipe(c2, u2));
    pipe(upstream, client);
    let _ = up.join();
    Ok(())
}
