//! TCP echo through `--tcplisten`: round-trip latency of a client in this
//! process talking to the `tcp_echo` guest in a VM, beside the same echo
//! served by a plain host thread. wasmtime 48's in-process preview 1 has
//! no sockets, so the host thread (no Wasm, no WASI) is the baseline.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};

use super::measure::{stats, Stats};
use super::plan::{progress, Plan};

/// Message sizes, in bytes.
const SIZES: [usize; 2] = [64, 16 << 10];

/// Where the echo runs.
enum Server {
    /// A host thread with a std `TcpListener`.
    Host(std::thread::JoinHandle<()>),
    /// `wasc run --tcplisten … tcp_echo.wasm`.
    Vm(Child),
}

fn free_addr() -> anyhow::Result<String> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    Ok(format!("127.0.0.1:{port}"))
}

fn start(transport: Option<&str>) -> anyhow::Result<(Server, TcpStream)> {
    let addr = free_addr()?;
    let server = match transport {
        None => {
            let listener = TcpListener::bind(&addr)?;
            Server::Host(std::thread::spawn(move || {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                let mut buf = vec![0u8; 64 << 10];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }))
        }
        Some(transport) => Server::Vm(
            Command::new(std::env::current_exe().context("finding the wasc binary")?)
                .args(["run", "--transport", transport, "--tcplisten", &addr])
                .arg(wasc_test_guests::TCP_ECHO)
                .stdout(Stdio::null())
                .spawn()?,
        ),
    };
    // The VM's listener exists once wasc has started: retry until then.
    let started = Instant::now();
    let conn = loop {
        match TcpStream::connect(&addr) {
            Ok(conn) => break conn,
            Err(e) if started.elapsed() > Duration::from_secs(10) => {
                return Err(e).context("connecting to the echo server")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok((server, conn))
}

/// `count` round trips of each size after a warm-up: seconds per trip.
fn round_trips(conn: &mut TcpStream, count: usize) -> anyhow::Result<Vec<Vec<f64>>> {
    let mut out = Vec::new();
    for size in SIZES {
        let message = vec![0x5a_u8; size];
        let mut back = vec![0u8; size];
        let mut samples = Vec::with_capacity(count);
        for i in 0..count + count / 10 {
            let start = Instant::now();
            conn.write_all(&message)?;
            conn.read_exact(&mut back)?;
            if i >= count / 10 {
                samples.push(start.elapsed().as_secs_f64());
            }
        }
        ensure!(back == message, "the echo changed the bytes");
        out.push(samples);
    }
    Ok(out)
}

pub fn section(plan: &Plan) -> anyhow::Result<String> {
    let count = if plan.quick() { 100 } else { 5_000 };
    let modes: [(&str, Option<&str>); 3] = [
        ("host thread (no Wasm)", None),
        ("VM, sync", Some("sync")),
        ("VM, poll", Some("poll")),
    ];
    let mut results: Vec<Vec<Stats>> = Vec::new();
    for (name, transport) in modes {
        progress(&format!("tcp echo: {name}"));
        let (server, mut conn) = start(transport)?;
        let samples = round_trips(&mut conn, count)?;
        drop(conn);
        match server {
            Server::Host(thread) => {
                let _ = thread.join();
            }
            Server::Vm(mut child) => {
                let status = child.wait()?;
                ensure!(status.success(), "the tcp_echo guest failed: {status}");
            }
        }
        results.push(samples.into_iter().map(stats).collect());
    }
    let mut out = format!(
        "\n## TCP echo through `--tcplisten`\n\nA client in `wasc bench` sends a message and reads it back, {count}\ntimes per size after a warm-up, on loopback with `TCP_NODELAY`. The\n`tcp_echo` guest answers from a VM (`sock_recv` and `sock_send` on a\nblocking connection: one host op each, plus a `Wait` when nothing is\nqueued yet). wasmtime 48's preview 1 has no sockets, so there is no\n`--isolation none` run: the baseline is the same echo loop on a plain\nhost thread, the cost of the network path with no Wasm and no WASI.\nNo target in the architecture covers it.\n\n| mode | size | p50 µs | p99 µs | p50 / host thread |\n| --- | ---: | ---: | ---: | ---: |\n"
    );
    for (m, (name, _)) in modes.iter().enumerate() {
        for (s, size) in SIZES.iter().enumerate() {
            let st = &results[m][s];
            writeln!(
                out,
                "| {name} | {size} B | {:.1} | {:.1} | {:.2}× |",
                st.p50 * 1e6,
                st.p99 * 1e6,
                st.p50 / results[0][s].p50
            )?;
        }
    }
    Ok(out)
}
