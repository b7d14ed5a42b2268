//! Links sysd's ring-3 binaries at the fixed layout of `sysd.ld` when they
//! are built for the VM (`x86_64-unknown-none`); host builds are untouched.
//!
//! The script is copied into `OUT_DIR` and linked from there: a build
//! directory shared by several checkouts (CI's cache) then never points the
//! linker at another checkout's copy, which may be gone.

fn main() {
    println!("cargo:rerun-if-changed=sysd.ld");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
        let out = std::env::var("OUT_DIR").expect("set by cargo");
        let script = std::path::Path::new(&out).join("sysd.ld");
        std::fs::copy(format!("{dir}/sysd.ld"), &script).expect("copy sysd.ld to OUT_DIR");
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    }
}
