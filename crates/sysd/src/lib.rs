//! sysd's portable logic: everything that does not need to be in ring 3
//! builds for the host too, where it is unit-tested and fuzzed. The ring-3
//! entry points in `src/bin` are thin wrappers that supply a [`Machine`].
//!
//! Untrusted input: every [`wasc_wire::Request`] (from the host, which sysd
//! does not trust either) and, later, the Wasm module's memory.

#![no_std]

// Unit tests use std's collections for their fakes.
#[cfg(test)]
extern crate std;

pub mod chacha;
pub mod selftest;
pub mod wasi;

#[cfg(target_os = "none")]
pub mod rt;

/// What sysd needs from the machine it runs on, so the logic above it can run
/// natively in tests. The ring-3 implementation uses raw memory access and
/// inline assembly.
pub trait Machine {
    /// Reads a byte at an arbitrary guest address (may fault).
    fn read_byte(&mut self, address: u64) -> u8;
    /// Writes a byte at an arbitrary guest address (may fault).
    fn write_byte(&mut self, address: u64, value: u8);
    /// Transfers control to `address` (may fault).
    fn jump(&mut self, address: u64);
    /// Executes an invalid instruction.
    fn invalid_opcode(&mut self);
    /// Executes a privileged instruction.
    fn privileged(&mut self);
    /// Uses up the stack.
    fn overflow_stack(&mut self);
    /// The per-instance values the host wrote into the call page.
    fn instance(&mut self) -> wasc_wire::Instance;
    /// Has the host executor perform `op`: its value, or a WASI errno.
    fn host_op(&mut self, op: wasc_wire::hostop::HostOp) -> Result<u64, u32>;
    /// Exits to the host without publishing anything.
    fn silent_yield(&mut self);
    /// Publishes `response` as the request's answer, then spins forever
    /// without polling the call page (does not return when the machine is
    /// real).
    fn answer_then_spin(&mut self, response: wasc_wire::Response);
}
