//! Load with faults mixed in: 5,000 requests from 32 concurrent loopback
//! clients, one in 25 a hostile module (trap, endless loop, memory
//! exhaustion, descriptor exhaustion, closed stdout, huge output), in both
//! isolation modes. Every good request must be answered correctly, every
//! fault with its status, and afterwards the process's descriptors must be
//! back to their count before the load and its resident memory close to it.

mod common;

use std::time::{Duration, Instant};

use common::{config, get, open_fds, route, rss_kib, send, start};
use wasc_runtime::Isolation;

const REQUESTS: usize = 5_000;
const CLIENTS: usize = 32;
const FAULT_EVERY: usize = 25;
/// Memory the process may keep after the load (allocator caches, pooled
/// slots): far less than what 5,000 leaked instances would hold.
const RSS_SLACK_KIB: u64 = 96 << 10;

/// A fault, and the status it must get.
fn fault(n: usize, isolation: Isolation) -> (&'static str, u16) {
    let faults: &[(&str, u16)] = &[
        ("/fault?trap", 500),
        ("/fault?spin", 504),
        ("/fault?oom", 500),
        ("/fault?close-stdout", 500),
        ("/fault?huge=2000000", 500),
        ("/fault?exit=9", 500),
        // In process there is no descriptor limit (wasmtime-wasi has none):
        // this fault runs with VM isolation only.
        ("/fault?fds", 200),
    ];
    let usable = if isolation == Isolation::Vm {
        faults.len()
    } else {
        faults.len() - 1
    };
    faults[n % usable]
}

fn one_client(addr: std::net::SocketAddr, client: usize, isolation: Isolation) -> (usize, usize) {
    let (mut good, mut faults) = (0, 0);
    for k in 0..REQUESTS / CLIENTS {
        if k % FAULT_EVERY == FAULT_EVERY - 1 {
            let (target, status) = fault(client + k, isolation);
            let reply = get(addr, target);
            assert_eq!(reply.status, status, "{isolation:?} {target}: {reply:?}");
            faults += 1;
        } else {
            let body = format!("client {client} request {k}");
            let reply = send(
                addr,
                "POST",
                &format!("/probe/{client}?env"),
                &[],
                body.as_bytes(),
            );
            assert_eq!(reply.status, 200, "{isolation:?}: {reply:?}");
            let text = reply.text();
            assert!(
                text.contains(&format!("argv[0]=/probe/{client}\n"))
                    && text.ends_with(&format!("body:\n{body}")),
                "{isolation:?}: wrong answer {text}"
            );
            good += 1;
        }
    }
    (good, faults)
}

/// Waits (bounded) for the descriptor count to come back to `expected`.
fn settled_fds(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = open_fds();
        if now <= expected || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn load(isolation: Isolation) {
    // Good requests have time to spare on a loaded debug build; faults
    // have the memory, descriptor and time limits a host would set.
    let mut probe = route("/probe/...");
    probe.limits.timeout = Some(Duration::from_secs(30));
    let mut faults = route("/fault");
    faults.limits.max_memory = 64 << 20;
    faults.limits.max_fds = 32;
    faults.limits.timeout = Some(Duration::from_millis(300));
    let mut config = config(isolation, vec![probe, faults]);
    config.queue = 256;
    let server = start(config);
    let addr = server.addr;
    // Warm up: every worker has made instances, the pool holds its VMs.
    for _ in 0..50 {
        assert_eq!(get(addr, "/probe?env").status, 200);
    }
    let (fds_before, rss_before) = (settled_fds(usize::MAX), rss_kib());

    let started = Instant::now();
    let (good, faults) = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| scope.spawn(move || one_client(addr, c, isolation)))
            .collect();
        clients
            .into_iter()
            .map(|c| c.join().expect("client"))
            .fold((0, 0), |(g, f), (cg, cf)| (g + cg, f + cf))
    });
    println!(
        "{isolation:?}: {REQUESTS} requests in {:?}",
        started.elapsed()
    );
    assert_eq!(good + faults, REQUESTS / CLIENTS * CLIENTS);
    assert!(
        faults >= REQUESTS / FAULT_EVERY - CLIENTS,
        "{faults} faults"
    );

    let fds_after = settled_fds(fds_before);
    assert!(
        fds_after <= fds_before,
        "{isolation:?}: {fds_before} descriptors before the load, {fds_after} after"
    );
    let rss_after = rss_kib();
    assert!(
        rss_after <= rss_before + RSS_SLACK_KIB,
        "{isolation:?}: resident memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    server.stop().expect("graceful stop");
}

/// One test, so no other test's descriptors or memory move the counts.
#[test]
fn five_thousand_requests_with_faults_mixed_in() {
    load(Isolation::Vm);
    load(Isolation::None);
}
