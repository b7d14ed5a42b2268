//! The `wasc` command line: bad input gives one clear line on stderr and a
//! non-zero exit, never a panic; exit statuses match `wasmtime run`.

mod harness;

use harness::wasc;

/// Asserts a failed run printed exactly one `Error:` line mentioning `needle`.
fn assert_one_line_error(observed: &harness::Observed, needle: &str) {
    assert_eq!(observed.status, Some(1), "{observed:?}");
    let lines: Vec<_> = observed.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {:?}", observed.stderr);
    assert!(lines[0].starts_with("Error: "), "{:?}", lines[0]);
    assert!(
        lines[0].contains(needle),
        "{:?} should mention {needle:?}",
        lines[0]
    );
    assert!(
        !observed.stderr.contains("panicked"),
        "{:?}",
        observed.stderr
    );
}

fn temp_module(bytes: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(".wasm")
        .tempfile()
        .expect("temp file");
    std::fs::write(file.path(), bytes).expect("write module");
    file
}

fn example() -> String {
    format!("{}/../../examples/hello.wat", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn bundled_example_prints_greeting() {
    let out = wasc(&["run", "--isolation", "none", &example()]);
    assert_eq!(out.status, Some(0), "{out:?}");
    assert_eq!(out.stdout, "Hello from a WaSC function!\n");
    assert_eq!(out.stderr, "");
}

#[test]
fn bundled_example_runs_in_a_vm_by_default() {
    let out = wasc(&["run", &example()]);
    assert_eq!(out.status, Some(0), "{out:?}");
    assert_eq!(out.stdout, "Hello from a WaSC function!\n");
    assert_eq!(out.stderr, "");
}

#[test]
fn missing_module_names_the_path() {
    let out = wasc(&["run", "--isolation", "none", "/nonexistent/module.wasm"]);
    assert_one_line_error(&out, "/nonexistent/module.wasm");
    assert_eq!(
        out.stderr.matches("No such file").count(),
        1,
        "each cause once: {out:?}"
    );
}

#[test]
fn garbage_module_is_rejected() {
    let module = temp_module(b"this is not wasm");
    let out = wasc(&[
        "run",
        "--isolation",
        "none",
        module.path().to_str().expect("utf-8"),
    ]);
    assert_one_line_error(&out, "as WebAssembly text: expected `(`");
}

#[test]
fn truncated_module_is_rejected() {
    let full = std::fs::read(wasc_test_guests::TRAP).expect("guest");
    let module = temp_module(&full[..full.len() / 2]);
    let out = wasc(&[
        "run",
        "--isolation",
        "none",
        module.path().to_str().expect("utf-8"),
    ]);
    assert_one_line_error(&out, "failed to compile module");
}

#[test]
fn module_without_start_is_rejected() {
    let module = temp_module(b"(module (func (export \"main\")))");
    let out = wasc(&[
        "run",
        "--isolation",
        "none",
        module.path().to_str().expect("utf-8"),
    ]);
    assert_one_line_error(&out, "no `_start` export");
}

#[test]
fn unknown_import_is_rejected() {
    let module = temp_module(b"(module (import \"env\" \"f\" (func)) (func (export \"_start\")))");
    let out = wasc(&[
        "run",
        "--isolation",
        "none",
        module.path().to_str().expect("utf-8"),
    ]);
    assert_one_line_error(&out, "failed to instantiate");
}

#[test]
fn missing_dir_is_rejected() {
    let out = wasc(&[
        "run",
        "--isolation",
        "none",
        "--dir",
        "/nonexistent-dir::/d",
        &example(),
    ]);
    assert_one_line_error(&out, "/nonexistent-dir");
}

#[test]
fn unknown_isolation_is_a_usage_error() {
    let out = wasc(&["run", "--isolation", "kvm", &example()]);
    assert_eq!(out.status, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("unknown isolation `kvm`"),
        "{:?}",
        out.stderr
    );
}

#[test]
fn arguments_after_the_module_belong_to_the_guest() {
    let out = wasc(&[
        "run",
        "--isolation",
        "none",
        wasc_test_guests::ARGS_ENV,
        "--dir",
        "x",
        "--isolation",
    ]);
    assert_eq!(out.status, Some(0), "{out:?}");
    assert!(out.stdout.contains("argv[1] = \"--dir\""), "{}", out.stdout);
    assert!(
        out.stdout.contains("argv[3] = \"--isolation\""),
        "{}",
        out.stdout
    );
}

/// sysd tells time from the TSC with the host's calibration: its realtime
/// clock must fall between host readings taken before and after the run.
#[test]
fn vm_realtime_agrees_with_the_host_clock() {
    let module = temp_module(
        br#"(module
          (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "\10\00\00\00\08\00\00\00") ;; iovec {16, 8}
          (func (export "_start")
            (drop (call $time (i32.const 0) (i64.const 1) (i32.const 16)))
            (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 32)))))"#,
    );
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64
    };
    let before = now();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wasc"))
        .args(["run", module.path().to_str().expect("utf-8")])
        .output()
        .expect("run wasc");
    let after = now();
    assert!(output.status.success(), "{output:?}");
    let guest = u64::from_le_bytes(output.stdout[..8].try_into().expect("8 bytes of time"));
    // Calibration pairs one TSC reading with one clock reading; allow a
    // millisecond for the pairing and the kHz rounding of the TSC rate.
    assert!(
        guest + 1_000_000 >= before && guest <= after + 1_000_000,
        "guest {guest} not within [{before}, {after}]"
    );
}

#[test]
fn a_missing_kvm_device_is_one_clear_line_and_no_fallback() {
    let out = wasc(&["run", "--kvm-device", "/nonexistent/kvm", &example()]);
    assert_one_line_error(&out, "KVM is not available: /nonexistent/kvm");
    assert!(out.stderr.contains("--isolation none"), "{out:?}");
    assert_eq!(out.stdout, "", "must not fall back to in-process WASI");
}

#[test]
fn a_device_that_is_not_kvm_is_refused() {
    let out = wasc(&["run", "--kvm-device", "/dev/null", &example()]);
    assert_one_line_error(&out, "/dev/null is not a KVM device");
    assert_eq!(out.stdout, "");
}

#[test]
fn an_oversized_module_is_refused_before_it_is_read() {
    let file = tempfile::Builder::new()
        .suffix(".wasm")
        .tempfile()
        .expect("temp file");
    // Sparse: costs no disk.
    file.as_file().set_len(300 << 20).expect("grow the file");
    let out = wasc(&["run", file.path().to_str().expect("utf-8")]);
    assert_one_line_error(&out, "more than the 268435456 wasc accepts");
}

#[test]
fn a_dir_that_is_a_file_is_refused() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let dir = format!("{}::/sandbox", file.path().display());
    for isolation in ["vm", "none"] {
        let out = wasc(&["run", "--isolation", isolation, "--dir", &dir, &example()]);
        assert_one_line_error(&out, "Not a directory");
        assert_eq!(out.stderr.matches("Not a directory").count(), 1, "{out:?}");
    }
}

#[test]
fn wasc_image_writes_an_oci_layout_and_refuses_invalid_modules_without_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("hello.tar");
    let out_arg = out.to_string_lossy().into_owned();
    let made = wasc(&["image", "--name", "hello:1", "-o", &out_arg, &example()]);
    assert_eq!(made.status, Some(0), "{made:?}");
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&out).expect("tarball"));
    for entry in archive.entries().expect("a tar archive") {
        names.push(
            entry
                .expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .into_owned(),
        );
    }
    assert_eq!(&names[..2], ["oci-layout", "index.json"]);
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("blobs/sha256/"))
            .count(),
        3
    );

    // An invalid module: one line, status 1, and no file written.
    let bad = temp_module(b"\0asm\x01\0\0\0\x99");
    let bad_out = dir.path().join("bad.tar");
    let refused = wasc(&[
        "image",
        "--name",
        "bad",
        "-o",
        &bad_out.to_string_lossy(),
        &bad.path().to_string_lossy(),
    ]);
    assert_one_line_error(&refused, "not a valid module");
    assert!(!bad_out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(leftovers.len(), 1, "only hello.tar: {leftovers:?}");
}
