//! sysd's WASI argument decoding: any function id and raw arguments a module
//! can pass, over memory of any contents and size. sysd must never panic and
//! must never touch linear memory outside its current size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasc_sysd::wasi::{InstanceData, System, Wasi};
use wasc_wire::hostop::HostOp;

struct Fake {
    memory: Vec<u8>,
}

impl System for Fake {
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
        if op.args[0] % 2 == 0 {
            Ok(op.args[2])
        } else {
            Err(8)
        }
    }
    fn scratch(&mut self) -> [u8; 64] {
        [2; 64]
    }
    fn instance_data(&mut self) -> InstanceData<'_> {
        InstanceData {
            args: b"prog\0arg\0",
            env: b"A=1\0",
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
        12345
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 80 {
        return;
    }
    let word = |i: usize| u64::from_le_bytes(data[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
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
    let memory = data[80..].to_vec();
    let len = memory.len() as u64;
    let mut sys = Fake { memory };
    let _ = Wasi::default().call(function, &args, len, &mut sys);
});
