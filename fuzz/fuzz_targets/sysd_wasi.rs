//! sysd's WASI argument decoding and path resolution: any sequence of
//! calls (function ids and raw arguments a module can pass) over memory of
//! any contents and size, against a host whose answers — results, errnos,
//! link targets, directory entries — come from the input too. sysd must
//! never panic, never touch linear memory outside its current size, and
//! never hand the executor a path component that is empty, `..`, or holds
//! `/` or NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasc_sysd::wasi::{InstanceData, System, Wasi, SCRATCH};
use wasc_wire::hostop::{HostOp, OpCode};

struct Fake<'a> {
    memory: Vec<u8>,
    scratch: [u8; SCRATCH],
    /// The memory file system's region (the second preopen, /tmp).
    tmpfs: Vec<u8>,
    /// Where host answers come from.
    answers: &'a [u8],
    ops: usize,
}

impl Fake<'_> {
    fn next(&mut self) -> u8 {
        let byte = self
            .answers
            .get(self.ops % self.answers.len().max(1))
            .copied();
        byte.unwrap_or(0)
    }

    fn check_name(&self, len: u64) {
        let name = &self.scratch[..len as usize];
        assert!(
            !name.is_empty() && name.len() <= 255,
            "bad name length {}",
            name.len()
        );
        assert!(
            !name.contains(&b'/') && !name.contains(&0) && name != b"..",
            "bad component {name:?}"
        );
    }
}

impl System for Fake<'_> {
    fn read_memory(&mut self, offset: u64, buf: &mut [u8]) {
        let start = usize::try_from(offset).expect("offset fits");
        let end = start.checked_add(buf.len()).expect("no overflow");
        assert!(
            end <= self.memory.len(),
            "read past memory: {start}+{}",
            buf.len()
        );
        buf.copy_from_slice(&self.memory[start..end]);
    }
    fn write_memory(&mut self, offset: u64, data: &[u8]) {
        let start = usize::try_from(offset).expect("offset fits");
        let end = start.checked_add(data.len()).expect("no overflow");
        assert!(
            end <= self.memory.len(),
            "write past memory: {start}+{}",
            data.len()
        );
        self.memory[start..end].copy_from_slice(data);
    }
    fn host_op(&mut self, op: HostOp) -> Result<u64, u32> {
        self.ops += 1;
        // Every op that names a component must name a safe one.
        match OpCode::from_raw(op.op) {
            Some(
                OpCode::Lookup
                | OpCode::StatAt
                | OpCode::ReadLink
                | OpCode::Mkdir
                | OpCode::Unlink
                | OpCode::Rmdir
                | OpCode::Rename
                | OpCode::Link
                | OpCode::Symlink
                | OpCode::SetTimesAt,
            ) => self.check_name(op.args[1]),
            Some(_) => {}
            None => panic!("unknown op {}", op.op),
        }
        // Keep runs finite: after many ops every op fails.
        if self.ops > 2_000 {
            return Err(8);
        }
        let answer = self.next();
        // The host fills the scratch area with whatever it likes.
        let fill = self.next();
        for (i, byte) in self.scratch.iter_mut().enumerate().skip(16) {
            *byte = fill.wrapping_add(i as u8) % 0x7f;
        }
        match answer % 4 {
            0 => Err(u32::from(answer)),
            1 => Ok(u64::from(answer)),
            2 => Ok(op.args[2]),
            _ => Ok(u64::from(answer) << 32 | u64::from(answer >> 2)),
        }
    }
    fn read_scratch(&mut self, offset: usize, buf: &mut [u8]) {
        let offset = offset.min(SCRATCH);
        let n = buf.len().min(SCRATCH - offset);
        buf[..n].copy_from_slice(&self.scratch[offset..offset + n]);
    }
    fn write_scratch(&mut self, offset: usize, data: &[u8]) {
        let offset = offset.min(SCRATCH);
        let n = data.len().min(SCRATCH - offset);
        self.scratch[offset..offset + n].copy_from_slice(&data[..n]);
    }
    fn tmpfs_len(&mut self) -> u64 {
        self.tmpfs.len() as u64
    }
    fn tmpfs_read(&mut self, offset: u64, buf: &mut [u8]) {
        let start = (offset as usize).min(self.tmpfs.len());
        let n = buf.len().min(self.tmpfs.len() - start);
        buf[..n].copy_from_slice(&self.tmpfs[start..start + n]);
    }
    fn tmpfs_write(&mut self, offset: u64, data: &[u8]) {
        let start = (offset as usize).min(self.tmpfs.len());
        let n = data.len().min(self.tmpfs.len() - start);
        self.tmpfs[start..start + n].copy_from_slice(&data[..n]);
    }
    fn instance_data(&mut self) -> InstanceData<'_> {
        InstanceData {
            args: b"prog\0arg\0",
            env: b"A=1\0",
            preopens: b"/sandbox\0/tmp\0",
            max_fds: 8,
            tmpfs: b"262144\0",
            // fd 3 is a listening socket, before the two preopens.
            listeners: 1,
            terminals: 0b101,
        }
    }
    fn random(&mut self, buf: &mut [u8]) {
        buf.fill(9);
    }
    fn instance(&mut self) -> wasc_wire::Instance {
        wasc_wire::Instance {
            tsc_khz: 1_000_000,
            ..Default::default()
        }
    }
    fn rdtsc(&mut self) -> u64 {
        12345 + self.ops as u64 * 1_000_000_000
    }
}

fuzz_target!(|data: &[u8]| {
    // [calls: 1 byte][answers: 32 bytes][calls × 80 bytes][memory]
    if data.len() < 33 {
        return;
    }
    let calls = usize::from(data[0] % 4) + 1;
    let answers = &data[1..33];
    let rest = &data[33..];
    if rest.len() < calls * 80 {
        return;
    }
    let memory = rest[calls * 80..].to_vec();
    let len = memory.len() as u64;
    let mut sys = Fake {
        memory,
        scratch: [0; SCRATCH],
        tmpfs: vec![0; 512 << 10],
        answers,
        ops: 0,
    };
    let mut wasi = Wasi::default();
    for call in rest[..calls * 80].chunks(80) {
        let word = |i: usize| u64::from_le_bytes(call[i * 8..i * 8 + 8].try_into().expect("8"));
        let function = (word(0) % 50) as u32;
        let nargs = (word(0) >> 32) as usize % 10;
        let args: Vec<u64> = (1..=nargs)
            .map(|i| {
                // Mostly small values, so pointers often land inside memory.
                let w = word(i);
                if w & 1 == 0 {
                    w >> 48
                } else {
                    w
                }
            })
            .collect();
        let _ = wasi.call(function, &args, len, &mut sys);
    }
});
