//! The fixture the executor's integration tests share: an executor granted
//! one temporary directory (handle 3) holding `file.txt` = "hello", 4 KiB
//! of linear memory and a scratch area.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::os::fd::OwnedFd;

use wasc_executor::{Errno, Executor, LinearMemory};
use wasc_wire::hostop::{HostOp, OpCode, SCRATCH_LEN};

/// The granted directory's handle.
pub const DIR: u64 = 3;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub executor: Executor,
    pub memory: Vec<u8>,
    pub scratch: [u8; SCRATCH_LEN],
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("file.txt"), b"hello").expect("fixture file");
    let preopen: OwnedFd = std::fs::File::open(dir.path()).expect("open dir").into();
    Fixture {
        dir,
        executor: Executor::new(vec![preopen]),
        memory: vec![0; 4096],
        scratch: [0; SCRATCH_LEN],
    }
}

impl Fixture {
    pub fn run(&mut self, op: OpCode, args: &[u64]) -> Result<u64, Errno> {
        let mut raw = HostOp {
            op: op as u32,
            ..Default::default()
        };
        raw.args[..args.len()].copy_from_slice(args);
        self.run_raw(raw)
    }

    pub fn run_raw(&mut self, raw: HostOp) -> Result<u64, Errno> {
        // SAFETY: `memory` outlives the view and is not otherwise borrowed.
        let memory = unsafe { LinearMemory::new(self.memory.as_mut_ptr(), self.memory.len()) };
        self.executor.execute(&raw, &memory, &mut self.scratch)
    }

    /// An op on `name` (put first in the scratch area) beneath `dir`.
    pub fn at(&mut self, op: OpCode, dir: u64, name: &[u8], more: &[u64]) -> Result<u64, Errno> {
        self.scratch[..name.len()].copy_from_slice(name);
        let mut args = vec![dir, name.len() as u64];
        args.extend_from_slice(more);
        self.run(op, &args)
    }

    /// Opens `name` beneath the granted directory with `flags`.
    pub fn lookup(&mut self, name: &[u8], flags: u64) -> Result<u64, Errno> {
        self.at(OpCode::Lookup, DIR, name, &[flags])
    }
}
