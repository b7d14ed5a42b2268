//! The socket ops: accept on a granted listener, receive, send and shut
//! down on an accepted connection. Every host socket is non-blocking and
//! every call here says so again (`MSG_DONTWAIT`), so an op never waits:
//! sysd waits with `Wait` when the module wants to block.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use wasc_wire::hostop::socket;

use crate::handles::{Handle, HandleTable};
use crate::sys::retry;
use crate::{Errno, Failure, Refusal};

/// Makes a granted listener non-blocking, whatever it was given as: a
/// blocking one would let `Accept` wait.
pub(crate) fn make_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = fd.as_raw_fd();
    // SAFETY: F_GETFL on a descriptor we own; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK != 0 {
        return Ok(());
    }
    // SAFETY: as above, F_SETFL with the flags just read plus O_NONBLOCK.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn listener(handles: &HandleTable, raw: u64) -> Result<RawFd, Refusal> {
    match handles.get(raw)? {
        handle @ Handle::Listener(_) => Ok(handle.fd()),
        _ => Err(Refusal::WrongKind {
            handle: raw,
            op: "accept",
        }),
    }
}

fn stream(handles: &HandleTable, raw: u64, op: &'static str) -> Result<RawFd, Refusal> {
    match handles.get(raw)? {
        handle @ Handle::Stream(_) => Ok(handle.fd()),
        _ => Err(Refusal::WrongKind { handle: raw, op }),
    }
}

/// `Accept`: the new connection's handle.
pub(crate) fn accept(handles: &mut HandleTable, raw: u64) -> Result<u64, Failure> {
    let fd = listener(handles, raw)?;
    let new = retry(|| {
        // SAFETY: no address is asked for; the flags make the new
        // descriptor non-blocking and close-on-exec.
        unsafe {
            libc::accept4(
                fd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        }
        .into()
    })?;
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    let new = unsafe { OwnedFd::from_raw_fd(new as RawFd) };
    // A full table drops (closes) the connection.
    handles
        .insert(Handle::Stream(new))
        .ok_or(Failure::Host(Errno::MFILE))
}

/// `Recv` into a checked range of linear memory.
pub(crate) fn recv(
    handles: &HandleTable,
    raw: u64,
    (ptr, len): (*mut u8, usize),
    flags: u64,
) -> Result<u64, Failure> {
    if flags & !socket::PEEK != 0 {
        return Err(Refusal::BadFlags(flags).into());
    }
    let fd = stream(handles, raw, "recv")?;
    let mut how = libc::MSG_DONTWAIT;
    if flags & socket::PEEK != 0 {
        how |= libc::MSG_PEEK;
    }
    let n = retry(|| {
        // SAFETY: `ptr..ptr + len` was checked against linear memory by
        // `LinearMemory::range`; the kernel writes only there. No source
        // address is asked for.
        unsafe {
            libc::recvfrom(
                fd,
                ptr.cast(),
                len,
                how,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            ) as i64
        }
    })?;
    Ok(n as u64)
}

/// `Send` from a checked range of linear memory.
pub(crate) fn send(
    handles: &HandleTable,
    raw: u64,
    (ptr, len): (*mut u8, usize),
) -> Result<u64, Failure> {
    let fd = stream(handles, raw, "send")?;
    let n = retry(|| {
        // SAFETY: as in `recv`; the kernel only reads the range. A peer
        // that has gone gives EPIPE, never SIGPIPE.
        unsafe {
            libc::sendto(
                fd,
                ptr.cast_const().cast(),
                len,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                std::ptr::null(),
                0,
            ) as i64
        }
    })?;
    Ok(n as u64)
}

/// `Shutdown` one or both directions of a connection.
pub(crate) fn shutdown(handles: &HandleTable, raw: u64, how: u64) -> Result<u64, Failure> {
    let how = match how {
        socket::SHUT_RD => libc::SHUT_RD,
        socket::SHUT_WR => libc::SHUT_WR,
        both if both == socket::SHUT_RD | socket::SHUT_WR => libc::SHUT_RDWR,
        other => return Err(Refusal::BadFlags(other).into()),
    };
    let fd = stream(handles, raw, "shutdown")?;
    // SAFETY: plain system call on a descriptor we own.
    retry(|| unsafe { libc::shutdown(fd, how) }.into()).map(|_| 0)
}

/// How many bytes a connection can receive at once (`FIONREAD`); 0 if the
/// host will not say.
pub(crate) fn ready_bytes(fd: RawFd) -> u32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int, to `n`.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    if rc < 0 {
        0
    } else {
        n.max(0) as u32
    }
}
