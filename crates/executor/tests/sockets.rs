//! The socket ops on a real loopback listener: accept, recv, send,
//! shutdown and waits, and every malformed or misdirected request refused.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;

use common::Fixture;
use wasc_executor::{Errno, Executor, MAX_TRANSFER};
use wasc_wire::hostop::{socket, wait, OpCode};

/// The listener's handle; the granted directory follows it.
const LISTENER: u64 = 3;
const DIR: u64 = 4;

/// The shared fixture with a loopback listener granted before the
/// directory, and the listener's address.
fn fixture() -> (Fixture, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let mut f = common::fixture();
    let dir: OwnedFd = std::fs::File::open(f.dir.path()).expect("open dir").into();
    f.executor = Executor::with_listeners(vec![listener.into()], vec![dir]).expect("listener");
    (f, addr)
}

/// Waits (up to 10 s) for `interest` on `handle`: the entry's ready bits
/// and byte count.
fn wait_for(f: &mut Fixture, handle: u64, interest: u32) -> (u32, u32) {
    f.scratch[..16].fill(0);
    f.scratch[0..4].copy_from_slice(&(handle as u32).to_ne_bytes());
    f.scratch[4..8].copy_from_slice(&interest.to_ne_bytes());
    let ready = f.run(OpCode::Wait, &[1, 10_000_000_000]).expect("wait");
    assert_eq!(ready, 1, "ready within 10 s");
    let word = |at: usize| u32::from_ne_bytes(f.scratch[at..at + 4].try_into().expect("4"));
    (word(8), word(12))
}

/// Accepts the connection `client` made: its handle.
fn accept(f: &mut Fixture) -> u64 {
    let (ready, _) = wait_for(f, LISTENER, wait::READ);
    assert_ne!(ready & wait::READY, 0);
    f.run(OpCode::Accept, &[LISTENER]).expect("accept")
}

#[test]
fn a_connection_round_trip() {
    let (mut f, addr) = fixture();
    assert_eq!(f.run(OpCode::Accept, &[LISTENER]), Err(Errno::AGAIN));
    let mut client = TcpStream::connect(addr).expect("connect");
    let conn = accept(&mut f);
    assert_eq!(
        conn, 5,
        "the lowest free handle after stdio, listener, directory"
    );

    // Nothing queued yet: a receive does not wait.
    assert_eq!(f.run(OpCode::Recv, &[conn, 0, 16, 0]), Err(Errno::AGAIN));
    client.write_all(b"abc").expect("client write");
    let (ready, nbytes) = wait_for(&mut f, conn, wait::READ);
    assert_eq!((ready, nbytes), (wait::READY, 3));
    assert_eq!(f.run(OpCode::Recv, &[conn, 100, 2, socket::PEEK]), Ok(2));
    assert_eq!(&f.memory[100..102], b"ab");
    assert_eq!(f.run(OpCode::Recv, &[conn, 200, 16, 0]), Ok(3));
    assert_eq!(&f.memory[200..203], b"abc");

    f.memory[300..303].copy_from_slice(b"xyz");
    let (ready, _) = wait_for(&mut f, conn, wait::WRITE);
    assert_eq!(ready, wait::READY);
    assert_eq!(f.run(OpCode::Send, &[conn, 300, 3]), Ok(3));
    let mut got = [0u8; 3];
    client.read_exact(&mut got).expect("client read");
    assert_eq!(&got, b"xyz");

    // Our half close is the client's end of stream; sending after it is
    // EPIPE, not a SIGPIPE that would end the process.
    assert_eq!(f.run(OpCode::Shutdown, &[conn, socket::SHUT_WR]), Ok(0));
    assert_eq!(client.read(&mut got).expect("client read"), 0);
    assert_eq!(f.run(OpCode::Send, &[conn, 300, 3]), Err(Errno::PIPE));
    drop(client);
    let (ready, _) = wait_for(&mut f, conn, wait::READ);
    assert_ne!(ready & wait::HANGUP, 0, "both directions are closed");
    assert_eq!(f.run(OpCode::Recv, &[conn, 200, 16, 0]), Ok(0));
    assert_eq!(f.run(OpCode::Close, &[conn]), Ok(0));
    assert_eq!(f.executor.refused(), 0, "nothing above was malformed");
}

#[test]
fn socket_ops_on_the_wrong_handles_are_refused() {
    let (mut f, addr) = fixture();
    let _client = TcpStream::connect(addr).expect("connect");
    let conn = accept(&mut f);
    let refusals = [
        (OpCode::Accept, vec![conn]),
        (OpCode::Accept, vec![DIR]),
        (OpCode::Accept, vec![0]),
        (OpCode::Accept, vec![99]),
        (OpCode::Recv, vec![LISTENER, 0, 4, 0]),
        (OpCode::Recv, vec![0, 0, 4, 0]),
        (OpCode::Send, vec![LISTENER, 0, 4]),
        (OpCode::Send, vec![1, 0, 4]),
        (OpCode::Shutdown, vec![LISTENER, socket::SHUT_RD]),
        (OpCode::Shutdown, vec![DIR, socket::SHUT_RD]),
        // Sockets move bytes only through the socket ops.
        (OpCode::Read, vec![conn, 0, 4]),
        (OpCode::Write, vec![conn, 0, 4]),
        (OpCode::Pread, vec![conn, 0, 4, 0]),
        (OpCode::ReadScratch, vec![conn, 4]),
        (OpCode::Lookup, vec![LISTENER, 1, 0]),
        (OpCode::SetTimes, vec![conn, 0, 0, 0]),
    ];
    for (i, (op, args)) in refusals.iter().enumerate() {
        if *op == OpCode::Lookup {
            f.scratch[0] = b'x';
        }
        assert_eq!(f.run(*op, args), Err(Errno::BADF), "{op:?} {args:?}");
        assert_eq!(f.executor.refused(), i as u64 + 1, "{op:?} is counted");
    }
}

#[test]
fn malformed_socket_requests_are_refused() {
    let (mut f, addr) = fixture();
    let _client = TcpStream::connect(addr).expect("connect");
    let conn = accept(&mut f);
    let size = f.memory.len() as u64;
    let cases = [
        (OpCode::Recv, vec![conn, 0, 4, 2], Errno::INVAL),
        (OpCode::Recv, vec![conn, 0, 4, u64::MAX], Errno::INVAL),
        (OpCode::Recv, vec![conn, size - 2, 4, 0], Errno::FAULT),
        (OpCode::Recv, vec![conn, u64::MAX, 2, 0], Errno::FAULT),
        (
            OpCode::Recv,
            vec![conn, 0, MAX_TRANSFER + 1, 0],
            Errno::INVAL,
        ),
        (OpCode::Send, vec![conn, size, 1], Errno::FAULT),
        (OpCode::Send, vec![conn, 0, u64::MAX], Errno::INVAL),
        (OpCode::Shutdown, vec![conn, 0], Errno::INVAL),
        (OpCode::Shutdown, vec![conn, 4], Errno::INVAL),
        // Unused argument words must be zero.
        (OpCode::Accept, vec![LISTENER, 1], Errno::INVAL),
        (OpCode::Send, vec![conn, 0, 1, 1], Errno::INVAL),
        (
            OpCode::Shutdown,
            vec![conn, socket::SHUT_WR, 1],
            Errno::INVAL,
        ),
    ];
    for (i, (op, args, errno)) in cases.iter().enumerate() {
        assert_eq!(f.run(*op, args), Err(*errno), "{op:?} {args:?}");
        assert_eq!(f.executor.refused(), i as u64 + 1, "{op:?} is counted");
    }
    // A wait entry with its result words set is refused too.
    f.scratch[..16].fill(0);
    f.scratch[0..4].copy_from_slice(&(conn as u32).to_ne_bytes());
    f.scratch[4..8].copy_from_slice(&wait::READ.to_ne_bytes());
    f.scratch[12] = 1;
    assert_eq!(f.run(OpCode::Wait, &[1, 0]), Err(Errno::INVAL));
}

#[test]
fn a_listener_granted_blocking_is_made_non_blocking() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(false).expect("blocking");
    let mut f = common::fixture();
    f.executor = Executor::with_listeners(vec![listener.into()], Vec::new()).expect("listener");
    // With nobody connecting, a blocking accept would hang this test.
    assert_eq!(f.run(OpCode::Accept, &[LISTENER]), Err(Errno::AGAIN));
}
