//! Typed wrappers around the executor's primitive ops
//! ([`wasc_wire::hostop`]): names go into the scratch area, results come
//! back as values or a [`Stat`]/link target in the scratch area.

use core::mem::offset_of;

use wasc_wire::hostop::{lookup, HostOp, OpCode, Stat, SECOND_OFFSET, TARGET_MAX};

use super::System;

/// Performs `code` with `args`; the errno on failure.
pub(crate) fn op<S: System>(sys: &mut S, code: OpCode, args: &[u64]) -> Result<u64, u16> {
    let mut words = [0u64; 6];
    words[..args.len()].copy_from_slice(args);
    // Ops on a memory file system's handles never leave sysd; a rename or
    // link between it and a host directory is a cross-device one.
    let in_tmpfs = code != OpCode::Wait && super::tmpfs::owns(words[0]);
    if matches!(code, OpCode::Rename | OpCode::Link) && in_tmpfs != super::tmpfs::owns(words[2]) {
        return Err(super::errno::XDEV);
    }
    if in_tmpfs {
        return super::tmpfs::execute(sys, code, &words);
    }
    sys.host_op(HostOp {
        op: code as u32,
        reserved: 0,
        args: words,
    })
    .map_err(|errno| errno.min(u32::from(u16::MAX)) as u16)
}

/// An op on one component `name` beneath `dir` (the name goes first in the
/// scratch area).
pub(crate) fn at<S: System>(
    sys: &mut S,
    code: OpCode,
    dir: u32,
    name: &[u8],
    more: &[u64],
) -> Result<u64, u16> {
    sys.write_scratch(0, name);
    let mut args = [0u64; 6];
    args[0] = u64::from(dir);
    args[1] = name.len() as u64;
    args[2..2 + more.len()].copy_from_slice(more);
    op(sys, code, &args[..2 + more.len()])
}

/// Opens `name` beneath `dir` with [`lookup`] flags: the handle and whether
/// it is a directory.
pub(crate) fn open<S: System>(
    sys: &mut S,
    dir: u32,
    name: &[u8],
    flags: u64,
) -> Result<(u32, bool), u16> {
    let value = at(sys, OpCode::Lookup, dir, name, &[flags])?;
    Ok((value as u32, value & lookup::RESULT_DIRECTORY != 0))
}

/// Opens the directory at `path` (two or more plain components joined by
/// `/`) beneath `dir` in one op, following no symlink: its handle.
pub(crate) fn open_dir_path<S: System>(sys: &mut S, dir: u32, path: &[u8]) -> Result<u32, u16> {
    at(sys, OpCode::LookupDir, dir, path, &[]).map(|value| value as u32)
}

pub(crate) fn close<S: System>(sys: &mut S, handle: u32) {
    // A close that fails leaves nothing for the module to act on.
    let _ = op(sys, OpCode::Close, &[u64::from(handle)]);
}

/// The status of an open handle.
pub(crate) fn stat<S: System>(sys: &mut S, handle: u32) -> Result<Stat, u16> {
    op(sys, OpCode::Stat, &[u64::from(handle)])?;
    Ok(read_stat(sys))
}

/// The status of `name` beneath `dir`, not following a symlink.
pub(crate) fn stat_at<S: System>(sys: &mut S, dir: u32, name: &[u8]) -> Result<Stat, u16> {
    at(sys, OpCode::StatAt, dir, name, &[])?;
    Ok(read_stat(sys))
}

/// The target of the symlink `name` beneath `dir`, into `out`: its length.
pub(crate) fn read_link<S: System>(
    sys: &mut S,
    dir: u32,
    name: &[u8],
    out: &mut [u8; TARGET_MAX],
) -> Result<usize, u16> {
    let len = at(sys, OpCode::ReadLink, dir, name, &[])? as usize;
    // The host says how long; never believe more than the area holds.
    let len = len.min(TARGET_MAX);
    sys.read_scratch(SECOND_OFFSET, &mut out[..len]);
    Ok(len)
}

fn read_stat<S: System>(sys: &mut S) -> Stat {
    let mut raw = [0u8; core::mem::size_of::<Stat>()];
    sys.read_scratch(0, &mut raw);
    let word = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().unwrap_or([0; 8]));
    Stat {
        dev: word(offset_of!(Stat, dev)),
        ino: word(offset_of!(Stat, ino)),
        filetype: raw[offset_of!(Stat, filetype)],
        reserved: [0; 7],
        nlink: word(offset_of!(Stat, nlink)),
        size: word(offset_of!(Stat, size)),
        atim: word(offset_of!(Stat, atim)),
        mtim: word(offset_of!(Stat, mtim)),
        ctim: word(offset_of!(Stat, ctim)),
    }
}

/// What one [`wait`] entry came back with: [`wasc_wire::hostop::wait`]
/// `READY`/`HANGUP`/`ERROR` bits, and bytes ready on a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Readiness {
    pub ready: u32,
    pub nbytes: u32,
}

/// One `Wait` op on `(handle, interest)` pairs for at most `timeout` ns
/// (`u64::MAX`: no limit); what became ready goes into `out`.
pub(crate) fn wait<S: System>(
    sys: &mut S,
    entries: &[(u32, u32)],
    timeout: u64,
    out: &mut [Readiness],
) -> Result<(), u16> {
    use wasc_wire::hostop::{wait, WaitEntry};
    const SIZE: usize = core::mem::size_of::<WaitEntry>();
    let count = entries.len().min(wait::MAX_ENTRIES).min(out.len());
    for (i, &(handle, interest)) in entries[..count].iter().enumerate() {
        let mut entry = [0u8; SIZE];
        entry[0..4].copy_from_slice(&handle.to_le_bytes());
        entry[4..8].copy_from_slice(&interest.to_le_bytes());
        sys.write_scratch(i * SIZE, &entry);
    }
    op(sys, OpCode::Wait, &[count as u64, timeout])?;
    for (i, result) in out.iter_mut().enumerate().take(count) {
        let mut words = [0u8; 8];
        sys.read_scratch(i * SIZE + 8, &mut words);
        *result = Readiness {
            ready: u32::from_le_bytes([words[0], words[1], words[2], words[3]]),
            nbytes: u32::from_le_bytes([words[4], words[5], words[6], words[7]]),
        };
    }
    Ok(())
}

/// WASI filetypes.
pub(crate) mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
}
