//! VM start and call round-trip benchmarks, printed as a Markdown table with
//! p50, p99 and max. `WASC_BENCH_QUICK=1` takes fewer samples (CI smoke).
//!
//! cargo bench -p wasc-vmm --bench vm
//!
//! - start: from "give me a VM" until sysd has answered its first call;
//! - round trip: one ping call, timed in batches of 1,000 (per-call mean of
//!   each batch), so clock reads do not dominate sub-microsecond calls;
//! - the raw baseline is a ping-pong between two host threads through the
//!   same kind of cache-line-separated sequence words the call page uses.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasc_vmm::{Hypervisor, Pool, Template, Transport, Vm, VmConfig};
use wasc_wire::Function;

const PING: u32 = Function::SelftestPing as u32;
const BATCH: u32 = 1000;

struct Row {
    name: &'static str,
    unit: &'static str,
    samples: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn show(d: Duration, unit: &str) -> String {
    match unit {
        "µs" => format!("{:.2}", d.as_nanos() as f64 / 1000.0),
        _ => format!("{:.1}", d.as_nanos() as f64),
    }
}

/// sysd spins long enough not to park between the benchmark's calls.
const POLL: Transport = Transport::Poll {
    spin_limit: 1 << 20,
};

fn main() {
    let quick = std::env::var_os("WASC_BENCH_QUICK").is_some();
    let (starts, batches) = if quick { (50, 20) } else { (1000, 200) };
    let hv = Arc::new(Hypervisor::open().expect("benchmarks need /dev/kvm"));
    let config = VmConfig {
        sysd: wasc_sysd_image::SELFTEST,
    };
    let mut rows = Vec::new();

    eprintln!("start: fresh build ×{}", starts / 5);
    rows.push(Row {
        name: "VM start, fresh build",
        unit: "µs",
        samples: time_each(starts / 5, || {
            let mut vm = Vm::build(&hv, &config).expect("build");
            vm.call(PING, &[1]).expect("ping");
            vm
        }),
    });

    let template = Arc::new(Template::new(&hv, &config).expect("template"));
    eprintln!("start: from template ×{starts}");
    rows.push(Row {
        name: "VM start, from template",
        unit: "µs",
        samples: time_each(starts, || {
            let mut vm = template.instantiate(&hv).expect("instantiate");
            vm.call(PING, &[1]).expect("ping");
            vm
        }),
    });

    eprintln!("start: from pool ×{starts}");
    let pool = Pool::new(hv.clone(), template.clone(), 4);
    pool.fill(4).expect("fill");
    let (from_pool, reset) = pool_starts(&pool, starts, None);
    rows.push(Row {
        name: "VM start, from pool",
        unit: "µs",
        samples: from_pool,
    });
    rows.push(Row {
        name: "pool reset (give back)",
        unit: "µs",
        samples: reset,
    });

    eprintln!("start: from pool, poll transport ×{starts}");
    // A pooled VM keeps its vCPU thread: the first start makes it.
    let pool = Pool::new(hv.clone(), template.clone(), 1);
    let (from_pool, reset) = pool_starts(&pool, starts, Some(POLL));
    rows.push(Row {
        name: "VM start, from pool, poll",
        unit: "µs",
        samples: from_pool,
    });
    rows.push(Row {
        name: "pool reset (give back), poll",
        unit: "µs",
        samples: reset,
    });

    eprintln!("round trips: sync, poll, raw ping-pong ({batches} batches of {BATCH})");
    let mut vm = template.instantiate(&hv).expect("instantiate");
    rows.push(Row {
        name: "call round trip, sync",
        unit: "ns",
        samples: per_call(batches, &mut vm),
    });
    vm.set_transport(POLL).expect("poll");
    rows.push(Row {
        name: "call round trip, poll",
        unit: "ns",
        samples: per_call(batches, &mut vm),
    });
    drop(vm);
    rows.push(Row {
        name: "raw shared-memory ping-pong (host threads)",
        unit: "ns",
        samples: ping_pong(batches),
    });

    println!("| benchmark | samples | p50 | p99 | max | unit |");
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    let mut medians = std::collections::HashMap::new();
    for row in &mut rows {
        row.samples.sort();
        let (p50, p99, max) = (
            percentile(&row.samples, 0.5),
            percentile(&row.samples, 0.99),
            *row.samples.last().expect("samples"),
        );
        medians.insert(row.name, p50);
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.name,
            row.samples.len(),
            show(p50, row.unit),
            show(p99, row.unit),
            show(max, row.unit),
            row.unit
        );
    }
    let ratio = |a: &str, b: &str| medians[a].as_secs_f64() / medians[b].as_secs_f64();
    println!();
    println!(
        "poll round trip / raw ping-pong (p50): {:.2}×",
        ratio(
            "call round trip, poll",
            "raw shared-memory ping-pong (host threads)"
        )
    );
    println!(
        "sync round trip / poll round trip (p50): {:.1}×",
        ratio("call round trip, sync", "call round trip, poll")
    );
}

/// Times `count` pool starts — take a VM, set `transport` if given, one
/// call — and the resets that give each VM back.
fn pool_starts(
    pool: &Pool,
    count: usize,
    transport: Option<Transport>,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut starts, mut resets) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for _ in 0..count {
        let t = Instant::now();
        let mut vm = pool.take().expect("take");
        if let Some(transport) = transport {
            vm.set_transport(transport).expect("transport");
        }
        vm.call(PING, &[1]).expect("ping");
        starts.push(t.elapsed());
        let t = Instant::now();
        pool.give_back(vm);
        resets.push(t.elapsed());
    }
    (starts, resets)
}

/// Times `count` runs of `start`; the VM it returns is dropped untimed.
fn time_each(count: usize, mut start: impl FnMut() -> Vm) -> Vec<Duration> {
    (0..count)
        .map(|_| {
            let t = Instant::now();
            let vm = start();
            let elapsed = t.elapsed();
            drop(vm);
            elapsed
        })
        .collect()
}

fn per_call(batches: usize, vm: &mut Vm) -> Vec<Duration> {
    for i in 0..BATCH as u64 {
        black_box(vm.call(PING, &[i]).expect("warm-up"));
    }
    (0..batches)
        .map(|_| {
            let t = Instant::now();
            for i in 0..BATCH as u64 {
                black_box(vm.call(PING, &[i]).expect("ping"));
            }
            t.elapsed() / BATCH
        })
        .collect()
}

#[repr(align(64))]
struct Line(AtomicU64);

fn ping_pong(batches: usize) -> Vec<Duration> {
    let request = Arc::new(Line(AtomicU64::new(0)));
    let response = Arc::new(Line(AtomicU64::new(0)));
    let total = (batches as u64 + 1) * u64::from(BATCH);
    let server = std::thread::spawn({
        let (request, response) = (request.clone(), response.clone());
        move || {
            for seq in 1..=total {
                while request.0.load(Ordering::Acquire) != seq {
                    std::hint::spin_loop();
                }
                response.0.store(seq, Ordering::Release);
            }
        }
    });
    let mut seq = 0u64;
    let mut round = || {
        seq += 1;
        request.0.store(seq, Ordering::Release);
        while response.0.load(Ordering::Acquire) != seq {
            std::hint::spin_loop();
        }
    };
    for _ in 0..BATCH {
        round();
    }
    let samples = (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..BATCH {
                round();
            }
            t.elapsed() / BATCH
        })
        .collect();
    server.join().expect("server thread");
    samples
}
