//! `wasc serve`'s main thread is confined as a network thread, whose
//! policy has no `tgkill`, and may drop the runtime last at the end of a
//! graceful stop. The pool's VMs then have poll threads, held between
//! instances: they must stop without a signal (a kick from that thread once
//! died of SIGSYS). The drop runs in a child process, so a forbidden call
//! fails this test with its reason instead of killing the test binary.
//!
//! Needs `/dev/kvm`; without it the test fails (it never passes vacuously).

use std::path::Path;
use std::process::Command;

use wasc_runtime::{HostConfig, InstanceConfig, Isolation, Outcome, Runtime, Transport};
use wasc_seccomp::ThreadKind;

const CHILD: &str = "WASC_NETWORK_DROP_CHILD";
const DROPPED: &str = "runtime dropped on a network thread";

/// One WASI call, so the instance's VM gets its poll thread.
const EXIT_0: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 0))))"#;

/// In the child: a server's life in short — warm-up, a confined worker
/// serving one instance in poll, then the runtime dropped on a thread
/// confined as the network threads are.
fn child() {
    let runtime = Runtime::new(HostConfig {
        transport: Transport::Poll,
        ..HostConfig::serving(Isolation::Vm)
    })
    .expect("VM runtime (needs /dev/kvm)");
    let module = runtime
        .compile_bytes(Path::new("exit0.wat"), EXIT_0.as_bytes())
        .expect("compile");
    runtime.warm_up(1).expect("warm up");
    std::thread::scope(|scope| {
        scope.spawn(|| {
            wasc_runtime::confine_worker().expect("confine the worker");
            let outcome = runtime
                .instance(&module, InstanceConfig::default())
                .expect("instance")
                .run();
            assert!(matches!(outcome, Outcome::Exited(0)), "{outcome:?}");
        });
    });
    drop(module);
    wasc_seccomp::install(ThreadKind::Network).expect("confine as a network thread");
    drop(runtime);
    println!("{DROPPED}");
    // Straight out: the test harness's own wind-down is not under test.
    std::process::exit(0);
}

#[test]
fn a_network_thread_drops_a_runtime_with_held_poll_threads() {
    if std::env::var_os(CHILD).is_some() {
        child();
    }
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "a_network_thread_drops_a_runtime_with_held_poll_threads",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(DROPPED),
        "the child ended with {:?}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
