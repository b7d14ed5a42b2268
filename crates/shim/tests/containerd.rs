//! End to end: Debian's containerd and `ctr`, a private daemon
//! (`common::Containerd`), images made by `wasc_oci` like `wasc image`,
//! and `ctr run --runtime io.containerd.wasc.v1` with no other flags.
//! Needs root, KVM and containerd (`scripts/install-deps`); without them
//! it fails, never passes.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{Containerd, RUNTIME};

const SHIM: &str = env!("CARGO_BIN_EXE_containerd-shim-wasc-v1");

const IMPORTS: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
"#;

const DEFS: &str = r#"
  (memory (export "memory") 1)
  (func $print (param $fd i32) (param $at i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
"#;

/// A module from `body` (inside `(module …)`, after the WASI imports and
/// a `$print` helper).
fn module(body: &str) -> Vec<u8> {
    module_with("", body)
}

/// [`module`] with more imports.
fn module_with(imports: &str, body: &str) -> Vec<u8> {
    wat::parse_str(format!("(module {IMPORTS} {imports} {DEFS} {body})"))
        .expect("valid test module")
}

fn hello() -> Vec<u8> {
    module(
        r#"(data (i32.const 64) "hello from wasc\n") (data (i32.const 96) "to stderr\n")
           (func (export "_start")
             (call $print (i32.const 1) (i32.const 64) (i32.const 16))
             (call $print (i32.const 2) (i32.const 96) (i32.const 10)))"#,
    )
}

/// Prints "ready", then sleeps in `poll_oneoff` for ever (`spin`: loops
/// without a call instead).
fn endless(spin: bool) -> Vec<u8> {
    let wait = if spin {
        "(loop $l (br $l))"
    } else {
        "(i32.store (i32.const 16) (i32.const 1))
         (i64.store (i32.const 24) (i64.const 1000000000))
         (loop $l (drop (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256))) (br $l))"
    };
    module(&format!(
        r#"(data (i32.const 64) "ready\n")
           (func (export "_start") (call $print (i32.const 1) (i32.const 64) (i32.const 6)) {wait})"#
    ))
}

/// Reads its own module from the container's root (preopen 3, `/`) and
/// prints its first four bytes.
fn reads_root(file_name: &str) -> Vec<u8> {
    let imports = r#"
        (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))"#;
    let body = format!(
        r#"(data (i32.const 64) "{file_name}")
           (func (export "_start")
             (if (call $open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const {len})
                    (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 32))
               (then (call $proc_exit (i32.const 10))))
             (i32.store (i32.const 0) (i32.const 128))
             (i32.store (i32.const 4) (i32.const 4))
             (if (call $read (i32.load (i32.const 32)) (i32.const 0) (i32.const 1) (i32.const 8))
               (then (call $proc_exit (i32.const 11))))
             (call $print (i32.const 1) (i32.const 128) (i32.const 4)))"#,
        len = file_name.len()
    );
    module_with(imports, &body)
}

/// Grows memory to 128 MiB: exits 0 if it could, 7 if `memory.grow` failed.
fn grows_to_128_mib() -> Vec<u8> {
    module(
        r#"(func (export "_start")
             (if (i32.eq (memory.grow (i32.const 2047)) (i32.const -1))
               (then (call $proc_exit (i32.const 7))))
             (call $proc_exit (i32.const 0)))"#,
    )
}

/// Makes and imports image `name` holding `wasm` as `/<file>`.
fn image(containerd: &Containerd, name: &str, file: &str, wasm: &[u8]) {
    let tarball = containerd
        .scratch()
        .join(format!("{}.tar", name.replace([':', '/'], "_")));
    let out = std::fs::File::create(&tarball).expect("create tarball");
    let spec = wasc_oci::ImageSpec {
        name,
        file_name: file,
        module: wasm,
    };
    wasc_oci::write_image(&spec, std::io::BufWriter::new(out)).expect("write image");
    containerd.import(&tarball);
}

/// `ctr run --rm --runtime io.containerd.wasc.v1 [extra] IMAGE ID [args]`.
fn run(containerd: &Containerd, extra: &[&str], image: &str, id: &str, args: &[&str]) -> Output {
    let mut argv = vec!["run", "--rm", "--runtime", RUNTIME];
    argv.extend(extra);
    argv.extend([image, id]);
    argv.extend(args);
    containerd
        .ctr(&argv)
        .stdin(Stdio::null())
        .output()
        .expect("run ctr")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn status(output: &Output) -> Option<i32> {
    output.status.code()
}

fn args_env_guest() -> Vec<u8> {
    std::fs::read(wasc_test_guests::ARGS_ENV).expect("args_env guest")
}

#[test]
fn ctr_runs_functions_with_their_stdio_args_env_and_exit_status() {
    let containerd = Containerd::start(Path::new(SHIM), "run");
    image(&containerd, "wasc/hello:1", "hello.wasm", &hello());
    image(
        &containerd,
        "wasc/args:1",
        "args_env.wasm",
        &args_env_guest(),
    );
    image(
        &containerd,
        "wasc/exit:1",
        "exit.wasm",
        &module(r#"(func (export "_start") (call $proc_exit (i32.const 3)))"#),
    );
    image(
        &containerd,
        "wasc/trap:1",
        "trap.wasm",
        &module(r#"(func (export "_start") unreachable)"#),
    );
    image(
        &containerd,
        "wasc/root:1",
        "root.wasm",
        &reads_root("root.wasm"),
    );
    image(&containerd, "wasc/grow:1", "grow.wasm", &grows_to_128_mib());

    let hello = run(&containerd, &[], "wasc/hello:1", "hello", &[]);
    assert_eq!(status(&hello), Some(0), "{}", text(&hello.stderr));
    assert_eq!(text(&hello.stdout), "hello from wasc\n");
    assert_eq!(text(&hello.stderr), "to stderr\n");

    let args = run(
        &containerd,
        &["--env", "GREETING=hi there"],
        "wasc/args:1",
        "args",
        // ctr replaces the whole command line when given one.
        &["/args_env.wasm", "a", "b c"],
    );
    assert_eq!(status(&args), Some(0), "{}", text(&args.stderr));
    let out = text(&args.stdout);
    assert!(out.contains(r#"argv[0] = "/args_env.wasm""#), "{out}");
    assert!(
        out.contains(r#"argv[1] = "a""#) && out.contains(r#"argv[2] = "b c""#),
        "{out}"
    );
    assert!(out.contains("GREETING=hi there"), "{out}");

    let exit = run(&containerd, &[], "wasc/exit:1", "exit", &[]);
    assert_eq!(status(&exit), Some(3), "{}", text(&exit.stderr));

    let trap = run(&containerd, &[], "wasc/trap:1", "trap", &[]);
    assert_eq!(status(&trap), Some(134), "{}", text(&trap.stderr));
    assert!(
        text(&trap.stderr).contains("unreachable"),
        "{}",
        text(&trap.stderr)
    );

    // The container's root file system is the module's `/`.
    let root = run(&containerd, &[], "wasc/root:1", "root", &[]);
    assert_eq!(status(&root), Some(0), "{}", text(&root.stderr));
    assert_eq!(root.stdout, b"\0asm");

    // The spec's memory limit bounds linear memory too.
    let unbounded = run(&containerd, &[], "wasc/grow:1", "grow", &[]);
    assert_eq!(status(&unbounded), Some(0), "{}", text(&unbounded.stderr));
    let bounded = run(
        &containerd,
        &["--memory-limit", "104857600"],
        "wasc/grow:1",
        "grow",
        &[],
    );
    assert_eq!(status(&bounded), Some(7), "{}", text(&bounded.stderr));

    // Ten at once.
    let runs: Vec<_> = (0..10)
        .map(|i| {
            let mut ctr = containerd.ctr(&[
                "run",
                "--rm",
                "--runtime",
                RUNTIME,
                "wasc/hello:1",
                &format!("many-{i}"),
            ]);
            ctr.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            ctr.spawn().expect("spawn ctr")
        })
        .collect();
    for child in runs {
        let output = child.wait_with_output().expect("ctr");
        assert_eq!(status(&output), Some(0), "{}", text(&output.stderr));
        assert_eq!(text(&output.stdout), "hello from wasc\n");
    }

    // `--rm` left no container, task or runtime state behind, and every
    // shim has exited (containerd shuts them down after the delete).
    let containers = containerd.ctr_ok(&["container", "ls", "-q"]);
    assert_eq!(
        text(&containers.stdout).trim(),
        "",
        "containers left behind"
    );
    let start = std::time::Instant::now();
    while !containerd.namespace_processes().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "processes left behind: {:?}",
            containerd.namespace_processes()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let state = PathBuf::from("/run/containerd/wasc").join(&containerd.namespace);
    let left: Vec<_> = std::fs::read_dir(&state)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "runtime state left in {}: {left:?}",
        state.display()
    );
}

/// Starts `image` as `id` in the foreground and waits for its "ready".
fn start_ready(containerd: &Containerd, image: &str, id: &str) -> std::process::Child {
    let mut child = containerd
        .ctr(&["run", "--rm", "--runtime", RUNTIME, image, id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ctr");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the function never said ready");
    assert_eq!(line, "ready\n");
    child
}

/// Waits for `child` at most `limit`; its exit status.
fn wait_for(mut child: std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ctr run did not end within {limit:?} of the kill");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctr_task_kill_stops_a_running_function() {
    let containerd = Containerd::start(Path::new(SHIM), "kill");
    image(&containerd, "wasc/sleep:1", "sleep.wasm", &endless(false));
    image(&containerd, "wasc/spin:1", "spin.wasm", &endless(true));

    // SIGTERM (ctr's default) ends a module sleeping in poll_oneoff.
    let sleeper = start_ready(&containerd, "wasc/sleep:1", "sleeper");
    containerd.ctr_ok(&["task", "kill", "sleeper"]);
    let status = wait_for(sleeper, Duration::from_secs(10));
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status}");

    // SIGKILL ends one spinning in Wasm code.
    let spinner = start_ready(&containerd, "wasc/spin:1", "spinner");
    containerd.ctr_ok(&["task", "kill", "--signal", "SIGKILL", "spinner"]);
    let status = wait_for(spinner, Duration::from_secs(10));
    assert_eq!(status.code(), Some(128 + libc::SIGKILL), "{status}");

    let containers = containerd.ctr_ok(&["container", "ls", "-q"]);
    assert_eq!(
        text(&containers.stdout).trim(),
        "",
        "containers left behind"
    );
}

#[test]
fn without_kvm_a_container_fails_with_one_line_naming_kvm() {
    // The shim opens the device containerd's environment names: here, one
    // that does not exist. No fallback to in-process WASI.
    let containerd = Containerd::start_with_env(
        Path::new(SHIM),
        "nokvm",
        &[("WASC_KVM_DEVICE", "/nonexistent/kvm")],
    );
    image(&containerd, "wasc/hello:1", "hello.wasm", &hello());
    let run = run(&containerd, &[], "wasc/hello:1", "nokvm", &[]);
    assert_eq!(status(&run), Some(1), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout), "", "the module must not have run");
    let stderr = text(&run.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr:?}");
    assert!(
        lines[0].starts_with("Error: KVM is not available")
            && lines[0].contains("/nonexistent/kvm"),
        "{stderr:?}"
    );
}
