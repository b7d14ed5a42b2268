//! What the server tests share: a server of their own on an ephemeral
//! loopback port, stopped by the test, and a small HTTP/1.1 client that
//! can also send what well-behaved clients do not.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use wasc_runtime::{HostConfig, Isolation, Limits};
use wasc_serve::{Route, ServeConfig, Server};

pub const MODES: [Isolation; 2] = [Isolation::Vm, Isolation::None];

pub fn probe() -> PathBuf {
    PathBuf::from(wasc_test_guests::WAGI_PROBE)
}

/// A route serving the probe module.
pub fn route(pattern: &str) -> Route {
    Route {
        pattern: pattern.into(),
        module: probe(),
        dirs: Vec::new(),
        tmpfs: vec!["/tmp:4M".parse().expect("tmpfs")],
        env: vec![("ROUTE_VAR".into(), "from the route".into())],
        limits: Limits {
            timeout: Some(Duration::from_millis(500)),
            ..Limits::default()
        },
        argv: None,
    }
}

pub fn config(isolation: Isolation, routes: Vec<Route>) -> ServeConfig {
    ServeConfig {
        listen: "127.0.0.1:0".into(),
        host: HostConfig::serving(isolation),
        routes,
        workers: 4,
        queue: 64,
        max_body: 64 << 10,
        max_response: 1 << 20,
        confine: true,
    }
}

/// A running server; dropping it stops it and waits for it.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), wasc_serve::Error>>>,
}

pub fn start(config: ServeConfig) -> Running {
    let server = Server::bind(config).expect("bind the server (VM isolation needs /dev/kvm)");
    let addr = server.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        server.run(async {
            let _ = stopped.await;
        })
    });
    Running {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Running {
    /// Stops the server and returns how `run` ended.
    pub fn stop(mut self) -> Result<(), wasc_serve::Error> {
        self.stop_now()
    }

    fn stop_now(&mut self) -> Result<(), wasc_serve::Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().expect("server thread"),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop_now();
    }
}

/// A response as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// One request on a new connection (`Connection: close`).
pub fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut head = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
    // One Host for every server, so responses of servers on different
    // ports compare equal.
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str("Host: wasc.test:80\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    send_raw(addr, &raw)
}

pub fn get(addr: SocketAddr, target: &str) -> Reply {
    send(addr, "GET", target, &[], b"")
}

/// Writes `raw` and reads the response to the end of the connection.
pub fn send_raw(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    // The server may answer (413) before reading everything: a failed
    // write is fine, the response is what counts.
    let _ = stream.write_all(raw);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    parse(&response)
}

fn parse(response: &[u8]) -> Reply {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header block in {:?}", String::from_utf8_lossy(response)));
    let head = std::str::from_utf8(&response[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: response[end + 4..].to_vec(),
    }
}

/// The process's open descriptors.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("fds").count()
}

/// The process's resident set, in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}
