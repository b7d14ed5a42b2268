//! How many VM exits a call costs in the sync transport, counted with
//! `wasc_vmm::exit_count` (a count, not a time): a write to stdout is one
//! host op that ends its call, and the host ends the call itself when the
//! op succeeds (one exit, not two); when it fails sysd ends the call (a
//! write to a reader that went away "succeeds", as in wasmtime). One test
//! in this binary: the count is per process.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use wasc_runtime::{
    HostConfig, InstanceConfig, Isolation, Limits, Outcome, Runtime, Stdio, Transport, VmSource,
};

/// Five writes of "ab" to stdout, then `proc_exit` with the sum of the
/// byte counts the writes stored.
const WRITES: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "ab")
  (func (export "_start")
    (local $i i32) (local $sum i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 2))
    (loop $more
      (i32.store (i32.const 16) (i32.const 0))
      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
      (local.set $sum (i32.add (local.get $sum) (i32.load (i32.const 16))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 5))))
    (call $exit (local.get $sum))))"#;

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors; the result is checked.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors are fresh and owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Runs the module with `stdout` and returns its outcome and the exits
/// the run took.
fn run(
    runtime: &Runtime,
    module: &wasc_runtime::FunctionModule,
    stdout: OwnedFd,
) -> (Outcome, u64) {
    let config = InstanceConfig {
        stdio: Stdio {
            stdout: Some(stdout),
            ..Stdio::default()
        },
        limits: Limits {
            timeout: None,
            ..Limits::default()
        },
        ..InstanceConfig::default()
    };
    let instance = runtime.instance(module, config).expect("instance");
    let before = wasc_vmm::exit_count();
    let outcome = instance.run();
    (outcome, wasc_vmm::exit_count() - before)
}

#[test]
fn a_write_that_succeeds_costs_one_exit_and_one_to_a_gone_reader_two() {
    let runtime = Runtime::new(HostConfig {
        transport: Transport::Sync,
        vm_source: VmSource::Pool,
        ..HostConfig::serving(Isolation::Vm)
    })
    .expect("VM runtime (needs /dev/kvm)");
    let module = runtime
        .compile_bytes(Path::new("writes.wat"), WRITES.as_bytes())
        .expect("compile");

    let (reader, writer) = pipe();
    let (outcome, exits) = run(&runtime, &module, writer);
    assert!(matches!(outcome, Outcome::Exited(10)), "{outcome:?}");
    let mut out = String::new();
    std::fs::File::from(reader)
        .read_to_string(&mut out)
        .expect("read stdout");
    assert_eq!(out, "ababababab");
    // Five writes and proc_exit: one exit each.
    assert_eq!(exits, 6);

    // The reader is gone: every write fails with EPIPE on the host, sysd
    // ends each call (two exits) and reports the bytes as written.
    let (reader, writer) = pipe();
    drop(reader);
    let (outcome, exits) = run(&runtime, &module, writer);
    assert!(matches!(outcome, Outcome::Exited(10)), "{outcome:?}");
    assert_eq!(exits, 11);
}
