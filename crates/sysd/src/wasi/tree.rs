//! WASI calls on paths beneath a directory descriptor — open, status,
//! times, create/remove directories, unlink, rename, link, symlink,
//! readlink — and `fd_readdir`. Each resolves its path with a [`Walk`] and
//! asks the executor for ONE-component ops on the final directory.
//! Trailing-slash rules follow wasmtime 48 on Linux (see the `dirs` and
//! `links` golden reports).

use wasc_wire::hostop::{lookup, Dirent, OpCode, Stat, DIRENT_HEADER, SCRATCH_LEN, SECOND_OFFSET};
use wasc_wire::wasi::{TrapKind, ValueType};

use super::call::{errno, fdflags, invalid, narrow, rights, Answer, Stop};
use super::errno::{BADF, BUSY, EXIST, INVAL, ISDIR, LOOP, NOENT, NOTDIR, NOTSUP, PERM, XDEV};
use super::fds::{Entry, FdTable, File, Kind};
use super::files::{filestat, time_flags};
use super::host::{self, filetype};
use super::memory::{fields, Memory, OutOfBounds};
use super::path::{follow_last, with_walk, Last, Walk};
use super::System;

const LOOKUP_SYMLINK_FOLLOW: u64 = 1;

pub(crate) mod oflags {
    pub const CREAT: u64 = 1 << 0;
    pub const DIRECTORY: u64 = 1 << 1;
    pub const EXCL: u64 = 1 << 2;
    pub const TRUNC: u64 = 1 << 3;
}

fn lookupflags(flags: u64) -> Result<bool, Stop> {
    if flags as u32 & !1 != 0 {
        return Err(invalid(TrapKind::InvalidFlags, ValueType::Lookupflags));
    }
    Ok(flags & LOOKUP_SYMLINK_FOLLOW != 0)
}

/// The arguments of `path_open`.
pub(crate) struct OpenArgs {
    pub dirfd: u64,
    pub dirflags: u64,
    pub path: u64,
    pub path_len: u64,
    pub oflags: u64,
    pub rights_base: u64,
    pub rights_inheriting: u64,
    pub fdflags: u64,
    pub result: u64,
}

/// `path_open`.
pub(crate) fn open<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    a: &OpenArgs,
) -> Answer {
    let follow = lookupflags(a.dirflags)?;
    let oflags = narrow(a.oflags, 0xffff, ValueType::Oflags)?;
    if oflags & !0xf != 0 {
        return Err(invalid(TrapKind::InvalidFlags, ValueType::Oflags));
    }
    if a.rights_base & !rights::ALL != 0 || a.rights_inheriting & !rights::ALL != 0 {
        return Err(invalid(TrapKind::InvalidFlags, ValueType::Rights));
    }
    let fdflags = narrow(a.fdflags, 0xffff, ValueType::Fdflags)?;
    if fdflags & !fdflags::ALL != 0 {
        return Err(invalid(TrapKind::InvalidFlags, ValueType::Fdflags));
    }
    // wasmtime reads the path before it looks at the descriptor, and
    // checks the flags before it resolves the path.
    let walk = match Walk::read(memory, 0, a.path, a.path_len)? {
        Ok(walk) => walk,
        Err(errno) => return Ok(errno),
    };
    let dir = match fds.get(a.dirfd) {
        Ok(Entry {
            handle,
            kind: Kind::Dir { .. },
        }) => handle,
        Ok(Entry {
            kind: Kind::File(_),
            ..
        }) => return Ok(NOTDIR),
        Ok(_) => return Ok(BADF),
        Err(errno) => return Ok(errno),
    };
    let mut walk = walk.with_base(dir);
    let mut read = a.rights_base & rights::FD_READ != 0;
    let mut write = a.rights_base & rights::FD_WRITE != 0;
    if fdflags & (fdflags::SYNC | fdflags::DSYNC | fdflags::RSYNC) != 0 {
        return Ok(NOTSUP);
    }
    if oflags & oflags::DIRECTORY != 0
        && oflags & (oflags::CREAT | oflags::EXCL | oflags::TRUNC) != 0
    {
        return Ok(INVAL);
    }
    // As wasmtime opens: read unless only write was asked for; create and
    // truncate add write.
    if !write {
        read = true;
    }
    if oflags & (oflags::CREAT | oflags::TRUNC) != 0 {
        write = true;
    }
    let mut flags = 0;
    for (set, bit) in [
        (read, lookup::READ),
        (write, lookup::WRITE),
        (oflags & oflags::CREAT != 0, lookup::CREATE),
        (
            oflags & oflags::CREAT != 0 && oflags & oflags::EXCL != 0,
            lookup::EXCLUSIVE,
        ),
        (oflags & oflags::TRUNC != 0, lookup::TRUNCATE),
    ] {
        if set {
            flags |= bit;
        }
    }
    let exclusive = flags & lookup::EXCLUSIVE != 0;
    let opened = with_walk(memory.sys, &mut walk, |sys, walk| loop {
        let last = walk.parent(sys)?;
        let want_dir = oflags & oflags::DIRECTORY != 0 || last.trailing;
        if last.is_dot() {
            if exclusive {
                return Err(EXIST);
            }
            if write {
                return Err(ISDIR);
            }
        }
        // A trailing slash never creates (Linux's open says ISDIR).
        if last.trailing && flags & lookup::CREATE != 0 {
            return Err(ISDIR);
        }
        // A directory is wanted: open it read-only first, so a name that
        // is no directory is never truncated; a directory cannot be opened
        // for writing (ISDIR).
        let lflags = if !want_dir {
            flags
        } else if write {
            lookup::READ | lookup::DIRECTORY
        } else {
            flags | lookup::DIRECTORY
        };
        match host::open(sys, walk.dir(), last.name(), lflags) {
            Err(errno @ (LOOP | NOTDIR)) if (follow || last.trailing) && !exclusive => {
                walk.follow(sys, &last, errno)?
            }
            // Not following, a symlink is LOOP even where a directory was
            // wanted (the host's O_DIRECTORY says NOTDIR).
            Err(NOTDIR) if want_dir && !follow && !last.trailing => {
                let stat = host::stat_at(sys, walk.dir(), last.name())?;
                return Err(if stat.filetype == filetype::SYMBOLIC_LINK {
                    LOOP
                } else {
                    NOTDIR
                });
            }
            Ok((handle, true)) if want_dir && write => {
                host::close(sys, handle);
                return Err(ISDIR);
            }
            Ok((handle, false)) if want_dir => {
                host::close(sys, handle);
                return Err(NOTDIR);
            }
            other => return other,
        }
    });
    let (handle, is_dir) = match opened {
        Ok(opened) => opened,
        Err(errno) => return Ok(errno),
    };
    let kind = if is_dir {
        Kind::Dir { preopen: None }
    } else {
        Kind::File(File {
            read,
            write,
            append: fdflags & fdflags::APPEND != 0,
            nonblock: fdflags & fdflags::NONBLOCK != 0,
            position: 0,
        })
    };
    let fd = match fds.insert(Entry { handle, kind }) {
        Ok(fd) => fd,
        Err(errno) => {
            host::close(memory.sys, handle);
            return Ok(errno);
        }
    };
    if let Err(e) = memory.write_u32_result(a.result, fd) {
        // The module never learns the fd: do not leak it.
        if let Ok(entry) = fds.remove(u64::from(fd)) {
            host::close(memory.sys, entry.handle);
        }
        return Err(e.into());
    }
    Ok(0)
}

/// A walk of the path at `ptr` beneath directory `dirfd`, in wasmtime's
/// order: the descriptor first (`BADF`), then the path.
fn walk_at<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    dirfd: u64,
    ptr: u64,
    len: u64,
) -> Result<Result<Walk, u16>, OutOfBounds> {
    let dir = match fds.dir(dirfd) {
        Ok(dir) => dir,
        Err(errno) => return Ok(Err(errno)),
    };
    Walk::read(memory, dir, ptr, len)
}

/// `path_filestat_get`.
pub(crate) fn filestat_get<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    dirfd: u64,
    flags: u64,
    path: u64,
    len: u64,
    out: u64,
) -> Answer {
    let follow = lookupflags(flags)?;
    let mut walk = match walk_at(fds, memory, dirfd, path, len)? {
        Ok(walk) => walk,
        Err(errno) => return Ok(errno),
    };
    let nested = walk.nested();
    let stat = with_walk(memory.sys, &mut walk, |sys, walk| {
        let last = walk.parent(sys)?;
        match (follow, last.trailing) {
            // Following, `file/` is NOTDIR; not following, wasmtime stats
            // a lone name itself, trailing slash or not (`lfile/` is the
            // link), but below a directory part (`./lfile/`, `dir/inner/`)
            // it follows the trailing slash as Linux does.
            (true, true) => follow_trailing(sys, walk, last).map(|(_, stat)| stat),
            (false, true) if nested => follow_trailing(sys, walk, last).map(|(_, stat)| stat),
            (true, false) => follow_last(sys, walk, last).map(|(_, stat)| stat),
            (false, _) => host::stat_at(sys, walk.dir(), last.name()),
        }
    });
    match stat {
        Ok(stat) => {
            memory.write_fields(out, &filestat(&stat), fields::FILESTAT)?;
            Ok(0)
        }
        Err(errno) => Ok(errno),
    }
}

/// `path_filestat_set_times`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn set_times<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    dirfd: u64,
    flags: u64,
    path: u64,
    len: u64,
    atim: u64,
    mtim: u64,
    fst: u64,
) -> Answer {
    let follow = lookupflags(flags)?;
    // wasmtime checks the flags (INVAL) before the descriptor.
    let fst = match time_flags(fst)? {
        Ok(fst) => fst,
        Err(errno) => return Ok(errno),
    };
    let mut walk = match walk_at(fds, memory, dirfd, path, len)? {
        Ok(walk) => walk,
        Err(errno) => return Ok(errno),
    };
    Ok(errno(with_walk(memory.sys, &mut walk, |sys, walk| {
        let (last, _) = resolve(sys, walk, follow)?;
        if fst == 0 {
            // Nothing to change: Linux's utimensat answers before it looks.
            return Ok(());
        }
        host::at(
            sys,
            OpCode::SetTimesAt,
            walk.dir(),
            last.name(),
            &[atim, mtim, fst],
        )
        .map(drop)
    })))
}

/// The path ops that take one path and no flags.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathOp {
    CreateDirectory,
    RemoveDirectory,
    UnlinkFile,
}

pub(crate) fn path_op<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    dirfd: u64,
    path: u64,
    len: u64,
    op: PathOp,
) -> Answer {
    let mut walk = match walk_at(fds, memory, dirfd, path, len)? {
        Ok(walk) => walk,
        Err(errno) => return Ok(errno),
    };
    Ok(errno(with_walk(memory.sys, &mut walk, |sys, walk| {
        let last = walk.parent(sys)?;
        let dir = walk.dir();
        match op {
            PathOp::CreateDirectory if last.is_dot() => Err(EXIST),
            PathOp::CreateDirectory => host::at(sys, OpCode::Mkdir, dir, last.name(), &[]),
            PathOp::RemoveDirectory if last.is_dot() => Err(INVAL),
            PathOp::RemoveDirectory if last.trailing => {
                // wasmtime removes `c/` as `c/.`: what `c` leads to must be
                // a directory, then removing `.` is refused.
                follow_trailing(sys, walk, last)?;
                Err(INVAL)
            }
            PathOp::RemoveDirectory => host::at(sys, OpCode::Rmdir, dir, last.name(), &[]),
            PathOp::UnlinkFile if last.trailing => {
                let (_, stat) = follow_last(sys, walk, last)?;
                Err(if stat.filetype == filetype::DIRECTORY {
                    ISDIR
                } else {
                    NOTDIR
                })
            }
            PathOp::UnlinkFile => host::at(sys, OpCode::Unlink, dir, last.name(), &[]),
        }
        .map(drop)
    })))
}

/// `path_rename` (`link` false) and `path_link` (`link` true; `flags` are
/// its lookup flags).
#[allow(clippy::too_many_arguments)]
pub(crate) fn two_paths<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    old_fd: u64,
    flags: u64,
    old: (u64, u64),
    new_fd: u64,
    new: (u64, u64),
    link: bool,
) -> Answer {
    let follow = if link { lookupflags(flags)? } else { false };
    // wasmtime looks at both descriptors, then reads both paths.
    let (old_dir, new_dir) = match (fds.dir(old_fd), fds.dir(new_fd)) {
        (Ok(old_dir), Ok(new_dir)) => (old_dir, new_dir),
        (Err(errno), _) | (_, Err(errno)) => return Ok(errno),
    };
    let mut from = match Walk::read(memory, old_dir, old.0, old.1)? {
        Ok(walk) => walk,
        Err(errno) => return Ok(errno),
    };
    let mut to = match Walk::read(memory, new_dir, new.0, new.1)? {
        Ok(walk) => walk,
        Err(errno) => return Ok(errno),
    };
    let result = with_walk(memory.sys, &mut from, |sys, from| {
        with_walk(sys, &mut to, |sys, to| {
            // wasmtime never follows a link's source: INVAL.
            if follow {
                return Err(INVAL);
            }
            // A link's source is resolved, trailing slash included, before
            // the target is looked at; a rename resolves both directories
            // first.
            let mut source = from.parent(sys)?;
            if source.trailing && link && !source.is_dot() {
                source = follow_trailing(sys, from, source)?.0;
            }
            let target = to.parent(sys)?;
            if link && target.is_dot() {
                // Linux looks the source up before it creates the new name:
                // a missing source is NOENT even here.
                host::stat_at(sys, from.dir(), source.name())?;
                return Err(EXIST);
            }
            if link && source.is_dot() {
                // Linux looks the new name up before it refuses to link a
                // directory; `name/` is followed first (wasmtime: `PERM`
                // for a symlink out of the directory).
                if target.trailing {
                    return new_name_without_slash(to, sys, target);
                }
                // An existing name is EXIST; a free one gets as far as the
                // link, which a directory may not have: PERM.
                return match host::stat_at(sys, to.dir(), target.name()) {
                    Ok(_) => Err(EXIST),
                    Err(NOENT) => Err(PERM),
                    Err(errno) => Err(errno),
                };
            }
            if source.is_dot() || target.is_dot() {
                return Err(BUSY);
            }
            if super::tmpfs::owns(u64::from(from.dir())) != super::tmpfs::owns(u64::from(to.dir()))
            {
                // Between a memory file system and the host: the source must
                // exist before the move is cross-device.
                host::stat_at(sys, from.dir(), source.name())?;
                return Err(XDEV);
            }
            if link && target.trailing {
                return new_name_without_slash(to, sys, target);
            }
            if !link && (source.trailing || target.trailing) {
                let stat = host::stat_at(sys, from.dir(), source.name())?;
                if stat.filetype != filetype::DIRECTORY {
                    return Err(NOTDIR);
                }
            }
            second_name(sys, &target);
            let code = if link { OpCode::Link } else { OpCode::Rename };
            host::at(
                sys,
                code,
                from.dir(),
                source.name(),
                &[u64::from(to.dir()), target.name().len() as u64],
            )
            .map(drop)
        })
    });
    Ok(errno(result))
}

/// The final component of `walk`, followed when `follow` is set or the
/// path ends in a slash, with its status if it was followed. A trailing
/// slash on anything but a directory is NOTDIR, as on Linux.
fn resolve<S: System>(
    sys: &mut S,
    walk: &mut Walk,
    follow: bool,
) -> Result<(Last, Option<Stat>), u16> {
    let last = walk.parent(sys)?;
    if last.trailing {
        follow_trailing(sys, walk, last).map(|(last, stat)| (last, Some(stat)))
    } else if follow {
        follow_last(sys, walk, last).map(|(last, stat)| (last, Some(stat)))
    } else {
        Ok((last, None))
    }
}

/// Follows `last`, which ended in a slash, to a directory (else NOTDIR).
fn follow_trailing<S: System>(
    sys: &mut S,
    walk: &mut Walk,
    last: Last,
) -> Result<(Last, Stat), u16> {
    let (last, stat) = follow_last(sys, walk, last)?;
    if stat.filetype != filetype::DIRECTORY {
        return Err(NOTDIR);
    }
    Ok((last, stat))
}

/// A link's new name may not end in a slash: Linux follows `name/` and
/// answers EXIST when it leads to a directory, else why not (NOENT,
/// NOTDIR, LOOP, …).
fn new_name_without_slash<S: System>(walk: &mut Walk, sys: &mut S, last: Last) -> Result<(), u16> {
    if !last.trailing {
        return Ok(());
    }
    follow_trailing(sys, walk, last)?;
    Err(EXIST)
}

fn second_name<S: System>(sys: &mut S, last: &Last) {
    sys.write_scratch(SECOND_OFFSET, last.name());
}

/// `path_symlink`: the target is stored as given; an absolute one is
/// refused (`PERM`), as cap-std refuses it.
pub(crate) fn symlink<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    target: (u64, u64),
    dirfd: u64,
    path: (u64, u64),
) -> Answer {
    memory.check(target.0, target.1)?;
    let mut bytes = [0u8; wasc_wire::hostop::TARGET_MAX];
    let too_long = target.1 as usize >= bytes.len();
    let n = if too_long { 0 } else { target.1 as usize };
    memory.read(target.0, &mut bytes[..n])?;
    let mut walk = match walk_at(fds, memory, dirfd, path.0, path.1)? {
        Ok(walk) => walk,
        Err(errno) => return Ok(errno),
    };
    let target = &bytes[..n];
    Ok(errno(with_walk(memory.sys, &mut walk, |sys, walk| {
        if too_long {
            return Err(super::errno::NAMETOOLONG);
        }
        if core::str::from_utf8(target).is_err() {
            return Err(super::errno::ILSEQ);
        }
        // wasmtime refuses an absolute target first, then reaches the
        // link's name, then hands the rest to symlinkat.
        if target.first() == Some(&b'/') {
            return Err(PERM);
        }
        // `name/` is resolved into: the new name is then `.` in what it
        // leads to, which symlinkat refuses once it has read the target.
        let last = walk.parent(sys)?;
        let dot = last.is_dot() || last.trailing;
        if last.trailing && !last.is_dot() {
            follow_trailing(sys, walk, last)?;
        }
        if target.is_empty() {
            return Err(NOENT);
        }
        if target.contains(&0) {
            return Err(INVAL);
        }
        if dot {
            return Err(EXIST);
        }
        sys.write_scratch(SECOND_OFFSET, target);
        host::at(
            sys,
            OpCode::Symlink,
            walk.dir(),
            last.name(),
            &[target.len() as u64],
        )
        .map(drop)
    })))
}

/// `path_readlink`: the target, truncated to the buffer, as wasmtime 48.
pub(crate) fn readlink<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    dirfd: u64,
    path: (u64, u64),
    buf: u64,
    buf_len: u64,
    result: u64,
) -> Answer {
    let mut walk = match walk_at(fds, memory, dirfd, path.0, path.1)? {
        Ok(walk) => walk,
        Err(errno) => return Ok(errno),
    };
    let mut target = [0u8; wasc_wire::hostop::TARGET_MAX];
    let read = with_walk(memory.sys, &mut walk, |sys, walk| {
        let last = walk.parent(sys)?;
        if last.is_dot() {
            return Err(INVAL);
        }
        if last.trailing {
            // `link/` names what the link leads to, a directory or NOTDIR:
            // never a link.
            follow_trailing(sys, walk, last)?;
            return Err(INVAL);
        }
        host::read_link(sys, walk.dir(), last.name(), &mut target)
    });
    let n = match read {
        Ok(n) => n.min((buf_len & 0xffff_ffff) as usize),
        Err(errno) => return Ok(errno),
    };
    memory.write(buf, &target[..n])?;
    memory.write_u32_result(result, n as u32)?;
    Ok(0)
}

/// Reads every entry of directory `handle`: ILSEQ if a name is not UTF-8.
fn all_names_utf8<S: System>(sys: &mut S, handle: u32) -> Result<(), u16> {
    let mut from = 0u64;
    loop {
        let count = match host::op(sys, OpCode::ReadDir, &[u64::from(handle), from]) {
            Ok(count) => count,
            Err(NOENT) => 0,
            Err(errno) => return Err(errno),
        };
        if count == 0 {
            return Ok(());
        }
        let mut scratch = [0u8; SCRATCH_LEN];
        sys.read_scratch(0, &mut scratch);
        let mut at = 0usize;
        for _ in 0..count {
            let name_len = usize::from(scratch[at + core::mem::offset_of!(Dirent, name_len)]);
            let start = at + DIRENT_HEADER;
            let Some(name) = scratch.get(start..start + name_len) else {
                // A page the host filled wrongly.
                return Err(super::errno::IO);
            };
            if core::str::from_utf8(name).is_err() {
                return Err(super::errno::ILSEQ);
            }
            from += 1;
            at = start + name_len;
            if at + DIRENT_HEADER > SCRATCH_LEN {
                break;
            }
        }
    }
}

/// Writes one dirent (header then name), truncated at `cap` as wasmtime
/// does; the bytes written.
fn put_dirent<S: System>(
    memory: &mut Memory<'_, S>,
    at: u64,
    cap: u64,
    next: u64,
    ino: u64,
    kind: u8,
    name: &[u8],
) -> Result<u64, OutOfBounds> {
    let mut header = [0u8; 24];
    header[0..8].copy_from_slice(&next.to_le_bytes());
    header[8..16].copy_from_slice(&ino.to_le_bytes());
    header[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
    header[20] = kind;
    let h = cap.min(24);
    memory.write(at, &header[..h as usize])?;
    let n = (cap - h).min(name.len() as u64);
    memory.write(at + h, &name[..n as usize])?;
    Ok(h + n)
}

/// `fd_readdir`: `.` and `..` (cookies 0 and 1), then the executor's
/// entries from index `cookie - 2`, each with `d_next` its cookie.
pub(crate) fn readdir<S: System>(
    fds: &FdTable,
    memory: &mut Memory<'_, S>,
    fd: u64,
    buf: u64,
    buf_len: u64,
    cookie: u64,
    result: u64,
) -> Answer {
    let buf_len = buf_len & 0xffff_ffff;
    let handle = match fds.dir(fd) {
        Ok(handle) => handle,
        Err(errno) => return Ok(errno),
    };
    let dir = match host::stat(memory.sys, handle) {
        Ok(stat) => stat,
        Err(errno) => return Ok(errno),
    };
    let dir_ino = u64::from_le_bytes(filestat(&dir)[8..16].try_into().unwrap_or([0; 8]));
    // wasmtime reads the whole directory before it writes an entry, and a
    // name that is not UTF-8 anywhere in it is ILSEQ.
    if let Err(errno) = all_names_utf8(memory.sys, handle) {
        return Ok(errno);
    }
    let mut used = 0u64;
    let mut index = cookie;
    for (i, name) in [(0u64, &b"."[..]), (1, &b".."[..])] {
        if index == i && used < buf_len {
            used += put_dirent(
                memory,
                buf + used,
                buf_len - used,
                i + 1,
                dir_ino,
                filetype::DIRECTORY,
                name,
            )?;
            index += 1;
        }
    }
    while used < buf_len {
        let from = index.saturating_sub(2);
        let count = match host::op(memory.sys, OpCode::ReadDir, &[u64::from(handle), from]) {
            Ok(count) => count,
            // A removed directory lists nothing (Linux says NOENT).
            Err(NOENT) => 0,
            Err(errno) => return Ok(errno),
        };
        if count == 0 {
            break;
        }
        let mut scratch = [0u8; SCRATCH_LEN];
        memory.sys.read_scratch(0, &mut scratch);
        let mut at = 0usize;
        for _ in 0..count {
            if at + DIRENT_HEADER > SCRATCH_LEN || used >= buf_len {
                break;
            }
            let ino = u64::from_le_bytes(scratch[at..at + 8].try_into().unwrap_or([0; 8]));
            let kind = match scratch[at + core::mem::offset_of!(Dirent, filetype)] {
                // No preview-1 type for a socket in a directory.
                filetype::SOCKET_STREAM => filetype::UNKNOWN,
                kind => kind,
            };
            let name_len = usize::from(scratch[at + core::mem::offset_of!(Dirent, name_len)]);
            let start = at + DIRENT_HEADER;
            let Some(name) = scratch.get(start..start + name_len) else {
                break;
            };
            index += 1;
            // The entries are on the directory's device: their numbers
            // are scrambled with it, as `filestat` scrambles `st_ino`.
            let ino = filestat(&wasc_wire::hostop::Stat {
                ino,
                dev: dir.dev,
                ..Default::default()
            });
            let ino = u64::from_le_bytes(ino[8..16].try_into().unwrap_or([0; 8]));
            used += put_dirent(memory, buf + used, buf_len - used, index, ino, kind, name)?;
            at = start + name_len;
        }
    }
    memory.write_u32_result(result, used as u32)?;
    Ok(0)
}
