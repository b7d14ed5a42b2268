//! proc_exit with the status given as argv[1], after proc_raise.
use wasc_guests::{status, wasi};

fn main() {
    let code: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: plain WASI calls.
    unsafe {
        status("proc_raise(SIGUSR1)", wasi::proc_raise(wasi::SIGNAL_USR1));
        println!("exiting with {code}");
        wasi::proc_exit(code);
    }
    unreachable!("proc_exit returned");
}
