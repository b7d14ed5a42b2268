//! The executor's request decoding: any `HostOp` sysd can write, with any
//! scratch contents, against a granted loopback listener (handle 3) and
//! temporary directory (handle 4). It must answer every one without
//! panicking.
#![no_main]

use std::os::fd::OwnedFd;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use wasc_executor::{Executor, LinearMemory};
use wasc_wire::hostop::{HostOp, OpCode, SCRATCH_LEN};

fn executor() -> &'static Mutex<Executor> {
    static EXECUTOR: OnceLock<Mutex<Executor>> = OnceLock::new();
    EXECUTOR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("wasc-fuzz-executor-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fuzz directory");
        std::fs::write(dir.join("a"), b"data").expect("fixture");
        let preopen: OwnedFd = std::fs::File::open(&dir).expect("open").into();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        Mutex::new(
            Executor::with_listeners(vec![listener.into()], vec![preopen]).expect("listener"),
        )
    })
}

fn word(data: &[u8], i: usize) -> u64 {
    let mut bytes = [0u8; 8];
    for (j, b) in bytes.iter_mut().enumerate() {
        *b = data.get(i * 8 + j).copied().unwrap_or(0);
    }
    u64::from_le_bytes(bytes)
}

fuzz_target!(|data: &[u8]| {
    let head = word(data, 0);
    let mut op = HostOp {
        // Every op code and a few past the last.
        op: head as u32 % 30,
        reserved: (head >> 32) as u32 & 1,
        args: core::array::from_fn(|i| word(data, 1 + i)),
    };
    // Stdin would block and stdout would flood the log: both are legitimate
    // ops the executor performs as asked, not decoding questions.
    if (1..=4).contains(&op.op) && op.args[0] < 3 {
        return;
    }
    // A wait may legitimately last as long as asked: keep it short. An
    // append to a stdio handle is the same question as a write.
    if op.op == OpCode::Wait as u32 {
        op.args[1] %= 1_000_000;
    }
    if (op.op == OpCode::Append as u32 || op.op == OpCode::ReadScratch as u32) && op.args[0] < 3 {
        return;
    }
    let mut scratch = [0u8; SCRATCH_LEN];
    let tail = data.get(56..).unwrap_or(&[]);
    let n = tail.len().min(SCRATCH_LEN);
    scratch[..n].copy_from_slice(&tail[..n]);
    let mut memory = vec![0u8; 4096];
    // SAFETY: `memory` outlives the view and is not otherwise borrowed.
    let view = unsafe { LinearMemory::new(memory.as_mut_ptr(), memory.len()) };
    let mut executor = executor().lock().unwrap_or_else(|p| p.into_inner());
    let _ = executor.execute(&op, &view, &mut scratch);
});
