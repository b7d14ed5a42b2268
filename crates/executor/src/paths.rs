//! Ops on ONE path component beneath a directory handle: lookup, stat,
//! readlink, mkdir, unlink, rmdir, rename, link, symlink, set times. The
//! component comes from the scratch area and is checked here (1–255 bytes,
//! no `/`, no NUL, never `..`; `.` only where it names the directory itself
//! harmlessly). One op takes several components: opening a directory
//! further down in one step (`lookup_dir`), which sysd tries before walking
//! a path component by component. Nothing here follows a symlink or leaves
//! the directory: the kernel enforces it (`openat2` with `RESOLVE_BENEATH`
//! and `RESOLVE_NO_SYMLINKS`, `AT_SYMLINK_NOFOLLOW`, and the `*at` calls
//! that never follow a final symlink).

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use wasc_wire::hostop::{lookup, times, NAME_MAX, SCRATCH_LEN, SECOND_OFFSET, TARGET_MAX};

use crate::handles::{Handle, HandleTable};
use crate::sys::{retry, stat_to_scratch};
use crate::{Errno, Failure, Refusal};

/// Whether a name may be `.` (the directory itself).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dot {
    Allowed,
    Refused,
}

/// The path component at `offset` in the scratch area.
pub(crate) fn name(
    scratch: &[u8; SCRATCH_LEN],
    offset: usize,
    len: u64,
    dot: Dot,
) -> Result<CString, Refusal> {
    let len = usize::try_from(len).map_err(|_| Refusal::BadName)?;
    if len == 0 || len > NAME_MAX {
        return Err(Refusal::BadName);
    }
    let bytes = &scratch[offset..offset + len];
    if bytes.contains(&b'/') || bytes == b".." || (bytes == b"." && dot == Dot::Refused) {
        return Err(Refusal::BadName);
    }
    CString::new(bytes).map_err(|_| Refusal::BadName)
}

/// The relative path of [`OpCode::LookupDir`](wasc_wire::hostop::OpCode)
/// at the start of the scratch area: two or more components, each as
/// [`name`] takes them (never `.` or `..`), one `/` between them, none at
/// either end.
pub(crate) fn relative_dir(scratch: &[u8; SCRATCH_LEN], len: u64) -> Result<CString, Refusal> {
    let len = usize::try_from(len).map_err(|_| Refusal::BadName)?;
    if len > SCRATCH_LEN {
        return Err(Refusal::BadName);
    }
    let path = &scratch[..len];
    let mut components = 0;
    for component in path.split(|&b| b == b'/') {
        if component.is_empty()
            || component.len() > NAME_MAX
            || component == b"."
            || component == b".."
        {
            return Err(Refusal::BadName);
        }
        components += 1;
    }
    if components < 2 {
        return Err(Refusal::BadName);
    }
    CString::new(path).map_err(|_| Refusal::BadName)
}

/// The directory handle `raw`, for an op called `op`.
pub(crate) fn dir(handles: &HandleTable, raw: u64, op: &'static str) -> Result<RawFd, Refusal> {
    match handles.get(raw)? {
        Handle::Dir { fd, .. } => Ok(fd.as_raw_fd()),
        _ => Err(Refusal::WrongKind { handle: raw, op }),
    }
}

/// `openat2` of one component beneath a directory handle, never following a
/// symlink or leaving the directory.
pub(crate) fn lookup(
    handles: &mut HandleTable,
    raw_dir: u64,
    name: CString,
    flags: u64,
) -> Result<u64, Failure> {
    if flags & !lookup::ALL != 0
        || (flags & lookup::EXCLUSIVE != 0 && flags & lookup::CREATE == 0)
        || (flags & (lookup::CREATE | lookup::TRUNCATE) != 0 && flags & lookup::WRITE == 0)
        || (flags & lookup::DIRECTORY != 0 && flags & lookup::WRITE != 0)
        || (name.as_bytes() == b"." && flags & lookup::WRITE != 0)
    {
        return Err(Refusal::BadFlags(flags).into());
    }
    let dir = dir(handles, raw_dir, "lookup")?;
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
    let is_dir = crate::sys::fstat(fd.as_raw_fd())?.st_mode & libc::S_IFMT == libc::S_IFDIR;
    let handle = if is_dir {
        Handle::dir(fd)
    } else {
        Handle::File {
            fd,
            readable,
            writable,
        }
    };
    let raw = handles.insert(handle).ok_or(Failure::Host(Errno::MFILE))?;
    Ok(raw | if is_dir { lookup::RESULT_DIRECTORY } else { 0 })
}

/// `openat2` of a directory several components beneath a directory handle,
/// read-only, in one step: the kernel refuses a symlink anywhere on the way
/// (`ELOOP`) and any way out of the directory.
pub(crate) fn lookup_dir(
    handles: &mut HandleTable,
    raw_dir: u64,
    path: CString,
) -> Result<u64, Failure> {
    let dir = dir(handles, raw_dir, "lookup")?;
    let fd = openat2(
        dir,
        &path,
        libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_RDONLY | libc::O_DIRECTORY,
    )?;
    handles
        .insert(Handle::dir(fd))
        .ok_or(Failure::Host(Errno::MFILE))
}

fn openat2(dir: RawFd, name: &CStr, oflags: i32) -> Result<OwnedFd, Failure> {
    // SAFETY: `open_how` is plain integers; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = oflags as u64;
    how.mode = if oflags & libc::O_CREAT != 0 {
        0o666
    } else {
        0
    };
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_SYMLINKS;
    let fd = retry(|| {
        // SAFETY: `name` is NUL-terminated, `how` is a valid `open_how` whose
        // size is passed; the kernel only reads them.
        unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir,
                name.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        }
    })?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)` of one component, into the scratch area.
pub(crate) fn stat_at(
    dir: RawFd,
    name: &CStr,
    scratch: &mut [u8; SCRATCH_LEN],
) -> Result<u64, Failure> {
    // SAFETY: an all-zero `stat` is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    retry(|| {
        // SAFETY: `name` is NUL-terminated and `st` writable.
        unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) }.into()
    })?;
    stat_to_scratch(&st, scratch);
    Ok(0)
}

/// `readlinkat` of one component; the target goes to the scratch area at
/// [`SECOND_OFFSET`].
pub(crate) fn read_link(
    dir: RawFd,
    name: &CStr,
    scratch: &mut [u8; SCRATCH_LEN],
) -> Result<u64, Failure> {
    let out = &mut scratch[SECOND_OFFSET..];
    let n = retry(|| {
        // SAFETY: `out` is writable for its whole length, which is passed.
        unsafe { libc::readlinkat(dir, name.as_ptr(), out.as_mut_ptr().cast(), out.len()) as i64 }
    })?;
    if n as usize >= TARGET_MAX {
        // Possibly truncated: sysd cannot follow it faithfully.
        return Err(Failure::Host(Errno::NAMETOOLONG));
    }
    Ok(n as u64)
}

pub(crate) fn mkdir(dir: RawFd, name: &CStr) -> Result<u64, Failure> {
    // SAFETY: `name` is NUL-terminated.
    retry(|| unsafe { libc::mkdirat(dir, name.as_ptr(), 0o777) }.into()).map(|_| 0)
}

pub(crate) fn unlink(dir: RawFd, name: &CStr, remove_dir: bool) -> Result<u64, Failure> {
    let flags = if remove_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: `name` is NUL-terminated.
    retry(|| unsafe { libc::unlinkat(dir, name.as_ptr(), flags) }.into()).map(|_| 0)
}

pub(crate) fn rename(from: RawFd, old: &CStr, to: RawFd, new: &CStr) -> Result<u64, Failure> {
    // SAFETY: both names are NUL-terminated.
    retry(|| unsafe { libc::renameat(from, old.as_ptr(), to, new.as_ptr()) }.into()).map(|_| 0)
}

pub(crate) fn link(from: RawFd, old: &CStr, to: RawFd, new: &CStr) -> Result<u64, Failure> {
    // Flags 0: a symlink is linked itself, never followed.
    // SAFETY: both names are NUL-terminated.
    retry(|| unsafe { libc::linkat(from, old.as_ptr(), to, new.as_ptr(), 0) }.into()).map(|_| 0)
}

/// The symlink target at [`SECOND_OFFSET`]: 1 to [`TARGET_MAX`] - 1 bytes,
/// no NUL. Its content is not otherwise restricted: nothing on the host
/// follows it.
pub(crate) fn target(scratch: &[u8; SCRATCH_LEN], len: u64) -> Result<CString, Refusal> {
    let len = usize::try_from(len).map_err(|_| Refusal::BadName)?;
    if len == 0 || len >= TARGET_MAX {
        return Err(Refusal::BadName);
    }
    CString::new(&scratch[SECOND_OFFSET..SECOND_OFFSET + len]).map_err(|_| Refusal::BadName)
}

pub(crate) fn symlink(target: &CStr, dir: RawFd, name: &CStr) -> Result<u64, Failure> {
    // SAFETY: both strings are NUL-terminated.
    retry(|| unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) }.into()).map(|_| 0)
}

/// The two `timespec`s for `utimensat`/`futimens` from [`times`] flags.
pub(crate) fn timespecs(atim: u64, mtim: u64, flags: u64) -> Result<[libc::timespec; 2], Refusal> {
    if flags & !times::ALL != 0
        || flags & (times::ATIM | times::ATIM_NOW) == (times::ATIM | times::ATIM_NOW)
        || flags & (times::MTIM | times::MTIM_NOW) == (times::MTIM | times::MTIM_NOW)
    {
        return Err(Refusal::BadFlags(flags));
    }
    let one = |value: u64, set: u64, now: u64| {
        let (sec, nsec) = if flags & set != 0 {
            (
                (value / 1_000_000_000) as i64,
                (value % 1_000_000_000) as i64,
            )
        } else if flags & now != 0 {
            (0, libc::UTIME_NOW)
        } else {
            (0, libc::UTIME_OMIT)
        };
        libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        }
    };
    Ok([
        one(atim, times::ATIM, times::ATIM_NOW),
        one(mtim, times::MTIM, times::MTIM_NOW),
    ])
}

pub(crate) fn set_times_at(
    dir: RawFd,
    name: &CStr,
    spec: &[libc::timespec; 2],
) -> Result<u64, Failure> {
    retry(|| {
        // SAFETY: `name` is NUL-terminated and `spec` two valid timespecs.
        unsafe { libc::utimensat(dir, name.as_ptr(), spec.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) }
            .into()
    })
    .map(|_| 0)
}
