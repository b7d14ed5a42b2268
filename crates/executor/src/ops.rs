//! Decoding and performing each op. Every check happens before the system
//! call; each op makes the one system call it names (a directory listing
//! may read several batches of entries, a lookup stats what it opened).

use std::os::fd::{AsRawFd, RawFd};

use wasc_wire::hostop::{HostOp, OpCode, SCRATCH_LEN, SECOND_OFFSET};

use crate::handles::{Handle, HandleTable};
use crate::paths::{self, name, relative_dir, Dot};
use crate::sockets;
use crate::sys::{fstat, retry, stat_to_scratch};
use crate::{Failure, LinearMemory, Refusal};

pub(crate) fn execute(
    handles: &mut HandleTable,
    op: &HostOp,
    memory: &LinearMemory,
    scratch: &mut [u8; SCRATCH_LEN],
) -> Result<u64, Failure> {
    let code = OpCode::from_raw(op.op).ok_or(Refusal::UnknownOp(op.op))?;
    let used = match code {
        OpCode::Stat | OpCode::Close | OpCode::Accept => 1,
        OpCode::StatAt
        | OpCode::ReadLink
        | OpCode::Mkdir
        | OpCode::Unlink
        | OpCode::Rmdir
        | OpCode::Truncate
        | OpCode::Sync
        | OpCode::ReadDir
        | OpCode::Wait
        | OpCode::ReadScratch
        | OpCode::Shutdown
        | OpCode::LookupDir => 2,
        OpCode::Read
        | OpCode::Write
        | OpCode::Lookup
        | OpCode::Symlink
        | OpCode::Append
        | OpCode::Send => 3,
        OpCode::Pread
        | OpCode::Pwrite
        | OpCode::Rename
        | OpCode::Link
        | OpCode::SetTimes
        | OpCode::Recv => 4,
        OpCode::SetTimesAt => 5,
    };
    if op.reserved != 0 || op.args[used..].iter().any(|&w| w != 0) {
        return Err(Refusal::NonZeroPadding.into());
    }
    let [a0, a1, a2, a3, a4, _] = op.args;
    let range = || memory.range(a1, a2);
    match code {
        OpCode::Read => transfer(handles, a0, range()?, Transfer::Read),
        OpCode::Write => transfer(handles, a0, range()?, Transfer::Write),
        OpCode::Pread => transfer(handles, a0, range()?, Transfer::Pread(position(a3)?)),
        OpCode::Pwrite => transfer(handles, a0, range()?, Transfer::Pwrite(position(a3)?)),
        OpCode::Append => transfer(handles, a0, range()?, Transfer::Append),
        OpCode::Lookup => paths::lookup(handles, a0, name(scratch, 0, a1, Dot::Allowed)?, a2),
        OpCode::LookupDir => paths::lookup_dir(handles, a0, relative_dir(scratch, a1)?),
        OpCode::Stat => {
            let st = fstat(handles.get(a0)?.fd())?;
            stat_to_scratch(&st, scratch);
            Ok(0)
        }
        OpCode::Close => handles
            .remove(a0)
            .map(drop)
            .map(|()| 0)
            .map_err(Failure::from),
        OpCode::StatAt => {
            let dir = paths::dir(handles, a0, "stat")?;
            paths::stat_at(dir, &name(scratch, 0, a1, Dot::Allowed)?, scratch)
        }
        OpCode::ReadLink => {
            let dir = paths::dir(handles, a0, "readlink")?;
            paths::read_link(dir, &name(scratch, 0, a1, Dot::Refused)?, scratch)
        }
        OpCode::Mkdir => paths::mkdir(
            paths::dir(handles, a0, "mkdir")?,
            &name(scratch, 0, a1, Dot::Refused)?,
        ),
        OpCode::Unlink | OpCode::Rmdir => paths::unlink(
            paths::dir(handles, a0, "unlink")?,
            &name(scratch, 0, a1, Dot::Allowed)?,
            code == OpCode::Rmdir,
        ),
        OpCode::Rename | OpCode::Link => {
            let from = paths::dir(handles, a0, "rename")?;
            let to = paths::dir(handles, a2, "rename")?;
            let old = name(scratch, 0, a1, Dot::Refused)?;
            let new = name(scratch, SECOND_OFFSET, a3, Dot::Refused)?;
            if code == OpCode::Rename {
                paths::rename(from, &old, to, &new)
            } else {
                paths::link(from, &old, to, &new)
            }
        }
        OpCode::Symlink => {
            let dir = paths::dir(handles, a0, "symlink")?;
            let target = paths::target(scratch, a2)?;
            paths::symlink(&target, dir, &name(scratch, 0, a1, Dot::Refused)?)
        }
        OpCode::SetTimesAt => {
            let dir = paths::dir(handles, a0, "set times")?;
            let spec = paths::timespecs(a2, a3, a4)?;
            paths::set_times_at(dir, &name(scratch, 0, a1, Dot::Allowed)?, &spec)
        }
        OpCode::Truncate => {
            let fd = file(handles, a0, "truncate")?;
            let size = position(a1)?;
            retry(|| {
                // SAFETY: plain system call on a descriptor we own.
                unsafe { libc::ftruncate(fd, size) }.into()
            })
            .map(|_| 0)
        }
        OpCode::Sync => {
            let fd = file(handles, a0, "sync")?;
            let sync = match a1 {
                0 => libc::fsync,
                1 => libc::fdatasync,
                other => return Err(Refusal::BadFlags(other).into()),
            };
            // SAFETY: plain system call on a descriptor we own.
            retry(|| unsafe { sync(fd) }.into()).map(|_| 0)
        }
        OpCode::SetTimes => {
            let fd = match handles.get(a0)? {
                Handle::Stdio { .. } | Handle::Listener(_) | Handle::Stream(_) => {
                    return Err(Refusal::WrongKind {
                        handle: a0,
                        op: "set times",
                    }
                    .into())
                }
                handle => handle.fd(),
            };
            let spec = paths::timespecs(a1, a2, a3)?;
            retry(|| {
                // SAFETY: `spec` is two valid timespecs; `fd` is ours.
                unsafe { libc::futimens(fd, spec.as_ptr()) }.into()
            })
            .map(|_| 0)
        }
        OpCode::ReadDir => crate::dirs::read_dir(handles, a0, a1, scratch),
        OpCode::Accept => sockets::accept(handles, a0),
        OpCode::Recv => sockets::recv(handles, a0, range()?, a3),
        OpCode::Send => sockets::send(handles, a0, range()?),
        OpCode::Shutdown => sockets::shutdown(handles, a0, a1),
        OpCode::Wait => crate::wait::wait(handles, a0, a1, scratch),
        OpCode::ReadScratch => {
            let handle = handles.get(a0)?;
            if !handle.readable() {
                return Err(Refusal::WrongKind {
                    handle: a0,
                    op: "read into scratch",
                }
                .into());
            }
            let fd = handle.fd();
            let len = usize::try_from(a1).unwrap_or(usize::MAX).min(SCRATCH_LEN);
            retry(|| {
                // SAFETY: the scratch area is writable for `len` bytes.
                unsafe { libc::read(fd, scratch.as_mut_ptr().cast(), len) as i64 }
            })
            .map(|n| n as u64)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transfer {
    Read,
    Write,
    Pread(i64),
    Pwrite(i64),
    Append,
}

fn position(raw: u64) -> Result<i64, Refusal> {
    i64::try_from(raw).map_err(|_| Refusal::Position(raw))
}

fn file(handles: &HandleTable, raw: u64, op: &'static str) -> Result<RawFd, Refusal> {
    match handles.get(raw)? {
        Handle::File { fd, .. } => Ok(fd.as_raw_fd()),
        _ => Err(Refusal::WrongKind { handle: raw, op }),
    }
}

/// One read or write between a handle and a checked range of linear memory.
fn transfer(
    handles: &HandleTable,
    raw: u64,
    (ptr, len): (*mut u8, usize),
    how: Transfer,
) -> Result<u64, Failure> {
    let handle = handles.get(raw)?;
    let is_file = matches!(handle, Handle::File { .. });
    let (allowed, name) = match how {
        Transfer::Read => (handle.readable(), "read"),
        Transfer::Write => (handle.writable(), "write"),
        Transfer::Pread(_) => (handle.readable() && is_file, "pread"),
        Transfer::Pwrite(_) => (handle.writable() && is_file, "pwrite"),
        Transfer::Append => (handle.writable() && is_file, "append"),
    };
    if !allowed {
        return Err(Refusal::WrongKind {
            handle: raw,
            op: name,
        }
        .into());
    }
    let fd = handle.fd();
    let n = retry(|| {
        let iov = libc::iovec {
            iov_base: ptr.cast(),
            iov_len: len,
        };
        // SAFETY: `ptr..ptr + len` was checked against linear memory by
        // `LinearMemory::range`, whose constructor's caller guarantees it is
        // valid for reads and writes; the kernel reads or writes only there.
        unsafe {
            match how {
                Transfer::Read => libc::read(fd, ptr.cast(), len) as i64,
                Transfer::Write => libc::write(fd, ptr.cast(), len) as i64,
                Transfer::Pread(pos) => libc::pread(fd, ptr.cast(), len, pos) as i64,
                Transfer::Pwrite(pos) => libc::pwrite(fd, ptr.cast(), len, pos) as i64,
                Transfer::Append => libc::pwritev2(fd, &iov, 1, -1, libc::RWF_APPEND) as i64,
            }
        }
    })?;
    Ok(n as u64)
}
