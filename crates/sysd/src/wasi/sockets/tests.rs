//! sysd's socket calls against a scripted host: what it asks the host
//! for, in which order, and what the module sees.

use std::collections::VecDeque;
use std::vec::Vec;

use wasc_wire::hostop::HostOp;
use wasc_wire::wasi::ids;

use super::super::errno::NOTSOCK;
use super::super::{InstanceData, Outcome, System, Wasi, SCRATCH};
use super::*;

/// A host with one listener (fd 3) and one directory (fd 4) whose
/// socket ops answer from a script; every op is recorded.
struct Scripted {
    memory: [u8; 256],
    scratch: [u8; SCRATCH],
    answers: VecDeque<Result<u64, u32>>,
    ops: Vec<(OpCode, [u64; 6])>,
}

impl Scripted {
    fn new(answers: &[Result<u64, u32>]) -> Self {
        Self {
            memory: [0; 256],
            scratch: [0; SCRATCH],
            answers: answers.iter().copied().collect(),
            ops: Vec::new(),
        }
    }

    fn codes(&self) -> Vec<OpCode> {
        self.ops.iter().map(|(code, _)| *code).collect()
    }

    fn iovec(&mut self, at: usize, buf: u32, len: u32) {
        self.memory[at..at + 4].copy_from_slice(&buf.to_le_bytes());
        self.memory[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
    }

    fn word(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.memory[at..at + 4].try_into().expect("4 bytes"))
    }
}

impl System for Scripted {
    fn read_memory(&mut self, offset: u64, buf: &mut [u8]) {
        buf.copy_from_slice(&self.memory[offset as usize..offset as usize + buf.len()]);
    }
    fn write_memory(&mut self, offset: u64, data: &[u8]) {
        self.memory[offset as usize..offset as usize + data.len()].copy_from_slice(data);
    }
    fn host_op(&mut self, op: HostOp) -> Result<u64, u32> {
        let code = OpCode::from_raw(op.op).expect("a known op");
        self.ops.push((code, op.args));
        match code {
            // Waits report the one entry ready.
            OpCode::Wait => {
                self.scratch[8..12].copy_from_slice(&wait::READY.to_le_bytes());
                Ok(1)
            }
            OpCode::Close => Ok(0),
            _ => self.answers.pop_front().expect("a scripted answer"),
        }
    }
    fn read_scratch(&mut self, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.scratch[offset..offset + buf.len()]);
    }
    fn write_scratch(&mut self, offset: usize, data: &[u8]) {
        self.scratch[offset..offset + data.len()].copy_from_slice(data);
    }
    fn tmpfs_len(&mut self) -> u64 {
        0
    }
    fn tmpfs_read(&mut self, _: u64, _: &mut [u8]) {}
    fn tmpfs_write(&mut self, _: u64, _: &[u8]) {}
    fn instance_data(&mut self) -> InstanceData<'_> {
        InstanceData {
            args: b"",
            env: b"",
            preopens: b"/sandbox\0",
            max_fds: 0,
            tmpfs: b"",
            listeners: 1,
        }
    }
    fn random(&mut self, _: &mut [u8]) {}
    fn instance(&mut self) -> wasc_wire::Instance {
        wasc_wire::Instance::default()
    }
    fn rdtsc(&mut self) -> u64 {
        0
    }
}

const AGAIN_: Result<u64, u32> = Err(AGAIN as u32);
/// WASI's `PIPE`, which only the host reports.
const PIPE: u16 = 64;

fn call(wasi: &mut Wasi, sys: &mut Scripted, function: u32, args: &[u64]) -> Outcome {
    wasi.call(function, args, 256, sys)
}

/// Accepts a connection (host handle 9) as fd 5 with `flags`.
fn accepted(flags: u64) -> (Wasi, Scripted) {
    let (mut wasi, mut sys) = (Wasi::default(), Scripted::new(&[Ok(9)]));
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, flags, 200]);
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.word(200), 5, "after the listener and the directory");
    sys.ops.clear();
    (wasi, sys)
}

#[test]
fn a_non_blocking_listener_answers_again_without_waiting() {
    let (mut wasi, mut sys) = (Wasi::default(), Scripted::new(&[AGAIN_]));
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, 0, 200]);
    assert_eq!(out, Outcome::Errno(AGAIN));
    assert_eq!(sys.codes(), [OpCode::Accept]);
}

#[test]
fn a_blocking_listener_waits_on_the_host_then_accepts() {
    let (mut wasi, mut sys) = (Wasi::default(), Scripted::new(&[AGAIN_, AGAIN_, Ok(9)]));
    let out = call(&mut wasi, &mut sys, ids::FD_FDSTAT_SET_FLAGS, &[3, 0]);
    assert_eq!(out, Outcome::Errno(0));
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, 0, 200]);
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(
        sys.codes(),
        [
            OpCode::Accept,
            OpCode::Wait,
            OpCode::Accept,
            OpCode::Wait,
            OpCode::Accept
        ]
    );
    // The wait names the listener's handle, for reading, with no end.
    let (_, wait_args) = sys.ops[1];
    assert_eq!(wait_args[..2], [1, u64::MAX]);
    assert_eq!(sys.scratch[0..8], [3, 0, 0, 0, 1, 0, 0, 0]);
}

#[test]
fn accept_checks_its_result_pointer_before_taking_a_connection() {
    let (mut wasi, mut sys) = (Wasi::default(), Scripted::new(&[]));
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, 0, 254]);
    assert!(
        matches!(out, Outcome::Trap(TrapKind::ResultOutOfBounds, _)),
        "{out:?}"
    );
    assert!(sys.ops.is_empty(), "no connection was taken and lost");
}

#[test]
fn a_full_table_closes_the_new_connection() {
    let (mut wasi, mut sys) = (Wasi::default(), Scripted::new(&[]));
    // Accept until the table is full, then once more.
    let mut n = 0;
    loop {
        sys.answers.push_back(Ok(10 + n));
        match call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, 0, 200]) {
            Outcome::Errno(0) => n += 1,
            Outcome::Errno(errno) => {
                assert_eq!(errno, super::super::errno::MFILE);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let (last, args) = *sys.ops.last().expect("ops");
    assert_eq!(last, OpCode::Close, "the connection that did not fit");
    assert_eq!(args[0], 10 + n);
}

#[test]
fn calls_on_the_listener_and_on_other_descriptors() {
    let (mut wasi, mut sys) = (Wasi::default(), Scripted::new(&[]));
    sys.iovec(0, 100, 8);
    for (function, args) in [
        (ids::SOCK_RECV, [3u64, 0, 1, 0, 200, 204]),
        (ids::SOCK_SEND, [3, 0, 1, 0, 200, 0]),
        (ids::SOCK_SHUTDOWN, [3, 1, 0, 0, 0, 0]),
    ] {
        let out = call(&mut wasi, &mut sys, function, &args);
        assert_eq!(out, Outcome::Errno(BADF), "{function} on the listener");
    }
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[4, 0, 200]);
    assert_eq!(out, Outcome::Errno(NOTSOCK), "the directory");
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[42, 0, 200]);
    assert_eq!(out, Outcome::Errno(BADF), "no such descriptor");
    assert!(sys.ops.is_empty());
}

#[test]
fn accept_on_a_connection_is_badf_and_bad_flags_trap_or_fail() {
    let (mut wasi, mut sys) = accepted(0);
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[5, 0, 200]);
    assert_eq!(out, Outcome::Errno(BADF));
    let out = call(
        &mut wasi,
        &mut sys,
        ids::SOCK_ACCEPT,
        &[3, fdflags::APPEND, 200],
    );
    assert_eq!(out, Outcome::Errno(INVAL));
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, 1 << 9, 200]);
    assert!(
        matches!(out, Outcome::Trap(TrapKind::InvalidFlags, _)),
        "{out:?}"
    );
    let out = call(&mut wasi, &mut sys, ids::SOCK_RECV, &[5, 0, 0, 4, 200, 204]);
    assert!(
        matches!(out, Outcome::Trap(TrapKind::InvalidFlags, _)),
        "{out:?}"
    );
    let out = call(&mut wasi, &mut sys, ids::SOCK_SHUTDOWN, &[5, 4]);
    assert!(
        matches!(out, Outcome::Trap(TrapKind::InvalidFlags, _)),
        "{out:?}"
    );
    let out = call(&mut wasi, &mut sys, ids::SOCK_SHUTDOWN, &[5, 0]);
    assert_eq!(out, Outcome::Errno(INVAL));
    assert!(sys.ops.is_empty());
}

#[test]
fn recv_checks_every_buffer_and_result_before_moving_bytes() {
    let (mut wasi, mut sys) = accepted(0);
    sys.iovec(0, 100, 8);
    sys.iovec(8, 250, 8); // past the end of memory
    let out = call(&mut wasi, &mut sys, ids::SOCK_RECV, &[5, 0, 2, 0, 200, 204]);
    assert_eq!(
        out,
        Outcome::Trap(TrapKind::PointerOutOfBounds, (250 << 32) | 8)
    );
    sys.iovec(8, 110, 8);
    let out = call(&mut wasi, &mut sys, ids::SOCK_RECV, &[5, 0, 2, 0, 255, 204]);
    assert!(
        matches!(out, Outcome::Trap(TrapKind::ResultOutOfBounds, _)),
        "{out:?}"
    );
    assert!(sys.ops.is_empty(), "nothing was received and lost");
}

#[test]
fn a_blocking_recv_takes_what_is_ready_after_the_first_buffer() {
    let (mut wasi, mut sys) = accepted(0);
    sys.iovec(0, 100, 8);
    sys.iovec(8, 110, 8);
    // Nothing, then 8 bytes fill the first buffer, then nothing more.
    sys.answers.extend([AGAIN_, Ok(8), AGAIN_]);
    let out = call(&mut wasi, &mut sys, ids::SOCK_RECV, &[5, 0, 2, 0, 200, 204]);
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.word(200), 8);
    assert_eq!(sys.memory[204..206], [0, 0], "no RECV_DATA_TRUNCATED");
    assert_eq!(
        sys.codes(),
        [OpCode::Recv, OpCode::Wait, OpCode::Recv, OpCode::Recv]
    );
    // Each receive names its own buffer.
    assert_eq!(sys.ops[2].1[..4], [9, 100, 8, 0]);
    assert_eq!(sys.ops[3].1[..4], [9, 110, 8, 0]);
}

#[test]
fn waitall_fills_every_buffer_and_peek_only_the_first() {
    let (mut wasi, mut sys) = accepted(0);
    sys.iovec(0, 100, 8);
    sys.iovec(8, 110, 8);
    sys.answers.extend([Ok(5), Ok(3), AGAIN_, Ok(8)]);
    let waitall = RECV_WAITALL;
    let out = call(
        &mut wasi,
        &mut sys,
        ids::SOCK_RECV,
        &[5, 0, 2, waitall, 200, 204],
    );
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.word(200), 16);
    assert_eq!(
        sys.codes(),
        [
            OpCode::Recv,
            OpCode::Recv,
            OpCode::Recv,
            OpCode::Wait,
            OpCode::Recv
        ]
    );
    assert_eq!(sys.ops[1].1[1..3], [105, 3], "the rest of the first buffer");

    sys.ops.clear();
    sys.answers.extend([Ok(8)]);
    let peek = RECV_PEEK;
    let out = call(
        &mut wasi,
        &mut sys,
        ids::SOCK_RECV,
        &[5, 0, 2, peek, 200, 204],
    );
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.word(200), 8);
    assert_eq!(sys.ops.len(), 1, "a peek reads the first buffer once");
    assert_eq!(sys.ops[0].1[3], socket::PEEK);
}

#[test]
fn an_error_after_some_bytes_returns_the_bytes() {
    let (mut wasi, mut sys) = accepted(0);
    sys.iovec(0, 100, 8);
    sys.iovec(8, 110, 8);
    sys.answers.extend([Ok(8), Err(u32::from(PIPE))]);
    let out = call(&mut wasi, &mut sys, ids::SOCK_SEND, &[5, 0, 2, 0, 200]);
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.word(200), 8);
    sys.answers.extend([Err(u32::from(PIPE))]);
    let out = call(&mut wasi, &mut sys, ids::SOCK_SEND, &[5, 0, 2, 0, 200]);
    assert_eq!(out, Outcome::Errno(PIPE), "the next call sees the error");
}

#[test]
fn a_non_blocking_connection_never_waits() {
    let (mut wasi, mut sys) = accepted(fdflags::NONBLOCK);
    sys.iovec(0, 100, 8);
    sys.answers.extend([AGAIN_]);
    let out = call(&mut wasi, &mut sys, ids::SOCK_RECV, &[5, 0, 1, 0, 200, 204]);
    assert_eq!(out, Outcome::Errno(AGAIN));
    sys.answers.extend([AGAIN_]);
    let out = call(&mut wasi, &mut sys, ids::SOCK_SEND, &[5, 0, 1, 0, 200]);
    assert_eq!(out, Outcome::Errno(AGAIN));
    assert!(!sys.codes().contains(&OpCode::Wait));
}

#[test]
fn shutdown_maps_both_directions() {
    let (mut wasi, mut sys) = accepted(0);
    sys.answers.extend([Ok(0), Ok(0), Ok(0)]);
    for how in [1, 2, 3] {
        let out = call(&mut wasi, &mut sys, ids::SOCK_SHUTDOWN, &[5, how]);
        assert_eq!(out, Outcome::Errno(0));
    }
    let hows: Vec<u64> = sys.ops.iter().map(|(_, args)| args[1]).collect();
    assert_eq!(
        hows,
        [
            socket::SHUT_RD,
            socket::SHUT_WR,
            socket::SHUT_RD | socket::SHUT_WR
        ]
    );
}
