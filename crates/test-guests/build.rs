//! Builds every guest in `tests/guests` for `wasm32-wasip1` (Rust bins with a
//! nested cargo, C files with Debian's clang-14 and wasi-libc, Zig files with
//! Zig's own toolchain) and writes `guests.rs` with one path constant per
//! guest, and one per third-party program `scripts/install-deps` built.

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
    for path in ["src", "c", "zig", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed=../../tests/guests/{path}");
    }
    let tools = tools_dir();

    let mut artifacts = build_rust_guests(&guests, &out_dir);
    artifacts.extend(build_c_guests(&guests.join("c"), &out_dir));
    artifacts.extend(build_zig_guests(&tools, &guests.join("zig"), &out_dir));
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
    for (name, path) in third_party_programs(&tools) {
        writeln!(
            code,
            "/// `{name}`, built from its crates.io sources by `scripts/install-deps`.\n\
             pub const THIRD_PARTY_{}: &str = {:?};",
            name.to_uppercase(),
            path.display().to_string()
        )
        .expect("write to String");
    }
    std::fs::write(out_dir.join("guests.rs"), code).expect("write guests.rs");
}

/// Where `scripts/install-deps` puts the toolchains and programs that do not
/// come from Debian or rustup (the same default as the script's).
fn tools_dir() -> PathBuf {
    println!("cargo:rerun-if-env-changed=WASC_TOOLS_DIR");
    env::var_os("WASC_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/wasc-tools"))
}

/// The real programs of the third-party tests: built for `wasm32-wasip1`
/// by `scripts/install-deps`. Missing ones are an error, not a skipped test.
fn third_party_programs(tools: &Path) -> Vec<(&'static str, PathBuf)> {
    ["coreutils", "rg", "zopfli"]
        .into_iter()
        .map(|name| {
            let wasm = tools.join(format!("wasm/bin/{name}.wasm"));
            println!("cargo:rerun-if-changed={}", wasm.display());
            assert!(
                wasm.is_file(),
                "{} is missing; run scripts/install-deps",
                wasm.display()
            );
            (name, wasm)
        })
        .collect()
}

/// Zig guests are built with Zig's own toolchain (PyPI's `ziglang`,
/// installed by `scripts/install-deps`), whose std calls WASI directly
/// rather than through wasi-libc.
fn build_zig_guests(tools: &Path, zig_dir: &Path, out_dir: &Path) -> Vec<(String, PathBuf)> {
    let zig = tools.join("zig/ziglang/zig");
    let cache = out_dir.join("zig-cache");
    let mut artifacts = Vec::new();
    for entry in std::fs::read_dir(zig_dir).expect("read tests/guests/zig") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "zig") {
            continue;
        }
        let name = format!("zig_{}", path.file_stem().expect("stem").to_string_lossy());
        let wasm = out_dir.join(format!("{name}.wasm"));
        let status = Command::new(&zig)
            .args(["build-exe", "-target", "wasm32-wasi", "-O", "ReleaseSmall"])
            .arg(format!("-femit-bin={}", wasm.display()))
            .arg(&path)
            .env("ZIG_GLOBAL_CACHE_DIR", &cache)
            .env("ZIG_LOCAL_CACHE_DIR", &cache)
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} to build Zig guests: {e}; run scripts/install-deps",
                    zig.display()
                )
            });
        assert!(status.success(), "zig failed on {}", path.display());
        artifacts.push((name, wasm));
    }
    artifacts
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
