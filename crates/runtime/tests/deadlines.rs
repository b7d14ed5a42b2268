//! An instance's `--timeout` also ends a wait in the host: a module asleep
//! in `poll_oneoff` for a minute, with a 300 ms timeout, is ended as timed
//! out long before its sleep would end (VM isolation, both transports).
//! wasmtime-wasi's in-process sleep cannot be cut short (a documented gap).

use std::path::Path;
use std::time::{Duration, Instant};

use wasc_runtime::{
    HostConfig, InstanceConfig, Isolation, Limits, Outcome, Runtime, Transport, VmSource,
};

/// One clock subscription: relative, 60 s.
const SLEEP_A_MINUTE: &str = r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i64.store (i32.const 0) (i64.const 7))
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 60000000000))
    (i64.store (i32.const 32) (i64.const 0))
    (i32.store16 (i32.const 40) (i32.const 0))
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))"#;

const TIMEOUT: Duration = Duration::from_millis(300);
/// Far below the sleep, far above the timeout: the bound says the wait was
/// cut short, not how fast.
const CUT_SHORT: Duration = Duration::from_secs(20);

#[test]
fn a_timeout_ends_a_sleep_in_the_host() {
    for transport in [Transport::Poll, Transport::Sync] {
        let runtime = Runtime::new(HostConfig {
            transport,
            vm_source: VmSource::Template,
            ..HostConfig::serving(Isolation::Vm)
        })
        .expect("VM runtime (needs /dev/kvm)");
        let module = runtime
            .compile_bytes(Path::new("sleep.wat"), SLEEP_A_MINUTE.as_bytes())
            .expect("compile");
        let config = InstanceConfig {
            argv: vec!["sleep".into()],
            limits: Limits {
                timeout: Some(TIMEOUT),
                ..Limits::default()
            },
            ..InstanceConfig::default()
        };
        let started = Instant::now();
        let outcome = runtime.instance(&module, config).expect("instance").run();
        let elapsed = started.elapsed();
        assert!(
            matches!(outcome, Outcome::TimedOut(t) if t == TIMEOUT),
            "{transport:?}: {outcome:?}"
        );
        assert!(elapsed < CUT_SHORT, "{transport:?}: slept {elapsed:?}");
    }
}
