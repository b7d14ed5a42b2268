//! The runtime as a library: 1,000 instances of two different modules in
//! one process, on four worker threads, each instance with its own stdin,
//! stdout and stderr pipes, environment and timeout — some timing out while
//! the others finish — in both isolation modes. A VM instance's streams
//! end with `run_and_end`, before it is dropped. Nothing leaks: the
//! process's descriptor count after a second round equals the count after
//! the first.
//!
//! VM-isolated workers run under the worker seccomp policy, so a system
//! call instance-making needs and the policy lacks ends the test process.
//!
//! Needs `/dev/kvm`; without it the test fails (it never passes vacuously).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use wasc_runtime::{
    FunctionModule, HostConfig, InstanceConfig, Isolation, Limits, Outcome, Runtime, Stdio,
};

/// Copies stdin to stdout, then writes its first environment variable to
/// stderr, and exits 0.
const ECHO: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $n i32)
    (block $done
      (loop $more
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 4096))
        (br_if $done (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
        (local.set $n (i32.load (i32.const 16)))
        (br_if $done (i32.eqz (local.get $n)))
        (i32.store (i32.const 4) (local.get $n))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 20)))
        (br $more)))
    (drop (call $env_sizes (i32.const 32) (i32.const 36)))
    (drop (call $env_get (i32.const 64) (i32.const 8192)))
    (i32.store (i32.const 0) (i32.const 8192))
    (i32.store (i32.const 4) (i32.sub (i32.load (i32.const 36)) (i32.const 1)))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 20)))))"#;

/// Writes its first environment variable to stdout; spins forever if that
/// is `MODE=spin`, else exits 7.
const ENV_OR_SPIN: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $env_sizes (i32.const 32) (i32.const 36)))
    (drop (call $env_get (i32.const 64) (i32.const 8192)))
    (i32.store (i32.const 0) (i32.const 8192))
    (i32.store (i32.const 4) (i32.sub (i32.load (i32.const 36)) (i32.const 1)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 20)))
    (if (i32.eq (i32.load8_u (i32.const 8197)) (i32.const 115))
      (then (loop $spin (br $spin))))
    (call $exit (i32.const 7))))"#;

const INSTANCES: usize = 1_000;
const WORKERS: usize = 4;
/// Every 25th instance of the second module spins until its deadline.
const SPIN_EVERY: usize = 50;
const SHORT: Duration = Duration::from_millis(100);
const LONG: Duration = Duration::from_secs(60);

fn pipe() -> (std::io::PipeReader, OwnedFd) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    (reader, writer.into())
}

/// Runs instance `i` and checks what it printed and how it ended.
fn run_one(runtime: &Runtime, modules: &[FunctionModule; 2], i: usize) {
    let spins = i % SPIN_EVERY == 1;
    let (stdin_r, stdin_w) = std::io::pipe().expect("pipe");
    let (mut stdout_r, stdout_w) = pipe();
    let (mut stderr_r, stderr_w) = pipe();
    let env = if spins {
        ("MODE".to_owned(), "spin".to_owned())
    } else {
        ("ID".to_owned(), i.to_string())
    };
    let config = InstanceConfig {
        argv: vec![format!("instance-{i}")],
        env: vec![env.clone()],
        stdio: Stdio {
            stdin: Some(OwnedFd::from(stdin_r)),
            stdout: Some(stdout_w),
            stderr: Some(stderr_w),
        },
        limits: Limits {
            timeout: Some(if spins { SHORT } else { LONG }),
            ..Limits::default()
        },
        ..InstanceConfig::default()
    };
    let mut stdin_w = stdin_w;
    stdin_w
        .write_all(format!("request {i}").as_bytes())
        .expect("fill stdin");
    drop(stdin_w);
    let mut instance = runtime
        .instance(&modules[i % 2], config)
        .unwrap_or_else(|e| panic!("instance {i}: {e}"));
    let outcome = instance.run_and_end();
    // An ended VM instance has closed its streams: they read to the end
    // while it lives on (a server answers before the VM's reset). In
    // process they close with the instance.
    let ended = (runtime.config().isolation == Isolation::Vm).then_some(instance);
    let (mut out, mut err) = (String::new(), String::new());
    stdout_r.read_to_string(&mut out).expect("stdout");
    stderr_r.read_to_string(&mut err).expect("stderr");
    drop(ended);
    let var = format!("{}={}", env.0, env.1);
    match (i % 2, spins) {
        (0, _) => {
            assert!(matches!(outcome, Outcome::Exited(0)), "{i}: {outcome:?}");
            assert_eq!(
                (out.as_str(), err.as_str()),
                (&*format!("request {i}"), &*var)
            );
        }
        (_, false) => {
            assert!(matches!(outcome, Outcome::Exited(7)), "{i}: {outcome:?}");
            assert_eq!((out.as_str(), err.as_str()), (&*var, ""));
        }
        (_, true) => {
            assert!(
                matches!(outcome, Outcome::TimedOut(t) if t == SHORT),
                "{i}: {outcome:?}"
            );
            assert_eq!(out, var);
        }
    }
}

/// `INSTANCES / 2` instances spread over the workers.
/// VM-isolated workers confine themselves first, as a server's do.
fn round(runtime: &Runtime, modules: &[FunctionModule; 2], first: usize) {
    let confine = runtime.config().isolation == Isolation::Vm;
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            scope.spawn(move || {
                if confine {
                    wasc_runtime::confine_worker().expect("confine the worker");
                }
                for i in (first + worker..first + INSTANCES / 2).step_by(WORKERS) {
                    run_one(runtime, modules, i);
                }
            });
        }
    });
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("fds").count()
}

fn many_instances(isolation: Isolation) {
    // The poll transport: its vCPU threads start on confined workers.
    let runtime = Runtime::new(HostConfig {
        transport: wasc_runtime::Transport::Poll,
        ..HostConfig::serving(isolation)
    })
    .unwrap_or_else(|e| panic!("{isolation:?} runtime (VM isolation needs /dev/kvm): {e}"));
    let modules = [
        runtime
            .compile_bytes(Path::new("echo.wat"), ECHO.as_bytes())
            .expect("echo"),
        runtime
            .compile_bytes(Path::new("env_or_spin.wat"), ENV_OR_SPIN.as_bytes())
            .expect("env_or_spin"),
    ];
    // One VM ready: the workers clone the rest themselves, confined.
    runtime.warm_up(1).expect("warm up");
    round(&runtime, &modules, 0);
    let after_first = open_fds();
    round(&runtime, &modules, INSTANCES / 2);
    assert_eq!(open_fds(), after_first, "{isolation:?}: descriptors leaked");
    if isolation == Isolation::Vm {
        confined_worker_refuses_dirs(&runtime, &modules[0]);
    }
}

/// A confined worker has no `open`: an instance with a `--dir` is refused
/// with an error, not a dead process.
fn confined_worker_refuses_dirs(runtime: &Runtime, module: &FunctionModule) {
    std::thread::scope(|scope| {
        scope.spawn(|| {
            wasc_runtime::confine_worker().expect("confine");
            let config = InstanceConfig {
                argv: vec!["m".into()],
                dirs: vec!["/tmp".parse().expect("dir")],
                ..InstanceConfig::default()
            };
            let error = runtime.instance(module, config).expect_err("refused");
            assert!(
                matches!(error, wasc_runtime::Error::ConfinedWorkerGrants),
                "{error}"
            );
        });
    });
}

/// One test, so no other test's descriptors move the count.
#[test]
fn a_thousand_instances_of_two_modules_on_four_threads() {
    many_instances(Isolation::Vm);
    many_instances(Isolation::None);
}
