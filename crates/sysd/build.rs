//! Links sysd's ring-3 binaries at the fixed layout of `sysd.ld` when they
//! are built for the VM (`x86_64-unknown-none`); host builds are untouched.

fn main() {
    println!("cargo:rerun-if-changed=sysd.ld");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
        println!("cargo:rustc-link-arg-bins=-T{dir}/sysd.ld");
    }
}
