//! `wasc serve` under load: a `wasc serve` process per isolation mode, two
//! handlers (hello, and one that hashes a 4 KiB request body), and a
//! closed-loop client of our own in this process — C connections with
//! keep-alive, each sending its next request when the last is answered, a
//! fixed number of requests in all, loopback only. CPU per request is the
//! server process's user + system time over the run, divided by the
//! requests.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

use super::measure::stats;
use super::plan::{progress, Plan};

/// FNV-1a over the request body (read from stdin), printed as 16 hex
/// digits after a header block.
const HASH_HANDLER: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "Content-Type: text/plain\n\n")
  (data (i32.const 96) "0123456789abcdef")
  (func (export "_start")
    (local $h i64) (local $n i32) (local $i i32)
    (local.set $h (i64.const 0xcbf29ce484222325))
    (block $done
      (loop $more
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 8192))
        (br_if $done (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
        (local.set $n (i32.load (i32.const 16)))
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $i (i32.const 0))
        (loop $byte
          (local.set $h (i64.mul
            (i64.xor (local.get $h) (i64.load8_u (i32.add (i32.const 1024) (local.get $i))))
            (i64.const 0x100000001b3)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $byte (i32.lt_u (local.get $i) (local.get $n))))
        (br $more)))
    ;; 16 hex digits at 200.
    (local.set $i (i32.const 0))
    (loop $digit
      (i32.store8 (i32.add (i32.const 200) (local.get $i))
        (i32.load8_u (i32.add (i32.const 96)
          (i32.wrap_i64 (i64.and (i64.shr_u (local.get $h)
            (i64.extend_i32_u (i32.sub (i32.const 60) (i32.shl (local.get $i) (i32.const 2)))))
            (i64.const 15))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $digit (i32.lt_u (local.get $i) (i32.const 16))))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 26))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 20)))
    (i32.store (i32.const 0) (i32.const 200))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 20)))))"#;

const CONCURRENCY: [usize; 3] = [1, 16, 64];
const BODY: usize = 4 << 10;

/// A `wasc serve` child; killed (by its pid) if it is still running when
/// dropped.
struct ServeProcess {
    child: Child,
    addr: String,
}

impl ServeProcess {
    fn start(flags: &[&str], routes: &std::path::Path) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe().context("finding the wasc binary")?)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(flags)
            .args(["--queue", "1024", "--routes"])
            .arg(routes)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting wasc serve")?;
        let mut log = BufReader::new(child.stderr.take().context("its stderr")?);
        let mut first = String::new();
        log.read_line(&mut first)?;
        let Some(addr) = first
            .trim()
            .strip_prefix("wasc serve: listening on http://")
        else {
            bail!("wasc serve did not start: {first}");
        };
        let addr = addr.to_owned();
        // Drain the access log so the server never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
        Ok(Self { child, addr })
    }

    /// User + system CPU seconds the server has used.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name (which is in parentheses).
        let rest = stat.rsplit_once(')').context("stat format")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        // SAFETY: sysconf only reads a system constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        Ok(ticks as f64 / hz)
    }

    fn stop(mut self) -> anyhow::Result<()> {
        let pid = libc::pid_t::try_from(self.child.id())?;
        // SAFETY: signalling the child this benchmark started, by its pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = self.child.wait()?;
        ensure!(status.success(), "wasc serve ended with {status}");
        Ok(())
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends one request on a keep-alive connection and reads its response;
/// checks the status and returns the body.
fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8]) -> anyhow::Result<Vec<u8>> {
    stream.get_mut().write_all(request)?;
    let mut line = String::new();
    stream.read_line(&mut line)?;
    ensure!(line.starts_with("HTTP/1.1 200"), "answer: {line:?}");
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse()?;
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    Ok(body)
}

/// One load run: `requests` spread over `concurrency` connections.
/// Latencies in seconds and the wall time.
fn load(
    addr: &str,
    request: &[u8],
    concurrency: usize,
    requests: usize,
) -> anyhow::Result<(Vec<f64>, f64)> {
    let started = Instant::now();
    let per = requests / concurrency;
    let latencies = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..concurrency)
            .map(|_| {
                scope.spawn(move || -> anyhow::Result<Vec<f64>> {
                    let stream = TcpStream::connect(addr)?;
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
                    let mut stream = BufReader::new(stream);
                    let mut samples = Vec::with_capacity(per);
                    for _ in 0..per {
                        let sent = Instant::now();
                        exchange(&mut stream, request)?;
                        samples.push(sent.elapsed().as_secs_f64());
                    }
                    Ok(samples)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(requests);
        for client in clients {
            all.extend(
                client
                    .join()
                    .map_err(|_| anyhow::anyhow!("a client panicked"))??,
            );
        }
        Ok::<_, anyhow::Error>(all)
    })?;
    Ok((latencies, started.elapsed().as_secs_f64()))
}

/// The server configurations compared, the baseline first: label and
/// `wasc serve` flags.
const MODES: [(&str, &[&str]); 3] = [
    ("in process", &["--isolation", "none"]),
    ("VM sync", &["--isolation", "vm", "--transport", "sync"]),
    ("VM poll", &["--isolation", "vm", "--transport", "poll"]),
];

pub fn serve(plan: &Plan) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let hello = std::fs::canonicalize("examples/hello-wagi.wat")
        .context("examples/hello-wagi.wat (run wasc bench from the repository)")?;
    std::fs::write(dir.path().join("hash.wat"), HASH_HANDLER)?;
    let routes = dir.path().join("routes.toml");
    std::fs::write(
        &routes,
        format!(
            "[[route]]\npath = \"/hello\"\nmodule = {:?}\n\n[[route]]\npath = \"/hash\"\nmodule = \"hash.wat\"\n",
            hello.display().to_string()
        ),
    )?;
    let requests = if plan.quick { 64 } else { 3_200 };
    let hello_request = b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n".to_vec();
    let mut hash_request =
        format!("POST /hash HTTP/1.1\r\nHost: bench\r\nContent-Length: {BODY}\r\n\r\n")
            .into_bytes();
    hash_request.extend((0..BODY).map(|i| (i % 251) as u8));

    let mut out = format!(
        "\n## `wasc serve`\n\nA `wasc serve` process per mode (VM isolation with pooled VMs in each\ntransport; in process with wasmtime-wasi), default workers\n(two per core; one per two cores in poll), serving `examples/hello-wagi.wat` at `/hello` and a\nhandler hashing a 4 KiB POST body at `/hash`. The load generator is our\nown closed-loop client (this process): C keep-alive connections on\nloopback, {requests} requests in all per row. CPU is the server's user +\nsystem time over the row divided by its requests; the client's is not\ncounted. Targets (issue 15): VM throughput ≥ 0.5× in process at c=16,\np99 ≤ 5 ms at c=16, CPU per request ≤ 2× in process.\n\n| handler | c | mode | req/s | p50 ms | p99 ms | CPU ms/req | req/s vs in process | CPU vs in process |\n| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    );
    let mut targets = Vec::new();
    for (name, request) in [("hello", &hello_request), ("hash 4 KiB", &hash_request)] {
        for c in CONCURRENCY {
            let mut base: Option<(f64, f64)> = None;
            for (mode, flags) in MODES {
                progress(&format!("serve: {name}, c={c}, {mode}"));
                let server = ServeProcess::start(flags, &routes)?;
                // Warm up: the pool and the workers.
                load(&server.addr, request, c.min(8), 32)?;
                let cpu_before = server.cpu_seconds()?;
                let (latencies, wall) = load(&server.addr, request, c, requests)?;
                let cpu = (server.cpu_seconds()? - cpu_before) / latencies.len() as f64;
                server.stop()?;
                let rps = latencies.len() as f64 / wall;
                let s = stats(latencies);
                let (rps_ratio, cpu_ratio) = match base {
                    None => {
                        base = Some((rps, cpu));
                        ("1.00".to_owned(), "1.00".to_owned())
                    }
                    Some((base_rps, base_cpu)) => (
                        format!("{:.2}", rps / base_rps),
                        if base_cpu > 0.0 {
                            format!("{:.2}", cpu / base_cpu)
                        } else {
                            "—".into()
                        },
                    ),
                };
                writeln!(
                    out,
                    "| {name} | {c} | {mode} | {rps:.0} | {:.2} | {:.2} | {:.3} | {rps_ratio} | {cpu_ratio} |",
                    s.p50 * 1e3,
                    s.p99 * 1e3,
                    cpu * 1e3
                )?;
                if c == 16 && mode != "in process" {
                    targets.push(format!(
                        "{name}, {mode}: {rps_ratio}× throughput (target ≥ 0.5), p99 {:.2} ms (target ≤ 5), {cpu_ratio}× CPU (target ≤ 2)",
                        s.p99 * 1e3
                    ));
                }
            }
        }
    }
    writeln!(out, "\nAt c=16 with VM isolation: {}.", targets.join("; "))?;
    Ok(out)
}
