//! Benchmark guest: calls one WASI function `argv[2]` times.
//! `argv[1]` names it: `clock` (clock_time_get, monotonic), `random`
//! (random_get, 16 bytes), `write` (fd_write of one byte to stdout), `yield`
//! (sched_yield). Timing happens outside, around the whole process.
use wasc_guests::wasi;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args
        .next()
        .expect("usage: bench_calls clock|random|write|yield COUNT");
    let count: u64 = args.next().and_then(|s| s.parse().ok()).expect("COUNT");
    let mut buf = [0u8; 16];
    let byte = [b'.'];
    let iov = wasi::Ciovec {
        buf: byte.as_ptr(),
        buf_len: 1,
    };
    for _ in 0..count {
        // SAFETY: plain WASI calls on live buffers.
        let ok = unsafe {
            match which.as_str() {
                "clock" => wasi::clock_time_get(wasi::CLOCKID_MONOTONIC, 1).is_ok(),
                "random" => wasi::random_get(buf.as_mut_ptr(), buf.len()).is_ok(),
                "write" => wasi::fd_write(1, &[iov]).is_ok(),
                "yield" => wasi::sched_yield().is_ok(),
                other => panic!("unknown call {other}"),
            }
        };
        assert!(ok, "{which} failed");
    }
    std::hint::black_box(buf);
}
