//! `--tcplisten`: a real TCP client in this process talks to the
//! `tcp_server` guest through the listening socket `wasc` pre-opens, in
//! both VM transports. The guest prints cues; the client acts on each one,
//! so every run prints the same lines.
//!
//! wasmtime 48's preview 1 (the in-process reference) has no sockets, so
//! the expected lines follow wasi-common, the implementation that had them
//! (docs/wasi-reference.md); in process, `--tcplisten` is refused.

mod harness;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use harness::wasc;
use wasc_test_guests as guests;

/// What the guest prints, line by line.
const EXPECTED: &str = "\
listener: filetype 6 flags 0x4 rights 0x42/0x0
accept with nothing pending: AGAIN
recv on the listener: BADF
send on the listener: BADF
shutdown the listener: BADF
fd_read on the listener: BADF
fd_tell on the listener: BADF
accept on stdout: NOTSOCK
listening
poll listener: [\"userdata 1 SUCCESS type 1 nbytes 1 flags 0\"]
accept: ok 4
connection: filetype 6 flags 0x0 rights 0x42/0x0
fd_seek on a connection: BADF
fd_pread on a connection: BADF
fd_filestat_get filetype: ok 6
peek is a prefix: true
waitall: 12 \"hello world\\n\"
poll writable: [\"userdata 1 SUCCESS type 2 nbytes 0 flags 0\"]
sock_send: ok 12
fd_write: ok 13
sent
fd_read: \"ping\\n\"
shutdown write: ok
send after shutdown: PIPE
until end: \"bye\"
poll after both ends closed: [\"userdata 1 SUCCESS type 1 nbytes 1 flags 1\"]
close: ok
next
poll listener again: [\"userdata 1 SUCCESS type 1 nbytes 1 flags 0\"]
accept non-blocking: ok 4
non-blocking connection: filetype 6 flags 0x4 rights 0x42/0x0
recv with nothing queued: AGAIN
set blocking: ok
blocking connection: filetype 6 flags 0x0 rights 0x42/0x0
waiting
blocking recv: \"late\\n\"
close: ok
done
";

/// Starts `wasc run --tcplisten ADDR ARGS…` on a loopback port that was
/// free a moment ago, with stdout and stderr piped: the child and ADDR.
fn spawn_on_free_port(args: &[&str]) -> (Child, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_wasc"))
        .args(["run", "--tcplisten", &addr])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wasc");
    (child, addr)
}

/// A running `wasc run --tcplisten` and the guest's stdout, line by line.
struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
    seen: String,
    addr: String,
}

impl Server {
    /// Starts the guest on a free loopback port. A port taken between
    /// finding it and `wasc` binding it makes `wasc` fail at once; then
    /// another port is tried.
    fn start(transport: &str) -> Server {
        for _ in 0..5 {
            let (mut child, addr) = spawn_on_free_port(&[
                "--transport",
                transport,
                "--timeout",
                "60s",
                guests::TCP_SERVER,
            ]);
            let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
            let mut server = Server {
                child,
                stdout,
                seen: String::new(),
                addr,
            };
            if server.next_line().is_some() {
                return server;
            }
            let stderr = server.finish();
            assert!(stderr.contains("Address already in use"), "{stderr}");
        }
        panic!("no free port after five tries");
    }

    fn next_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(n) if n > 0 => {
                self.seen.push_str(&line);
                Some(line.trim_end().to_owned())
            }
            _ => None,
        }
    }

    /// Reads lines until `cue`, failing with everything seen if the guest
    /// ends first.
    fn wait_for(&mut self, cue: &str) {
        while let Some(line) = self.next_line() {
            if line == cue {
                return;
            }
        }
        let seen = self.seen.clone();
        panic!(
            "the guest ended before {cue:?}; it printed:\n{seen}\nstderr:\n{}",
            self.finish()
        );
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.addr).expect("connect to the guest");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        stream
    }

    /// Waits for the end of the run: its stderr.
    fn finish(&mut self) -> String {
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        self.seen.push_str(&rest);
        let status = self.child.wait().expect("wait for wasc");
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        if !status.success() {
            stderr.push_str(&format!("(wasc exited with {status})"));
        }
        stderr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads exactly `len` bytes.
fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).expect("read from the guest");
    buf
}

fn talk_to_the_guest(transport: &str) {
    let mut server = Server::start(transport);
    server.wait_for("listening");

    // First connection: a request, replies both ways, half closes.
    let mut first = server.connect();
    first.write_all(b"hello world\n").expect("send request");
    server.wait_for("sent");
    assert_eq!(
        read_exactly(&mut first, 25),
        b"HELLO WORLD\nvia fd_write\n",
        "what sock_send and fd_write sent"
    );
    first.write_all(b"ping\n").expect("send ping");
    let mut rest = Vec::new();
    first
        .read_to_end(&mut rest)
        .expect("the guest shuts down its side");
    assert_eq!(rest, b"", "nothing after the guest's end of stream");
    first.write_all(b"bye").expect("send bye");
    first.shutdown(Shutdown::Both).expect("close");
    drop(first);

    // Second connection: nothing to read at first, then a late line.
    server.wait_for("next");
    let mut second = server.connect();
    server.wait_for("waiting");
    second.write_all(b"late\n").expect("send late");
    server.wait_for("done");
    drop(second);

    let stderr = server.finish();
    assert_eq!(server.seen, EXPECTED, "guest output; stderr:\n{stderr}");
    assert_eq!(stderr, "", "a clean run");
}

#[test]
fn a_tcp_server_in_a_vm_sync() {
    talk_to_the_guest("sync");
}

#[test]
fn a_tcp_server_in_a_vm_poll() {
    talk_to_the_guest("poll");
}

#[test]
fn tcplisten_is_refused_in_process() {
    let out = wasc(&[
        "run",
        "--isolation",
        "none",
        "--tcplisten",
        "127.0.0.1:0",
        guests::TCP_SERVER,
    ]);
    assert_eq!(out.status, Some(1), "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        "Error: --tcplisten needs --isolation vm: wasmtime 48's preview-1 WASI, \
         which --isolation none runs, has no sockets"
    );
}

#[test]
fn an_address_in_use_is_one_clear_line() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    let out = wasc(&["run", "--tcplisten", &addr, guests::TCP_SERVER]);
    assert_eq!(out.status, Some(1), "{out:?}");
    let lines: Vec<_> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{:?}", out.stderr);
    assert!(
        lines[0].starts_with(&format!(
            "Error: failed to listen on `{addr}` for --tcplisten: "
        )) && lines[0].contains("Address already in use"),
        "{:?}",
        lines[0]
    );
}

#[test]
fn an_address_without_a_port_is_a_usage_error() {
    let out = wasc(&["run", "--tcplisten", "127.0.0.1", guests::TCP_SERVER]);
    assert_eq!(out.status, Some(2), "{out:?}");
    assert!(out.stderr.contains("is not HOST:PORT"), "{}", out.stderr);
}

/// A guest that sleeps 300 ms on a clock and exits without accepting.
const SLEEPER: &str = r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; One relative monotonic clock subscription of 300 ms at offset 0.
  (data (i32.const 8) "\00")
  (data (i32.const 16) "\01\00\00\00")
  (data (i32.const 24) "\00\a3\e1\11\00\00\00\00")
  (func (export "_start")
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))"#;

/// A listener whose guest never accepts: the client's connection waits in
/// the backlog, and the run still ends cleanly when the guest exits.
#[test]
fn an_unaccepted_connection_does_not_hold_up_the_exit() {
    let module = tempfile::Builder::new()
        .suffix(".wat")
        .tempfile()
        .expect("temp module");
    std::fs::write(module.path(), SLEEPER).expect("write module");
    let module = module.path().to_str().expect("UTF-8 path").to_owned();
    let (mut child, addr) = spawn_on_free_port(&[&module]);
    // The kernel completes the handshake into the backlog while the guest
    // sleeps; nobody ever accepts.
    let started = Instant::now();
    let client = loop {
        match TcpStream::connect(&addr) {
            Ok(client) => break client,
            Err(e) if started.elapsed() > Duration::from_secs(10) => panic!("connect: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}");
    drop(client);
}
