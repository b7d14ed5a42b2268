//! The sysd images, built for `x86_64-unknown-none` by this crate's build
//! script and embedded in the host binary.

/// sysd, the WASI daemon.
pub const SYSD: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sysd"));

/// The self-test sysd: ping, argument passing and deliberate faults.
pub const SELFTEST: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sysd-selftest"));
