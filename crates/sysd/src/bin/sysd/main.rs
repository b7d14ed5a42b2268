//! sysd: the WASI daemon, in guest ring 3 of a WaSC micro-VM. Built for
//! `x86_64-unknown-none` by `crates/sysd-image`; on the host it builds as a
//! stub that refuses to run.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod ring3;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("sysd runs only inside a WaSC VM (target x86_64-unknown-none)");
    std::process::exit(2);
}
