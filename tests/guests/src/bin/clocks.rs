//! clock_res_get and clock_time_get for every clock id.
use wasc_guests::{status, wasi};

fn main() {
    let clocks = [
        ("realtime", wasi::CLOCKID_REALTIME),
        ("monotonic", wasi::CLOCKID_MONOTONIC),
        ("process_cputime", wasi::CLOCKID_PROCESS_CPUTIME_ID),
        ("thread_cputime", wasi::CLOCKID_THREAD_CPUTIME_ID),
    ];
    for (name, id) in clocks {
        // SAFETY: plain WASI calls.
        unsafe {
            if let Some(res) = status(&format!("clock_res_get({name})"), wasi::clock_res_get(id)) {
                println!(
                    "  resolution in (0, 1s]: {}",
                    res > 0 && res <= 1_000_000_000
                );
            }
            if let Some(t) = status(
                &format!("clock_time_get({name})"),
                wasi::clock_time_get(id, 1),
            ) {
                println!("  nonzero: {}", t > 0);
            }
        }
    }
    // SAFETY: plain WASI calls.
    unsafe {
        let now = wasi::clock_time_get(wasi::CLOCKID_REALTIME, 0).expect("realtime");
        // 2024-01-01T00:00:00Z in ns.
        println!("realtime after 2024: {}", now > 1_704_067_200_000_000_000);
        let a = wasi::clock_time_get(wasi::CLOCKID_MONOTONIC, 0).expect("monotonic");
        let b = wasi::clock_time_get(wasi::CLOCKID_MONOTONIC, 0).expect("monotonic");
        println!("monotonic does not go back: {}", b >= a);
        // Invalid clock ids end the run under wasmtime: see the bad_args guest.
    }
}
