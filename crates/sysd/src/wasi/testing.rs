//! The machine sysd's unit tests run on: linear memory, the scratch area,
//! a memory-file-system region and the instance data in plain memory. What
//! the host answers is each test's own [`Host`].

use std::vec::Vec;

use wasc_wire::hostop::HostOp;

use super::{InstanceData, System, SCRATCH};

/// The executor as a test sees it: one op at a time, with the scratch
/// area to read names from and write results to.
pub(crate) trait Host {
    fn op(&mut self, op: HostOp, scratch: &mut [u8; SCRATCH]) -> Result<u64, u32>;
}

/// A host no op may reach (memory file systems, pure WASI logic).
pub(crate) struct NoHost;

impl Host for NoHost {
    fn op(&mut self, op: HostOp, _: &mut [u8; SCRATCH]) -> Result<u64, u32> {
        panic!("a host op reached the host: {op:?}")
    }
}

/// A [`System`] in plain memory whose host ops go to `host`.
pub(crate) struct Machine<H> {
    pub memory: Vec<u8>,
    pub scratch: [u8; SCRATCH],
    /// The memory file systems' region (empty: none).
    pub region: Vec<u8>,
    pub args: &'static [u8],
    pub env: &'static [u8],
    pub preopens: &'static [u8],
    pub tmpfs: &'static [u8],
    pub max_fds: u32,
    pub listeners: u32,
    pub calibration: wasc_wire::Instance,
    pub tsc: u64,
    /// The byte `random` fills with.
    pub random: u8,
    pub host: H,
}

impl<H: Host> Machine<H> {
    /// `memory` bytes of zeroed linear memory, no tmpfs, one preopen
    /// (`/sandbox`) and nothing else in the instance data.
    pub fn new(memory: usize, host: H) -> Self {
        Self {
            memory: std::vec![0; memory],
            scratch: [0; SCRATCH],
            region: Vec::new(),
            args: b"",
            env: b"",
            preopens: b"/sandbox\0",
            tmpfs: b"",
            max_fds: 0,
            listeners: 0,
            calibration: wasc_wire::Instance::default(),
            tsc: 0,
            random: 0,
            host,
        }
    }

    /// The little-endian word at `at` in linear memory.
    pub fn word(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.memory[at..at + 4].try_into().expect("4 bytes"))
    }
}

impl<H: Host> System for Machine<H> {
    fn read_memory(&mut self, offset: u64, buf: &mut [u8]) {
        let at = offset as usize;
        buf.copy_from_slice(&self.memory[at..at + buf.len()]);
    }
    fn write_memory(&mut self, offset: u64, data: &[u8]) {
        let at = offset as usize;
        self.memory[at..at + data.len()].copy_from_slice(data);
    }
    fn host_op(&mut self, op: HostOp) -> Result<u64, u32> {
        self.host.op(op, &mut self.scratch)
    }
    fn read_scratch(&mut self, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.scratch[offset..offset + buf.len()]);
    }
    fn write_scratch(&mut self, offset: usize, data: &[u8]) {
        self.scratch[offset..offset + data.len()].copy_from_slice(data);
    }
    fn tmpfs_len(&mut self) -> u64 {
        self.region.len() as u64
    }
    fn tmpfs_read(&mut self, offset: u64, buf: &mut [u8]) {
        let at = offset as usize;
        buf.copy_from_slice(&self.region[at..at + buf.len()]);
    }
    fn tmpfs_write(&mut self, offset: u64, data: &[u8]) {
        let at = offset as usize;
        self.region[at..at + data.len()].copy_from_slice(data);
    }
    fn instance_data(&mut self) -> InstanceData<'_> {
        InstanceData {
            args: self.args,
            env: self.env,
            preopens: self.preopens,
            max_fds: self.max_fds,
            tmpfs: self.tmpfs,
            listeners: self.listeners,
            terminals: 0,
        }
    }
    fn random(&mut self, buf: &mut [u8]) {
        buf.fill(self.random);
    }
    fn instance(&mut self) -> wasc_wire::Instance {
        self.calibration
    }
    fn rdtsc(&mut self) -> u64 {
        self.tsc
    }
}
