//! sysd's socket calls against a scripted host: what it asks the host
//! for, in which order, and what the module sees.

use std::collections::VecDeque;
use std::vec::Vec;

use wasc_wire::hostop::HostOp;
use wasc_wire::wasi::ids;

use super::super::errno::NOTSOCK;
use super::super::testing::{Host, Machine};
use super::super::{Outcome, Wasi, SCRATCH};
use super::*;

/// A host whose socket ops answer from a script, recording every op;
/// waits report their one entry ready.
struct Script {
    answers: VecDeque<Result<u64, u32>>,
    ops: Vec<(OpCode, [u64; 6])>,
}

impl Script {
    fn codes(&self) -> Vec<OpCode> {
        self.ops.iter().map(|(code, _)| *code).collect()
    }
}

impl Host for Script {
    fn op(&mut self, op: HostOp, scratch: &mut [u8; SCRATCH]) -> Result<u64, u32> {
        let code = OpCode::from_raw(op.op).expect("a known op");
        self.ops.push((code, op.args));
        match code {
            OpCode::Wait => {
                scratch[8..12].copy_from_slice(&wait::READY.to_le_bytes());
                Ok(1)
            }
            OpCode::Close => Ok(0),
            _ => self.answers.pop_front().expect("a scripted answer"),
        }
    }
}

/// 256 bytes of memory, one listener (fd 3) and one directory (fd 4).
type Scripted = Machine<Script>;

fn scripted(answers: &[Result<u64, u32>]) -> Scripted {
    let script = Script {
        answers: answers.iter().copied().collect(),
        ops: Vec::new(),
    };
    let mut sys = Machine::new(256, script);
    sys.listeners = 1;
    sys
}

/// Writes the iovec `{buf, len}` at `at`.
fn iovec(sys: &mut Scripted, at: usize, buf: u32, len: u32) {
    sys.memory[at..at + 4].copy_from_slice(&buf.to_le_bytes());
    sys.memory[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
}

const AGAIN_: Result<u64, u32> = Err(AGAIN as u32);
/// WASI's `PIPE`, which only the host reports.
const PIPE: u16 = 64;

fn call(wasi: &mut Wasi, sys: &mut Scripted, function: u32, args: &[u64]) -> Outcome {
    wasi.call(function, args, 256, sys)
}

/// Accepts a connection (host handle 9) as fd 5 with `flags`.
fn accepted(flags: u64) -> (Wasi, Scripted) {
    let (mut wasi, mut sys) = (Wasi::default(), scripted(&[Ok(9)]));
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, flags, 200]);
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.word(200), 5, "after the listener and the directory");
    sys.host.ops.clear();
    (wasi, sys)
}

#[test]
fn a_non_blocking_listener_answers_again_without_waiting() {
    let (mut wasi, mut sys) = (Wasi::default(), scripted(&[AGAIN_]));
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, 0, 200]);
    assert_eq!(out, Outcome::Errno(AGAIN));
    assert_eq!(sys.host.codes(), [OpCode::Accept]);
}

#[test]
fn a_blocking_listener_waits_on_the_host_then_accepts() {
    let (mut wasi, mut sys) = (Wasi::default(), scripted(&[AGAIN_, AGAIN_, Ok(9)]));
    let out = call(&mut wasi, &mut sys, ids::FD_FDSTAT_SET_FLAGS, &[3, 0]);
    assert_eq!(out, Outcome::Errno(0));
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, 0, 200]);
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(
        sys.host.codes(),
        [
            OpCode::Accept,
            OpCode::Wait,
            OpCode::Accept,
            OpCode::Wait,
            OpCode::Accept
        ]
    );
    // The wait names the listener's handle, for reading, with no end.
    let (_, wait_args) = sys.host.ops[1];
    assert_eq!(wait_args[..2], [1, u64::MAX]);
    assert_eq!(sys.scratch[0..8], [3, 0, 0, 0, 1, 0, 0, 0]);
}

#[test]
fn accept_checks_its_result_pointer_before_taking_a_connection() {
    let (mut wasi, mut sys) = (Wasi::default(), scripted(&[]));
    let out = call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, 0, 254]);
    assert!(
        matches!(out, Outcome::Trap(TrapKind::ResultOutOfBounds, _)),
        "{out:?}"
    );
    assert!(sys.host.ops.is_empty(), "no connection was taken and lost");
}

#[test]
fn a_full_table_closes_the_new_connection() {
    let (mut wasi, mut sys) = (Wasi::default(), scripted(&[]));
    // Accept until the table is full, then once more.
    let mut n = 0;
    loop {
        sys.host.answers.push_back(Ok(10 + n));
        match call(&mut wasi, &mut sys, ids::SOCK_ACCEPT, &[3, 0, 200]) {
            Outcome::Errno(0) => n += 1,
            Outcome::Errno(errno) => {
                assert_eq!(errno, super::super::errno::MFILE);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let (last, args) = *sys.host.ops.last().expect("ops");
    assert_eq!(last, OpCode::Close, "the connection that did not fit");
    assert_eq!(args[0], 10 + n);
}

#[test]
fn calls_on_the_listener_and_on_other_descriptors() {
    let (mut wasi, mut sys) = (Wasi::default(), scripted(&[]));
    iovec(&mut sys, 0, 100, 8);
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
    assert!(sys.host.ops.is_empty());
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
    assert!(sys.host.ops.is_empty());
}

#[test]
fn recv_checks_every_buffer_and_result_before_moving_bytes() {
    let (mut wasi, mut sys) = accepted(0);
    iovec(&mut sys, 0, 100, 8);
    iovec(&mut sys, 8, 250, 8); // past the end of memory
    let out = call(&mut wasi, &mut sys, ids::SOCK_RECV, &[5, 0, 2, 0, 200, 204]);
    assert_eq!(
        out,
        Outcome::Trap(TrapKind::PointerOutOfBounds, (250 << 32) | 8)
    );
    iovec(&mut sys, 8, 110, 8);
    let out = call(&mut wasi, &mut sys, ids::SOCK_RECV, &[5, 0, 2, 0, 255, 204]);
    assert!(
        matches!(out, Outcome::Trap(TrapKind::ResultOutOfBounds, _)),
        "{out:?}"
    );
    assert!(sys.host.ops.is_empty(), "nothing was received and lost");
}

#[test]
fn a_blocking_recv_takes_what_is_ready_after_the_first_buffer() {
    let (mut wasi, mut sys) = accepted(0);
    iovec(&mut sys, 0, 100, 8);
    iovec(&mut sys, 8, 110, 8);
    // Nothing, then 8 bytes fill the first buffer, then nothing more.
    sys.host.answers.extend([AGAIN_, Ok(8), AGAIN_]);
    let out = call(&mut wasi, &mut sys, ids::SOCK_RECV, &[5, 0, 2, 0, 200, 204]);
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.word(200), 8);
    assert_eq!(sys.memory[204..206], [0, 0], "no RECV_DATA_TRUNCATED");
    assert_eq!(
        sys.host.codes(),
        [OpCode::Recv, OpCode::Wait, OpCode::Recv, OpCode::Recv]
    );
    // Each receive names its own buffer.
    assert_eq!(sys.host.ops[2].1[..4], [9, 100, 8, 0]);
    assert_eq!(sys.host.ops[3].1[..4], [9, 110, 8, 0]);
}

#[test]
fn waitall_fills_every_buffer_and_peek_only_the_first() {
    let (mut wasi, mut sys) = accepted(0);
    iovec(&mut sys, 0, 100, 8);
    iovec(&mut sys, 8, 110, 8);
    sys.host.answers.extend([Ok(5), Ok(3), AGAIN_, Ok(8)]);
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
        sys.host.codes(),
        [
            OpCode::Recv,
            OpCode::Recv,
            OpCode::Recv,
            OpCode::Wait,
            OpCode::Recv
        ]
    );
    assert_eq!(
        sys.host.ops[1].1[1..3],
        [105, 3],
        "the rest of the first buffer"
    );

    sys.host.ops.clear();
    sys.host.answers.extend([Ok(8)]);
    let peek = RECV_PEEK;
    let out = call(
        &mut wasi,
        &mut sys,
        ids::SOCK_RECV,
        &[5, 0, 2, peek, 200, 204],
    );
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.word(200), 8);
    assert_eq!(sys.host.ops.len(), 1, "a peek reads the first buffer once");
    assert_eq!(sys.host.ops[0].1[3], socket::PEEK);
}

#[test]
fn an_error_after_some_bytes_returns_the_bytes() {
    let (mut wasi, mut sys) = accepted(0);
    iovec(&mut sys, 0, 100, 8);
    iovec(&mut sys, 8, 110, 8);
    sys.host.answers.extend([Ok(8), Err(u32::from(PIPE))]);
    let out = call(&mut wasi, &mut sys, ids::SOCK_SEND, &[5, 0, 2, 0, 200]);
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.word(200), 8);
    sys.host.answers.extend([Err(u32::from(PIPE))]);
    let out = call(&mut wasi, &mut sys, ids::SOCK_SEND, &[5, 0, 2, 0, 200]);
    assert_eq!(out, Outcome::Errno(PIPE), "the next call sees the error");
}

#[test]
fn a_non_blocking_connection_never_waits() {
    let (mut wasi, mut sys) = accepted(fdflags::NONBLOCK);
    iovec(&mut sys, 0, 100, 8);
    sys.host.answers.extend([AGAIN_]);
    let out = call(&mut wasi, &mut sys, ids::SOCK_RECV, &[5, 0, 1, 0, 200, 204]);
    assert_eq!(out, Outcome::Errno(AGAIN));
    sys.host.answers.extend([AGAIN_]);
    let out = call(&mut wasi, &mut sys, ids::SOCK_SEND, &[5, 0, 1, 0, 200]);
    assert_eq!(out, Outcome::Errno(AGAIN));
    assert!(!sys.host.codes().contains(&OpCode::Wait));
}

#[test]
fn shutdown_maps_both_directions() {
    let (mut wasi, mut sys) = accepted(0);
    sys.host.answers.extend([Ok(0), Ok(0), Ok(0)]);
    for how in [1, 2, 3] {
        let out = call(&mut wasi, &mut sys, ids::SOCK_SHUTDOWN, &[5, how]);
        assert_eq!(out, Outcome::Errno(0));
    }
    let hows: Vec<u64> = sys.host.ops.iter().map(|(_, args)| args[1]).collect();
    assert_eq!(
        hows,
        [
            socket::SHUT_RD,
            socket::SHUT_WR,
            socket::SHUT_RD | socket::SHUT_WR
        ]
    );
}

/// Writes an `FD_READ` subscription on `fd` at `at`.
fn read_subscription(sys: &mut Scripted, at: usize, fd: u32) {
    sys.memory[at..at + 48].fill(0);
    sys.memory[at + 8] = 1; // FD_READ
    sys.memory[at + 16..at + 20].copy_from_slice(&fd.to_le_bytes());
}

#[test]
fn poll_waits_on_many_sockets_in_one_op_and_refuses_more_than_it_can_name() {
    let (mut wasi, mut sys) = (Wasi::default(), scripted(&[]));
    sys.memory = std::vec![0; 16 << 10];
    // poll_oneoff reads the clock first.
    sys.calibration.tsc_khz = 1_000_000;
    let len = sys.memory.len() as u64;
    // 129 connections: fds 5 to 133.
    for handle in 0..129 {
        sys.host.answers.push_back(Ok(10 + handle));
        let out = wasi.call(ids::SOCK_ACCEPT, &[3, 0, 0], len, &mut sys);
        assert_eq!(out, Outcome::Errno(0));
    }
    sys.host.ops.clear();
    let events = 8192;
    for (i, fd) in (5..133).enumerate() {
        read_subscription(&mut sys, 48 * i, fd);
    }
    let out = wasi.call(ids::POLL_ONEOFF, &[0, events, 128, 8000], len, &mut sys);
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.host.codes(), [OpCode::Wait], "one wait for all 128");
    assert_eq!(sys.host.ops[0].1[0], 128);
    // The scripted host reports only the first entry ready.
    assert_eq!(sys.word(8000), 1);

    read_subscription(&mut sys, 48 * 128, 133);
    let out = wasi.call(ids::POLL_ONEOFF, &[0, events, 129, 8000], len, &mut sys);
    assert_eq!(out, Outcome::Errno(super::super::errno::NOMEM));
}

#[test]
fn a_blocking_peek_with_waitall_is_one_receive() {
    let (mut wasi, mut sys) = accepted(0);
    iovec(&mut sys, 0, 100, 8);
    // 3 of the 8 bytes are queued: one peek, not a loop copying them again.
    sys.host.answers.extend([Ok(3)]);
    let flags = RECV_PEEK | RECV_WAITALL;
    let out = call(
        &mut wasi,
        &mut sys,
        ids::SOCK_RECV,
        &[5, 0, 1, flags, 200, 204],
    );
    assert_eq!(out, Outcome::Errno(0));
    assert_eq!(sys.word(200), 3);
    assert_eq!(sys.host.codes(), [OpCode::Recv]);
}
