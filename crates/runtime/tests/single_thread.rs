//! A single-threaded host (`HostConfig::single_thread`, the containerd
//! shim's function process) starts no thread at all: the test runs a VM
//! instance in a child process whose seccomp filter kills it on `clone` or
//! `clone3`. Before the option existed the compile pool's threads died
//! there; in the shim they could hang forever on a lock held at the fork.

use std::path::Path;
use std::process::Command;

use wasc_runtime::{
    HostConfig, InstanceConfig, Isolation, Limits, Outcome, Runtime, Transport, VmSource,
};

const CHILD: &str = "WASC_SINGLE_THREAD_CHILD";

const EXIT_7: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func $f0 (result i32) (i32.const 3))
  (func $f1 (result i32) (i32.const 4))
  (func (export "_start") (call $exit (i32.add (call $f0) (call $f1)))))"#;

fn host() -> HostConfig {
    HostConfig {
        transport: Transport::Sync,
        vm_source: VmSource::Fresh,
        pooling: false,
        single_thread: true,
        ..HostConfig::serving(Isolation::Vm)
    }
}

/// An instance without a timeout (a timeout needs the ticker thread).
fn untimed() -> InstanceConfig {
    InstanceConfig {
        limits: Limits {
            timeout: None,
            ..Limits::default()
        },
        ..InstanceConfig::default()
    }
}

/// In the child: forbid new threads, then compile and run.
fn child() {
    let filter = seccompiler::SeccompFilter::new(
        [(libc::SYS_clone, vec![]), (libc::SYS_clone3, vec![])]
            .into_iter()
            .collect(),
        seccompiler::SeccompAction::Allow,
        seccompiler::SeccompAction::KillProcess,
        seccompiler::TargetArch::x86_64,
    )
    .expect("filter");
    let program: seccompiler::BpfProgram = filter.try_into().expect("compile filter");
    seccompiler::apply_filter(&program).expect("apply filter");
    let runtime = Runtime::new(host()).expect("VM runtime (needs /dev/kvm)");
    let module = runtime
        .compile_bytes(Path::new("exit7.wat"), EXIT_7.as_bytes())
        .expect("compile");
    let outcome = runtime
        .instance(&module, untimed())
        .expect("instance")
        .run();
    assert!(matches!(outcome, Outcome::Exited(7)), "{outcome:?}");
}

#[test]
fn a_single_threaded_host_runs_a_module_without_starting_a_thread() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "a_single_threaded_host_runs_a_module_without_starting_a_thread",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .expect("run the child");
    assert!(
        output.status.success(),
        "{:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"));
}

#[test]
fn a_single_threaded_host_refuses_what_needs_a_thread() {
    let poll = Runtime::new(HostConfig {
        transport: Transport::Poll,
        ..host()
    });
    let err = poll.expect_err("poll refused").to_string();
    assert!(err.contains("poll transport"), "{err}");

    let runtime = Runtime::new(host()).expect("VM runtime (needs /dev/kvm)");
    let module = runtime
        .compile_bytes(Path::new("exit7.wat"), EXIT_7.as_bytes())
        .expect("compile");
    let timed = runtime.instance(&module, InstanceConfig::default());
    let err = timed.expect_err("a timeout refused").to_string();
    assert!(err.contains("timeout"), "{err}");
    let outcome = runtime
        .instance(&module, untimed())
        .expect("instance")
        .run();
    assert!(matches!(outcome, Outcome::Exited(7)), "{outcome:?}");
}
