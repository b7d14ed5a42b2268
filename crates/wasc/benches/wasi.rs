//! Whole-process start-up and WASI call cost, `--isolation none` against
//! `--isolation vm` (both transports), side by side in one run; prints a
//! Markdown table. `WASC_BENCH_QUICK=1` takes fewer samples.
//!
//! cargo bench -p wasc --bench wasi
//!
//! A call's cost is `(t(N) - t(0)) / N` for a guest that makes the call N
//! times, each t the median wall time of several whole `wasc run`
//! processes, so process start-up cancels out and no guest clock is trusted.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MODES: [(&str, &[&str]); 3] = [
    ("none", &["--isolation", "none"]),
    ("vm, sync", &["--isolation", "vm", "--transport", "sync"]),
    ("vm, poll", &["--isolation", "vm", "--transport", "poll"]),
];

fn wall(mode: &[&str], module: &str, args: &[&str]) -> Duration {
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_wasc"))
        .arg("run")
        .args(mode)
        .arg(module)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("run wasc");
    let elapsed = start.elapsed();
    assert!(status.success(), "wasc {mode:?} {module} {args:?} failed");
    elapsed
}

/// Median, p99 (nearest rank) and max of `runs` whole-process wall times.
fn stats(runs: usize, mut run: impl FnMut() -> Duration) -> (Duration, Duration, Duration) {
    let mut samples: Vec<Duration> = (0..runs).map(|_| run()).collect();
    samples.sort();
    let pick = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    (pick(0.5), pick(0.99), samples[samples.len() - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn main() {
    let quick = std::env::var_os("WASC_BENCH_QUICK").is_some();
    let (runs, calls) = if quick { (5, 20_000) } else { (21, 200_000) };
    let hello = format!("{}/../../examples/hello.wat", env!("CARGO_MANIFEST_DIR"));
    let guest = wasc_test_guests::BENCH_CALLS;

    println!("### Whole process: `wasc run hello.wat` ({runs} runs each)\n");
    println!("| mode | p50 ms | p99 ms | max ms | p50 / none |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut base = None;
    for (name, flags) in MODES {
        eprintln!("start-up: {name}");
        let (p50, p99, max) = stats(runs, || wall(flags, &hello, &[]));
        let base = *base.get_or_insert(p50);
        println!(
            "| {name} | {} | {} | {} | {:.2}× |",
            ms(p50),
            ms(p99),
            ms(max),
            p50.as_secs_f64() / base.as_secs_f64()
        );
    }

    println!(
        "\n### WASI call cost ({calls} calls per run, median of {runs} runs, minus a 0-call run)\n"
    );
    println!("| call | none ns | vm sync ns | vm poll ns | sync / none | poll / none |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for call in ["clock", "random", "write", "yield"] {
        let mut per_call = Vec::new();
        for (name, flags) in MODES {
            eprintln!("{call}: {name}");
            let count = calls.to_string();
            let (full, _, _) = stats(runs, || wall(flags, guest, &[call, &count]));
            let (empty, _, _) = stats(runs, || wall(flags, guest, &[call, "0"]));
            per_call.push(full.saturating_sub(empty).as_nanos() as f64 / calls as f64);
        }
        println!(
            "| {call} | {:.0} | {:.0} | {:.0} | {:.1}× | {:.2}× |",
            per_call[0],
            per_call[1],
            per_call[2],
            per_call[1] / per_call[0],
            per_call[2] / per_call[0]
        );
    }
}
