//! `cargo bench -p containerd-shim-wasc --bench containerd`: a container's
//! start-to-exit time through `ctr run --rm`, the WaSC shim against runc
//! running a static (musl) hello in an image of the same shape, and memory
//! per running container. Prints a Markdown table (docs/benchmarks.md).
//! Needs what the end-to-end test needs: root, KVM, containerd, runc, and
//! the `x86_64-unknown-linux-musl` target (rust-toolchain.toml).
//!
//! `WASC_BENCH_RUNS` (default 50) runs per runtime, interleaved;
//! `WASC_BENCH_RUNNING` (default 10) containers held running for the
//! memory figure.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{percentile, Containerd, RUNTIME};

const SHIM: &str = env!("CARGO_BIN_EXE_containerd-shim-wasc-v1");
const RUNC: &str = "io.containerd.runc.v2";

const HELLO_WAT: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $argc (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "hello from wasc\n")
  (data (i32.const 96) "to stderr\n")
  (data (i32.const 112) "ready\n")
  (func $print (param $fd i32) (param $at i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $w (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    ;; With an argument ("sleep"): say ready, then sleep until stopped.
    (drop (call $argc (i32.const 200) (i32.const 204)))
    (if (i32.gt_u (i32.load (i32.const 200)) (i32.const 1))
      (then
        (call $print (i32.const 1) (i32.const 112) (i32.const 6))
        (i32.store (i32.const 16) (i32.const 1))
        (i64.store (i32.const 24) (i64.const 3600000000000))
        (loop $l (drop (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256))) (br $l))))
    (call $print (i32.const 1) (i32.const 64) (i32.const 16))
    (call $print (i32.const 2) (i32.const 96) (i32.const 10))))"#;

/// Builds the static native hello with rustc for musl.
fn native_hello(dir: &Path) -> PathBuf {
    let out = dir.join("hello-native");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/hello-native.rs");
    let status = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args([
            "--edition",
            "2021",
            "-O",
            "--target",
            "x86_64-unknown-linux-musl",
            "-o",
        ])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("run rustc");
    assert!(
        status.success(),
        "building the musl hello failed (is the x86_64-unknown-linux-musl target installed?)"
    );
    out
}

fn import(containerd: &Containerd, name: &str, file: &str, bytes: &[u8], mode: u32) {
    let tarball = containerd.scratch().join(format!("{file}.tar"));
    let out = std::fs::File::create(&tarball).expect("create");
    wasc_oci::write_entrypoint_image(name, file, bytes, mode, std::io::BufWriter::new(out))
        .expect("image");
    containerd.import(&tarball);
}

/// Machine-wide CPU time so far (all states but idle and iowait).
fn busy_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .expect("cpu line")
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().expect("number"))
        .collect();
    let busy: u64 = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_nanos(busy * 1_000_000_000 / hz)
}

struct Sample {
    wall: Vec<Duration>,
    cpu: Duration,
}

fn run_once(containerd: &Containerd, runtime: &str, image: &str, id: &str) -> Duration {
    let start = Instant::now();
    let output = containerd
        .ctr(&["run", "--rm", "--runtime", runtime, image, id])
        .stdin(Stdio::null())
        .output()
        .expect("ctr run");
    let wall = start.elapsed();
    assert!(
        output.status.success(),
        "{runtime}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello from wasc\n");
    wall
}

/// Every process whose command line mentions `namespace` (the shims and,
/// for WaSC, the container processes runwasi forks from its zygote), the
/// tasks' own processes, and all their descendants.
fn container_processes(containerd: &Containerd) -> BTreeSet<u32> {
    let mut roots: BTreeSet<u32> = containerd.namespace_processes().into_iter().collect();
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
    {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) {
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1));
            if let Some(ppid) = ppid.and_then(|p| p.parse::<u32>().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let tasks = containerd.ctr_ok(&["task", "ls"]);
    for line in String::from_utf8_lossy(&tasks.stdout).lines().skip(1) {
        if let Some(pid) = line.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            roots.insert(pid);
        }
    }
    let mut all = roots;
    loop {
        let before = all.len();
        for (pid, ppid) in &parents {
            if all.contains(ppid) {
                all.insert(*pid);
            }
        }
        if all.len() == before {
            return all;
        }
    }
}

/// Proportional set size of `pid`, in KiB (0 if it is gone).
fn pss_kib(pid: u32) -> u64 {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Starts `count` sleeping containers, measures the PSS of everything that
/// belongs to them, stops them. KiB per container and processes per
/// container.
fn memory_per_container(
    containerd: &Containerd,
    runtime: &str,
    image: &str,
    command: &[&str],
    count: usize,
) -> (u64, f64) {
    let tag = if runtime == RUNTIME { "wasc" } else { "runc" };
    let ids: Vec<String> = (0..count).map(|i| format!("mem-{tag}-{i}")).collect();
    let mut children: Vec<Child> = Vec::new();
    for id in &ids {
        let mut argv = vec!["run", "--rm", "--runtime", runtime, image, id];
        argv.extend(command);
        let mut child = containerd
            .ctr(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ctr run");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().expect("stdout")),
            &mut line,
        )
        .expect("ready");
        assert_eq!(line, "ready\n", "{runtime} did not start");
        children.push(child);
    }
    std::thread::sleep(Duration::from_millis(500));
    let pids = container_processes(containerd);
    let total: u64 = pids.iter().map(|&p| pss_kib(p)).sum();
    for id in &ids {
        containerd.ctr_ok(&["task", "kill", "--signal", "SIGKILL", id]);
    }
    for mut child in children {
        let _ = child.wait();
    }
    (total / count as u64, pids.len() as f64 / count as f64)
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runs = env_number("WASC_BENCH_RUNS", 50);
    let running = env_number("WASC_BENCH_RUNNING", 10);
    let containerd = Containerd::start(Path::new(SHIM), "bench");
    let native = std::fs::read(native_hello(containerd.scratch())).expect("native hello");
    import(&containerd, "bench/runc-hello:1", "hello", &native, 0o755);
    let wasm = wat::parse_str(HELLO_WAT).expect("hello module");
    import(
        &containerd,
        "bench/wasc-hello:1",
        "hello.wasm",
        &wasm,
        0o644,
    );

    // Warm both (first-use costs: snapshot unpacking, page cache).
    run_once(&containerd, RUNTIME, "bench/wasc-hello:1", "warm-wasc");
    run_once(&containerd, RUNC, "bench/runc-hello:1", "warm-runc");

    let mut wasc = Sample {
        wall: Vec::new(),
        cpu: Duration::ZERO,
    };
    let mut runc = Sample {
        wall: Vec::new(),
        cpu: Duration::ZERO,
    };
    for i in 0..runs {
        for (sample, runtime, image) in [
            (&mut wasc, RUNTIME, "bench/wasc-hello:1"),
            (&mut runc, RUNC, "bench/runc-hello:1"),
        ] {
            let cpu = busy_cpu();
            sample
                .wall
                .push(run_once(&containerd, runtime, image, &format!("run-{i}")));
            sample.cpu += busy_cpu().saturating_sub(cpu);
        }
    }
    let (wasc_kib, wasc_procs) = memory_per_container(
        &containerd,
        RUNTIME,
        "bench/wasc-hello:1",
        &["/hello.wasm", "sleep"],
        running,
    );
    let (runc_kib, runc_procs) = memory_per_container(
        &containerd,
        RUNC,
        "bench/runc-hello:1",
        &["/hello", "sleep"],
        running,
    );

    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    let mut table = format!(
        "{HEADING}\n\nGenerated by `cargo bench -p containerd-shim-wasc --bench containerd` \
         (release; it starts its own containerd {version} and updates only this section). \
         A container's start to exit through `ctr run --rm` — `ctr`'s whole command, image \
         lookup, shim start, container creation, the function, teardown — for a hello \
         module with the WaSC shim and, interleaved, for a static musl hello binary with \
         runc in an image of the same shape; {runs} runs each. CPU is the machine's busy \
         time during the runs (containerd, shims, `ctr`, the containers) per run. Memory is \
         the PSS of every process of {running} running containers (shim, container \
         processes) divided by {running}.\n\n\
         | runtime | p50 ms | p99 ms | machine CPU ms per run | PSS per running container | processes per container |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n",
        version = containerd_version(),
    );
    let mut rows = Vec::new();
    for (name, sample, kib, procs) in [
        ("WaSC shim (VM isolation)", &mut wasc, wasc_kib, wasc_procs),
        ("runc, static musl hello", &mut runc, runc_kib, runc_procs),
    ] {
        sample.wall.sort();
        let p50 = percentile(&sample.wall, 50);
        let p99 = percentile(&sample.wall, 99);
        let cpu = sample.cpu / runs as u32;
        table.push_str(&format!(
            "| {name} | {} | {} | {} | {:.1} MiB | {procs:.1} |\n",
            ms(p50),
            ms(p99),
            ms(cpu),
            kib as f64 / 1024.0
        ));
        rows.push((p50, p99, cpu, kib));
    }
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    table.push_str(&format!(
        "\nWaSC / runc: p50 {:.2}×, p99 {:.2}×, CPU {:.2}×, memory {:.2}×.\n",
        ratio(rows[0].0, rows[1].0),
        ratio(rows[0].1, rows[1].1),
        ratio(rows[0].2, rows[1].2),
        rows[0].3 as f64 / rows[1].3 as f64
    ));
    print!("{table}");
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md");
    let old = std::fs::read_to_string(&doc).unwrap_or_default();
    std::fs::write(&doc, replace_section(&old, &table)).expect("write docs/benchmarks.md");
    eprintln!("updated {}", doc.display());
}

/// This section's heading in docs/benchmarks.md (`wasc bench` keeps it).
const HEADING: &str = "## Containers (containerd)";

/// `text` with this section replaced by `section`, or `section` appended.
fn replace_section(text: &str, section: &str) -> String {
    let Some(start) = text.find(&format!("\n{HEADING}\n")).map(|i| i + 1) else {
        return format!(
            "{}\n{section}",
            text.trim_end_matches('\n').to_owned() + "\n"
        );
    };
    let rest = &text[start + HEADING.len()..];
    let end = rest
        .find("\n## ")
        .map_or(text.len(), |j| start + HEADING.len() + j + 1);
    format!(
        "{}{section}{}{}",
        &text[..start],
        if end < text.len() { "\n" } else { "" },
        &text[end..]
    )
}

fn containerd_version() -> String {
    Command::new("containerd")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(2).map(str::to_owned))
        .unwrap_or_else(|| "(unknown version)".into())
}
