//! Builds sysd's ring-3 binaries for `x86_64-unknown-none` with a nested
//! cargo (its own target directory), statically linked (`crates/sysd/build.rs`
//! applies the layout of `sysd.ld`), and copies them to `OUT_DIR` for
//! `include_bytes!`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const BINARIES: [&str; 2] = ["sysd", "sysd-selftest"];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let sysd = manifest_dir
        .join("../sysd")
        .canonicalize()
        .expect("crates/sysd exists");
    // Relative to this package, not absolute: checkouts at different paths
    // that share a target directory (CI's cache) each watch their own
    // sources.
    for dir in ["../sysd", "../wire"] {
        println!("cargo:rerun-if-changed={dir}");
    }
    let target_dir = out_dir.join("target");

    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&sysd)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "wasc-sysd",
            "--target",
            "x86_64-unknown-none",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    for bin in BINARIES {
        cmd.args(["--bin", bin]);
    }
    // The link address and layout come from crates/sysd/build.rs.
    cmd.env("CARGO_ENCODED_RUSTFLAGS", "-Crelocation-model=static");
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("failed to spawn cargo for sysd");
    assert!(
        status.success(),
        "building sysd for x86_64-unknown-none failed ({status}); \
         is the target installed (see rust-toolchain.toml)?"
    );
    for bin in BINARIES {
        let built = target_dir.join("x86_64-unknown-none/release").join(bin);
        std::fs::copy(&built, out_dir.join(bin))
            .unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
    }
}
