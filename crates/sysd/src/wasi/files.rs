//! WASI calls on open descriptors: reads and writes (stdio streams and
//! files with a position kept here, as wasmtime keeps it), seek/tell,
//! status, sizes, times, sync, flags, rights, preopen names, close and
//! renumber.

use wasc_wire::hostop::{HostOp, OpCode, Stat, MAX_TRANSFER};
use wasc_wire::wasi::{TrapKind, ValueType, CALL_FUEL};

use super::call::{errno, fdflags, invalid, iovec, narrow, rights, Answer, Stop};
use super::errno::{BADF, INTR, INVAL, NAMETOOLONG, NOMEM, NOTDIR, NOTSUP, OVERFLOW, PIPE, SPIPE};
use super::fds::{Entry, FdTable, Kind};
use super::host::{self, filetype};
use super::memory::{fields, Memory, OutOfBounds};
use super::{FinalOp, System};

/// Reads the first non-empty iovec (wasmtime moves only that one), field by
/// field as wasmtime does; `NOMEM` if the iovecs and the buffer exceed the
/// call's fuel. The buffer itself is not checked yet: wasmtime looks at the
/// descriptor first.
fn first_iovec<S: System>(
    memory: &mut Memory<'_, S>,
    iovs: u64,
    count: u64,
) -> Result<Result<Option<(u64, u64)>, u16>, OutOfBounds> {
    let count = count & 0xffff_ffff;
    let array = count * 8;
    if array > CALL_FUEL {
        return Ok(Err(NOMEM));
    }
    for i in 0..count {
        let (buf, len) = iovec(memory, iovs, i)?;
        if len > 0 {
            if len > CALL_FUEL - array {
                return Ok(Err(NOMEM));
            }
            return Ok(Ok(Some((buf, len))));
        }
    }
    Ok(Ok(None))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Io {
    Read,
    Write,
    Pread(u64),
    Pwrite(u64),
}

/// `fd_read`, `fd_write`, `fd_pread`, `fd_pwrite`.
pub(crate) fn transfer<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    iovs: u64,
    count: u64,
    io: Io,
    result: u64,
) -> Answer {
    let chosen = match first_iovec(memory, iovs, count)? {
        Ok(chosen) => chosen,
        Err(errno) => return Ok(errno),
    };
    let entry = match fds.get(fd) {
        Ok(entry) => entry,
        Err(errno) => return Ok(errno),
    };
    let moved = match entry.kind {
        Kind::Stdin | Kind::Stdout | Kind::Stderr => {
            // The wrong direction is BADF, positioned I/O on a stream SPIPE.
            let reading = matches!(io, Io::Read | Io::Pread(_));
            if reading != (entry.kind == Kind::Stdin) {
                return Ok(BADF);
            }
            if matches!(io, Io::Pread(_) | Io::Pwrite(_)) {
                return Ok(SPIPE);
            }
            let code = if io == Io::Read {
                OpCode::Read
            } else {
                OpCode::Write
            };
            match chosen {
                // wasmtime's stdin stream answers a read of nothing INTR.
                None if io == Io::Read => return Ok(INTR),
                None => 0,
                // wasmtime reads stdin before it copies into the buffer:
                // with a bad buffer the input is consumed, and only the
                // bytes read must fit.
                Some((buf, len))
                    if io == Io::Read && memory.check(buf, len.min(READ_CAP)).is_err() =>
                {
                    let len = len.min(READ_CAP);
                    let handle = u64::from(entry.handle);
                    let n = match host::op(memory.sys, OpCode::ReadScratch, &[handle, len]) {
                        Ok(n) => n.min(len).min(wasc_wire::hostop::SCRATCH_LEN as u64),
                        Err(errno) => return Ok(errno),
                    };
                    let mut bytes = [0u8; wasc_wire::hostop::SCRATCH_LEN];
                    memory.sys.read_scratch(0, &mut bytes[..n as usize]);
                    memory.write(buf, &bytes[..n as usize])?;
                    n
                }
                Some((buf, len)) => {
                    let len = if io == Io::Read {
                        len.min(READ_CAP)
                    } else {
                        len
                    };
                    memory.check(buf, len)?;
                    let handle = u64::from(entry.handle);
                    // One op that ends the call: the host may end it
                    // without running sysd again (one exit, not two).
                    if len <= MAX_TRANSFER && memory.result_fits(result, 4) {
                        let last = FinalOp {
                            op: HostOp {
                                op: code as u32,
                                reserved: 0,
                                args: [handle, buf, len, 0, 0, 0],
                            },
                            store_at: result,
                            // As below: stdout and stderr swallow a reader
                            // that went away.
                            success_on: (io == Io::Write).then_some((u32::from(PIPE), len as u32)),
                        };
                        if memory.sys.end_with(last) {
                            return Ok(0);
                        }
                    }
                    match chunked(memory.sys, buf, len, |sys, at, n| {
                        host::op(sys, code, &[handle, at, n])
                    }) {
                        Ok(n) => n,
                        // wasmtime's stdout and stderr swallow a reader that
                        // went away: the write "succeeds".
                        Err(PIPE) if io == Io::Write => len,
                        Err(errno) => return Ok(errno),
                    }
                }
            }
        }
        Kind::Dir { .. } => return Ok(BADF),
        Kind::Socket(socket) => {
            // A connection reads and writes; a listener, and positioned
            // transfers, are BADF (wasi-common).
            if socket.listener || matches!(io, Io::Pread(_) | Io::Pwrite(_)) {
                return Ok(BADF);
            }
            let Some((buf, len)) = chosen else {
                memory.write_u32_result(result, 0)?;
                return Ok(0);
            };
            memory.check(buf, len)?;
            match super::sockets::transfer(
                memory,
                (entry.handle, socket),
                (buf, len),
                io == Io::Read,
            ) {
                Ok(n) => n,
                Err(errno) => return Ok(errno),
            }
        }
        Kind::File(_) => {
            let chosen = match (chosen, io) {
                (Some((buf, len)), Io::Pread(at)) => {
                    match pread_fit(fds, memory, fd, buf, len, at)? {
                        Ok(fit) => fit,
                        Err(errno) => return Ok(errno),
                    }
                }
                (Some((buf, len)), _) => {
                    memory.check(buf, len)?;
                    Some((buf, len))
                }
                (None, _) => None,
            };
            match file_transfer(fds, memory.sys, fd, chosen, io) {
                Ok(n) => n,
                Err(errno) => return Ok(errno),
            }
        }
    };
    memory.write_u32_result(result, moved as u32)?;
    Ok(0)
}

fn file_transfer<S: System>(
    fds: &mut FdTable,
    sys: &mut S,
    fd: u64,
    chosen: Option<(u64, u64)>,
    io: Io,
) -> Result<u64, u16> {
    let (handle, file) = fds.file(fd)?;
    // wasmtime refuses an offset past i64::MAX before it looks at the
    // descriptor's access.
    if let Io::Pread(at) | Io::Pwrite(at) = io {
        if at > i64::MAX as u64 {
            return Err(INVAL);
        }
    }
    let reading = matches!(io, Io::Read | Io::Pread(_));
    if (reading && !file.read) || (!reading && !file.write) {
        return Err(BADF);
    }
    let Some((buf, len)) = chosen else {
        return Ok(0);
    };
    let h = u64::from(handle);
    let (position, append) = (file.position, file.append);
    let n = chunked(sys, buf, len, |sys, at, n| {
        let done = at - buf;
        // A file position past i64::MAX is refused by the executor (INVAL).
        match io {
            Io::Read => host::op(
                sys,
                OpCode::Pread,
                &[h, at, n, position.saturating_add(done)],
            ),
            Io::Pread(from) => host::op(sys, OpCode::Pread, &[h, at, n, from.saturating_add(done)]),
            _ if append => host::op(sys, OpCode::Append, &[h, at, n]),
            Io::Write => host::op(
                sys,
                OpCode::Pwrite,
                &[h, at, n, position.saturating_add(done)],
            ),
            Io::Pwrite(to) => host::op(sys, OpCode::Pwrite, &[h, at, n, to.saturating_add(done)]),
        }
    })?;
    let Ok((_, file)) = fds.file(fd) else {
        return Ok(n);
    };
    match io {
        Io::Read => file.position = file.position.checked_add(n).ok_or(OVERFLOW)?,
        Io::Write if file.append => {
            let append_position = host::stat(sys, handle)?.size;
            if let Ok((_, file)) = fds.file(fd) {
                file.position = append_position;
            }
        }
        Io::Write => file.position = file.position.checked_add(n).ok_or(OVERFLOW)?,
        Io::Pread(_) | Io::Pwrite(_) => {}
    }
    Ok(n)
}

/// The most bytes wasmtime's `fd_pread` and `fd_read` on stdin return in
/// one call: it reads into a buffer of its own that size, then copies.
const READ_CAP: u64 = 64 << 10;

/// Moves `len` bytes at `buf` in ops of at most [`MAX_TRANSFER`] bytes
/// (`op(sys, address, length)`), until one is short. An error after some
/// bytes moved returns those bytes, as a short transfer would.
fn chunked<S: System>(
    sys: &mut S,
    buf: u64,
    len: u64,
    mut op: impl FnMut(&mut S, u64, u64) -> Result<u64, u16>,
) -> Result<u64, u16> {
    let mut done = 0;
    while done < len {
        let n = (len - done).min(MAX_TRANSFER);
        match op(sys, buf + done, n) {
            Ok(moved) => {
                let moved = moved.min(n);
                done += moved;
                if moved < n {
                    break;
                }
            }
            Err(_) if done > 0 => break,
            Err(errno) => return Err(errno),
        }
    }
    Ok(done)
}

/// The buffer of an `fd_pread` at `at`, as wasmtime sees it: at most
/// [`READ_CAP`] bytes, of which only those the file holds are copied and so
/// must lie in memory (a read at the end of the file touches no byte).
fn pread_fit<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    buf: u64,
    len: u64,
    at: u64,
) -> Result<Result<Option<(u64, u64)>, u16>, OutOfBounds> {
    let len = len.min(READ_CAP);
    if memory.check(buf, len).is_ok() {
        return Ok(Ok(Some((buf, len))));
    }
    let handle = match fds.file(fd) {
        Ok((handle, file)) if file.read => handle,
        Ok(_) => return Ok(Err(BADF)),
        Err(errno) => return Ok(Err(errno)),
    };
    let size = match host::stat(memory.sys, handle) {
        Ok(stat) => stat.size,
        Err(errno) => return Ok(Err(errno)),
    };
    let len = len.min(size.saturating_sub(at));
    memory.check(buf, len)?;
    Ok(Ok((len > 0).then_some((buf, len))))
}

/// `fd_seek`.
pub(crate) fn seek<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    offset: u64,
    whence: u64,
    result: u64,
) -> Answer {
    let whence = narrow(whence, 0xff, ValueType::Whence)?;
    if whence > 2 {
        return Err(invalid(TrapKind::InvalidEnum, ValueType::Whence));
    }
    let entry = match fds.get(fd) {
        Ok(entry) => entry,
        Err(errno) => return Ok(errno),
    };
    if matches!(entry.kind, Kind::Stdin | Kind::Stdout | Kind::Stderr) {
        return Ok(SPIPE);
    }
    let Ok((handle, file)) = fds.file(fd) else {
        return Ok(BADF);
    };
    let base = match whence {
        0 => 0,
        1 => file.position as i128,
        _ => match host::stat(memory.sys, handle) {
            Ok(stat) => stat.size as i128,
            Err(errno) => return Ok(errno),
        },
    };
    // Positions are u64 in wasmtime: SEEK_CUR and SEEK_END may pass
    // i64::MAX (a later transfer there fails), SEEK_SET may not.
    let position = base + i128::from(offset as i64);
    let limit = if whence == 0 {
        i64::MAX as i128
    } else {
        u64::MAX as i128
    };
    if position < 0 || position > limit {
        return Ok(INVAL);
    }
    if let Ok((_, file)) = fds.file(fd) {
        file.position = position as u64;
    }
    memory.write_result(result, &(position as u64).to_le_bytes())?;
    Ok(0)
}

/// `fd_tell`.
pub(crate) fn tell<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    result: u64,
) -> Answer {
    match fds.get(fd).map(|e| e.kind) {
        Ok(Kind::File(file)) => {
            memory.write_result(result, &file.position.to_le_bytes())?;
            Ok(0)
        }
        Ok(Kind::Stdin | Kind::Stdout | Kind::Stderr) => Ok(SPIPE),
        Ok(Kind::Dir { .. } | Kind::Socket(_)) => Ok(BADF),
        Err(errno) => Ok(errno),
    }
}

/// A stdio descriptor's type as wasmtime reports it: a character device if
/// the host's descriptor is a terminal, else unknown (so `/dev/null` is
/// not a terminal to the module).
fn stdio_filetype<S: System>(sys: &mut S, handle: u32) -> Result<u8, u16> {
    let terminal = handle < 3 && sys.instance_data().terminals & (1 << handle) != 0;
    Ok(if terminal {
        filetype::CHARACTER_DEVICE
    } else {
        filetype::UNKNOWN
    })
}

/// `fd_fdstat_get`.
pub(crate) fn fdstat<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    out: u64,
) -> Answer {
    let entry = match fds.get(fd) {
        Ok(entry) => entry,
        Err(errno) => return Ok(errno),
    };
    let (filetype, flags, base, inheriting) = match entry.kind {
        Kind::Stdin | Kind::Stdout | Kind::Stderr => {
            let filetype = match stdio_filetype(memory.sys, entry.handle) {
                Ok(t) => t,
                Err(errno) => return Ok(errno),
            };
            let r = if entry.kind == Kind::Stdin {
                rights::FD_READ
            } else {
                rights::FD_WRITE
            };
            (filetype, 0, r, r)
        }
        Kind::Dir { preopen: Some(_) } => (
            filetype::DIRECTORY,
            0,
            rights::PREOPEN_BASE,
            rights::PREOPEN_INHERITING,
        ),
        Kind::Dir { preopen: None } => {
            let r = rights::ALL
                & !(rights::FD_SEEK
                    | rights::FD_FILESTAT_SET_SIZE
                    | rights::PATH_FILESTAT_SET_SIZE)
                & !rights::FD_WRITE;
            (filetype::DIRECTORY, 0, r, r)
        }
        Kind::File(file) => {
            let stat = match host::stat(memory.sys, entry.handle) {
                Ok(stat) => stat,
                Err(errno) => return Ok(errno),
            };
            let mut r = rights::ALL;
            if !file.read {
                r &= !(rights::FD_READ | rights::FD_READDIR);
            }
            if !file.write {
                r &= !rights::FD_WRITE;
            }
            let mut flags = 0u16;
            if file.append {
                flags |= fdflags::APPEND as u16;
            }
            if file.nonblock {
                flags |= fdflags::NONBLOCK as u16;
            }
            (stat.filetype, flags, r, r)
        }
        // As wasi-common reports a socket: read and write rights only.
        Kind::Socket(socket) => (
            filetype::SOCKET_STREAM,
            if socket.nonblock {
                fdflags::NONBLOCK as u16
            } else {
                0
            },
            rights::FD_READ | rights::FD_WRITE,
            0,
        ),
    };
    let mut stat = [0u8; 24];
    stat[0] = filetype;
    stat[2..4].copy_from_slice(&flags.to_le_bytes());
    stat[8..16].copy_from_slice(&base.to_le_bytes());
    stat[16..24].copy_from_slice(&inheriting.to_le_bytes());
    memory.write_fields(out, &stat, fields::FDSTAT)?;
    Ok(0)
}

/// `fd_fdstat_set_flags`: only APPEND and NONBLOCK change, as in wasmtime.
pub(crate) fn set_flags(fds: &mut FdTable, fd: u64, flags: u64) -> Answer {
    let flags = narrow(flags, 0xffff, ValueType::Fdflags)?;
    if flags & !fdflags::ALL != 0 {
        return Err(invalid(TrapKind::InvalidFlags, ValueType::Fdflags));
    }
    if let Ok(Entry {
        kind: Kind::Socket(socket),
        ..
    }) = fds.get_mut(fd)
    {
        return Ok(super::sockets::set_flags(socket, flags));
    }
    let Ok((_, file)) = fds.file(fd) else {
        return Ok(BADF);
    };
    if flags & (fdflags::DSYNC | fdflags::SYNC | fdflags::RSYNC) != 0 {
        return Ok(INVAL);
    }
    file.append = flags & fdflags::APPEND != 0;
    file.nonblock = flags & fdflags::NONBLOCK != 0;
    Ok(0)
}

/// A WASI `filestat` from the executor's [`Stat`]. The inode number is
/// scrambled (a bijection, so distinct files stay distinct) and the device
/// reported as 1, as wasmtime does: the host's numbers stay on the host.
pub(crate) fn filestat(stat: &Stat) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[0..8].copy_from_slice(&1u64.to_le_bytes());
    // wasmtime's preview 1 has no type for a socket in a directory.
    let filetype = if stat.filetype == filetype::SOCKET_STREAM {
        filetype::UNKNOWN
    } else {
        stat.filetype
    };
    out[8..16].copy_from_slice(&scramble(stat.ino ^ stat.dev.rotate_left(40)).to_le_bytes());
    out[16] = filetype;
    for (i, word) in [stat.nlink, stat.size, stat.atim, stat.mtim, stat.ctim]
        .into_iter()
        .enumerate()
    {
        out[24 + 8 * i..32 + 8 * i].copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// splitmix64's finaliser: a bijection on u64.
fn scramble(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `fd_filestat_get`.
pub(crate) fn filestat_get<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    out: u64,
) -> Answer {
    let entry = match fds.get(fd) {
        Ok(entry) => entry,
        Err(errno) => return Ok(errno),
    };
    let bytes = match entry.kind {
        Kind::Stdin | Kind::Stdout | Kind::Stderr => {
            let mut bytes = [0u8; 64];
            match stdio_filetype(memory.sys, entry.handle) {
                Ok(t) => bytes[16] = t,
                Err(errno) => return Ok(errno),
            }
            bytes
        }
        // All zeros but the type, as wasi-common reports a socket.
        Kind::Socket(_) => {
            let mut bytes = [0u8; 64];
            bytes[16] = filetype::SOCKET_STREAM;
            bytes
        }
        _ => match host::stat(memory.sys, entry.handle) {
            Ok(stat) => filestat(&stat),
            Err(errno) => return Ok(errno),
        },
    };
    memory.write_fields(out, &bytes, fields::FILESTAT)?;
    Ok(0)
}

/// The handle of `fd` if it is a file or directory (not stdio).
fn fs_handle(fds: &FdTable, fd: u64) -> Result<u32, u16> {
    match fds.get(fd)? {
        Entry {
            handle,
            kind: Kind::File(_) | Kind::Dir { .. },
        } => Ok(handle),
        _ => Err(BADF),
    }
}

/// The executor's time flags from WASI `fstflags` (the same bits);
/// undefined bits trap, contradictory ones are `INVAL`.
pub(crate) fn time_flags(flags: u64) -> Result<Result<u64, u16>, Stop> {
    let flags = narrow(flags, 0xffff, ValueType::Fstflags)?;
    if flags & !0xf != 0 {
        return Err(invalid(TrapKind::InvalidFlags, ValueType::Fstflags));
    }
    if flags & 0b11 == 0b11 || flags & 0b1100 == 0b1100 {
        return Ok(Err(INVAL));
    }
    Ok(Ok(flags))
}

/// `fd_filestat_set_times`.
pub(crate) fn set_times<S: System>(
    fds: &mut FdTable,
    sys: &mut S,
    fd: u64,
    atim: u64,
    mtim: u64,
    flags: u64,
) -> Answer {
    // wasmtime checks the flags (INVAL) before the descriptor.
    let flags = match time_flags(flags)? {
        Ok(flags) => flags,
        Err(errno) => return Ok(errno),
    };
    Ok(errno((|| {
        if let Ok(Entry {
            kind: Kind::Dir { .. },
            ..
        }) = fds.get(fd)
        {
            // wasmtime holds directories as O_PATH descriptors, whose times
            // it cannot set (BADF); a call that changes nothing succeeds.
            return if flags == 0 { Ok(()) } else { Err(BADF) };
        }
        let handle = fs_handle(fds, fd)?;
        host::op(
            sys,
            OpCode::SetTimes,
            &[u64::from(handle), atim, mtim, flags],
        )
        .map(drop)
    })()))
}

/// `fd_filestat_set_size`.
pub(crate) fn set_size<S: System>(fds: &mut FdTable, sys: &mut S, fd: u64, size: u64) -> u16 {
    errno((|| {
        let (handle, _) = fds.file(fd)?;
        if size > i64::MAX as u64 {
            return Err(INVAL);
        }
        host::op(sys, OpCode::Truncate, &[u64::from(handle), size]).map(drop)
    })())
}

/// `fd_sync` (`data_only` false) and `fd_datasync`.
pub(crate) fn sync<S: System>(fds: &mut FdTable, sys: &mut S, fd: u64, data_only: bool) -> u16 {
    if let Ok(Kind::Socket(_)) = fds.get(fd).map(|e| e.kind) {
        // Nothing to flush (wasi-common succeeds too).
        return 0;
    }
    errno((|| {
        let (handle, _) = fds.file(fd)?;
        host::op(
            sys,
            OpCode::Sync,
            &[u64::from(handle), u64::from(data_only)],
        )
        .map(drop)
    })())
}

/// `fd_advise`: checked, then a no-op (advice is a hint).
pub(crate) fn advise(fds: &mut FdTable, fd: u64, advice: u64) -> Answer {
    if narrow(advice, 0xff, ValueType::Advice)? > 5 {
        return Err(invalid(TrapKind::InvalidEnum, ValueType::Advice));
    }
    Ok(errno(fds.file(fd).map(drop)))
}

/// `fd_allocate`: wasmtime 48 does not support it on any file.
pub(crate) fn allocate(fds: &mut FdTable, fd: u64) -> u16 {
    match fds.file(fd) {
        Ok(_) => NOTSUP,
        Err(errno) => errno,
    }
}

/// `fd_fdstat_set_rights`: not supported, as in wasmtime.
pub(crate) fn set_rights(fds: &FdTable, fd: u64, base: u64, inheriting: u64) -> Answer {
    if base & !rights::ALL != 0 || inheriting & !rights::ALL != 0 {
        return Err(invalid(TrapKind::InvalidFlags, ValueType::Rights));
    }
    Ok(match fs_handle(fds, fd) {
        Ok(_) => NOTSUP,
        Err(errno) => errno,
    })
}

/// `fd_prestat_get`.
pub(crate) fn prestat_get<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    out: u64,
) -> Answer {
    let Ok(Kind::Dir {
        preopen: Some(index),
    }) = fds.get(fd).map(|e| e.kind)
    else {
        return Ok(BADF);
    };
    let len = preopen_name(memory.sys, index, &mut [0u8; 0]);
    let mut prestat = [0u8; 8];
    prestat[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    memory.write_fields(out, &prestat, fields::PRESTAT)?;
    Ok(0)
}

/// `fd_prestat_dir_name`.
pub(crate) fn prestat_dir_name<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    buf: u64,
    buf_len: u64,
) -> Answer {
    let index = match fds.get(fd).map(|e| e.kind) {
        Ok(Kind::Dir {
            preopen: Some(index),
        }) => index,
        // wasmtime: NOTDIR for any descriptor that is no preopen, stdio too.
        Ok(Kind::File(_) | Kind::Dir { .. } | Kind::Stdin | Kind::Stdout | Kind::Stderr) => {
            return Ok(NOTDIR)
        }
        _ => return Ok(BADF),
    };
    let mut name = [0u8; super::path::PATH_MAX];
    let len = preopen_name(memory.sys, index, &mut name);
    if len > name.len() {
        return Ok(NAMETOOLONG);
    }
    if (buf_len & 0xffff_ffff) < len as u64 {
        return Ok(NAMETOOLONG);
    }
    memory.write(buf, &name[..len])?;
    Ok(0)
}

/// The name of preopen `index` into `out` (as much as fits): its length.
pub(crate) fn preopen_name<S: System>(sys: &mut S, index: u32, out: &mut [u8]) -> usize {
    let data = sys.instance_data();
    let name = data
        .preopens
        .split(|&b| b == 0)
        .nth(index as usize)
        .unwrap_or(&[]);
    let n = name.len().min(out.len());
    out[..n].copy_from_slice(&name[..n]);
    name.len()
}

/// `fd_close`.
pub(crate) fn close<S: System>(fds: &mut FdTable, sys: &mut S, fd: u64) -> u16 {
    match fds.remove(fd) {
        Ok(entry) => {
            host::close(sys, entry.handle);
            0
        }
        Err(errno) => errno,
    }
}

/// `fd_renumber`.
pub(crate) fn renumber<S: System>(fds: &mut FdTable, sys: &mut S, from: u64, to: u64) -> u16 {
    match fds.renumber(from, to) {
        Ok(Some(replaced)) => {
            host::close(sys, replaced.handle);
            0
        }
        Ok(None) => 0,
        Err(errno) => errno,
    }
}
