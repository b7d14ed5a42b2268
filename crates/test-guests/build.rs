//! Builds every guest in `tests/guests` for `wasm32-wasip1` (Rust bins with a
//! nested cargo, C files with Debian's clang-14 and wasi-libc) and writes
//! `guests.rs` with one path constant per guest.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let guests = manifest_dir.join("../../tests/guests");
    let guests = guests.canonicalize().unwrap_or(guests);
    // Relative to this package, not absolute: checkouts at different paths
    // that share a target directory (CI's cache) each watch their own
    // sources.
    for path in ["src", "c", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed=../../tests/guests/{path}");
    }

    let mut artifacts = build_rust_guests(&guests, &out_dir);
    artifacts.extend(build_c_guests(&guests.join("c"), &out_dir));
    artifacts.sort();

    let mut code = String::new();
    for (name, path) in &artifacts {
        writeln!(
            code,
            "pub const {}: &str = {:?};",
            name.to_uppercase(),
            path.display().to_string()
        )
        .expect("write to String");
    }
    code.push_str("/// Every guest as `(name, path)`.\npub const ALL: &[(&str, &str)] = &[\n");
    for (name, _) in &artifacts {
        writeln!(code, "    ({name:?}, {}),", name.to_uppercase()).expect("write to String");
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("guests.rs"), code).expect("write guests.rs");
}

fn build_rust_guests(guests: &Path, out_dir: &Path) -> Vec<(String, PathBuf)> {
    let target_dir = out_dir.join("target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(guests)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip1",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    // C code in guests (the SQLite amalgamation libsqlite3-sys bundles) is
    // compiled by cc-rs with Debian's clang-14 against wasi-libc, as the C
    // guests are; clang-14 knows the target as wasm32-wasi.
    for (var, value) in [
        ("CC_wasm32_wasip1", "clang-14"),
        (
            "CFLAGS_wasm32_wasip1",
            "--target=wasm32-wasi --sysroot=/usr",
        ),
        ("AR_wasm32_wasip1", "llvm-ar-14"),
    ] {
        if env::var_os(var).is_none() {
            cmd.env(var, value);
        }
    }
    // The outer build's flags and target settings are for the host; the guest
    // build must not inherit them.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("failed to spawn cargo for the Wasm guests");
    assert!(
        status.success(),
        "building tests/guests for wasm32-wasip1 failed ({status}); \
         is the target installed (see rust-toolchain.toml)?"
    );

    let bin_dir = guests.join("src/bin");
    let release = target_dir.join("wasm32-wasip1/release");
    let mut artifacts = Vec::new();
    for entry in std::fs::read_dir(&bin_dir).expect("read tests/guests/src/bin") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path
                .file_stem()
                .expect("file stem")
                .to_string_lossy()
                .into_owned();
            let wasm = release.join(format!("{name}.wasm"));
            assert!(wasm.exists(), "cargo did not produce {}", wasm.display());
            artifacts.push((name, wasm));
        }
    }
    artifacts
}

/// C guests need `clang-14`, `lld-14`, `wasi-libc` and
/// `libclang-rt-14-dev-wasm32` (installed by `scripts/install-deps`). Their
/// absence is an error, not a reason to skip the C tests.
fn build_c_guests(c_dir: &Path, out_dir: &Path) -> Vec<(String, PathBuf)> {
    let clang = env::var("WASC_CLANG").unwrap_or_else(|_| "clang-14".to_owned());
    let mut artifacts = Vec::new();
    for entry in std::fs::read_dir(c_dir).expect("read tests/guests/c") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "c") {
            continue;
        }
        let name = format!("c_{}", path.file_stem().expect("stem").to_string_lossy());
        let wasm = out_dir.join(format!("{name}.wasm"));
        let status = Command::new(&clang)
            .args([
                "--target=wasm32-wasi",
                "--sysroot=/usr",
                "-O2",
                "-Wall",
                "-Werror",
                "-o",
            ])
            .arg(&wasm)
            .arg(&path)
            .status()
            .unwrap_or_else(|e| {
                panic!("cannot run `{clang}` to build C guests: {e}; run scripts/install-deps")
            });
        assert!(status.success(), "{clang} failed on {}", path.display());
        artifacts.push((name, wasm));
    }
    artifacts
}
