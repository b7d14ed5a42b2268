//! Decoding and performing each op. Every check happens before the system
//! call; the system calls are exactly one per op.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use wasc_wire::hostop::{lookup, HostOp, OpCode, Stat, NAME_MAX, SCRATCH_LEN};

use crate::handles::{Handle, HandleTable};
use crate::{Errno, Failure, LinearMemory, Refusal};

pub(crate) fn execute(
    handles: &mut HandleTable,
    op: &HostOp,
    memory: &LinearMemory,
    scratch: &mut [u8; SCRATCH_LEN],
) -> Result<u64, Failure> {
    let code = OpCode::from_raw(op.op).ok_or(Refusal::UnknownOp(op.op))?;
    let used = match code {
        OpCode::Read | OpCode::Write | OpCode::Lookup => 3,
        OpCode::Pread | OpCode::Pwrite => 4,
        OpCode::Stat | OpCode::Close => 1,
    };
    if op.reserved != 0 || op.args[used..].iter().any(|&w| w != 0) {
        return Err(Refusal::NonZeroPadding.into());
    }
    let [a0, a1, a2, a3, ..] = op.args;
    match code {
        OpCode::Read => transfer(handles, a0, memory.range(a1, a2)?, Direction::Read, None),
        OpCode::Write => transfer(handles, a0, memory.range(a1, a2)?, Direction::Write, None),
        OpCode::Pread => transfer(
            handles,
            a0,
            memory.range(a1, a2)?,
            Direction::Read,
            Some(position(a3)?),
        ),
        OpCode::Pwrite => transfer(
            handles,
            a0,
            memory.range(a1, a2)?,
            Direction::Write,
            Some(position(a3)?),
        ),
        OpCode::Lookup => open_beneath(handles, a0, name(scratch, a1)?, a2),
        OpCode::Stat => stat(handles, a0, scratch),
        OpCode::Close => handles
            .remove(a0)
            .map(drop)
            .map(|()| 0)
            .map_err(Failure::from),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Read,
    Write,
}

fn position(raw: u64) -> Result<i64, Refusal> {
    i64::try_from(raw).map_err(|_| Refusal::Position(raw))
}

/// One read or write between a handle and a checked range of linear memory.
fn transfer(
    handles: &HandleTable,
    raw: u64,
    (ptr, len): (*mut u8, usize),
    direction: Direction,
    at: Option<i64>,
) -> Result<u64, Failure> {
    let handle = handles.get(raw)?;
    let (allowed, name) = match (direction, at) {
        (Direction::Read, None) => (handle.readable(), "read"),
        (Direction::Write, None) => (handle.writable(), "write"),
        (Direction::Read, Some(_)) => (handle.readable() && is_file(handle), "pread"),
        (Direction::Write, Some(_)) => (handle.writable() && is_file(handle), "pwrite"),
    };
    if !allowed {
        return Err(Refusal::WrongKind {
            handle: raw,
            op: name,
        }
        .into());
    }
    let fd = handle.fd();
    loop {
        // SAFETY: `ptr..ptr + len` was checked against linear memory by
        // `LinearMemory::range`, whose constructor's caller guarantees it is
        // valid for reads and writes; the kernel reads or writes only there.
        let n = unsafe {
            match (direction, at) {
                (Direction::Read, None) => libc::read(fd, ptr.cast(), len),
                (Direction::Write, None) => libc::write(fd, ptr.cast(), len),
                (Direction::Read, Some(pos)) => libc::pread(fd, ptr.cast(), len, pos),
                (Direction::Write, Some(pos)) => libc::pwrite(fd, ptr.cast(), len, pos),
            }
        };
        if n >= 0 {
            return Ok(n as u64);
        }
        let errno = Errno::last();
        if errno != Errno::INTR {
            return Err(Failure::Host(errno));
        }
    }
}

fn is_file(handle: &Handle) -> bool {
    matches!(handle, Handle::File { .. })
}

/// The path component sysd put in the scratch area: 1 to 255 bytes, no `/`,
/// no NUL, not `.` or `..`.
fn name(scratch: &[u8; SCRATCH_LEN], len: u64) -> Result<std::ffi::CString, Refusal> {
    let len = usize::try_from(len).map_err(|_| Refusal::BadName)?;
    if len == 0 || len > NAME_MAX {
        return Err(Refusal::BadName);
    }
    let bytes = &scratch[..len];
    if bytes.contains(&b'/') || bytes == b"." || bytes == b".." {
        return Err(Refusal::BadName);
    }
    std::ffi::CString::new(bytes).map_err(|_| Refusal::BadName)
}

/// `openat2` of one component beneath a directory handle, never following a
/// symlink or leaving the directory.
fn open_beneath(
    handles: &mut HandleTable,
    raw_dir: u64,
    name: std::ffi::CString,
    flags: u64,
) -> Result<u64, Failure> {
    if flags & !lookup::ALL != 0
        || (flags & lookup::EXCLUSIVE != 0 && flags & lookup::CREATE == 0)
        || (flags & (lookup::CREATE | lookup::TRUNCATE) != 0 && flags & lookup::WRITE == 0)
        || (flags & lookup::DIRECTORY != 0 && flags & lookup::WRITE != 0)
    {
        return Err(Refusal::BadFlags(flags).into());
    }
    let dir = match handles.get(raw_dir)? {
        Handle::Dir(fd) => fd.as_raw_fd(),
        _ => {
            return Err(Refusal::WrongKind {
                handle: raw_dir,
                op: "lookup",
            }
            .into())
        }
    };
    let (readable, writable) = (flags & lookup::READ != 0, flags & lookup::WRITE != 0);
    let mut oflags = libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NOCTTY;
    oflags |= match (readable, writable) {
        (_, false) => libc::O_RDONLY,
        (false, true) => libc::O_WRONLY,
        (true, true) => libc::O_RDWR,
    };
    for (bit, flag) in [
        (lookup::CREATE, libc::O_CREAT),
        (lookup::EXCLUSIVE, libc::O_EXCL),
        (lookup::TRUNCATE, libc::O_TRUNC),
        (lookup::DIRECTORY, libc::O_DIRECTORY),
    ] {
        if flags & bit != 0 {
            oflags |= flag;
        }
    }
    let fd = openat2(dir, &name, oflags)?;
    let is_dir = fstat(fd.as_raw_fd())?.st_mode & libc::S_IFMT == libc::S_IFDIR;
    let handle = if is_dir {
        Handle::Dir(fd)
    } else {
        Handle::File {
            fd,
            readable,
            writable,
        }
    };
    handles.insert(handle).ok_or(Failure::Host(Errno::MFILE))
}

fn openat2(dir: RawFd, name: &std::ffi::CStr, oflags: i32) -> Result<OwnedFd, Failure> {
    // SAFETY: `open_how` is plain integers; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = oflags as u64;
    how.mode = if oflags & libc::O_CREAT != 0 {
        0o666
    } else {
        0
    };
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_SYMLINKS;
    loop {
        // SAFETY: `name` is NUL-terminated, `how` is a valid `open_how` whose
        // size is passed; the kernel only reads them.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir,
                name.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel just returned this descriptor to us.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let errno = Errno::last();
        if errno != Errno::INTR {
            return Err(Failure::Host(errno));
        }
    }
}

fn fstat(fd: RawFd) -> Result<libc::stat, Failure> {
    // SAFETY: an all-zero `stat` is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable `stat`.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(Failure::Host(Errno::last()));
    }
    Ok(st)
}

fn stat(handles: &HandleTable, raw: u64, scratch: &mut [u8; SCRATCH_LEN]) -> Result<u64, Failure> {
    let st = fstat(handles.get(raw)?.fd())?;
    let filetype = match st.st_mode & libc::S_IFMT {
        libc::S_IFBLK => 1,
        libc::S_IFCHR => 2,
        libc::S_IFDIR => 3,
        libc::S_IFREG => 4,
        libc::S_IFSOCK => 6,
        libc::S_IFLNK => 7,
        _ => 0,
    };
    let nanos = |s: i64, ns: i64| {
        (s as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ns as u64)
    };
    let stat = Stat {
        dev: st.st_dev,
        ino: st.st_ino,
        filetype,
        reserved: [0; 7],
        nlink: st.st_nlink,
        size: st.st_size as u64,
        atim: nanos(st.st_atime, st.st_atime_nsec),
        mtim: nanos(st.st_mtime, st.st_mtime_nsec),
        ctim: nanos(st.st_ctime, st.st_ctime_nsec),
    };
    let size = std::mem::size_of::<Stat>();
    // SAFETY: `Stat` is `repr(C)` plain integers with no padding holes left
    // uninitialised (`reserved` fills the gap), so viewing it as bytes is
    // sound; the scratch area is larger than it (checked in wasc-wire).
    let bytes = unsafe { std::slice::from_raw_parts((&stat as *const Stat).cast::<u8>(), size) };
    scratch[..size].copy_from_slice(bytes);
    Ok(0)
}
