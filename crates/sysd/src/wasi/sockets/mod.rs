//! Sockets: `sock_accept`, `sock_recv`, `sock_send`, `sock_shutdown`, and
//! reads and writes on connections, for the listeners granted with
//! `--tcplisten` and the connections accepted on them.
//!
//! wasmtime 48's preview-1 implementation has no sockets; the reference is
//! the one that had them, wasi-common (the wasmtime CLI's `--tcplisten`
//! through release 45): listeners are non-blocking at start; accepted
//! connections are readable and writable (rights `FD_READ | FD_WRITE`);
//! `sock_accept` takes `NONBLOCK` or nothing; `sock_recv` takes `PEEK`
//! (one receive into the first buffer, even with `WAITALL`) and `WAITALL`; `sock_send` ignores its flags;
//! `sock_shutdown` takes `RD`, `WR` or both; socket calls on a listener,
//! and `sock_accept` on a connection, are `BADF`. Where sysd differs, it
//! loses no data: result pointers are checked before bytes move, and
//! `WAITALL` that meets the end of the stream returns what it got (Linux's
//! `MSG_WAITALL`) instead of failing. docs/wasi-reference.md lists these.
//!
//! Every host socket is non-blocking. A socket the module left blocking
//! blocks in sysd: the op answers `AGAIN`, sysd asks the host to wait
//! (one `Wait` op, no spinning) and tries again.

use wasc_wire::hostop::{socket, wait, OpCode};
use wasc_wire::wasi::{TrapKind, ValueType, CALL_FUEL};

use super::call::{fdflags, invalid, iovec, narrow, Answer, Stop};
use super::errno::{AGAIN, BADF, INVAL, NOMEM};
use super::fds::{Entry, FdTable, Kind, Socket};
use super::host;
use super::memory::{Memory, OutOfBounds};
use super::System;

const RECV_PEEK: u64 = 1 << 0;
const RECV_WAITALL: u64 = 1 << 1;
const SHUT_RD: u64 = 1 << 0;
const SHUT_WR: u64 = 1 << 1;
/// The most bytes one host op moves (the executor's limit).
const CHUNK: u64 = 64 << 20;

/// Runs a socket op; while it would block and the socket is blocking,
/// waits on the host for `interest` and tries again.
fn blocking<S: System>(
    sys: &mut S,
    handle: u32,
    interest: u32,
    nonblock: bool,
    mut op: impl FnMut(&mut S) -> Result<u64, u16>,
) -> Result<u64, u16> {
    loop {
        match op(sys) {
            Err(AGAIN) if !nonblock => {
                let mut out = [host::Readiness::default()];
                host::wait(sys, &[(handle, interest)], u64::MAX, &mut out)?;
            }
            other => return other,
        }
    }
}

/// `sock_accept(fd, flags, result)`.
pub(crate) fn accept<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    flags: u64,
    result: u64,
) -> Answer {
    let flags = narrow(flags, 0xffff, ValueType::Fdflags)?;
    if flags & !fdflags::ALL != 0 {
        return Err(invalid(TrapKind::InvalidFlags, ValueType::Fdflags));
    }
    let (handle, listener) = match fds.socket(fd) {
        Ok(found) => found,
        Err(errno) => return Ok(errno),
    };
    if !listener.listener {
        return Ok(BADF);
    }
    if flags != 0 && flags != fdflags::NONBLOCK {
        return Ok(INVAL);
    }
    memory.check(result, 4).map_err(OutOfBounds::in_result)?;
    let accepted = blocking(memory.sys, handle, wait::READ, listener.nonblock, |sys| {
        host::op(sys, OpCode::Accept, &[u64::from(handle)])
    });
    let new = match accepted {
        Ok(new) => new as u32,
        Err(errno) => return Ok(errno),
    };
    let entry = Entry {
        handle: new,
        kind: Kind::Socket(Socket {
            listener: false,
            nonblock: flags == fdflags::NONBLOCK,
        }),
    };
    match fds.insert(entry) {
        Ok(fd) => {
            memory.write_u32_result(result, fd)?;
            Ok(0)
        }
        Err(errno) => {
            host::close(memory.sys, new);
            Ok(errno)
        }
    }
}

/// Checks an iovec array and every buffer it names before anything moves:
/// how many iovecs, or `NOMEM` past the call's fuel.
fn check_iovecs<S: System>(
    memory: &mut Memory<'_, S>,
    iovs: u64,
    count: u64,
) -> Result<Result<u64, u16>, OutOfBounds> {
    let count = count & 0xffff_ffff;
    let mut fuel = count * 8;
    if fuel > CALL_FUEL {
        return Ok(Err(NOMEM));
    }
    for i in 0..count {
        let (buf, len) = iovec(memory, iovs, i)?;
        fuel += len;
        if fuel > CALL_FUEL {
            return Ok(Err(NOMEM));
        }
        memory.check(buf, len)?;
    }
    Ok(Ok(count))
}

/// Where bytes go to or come from: checked buffers.
#[derive(Clone, Copy)]
enum Buffers {
    /// An iovec array that passed [`check_iovecs`].
    Iovecs {
        iovs: u64,
        count: u64,
    },
    One((u64, u64)),
}

/// Which way bytes move.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Recv { peek: bool, wait_all: bool },
    Send,
}

/// Moves bytes between a connection and checked buffers: the first transfer blocks if the socket does;
/// later ones take only what is ready, except that a blocking send sends
/// everything and a blocking `WAITALL` receive fills every buffer (or meets
/// the end of the stream). An error after some bytes moved ends the call
/// with those bytes; the next call sees the error.
fn stream<S: System>(
    memory: &mut Memory<'_, S>,
    (handle, socket): (u32, Socket),
    buffers: Buffers,
    way: Way,
) -> Result<u64, Stopped> {
    let (interest, whole) = match way {
        // A peek always reads from the front of the queue: it is one
        // receive, whatever WAITALL says (another would copy the same bytes
        // again).
        Way::Recv { wait_all, peek } => (wait::READ, wait_all && !peek && !socket.nonblock),
        Way::Send => (wait::WRITE, !socket.nonblock),
    };
    let count = match buffers {
        Buffers::Iovecs { count, .. } => count,
        Buffers::One(_) => 1,
    };
    let last = match way {
        Way::Recv { peek: true, .. } => count.min(1),
        _ => count,
    };
    let mut total = 0u64;
    for i in 0..last {
        let (buf, len) = match buffers {
            Buffers::Iovecs { iovs, .. } => iovec(memory, iovs, i).map_err(Stopped::Memory)?,
            Buffers::One(buf) => buf,
        };
        let mut at = 0;
        while at < len {
            let block = !socket.nonblock && (total == 0 || whole);
            let chunk = (len - at).min(CHUNK);
            let moved = blocking(memory.sys, handle, interest, !block, |sys| match way {
                Way::Recv { peek, .. } => host::op(
                    sys,
                    OpCode::Recv,
                    &[
                        u64::from(handle),
                        buf + at,
                        chunk,
                        if peek { socket::PEEK } else { 0 },
                    ],
                ),
                Way::Send => host::op(sys, OpCode::Send, &[u64::from(handle), buf + at, chunk]),
            });
            let n = match moved {
                Ok(n) => n.min(chunk),
                Err(_) if total > 0 => return Ok(total),
                Err(errno) => return Err(Stopped::Errno(errno)),
            };
            total += n;
            at += n;
            // The end of the stream, or all that is ready now.
            if n == 0 || (n < chunk && !whole) {
                return Ok(total);
            }
        }
    }
    Ok(total)
}

enum Stopped {
    Errno(u16),
    Memory(OutOfBounds),
}

/// What `sock_recv` and `sock_send` share: the connection, then its
/// iovecs and the result pointers `results` (offset, length) checked
/// before a byte moves, then the transfer. `Ok(Err(errno))` ends the call
/// with that errno.
fn checked_stream<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    (iovs, count): (u64, u64),
    results: &[(u64, u64)],
    way: Way,
) -> Result<Result<u64, u16>, Stop> {
    let found = match connection(fds, fd) {
        Ok(found) => found,
        Err(errno) => return Ok(Err(errno)),
    };
    let count = match check_iovecs(memory, iovs, count)? {
        Ok(count) => count,
        Err(errno) => return Ok(Err(errno)),
    };
    for &(at, len) in results {
        memory.check(at, len).map_err(OutOfBounds::in_result)?;
    }
    match stream(memory, found, Buffers::Iovecs { iovs, count }, way) {
        Ok(n) => Ok(Ok(n)),
        Err(Stopped::Errno(errno)) => Ok(Err(errno)),
        Err(Stopped::Memory(e)) => Err(e.into()),
    }
}

/// `sock_recv(fd, iovs, count, flags, result_len, result_flags)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn recv<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    iovs: u64,
    count: u64,
    flags: u64,
    result_len: u64,
    result_flags: u64,
) -> Answer {
    let flags = narrow(flags, 0xffff, ValueType::Riflags)?;
    if flags & !(RECV_PEEK | RECV_WAITALL) != 0 {
        return Err(invalid(TrapKind::InvalidFlags, ValueType::Riflags));
    }
    let way = Way::Recv {
        peek: flags & RECV_PEEK != 0,
        wait_all: flags & RECV_WAITALL != 0,
    };
    let results = [(result_len, 4), (result_flags, 2)];
    let n = match checked_stream(fds, memory, fd, (iovs, count), &results, way)? {
        Ok(n) => n,
        Err(errno) => return Ok(errno),
    };
    memory.write_u32_result(result_len, n as u32)?;
    // No datagram sockets: never RECV_DATA_TRUNCATED.
    memory.write_result(result_flags, &0u16.to_le_bytes())?;
    Ok(0)
}

/// `sock_send(fd, iovs, count, flags, result_len)`: `siflags` is a plain
/// `u16` with no flags defined; any value that fits is accepted.
pub(crate) fn send<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    iovs: u64,
    count: u64,
    flags: u64,
    result_len: u64,
) -> Answer {
    narrow(flags, 0xffff, ValueType::U16)?;
    let results = [(result_len, 4)];
    let n = match checked_stream(fds, memory, fd, (iovs, count), &results, Way::Send)? {
        Ok(n) => n,
        Err(errno) => return Ok(errno),
    };
    memory.write_u32_result(result_len, n as u32)?;
    Ok(0)
}

/// `sock_shutdown(fd, how)`.
pub(crate) fn shutdown<S: System>(fds: &mut FdTable, sys: &mut S, fd: u64, how: u64) -> Answer {
    let how = narrow(how, 0xff, ValueType::Sdflags)?;
    if how & !(SHUT_RD | SHUT_WR) != 0 {
        return Err(invalid(TrapKind::InvalidFlags, ValueType::Sdflags));
    }
    let (handle, _) = match connection(fds, fd) {
        Ok(found) => found,
        Err(errno) => return Ok(errno),
    };
    if how == 0 {
        return Ok(INVAL);
    }
    let how = match how {
        SHUT_RD => socket::SHUT_RD,
        SHUT_WR => socket::SHUT_WR,
        _ => socket::SHUT_RD | socket::SHUT_WR,
    };
    Ok(
        match host::op(sys, OpCode::Shutdown, &[u64::from(handle), how]) {
            Ok(_) => 0,
            Err(errno) => errno,
        },
    )
}

/// The connection `fd` (`BADF` for a listener, `NOTSOCK` for other
/// descriptors).
fn connection(fds: &FdTable, fd: u64) -> Result<(u32, Socket), u16> {
    let (handle, socket) = fds.socket(fd)?;
    if socket.listener {
        return Err(BADF);
    }
    Ok((handle, socket))
}

/// `fd_read`/`fd_write` on a connection, into or from one checked buffer
/// (`fd_read`'s first non-empty iovec, as for files): bytes moved.
pub(crate) fn transfer<S: System>(
    memory: &mut Memory<'_, S>,
    found: (u32, Socket),
    buf: (u64, u64),
    reading: bool,
) -> Result<u64, u16> {
    let way = if reading {
        Way::Recv {
            peek: false,
            wait_all: false,
        }
    } else {
        Way::Send
    };
    match stream(memory, found, Buffers::One(buf), way) {
        Ok(n) => Ok(n),
        Err(Stopped::Errno(errno)) => Err(errno),
        // One buffer, already checked: nothing is read from memory.
        Err(Stopped::Memory(_)) => Err(super::errno::IO),
    }
}

/// `fd_fdstat_set_flags` on a socket: `NONBLOCK` or nothing, as in
/// wasi-common.
pub(crate) fn set_flags(socket: &mut Socket, flags: u64) -> u16 {
    match flags {
        0 => socket.nonblock = false,
        fdflags::NONBLOCK => socket.nonblock = true,
        _ => return INVAL,
    }
    0
}

#[cfg(test)]
mod tests;
