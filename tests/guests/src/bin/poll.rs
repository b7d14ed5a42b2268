//! poll_oneoff with clock and fd subscriptions, and sched_yield.
use wasc_guests::{fd_subscription as fd_sub, open, preopen, show, status, wasi};

fn clock(userdata: u64, timeout: u64, flags: u16) -> wasi::Subscription {
    wasi::Subscription {
        userdata,
        u: wasi::SubscriptionU {
            tag: wasi::EVENTTYPE_CLOCK.raw(),
            u: wasi::SubscriptionUU {
                clock: wasi::SubscriptionClock {
                    id: wasi::CLOCKID_MONOTONIC,
                    timeout,
                    precision: 0,
                    flags,
                },
            },
        },
    }
}

fn poll(label: &str, subs: &[wasi::Subscription]) -> Vec<wasi::Event> {
    let mut events: Vec<wasi::Event> = Vec::with_capacity(subs.len());
    // SAFETY: `events` has room for one event per subscription.
    let n = unsafe { wasi::poll_oneoff(subs.as_ptr(), events.as_mut_ptr(), subs.len()) };
    match n {
        Ok(n) => {
            // SAFETY: poll_oneoff initialised `n` events.
            unsafe { events.set_len(n) };
            let mut seen: Vec<_> = events
                .iter()
                .map(|e| (e.userdata, e.error.name(), e.type_.raw()))
                .collect();
            seen.sort();
            println!("{label}: ok {n} events {seen:?}");
        }
        Err(e) => println!("{label}: {}", e.name()),
    }
    events
}

fn now() -> u64 {
    // SAFETY: plain WASI call.
    unsafe { wasi::clock_time_get(wasi::CLOCKID_MONOTONIC, 0) }.expect("monotonic")
}

fn main() {
    let start = now();
    poll("relative 20ms", &[clock(1, 20_000_000, 0)]);
    println!("  waited at least 20ms: {}", now() - start >= 20_000_000);
    poll(
        "absolute in the past",
        &[clock(2, 1, wasi::SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME)],
    );
    let t = now();
    poll(
        "absolute 10ms ahead",
        &[clock(
            3,
            now() + 10_000_000,
            wasi::SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME,
        )],
    );
    println!("  waited at least 10ms: {}", now() - t >= 10_000_000);
    poll("zero timeout", &[clock(4, 0, 0)]);

    let dir = preopen("/sandbox");
    let file = open(dir, "data.txt", 0, 0).expect("open data.txt");
    poll(
        "file readable beats 5s clock",
        &[
            fd_sub(10, wasi::EVENTTYPE_FD_READ, file),
            clock(11, 5_000_000_000, 0),
        ],
    );
    poll(
        "file writable",
        &[fd_sub(12, wasi::EVENTTYPE_FD_WRITE, file)],
    );
    poll(
        "stdout writable",
        &[fd_sub(13, wasi::EVENTTYPE_FD_WRITE, 1)],
    );
    poll("bad fd", &[fd_sub(14, wasi::EVENTTYPE_FD_READ, 99)]);
    poll(
        "bad fd with clock",
        &[
            fd_sub(15, wasi::EVENTTYPE_FD_READ, 99),
            clock(16, 1_000_000, 0),
        ],
    );
    poll("no subscriptions", &[]);
    // Stdin at EOF (the harness gives an empty stdin) is readable.
    poll(
        "stdin at eof readable",
        &[
            fd_sub(17, wasi::EVENTTYPE_FD_READ, 0),
            clock(18, 5_000_000_000, 0),
        ],
    );
    // SAFETY: plain WASI call.
    status("sched_yield", unsafe { wasi::sched_yield() });
    show("fd_readwrite.nbytes for file", {
        let ev = poll(
            "file readable again",
            &[fd_sub(19, wasi::EVENTTYPE_FD_READ, file)],
        );
        Ok::<_, wasi::Errno>(ev.first().map(|e| e.fd_readwrite.nbytes))
    });
}
