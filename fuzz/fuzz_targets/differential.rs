//! The differential fuzzer: the input is turned into a script of raw
//! preview-1 calls (`wasc_difftest::generate`), run by the `call_script`
//! guest through the real `wasc` in process (wasmtime 48's WASI, the
//! reference) and in a VM with both transports. Every errno, value written,
//! trap message, the exit status and the granted tree afterwards must be
//! identical.
//!
//! Needs `WASC_BIN` (a built `wasc`) and `WASC_CALL_SCRIPT` (the guest:
//! `cargo run -p wasc-test-guests --example guest_path -- call_script`);
//! `scripts/fuzz-smoke` sets both. libFuzzer's coverage here is that of the
//! script generator (the runs are other processes), so it steers towards
//! new script shapes, not new paths in sysd.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wasc_difftest::{compare, generate, run, Mode, Runner};

fn runner() -> &'static Runner {
    static RUNNER: OnceLock<Runner> = OnceLock::new();
    RUNNER.get_or_init(|| {
        let var = |name: &str| {
            std::env::var(name)
                .unwrap_or_else(|_| panic!("set {name} (see fuzz_targets/differential.rs)"))
        };
        Runner::new(var("WASC_BIN"), var("WASC_CALL_SCRIPT"))
    })
}

fuzz_target!(|data: &[u8]| {
    let script = generate(data);
    if script.is_empty() {
        return;
    }
    let runner = runner();
    let reference = run(runner, Mode::None, &script).expect("run in process");
    for mode in [Mode::VmSync, Mode::VmPoll] {
        let observed = run(runner, mode, &script).expect("run in a VM");
        if let Some(diff) = compare(&reference, &observed) {
            panic!(
                "{mode:?} differs from the reference for\n{}\n{diff}",
                script.join("\n")
            );
        }
    }
});
