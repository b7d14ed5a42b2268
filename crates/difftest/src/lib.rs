//! Differential testing of WASI preview 1 across isolation modes.
//!
//! A *call script* is a list of raw preview-1 calls that the `call_script`
//! test guest (`tests/guests/src/bin/call_script.rs`) performs and reports
//! one line each. [`run`] runs a script through the real `wasc` binary in
//! one [`Mode`] over a fresh copy of a fixed directory tree ([`FIXTURE`],
//! granted at `/sandbox`) and a `--tmpfs /tmp`, and returns a [`Report`]:
//! status, stdout, stderr and the tree afterwards. The reference is
//! `--isolation none` (wasmtime 48's own WASI); every VM mode must produce
//! the same report.
//!
//! [`generate`] turns any bytes into a script over a small alphabet of
//! paths, descriptors, flags and pointers; the `differential` fuzz target
//! and the seeded test run feed it.
//!
//! Code map: [`run`](mod@run) spawns `wasc` and builds the report;
//! [`generate`](mod@generate) writes scripts.

pub mod generate;
pub mod run;

pub use generate::generate;
pub use run::{compare, run, tree, Mode, Report, Runner, FIXTURE};
