//! `--max-memory` and `--timeout`: each limit holds in both isolation
//! modes and ends the run cleanly — one line on stderr, a documented status.

mod harness;

use std::process::{Command, Stdio};

use harness::wasc;

/// A module that loops forever.
const SPIN: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l))))"#;

/// Grows memory by 32 MiB and exits 7 if that is refused, 0 if not.
const GROW: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 512)) (i32.const -1))
      (then (call $exit (i32.const 7))))
    (call $exit (i32.const 0))))"#;

/// Starts with 300 pages (18.75 MiB) of memory.
const BIG: &str = r#"(module (memory (export "memory") 300) (func (export "_start")))"#;

/// Opens the preopen's `.` until an open fails; exits with how many
/// succeeded (or 99 if the failure was not `MFILE`).
const OPEN_ALL: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) ".")
  (func (export "_start") (local $n i32) (local $errno i32)
    (loop $next
      (local.set $errno (call $open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 1)
        (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 0)))
      (if (i32.eqz (local.get $errno))
        (then (local.set $n (i32.add (local.get $n) (i32.const 1))) (br $next))))
    (if (i32.ne (local.get $errno) (i32.const 33)) (then (call $exit (i32.const 99))))
    (call $exit (local.get $n))))"#;

fn module(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(".wat")
        .tempfile()
        .expect("temp file");
    std::fs::write(file.path(), text).expect("write module");
    file
}

const MODES: [&[&str]; 3] = [
    &["--isolation", "none"],
    &["--transport", "sync"],
    &["--transport", "poll"],
];

fn run(mode: &[&str], options: &[&str], module: &tempfile::NamedTempFile) -> harness::Observed {
    let path = module.path().to_str().expect("utf-8 path");
    let args: Vec<&str> = ["run"]
        .iter()
        .chain(mode)
        .chain(options)
        .chain([&path])
        .copied()
        .collect();
    wasc(&args)
}

/// A memory64 memory that grows past 4 GiB after a WASI call (so, in
/// process and in a VM, past its reservation: it moves), then has
/// `fd_write` print bytes the module stored across the 4 GiB line (sysd
/// reads them through the window above 4 GiB), then grows again and calls
/// again: the window follows the memory.
const MEMORY64: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") i64 1)
  (data (i64.const 16) "before\n")
  (func $print (param $ptr i64) (param $len i64)
    (i64.store32 (i64.const 0) (local.get $ptr))
    (i64.store32 (i64.const 4) (local.get $len))
    (if (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then (call $exit (i32.const 10)))))
  (func (export "_start")
    (call $print (i64.const 16) (i64.const 7))
    ;; 4 GiB + 128 KiB.
    (if (i64.eq (memory.grow (i64.const 65537)) (i64.const -1)) (then (call $exit (i32.const 7))))
    ;; "across the line!\n" from 4 GiB - 4: "acro" below, the rest above.
    (i64.store (i64.const 0xfffffffc) (i64.const 0x742073736f726361))
    (i64.store (i64.const 0x100000004) (i64.const 0x21656e696c206568))
    (i64.store8 (i64.const 0x10000000c) (i64.const 0x0a))
    (call $print (i64.const 0xfffffffc) (i64.const 17))
    ;; Grow once more and call again.
    (if (i64.eq (memory.grow (i64.const 1)) (i64.const -1)) (then (call $exit (i32.const 8))))
    (call $print (i64.const 16) (i64.const 7))))"#;

#[test]
fn a_memory64_memory_grows_past_4_gib_and_wasi_reads_across_the_line() {
    let m64 = module(MEMORY64);
    for mode in MODES {
        let out = run(mode, &["--max-memory", "5G"], &m64);
        assert_eq!(out.status, Some(0), "{mode:?}: {out:?}");
        assert_eq!(out.stdout, "before\nacross the line!\nbefore\n", "{mode:?}");
        // Past --max-memory, growth fails inside the module (exit 7).
        let out = run(mode, &["--max-memory", "4G"], &m64);
        assert_eq!(out.status, Some(7), "{mode:?}: {out:?}");
    }
}

#[test]
fn a_runaway_module_stops_at_its_timeout() {
    let spin = module(SPIN);
    for mode in MODES {
        let out = run(mode, &["--timeout", "200ms"], &spin);
        assert_eq!(out.status, Some(124), "{mode:?}: {out:?}");
        assert_eq!(
            out.stderr, "Error: the function did not finish within its --timeout of 200ms\n",
            "{mode:?}"
        );
    }
}

/// Runs the stdio guest, which reads stdin to its end, with a pipe that
/// stays open, so only `--timeout` ends it.
fn blocked_in_a_read(args: &[&str], tmpdir: &std::path::Path) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasc"))
        .arg("run")
        .args(args)
        .args(["--timeout", "200ms", wasc_test_guests::STDIO])
        .env("TMPDIR", tmpdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wasc");
    let stdin = child.stdin.take();
    let output = child.wait_with_output().expect("wait");
    drop(stdin);
    output
}

#[test]
fn a_run_blocked_in_a_read_is_ended_after_the_grace_period() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for mode in MODES {
        let output = blocked_in_a_read(mode, tmp.path());
        assert_eq!(output.status.code(), Some(124), "{mode:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.ends_with("wasc: the function did not stop at its --timeout; ending it\n"),
            "{mode:?}: {stderr}"
        );
    }
}

/// In process a `--tmpfs` is a temporary host directory; a run ended hard
/// by its `--timeout` runs no destructors, and must still leave none behind.
#[test]
fn a_hard_timeout_in_process_leaves_no_tmpfs_stand_in() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let output = blocked_in_a_read(&["--isolation", "none", "--tmpfs", "/scratch"], tmp.path());
    assert_eq!(output.status.code(), Some(124));
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read TMPDIR")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn memory_growth_past_the_limit_fails_inside_the_module() {
    let grow = module(GROW);
    for mode in MODES {
        let refused = run(mode, &["--max-memory", "16M"], &grow);
        assert_eq!(refused.status, Some(7), "{mode:?}: {refused:?}");
        let allowed = run(mode, &["--max-memory", "64M"], &grow);
        assert_eq!(allowed.status, Some(0), "{mode:?}: {allowed:?}");
    }
}

#[test]
fn a_module_that_starts_over_the_limit_is_refused_in_one_line() {
    let big = module(BIG);
    for mode in MODES {
        let out = run(mode, &["--max-memory", "16M"], &big);
        assert_eq!(out.status, Some(1), "{mode:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{mode:?}: {out:?}");
        assert!(
            out.stderr.starts_with("Error: ") && out.stderr.contains("exceeds memory limits"),
            "{mode:?}: {out:?}"
        );
    }
}

#[test]
fn bad_limit_values_are_usage_errors() {
    let spin = module(SPIN);
    for options in [
        &["--max-memory", "12Q"][..],
        &["--max-memory", "lots"],
        &["--timeout", "10"],
        &["--timeout", "3 days"],
    ] {
        let out = run(&[], options, &spin);
        assert_eq!(out.status, Some(2), "{options:?}: {out:?}");
        assert!(out.stderr.starts_with("error: invalid value"), "{out:?}");
    }
}

#[test]
fn opens_past_the_descriptor_limit_fail_with_mfile() {
    let open_all = module(OPEN_ALL);
    let dir = tempfile::tempdir().expect("temp dir");
    let grant = format!("{}::/d", dir.path().display());
    for mode in &MODES[1..] {
        for (limit, opens) in [("10", 6), ("20", 16)] {
            let out = run(
                mode,
                &["--max-fds", limit, "--dir", grant.as_str()],
                &open_all,
            );
            // stdio (3) and the preopen (1) count against the limit.
            assert_eq!(out.status, Some(opens), "{mode:?} {limit}: {out:?}");
        }
    }
    let out = run(&[], &["--max-fds", "3"], &open_all);
    assert_eq!(out.status, Some(2), "below the minimum is a usage error");
}

/// Writes 64 KiB at a time to `/t/big` until a write fails or 4 MiB are
/// written; exits with the failing errno (0 if none failed).
const FILL: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "\00\00\01\00\00\00\01\00")
  (data (i32.const 64) "big")
  (func (export "_start") (local $i i32) (local $errno i32)
    (local.set $errno (call $open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 3)
      (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 8)))
    (if (local.get $errno) (then (call $exit (i32.add (i32.const 100) (local.get $errno)))))
    (loop $next
      (local.set $errno (call $write (i32.load (i32.const 8)) (i32.const 16) (i32.const 1) (i32.const 0)))
      (if (local.get $errno) (then (call $exit (local.get $errno))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 64))))
    (call $exit (i32.const 0))))"#;

#[test]
fn a_tmpfs_past_its_size_answers_nospc() {
    let fill = module(FILL);
    for mode in &MODES[1..] {
        let small = run(mode, &["--tmpfs", "/t:1M"], &fill);
        assert_eq!(small.status, Some(51), "{mode:?}: {small:?}");
        let large = run(mode, &["--tmpfs", "/t:8M"], &fill);
        assert_eq!(large.status, Some(0), "{mode:?}: {large:?}");
    }
    let out = run(&[], &["--tmpfs", "/t:4K"], &fill);
    assert_eq!(out.status, Some(2), "a tmpfs under 1M is a usage error");
    let out = run(&[], &["--tmpfs", "/t:1G"], &fill);
    assert_eq!(out.status, Some(1), "more than the region holds: {out:?}");
}
