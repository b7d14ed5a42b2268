//! In-VM memory file systems (`--tmpfs`): sysd's own memory at
//! `layout::TMPFS`, never the host's files. They answer the same
//! one-component ops as the host executor ([`OpCode`]), with Linux's
//! errnos, so the path resolution and WASI logic above them are shared:
//! the executor-op wrapper in `wasi/host.rs` sends every op on a handle with
//! [`TMPFS_BIT`] here.
//!
//! The region, formatted on first use: block 0 the superblock and mount
//! table, then the handle table, the inode table, the block bitmap and
//! 4 KiB data blocks. A file's blocks are 12 direct pointers, one indirect
//! and one double-indirect block; a block never written reads as zeros
//! (sparse files). A directory's content is fixed-size entries. Each mount
//! has a byte quota; past it writes fail with `NOSPC`. Nothing here
//! allocates: all state lives in the region.

use core::mem::offset_of;

use wasc_wire::hostop::{lookup, times, Dirent, OpCode, DIRENT_HEADER, NAME_MAX, SCRATCH_LEN};
use wasc_wire::hostop::{SECOND_OFFSET, TARGET_MAX};

use super::errno::*;
use super::System;

mod store;
#[cfg(test)]
mod tests;

use store::Fs;

/// Set in every handle of a memory file system.
pub const TMPFS_BIT: u32 = 1 << 30;

const BLOCK: u64 = 4096;
const MAGIC: u32 = 0x7466_7331; // "tfs1"
const MAX_MOUNTS: u64 = 16;
const HANDLES: u64 = 256;
const HANDLE_SIZE: u64 = 16;
const INODE_SIZE: u64 = 128;
const DIRECT: u64 = 12;
const PER_BLOCK: u64 = BLOCK / 4;
const ENTRY: u64 = 8 + NAME_MAX as u64 + 1; // ino u32, len u8, pad, name

// Superblock fields (block 0).
const SB_MAGIC: u64 = 0;
const SB_BLOCKS: u64 = 4;
const SB_INODES: u64 = 8;
const SB_MOUNTS: u64 = 12;
/// Mount table: root inode u32, pad u32, quota blocks u64, used blocks u64.
const SB_MOUNT_TABLE: u64 = 64;
const MOUNT_SIZE: u64 = 24;

const HANDLE_TABLE: u64 = BLOCK;

// Inode fields.
const I_KIND: u64 = 0;
const I_MOUNT: u64 = 1;
const I_NLINK: u64 = 4;
const I_SIZE: u64 = 8;
const I_ATIM: u64 = 16;
const I_MTIM: u64 = 24;
const I_CTIM: u64 = 32;
const I_PARENT: u64 = 40;
const I_OPENS: u64 = 44;
const I_DIRECT: u64 = 48;
const I_INDIRECT: u64 = 96;
const I_DOUBLE: u64 = 100;

const FREE: u8 = 0;
const FILE: u8 = 4;
const DIR: u8 = 3;
const LINK: u8 = 7;

// WASI errnos the file system adds.
const NOSPC: u16 = 51;
const NOTEMPTY: u16 = 55;
const FBIG: u16 = 22;

/// A handle's slot: inode u32, flags u32 (1 read, 2 write), in use u32.
const H_INO: u64 = 0;
const H_FLAGS: u64 = 4;
const H_USED: u64 = 8;

/// Whether `handle` names a memory file system's object.
pub fn owns(handle: u64) -> bool {
    handle & u64::from(TMPFS_BIT) != 0 && handle < (1 << 32)
}

/// Formats the region with one mount per entry of `quotas` (bytes each);
/// mount `i`'s root directory is handle `TMPFS_BIT | i`. Does nothing if
/// there are no mounts or the region is too small.
pub fn format<S: System>(sys: &mut S, quotas: &[u64]) {
    let len = sys.tmpfs_len();
    let mounts = (quotas.len() as u64).min(MAX_MOUNTS);
    if mounts == 0 || len < 64 * BLOCK {
        return;
    }
    let mut fs = Fs { sys };
    let blocks = len / BLOCK;
    let inodes = (blocks / 4).clamp(64, 4096);
    fs.set_u32(SB_MAGIC, MAGIC);
    fs.set_u32(SB_BLOCKS, blocks as u32);
    fs.set_u32(SB_INODES, inodes as u32);
    fs.set_u32(SB_MOUNTS, mounts as u32);
    // Reserve the metadata blocks in the bitmap.
    let bitmap = fs.bitmap();
    let first_data = (bitmap + blocks.div_ceil(8)).div_ceil(BLOCK);
    for block in 0..first_data {
        let byte = bitmap + block / 8;
        let bits = fs.u8(byte);
        fs.set_u8(byte, bits | (1 << (block % 8)));
    }
    for (i, quota) in quotas.iter().take(mounts as usize).enumerate() {
        let m = SB_MOUNT_TABLE + i as u64 * MOUNT_SIZE;
        fs.set_u64(m + 8, quota / BLOCK);
        fs.set_u64(m + 16, 0);
        if let Ok(root) = fs.alloc_inode(i as u64, DIR, 0) {
            let at = fs.inode(root) + I_PARENT;
            fs.set_u32(at, root);
            fs.set_u32(m, root);
            let _ = fs.open_handle(root, 1);
        }
    }
}

/// Performs one op on a memory file system: the same arguments, scratch
/// use and results as the host executor's.
pub fn execute<S: System>(sys: &mut S, code: OpCode, args: &[u64; 6]) -> Result<u64, u16> {
    let mut fs = Fs { sys };
    if fs.u32(SB_MAGIC) != MAGIC {
        return Err(BADF);
    }
    let [a0, a1, a2, a3, a4, _] = *args;
    match code {
        OpCode::Lookup => lookup_op(&mut fs, a0, a1, a2),
        OpCode::Stat => {
            let (_, ino, _) = fs.handle(a0)?;
            let stat = fs.stat(ino);
            fs.put_stat(&stat);
            Ok(0)
        }
        OpCode::StatAt => {
            let dir = fs.dir_handle(a0)?;
            let (name, len) = fs.name(0, a1)?;
            let ino = fs.child(dir, &name[..len]).ok_or(NOENT)?;
            let stat = fs.stat(ino);
            fs.put_stat(&stat);
            Ok(0)
        }
        OpCode::ReadLink => {
            let dir = fs.dir_handle(a0)?;
            let (name, len) = fs.name(0, a1)?;
            let ino = fs.child(dir, &name[..len]).ok_or(NOENT)?;
            if fs.kind(ino) != LINK {
                return Err(INVAL);
            }
            let mut target = [0u8; TARGET_MAX];
            let n = fs.read_into(ino, 0, TARGET_MAX as u64, |_, off, bytes| {
                target[off as usize..off as usize + bytes.len()].copy_from_slice(bytes);
            });
            fs.sys.write_scratch(SECOND_OFFSET, &target[..n as usize]);
            Ok(n)
        }
        OpCode::Mkdir => {
            let dir = fs.dir_handle(a0)?;
            let (name, len) = fs.name(0, a1)?;
            let name = &name[..len];
            if name == b"." || fs.find(dir, name).is_some() {
                return Err(EXIST);
            }
            let mount = fs.mount_of(dir);
            let ino = fs.alloc_inode(mount, DIR, dir)?;
            if let Err(e) = fs.add_entry(dir, name, ino) {
                fs.discard(ino);
                return Err(e);
            }
            let at = fs.inode(dir) + I_NLINK;
            let n = fs.u32(at);
            fs.set_u32(at, n + 1);
            Ok(0)
        }
        OpCode::Unlink | OpCode::Rmdir => {
            let dir = fs.dir_handle(a0)?;
            let (name, len) = fs.name(0, a1)?;
            let name = &name[..len];
            if name == b"." {
                return Err(if code == OpCode::Rmdir { INVAL } else { ISDIR });
            }
            let (slot, ino) = fs.find(dir, name).ok_or(NOENT)?;
            let is_dir = fs.kind(ino) == DIR;
            if code == OpCode::Unlink && is_dir {
                return Err(ISDIR);
            }
            if code == OpCode::Rmdir {
                if !is_dir {
                    return Err(NOTDIR);
                }
                if !fs.is_empty_dir(ino) {
                    return Err(NOTEMPTY);
                }
            }
            unlink_at(&mut fs, dir, slot, ino);
            Ok(0)
        }
        OpCode::Rename | OpCode::Link => {
            if !owns(a2) {
                return Err(XDEV);
            }
            let from = fs.dir_handle(a0)?;
            let to = fs.dir_handle(a2)?;
            let (old, old_len) = fs.name(0, a1)?;
            let (new, new_len) = fs.name(SECOND_OFFSET, a3)?;
            if fs.mount_of(from) != fs.mount_of(to) {
                return Err(XDEV);
            }
            if code == OpCode::Link {
                link_op(&mut fs, from, &old[..old_len], to, &new[..new_len])
            } else {
                rename_op(&mut fs, from, &old[..old_len], to, &new[..new_len])
            }
            .map(|()| 0)
        }
        OpCode::Symlink => {
            let dir = fs.dir_handle(a0)?;
            let (name, len) = fs.name(0, a1)?;
            let target_len = a2 as usize;
            if target_len == 0 || target_len >= TARGET_MAX {
                return Err(INVAL);
            }
            let mut target = [0u8; TARGET_MAX];
            fs.sys
                .read_scratch(SECOND_OFFSET, &mut target[..target_len]);
            let name = &name[..len];
            if name == b"." || fs.find(dir, name).is_some() {
                return Err(EXIST);
            }
            let mount = fs.mount_of(dir);
            let ino = fs.alloc_inode(mount, LINK, dir)?;
            let written = fs.write_from(ino, 0, target_len as u64, |_, off, bytes| {
                bytes.copy_from_slice(&target[off as usize..off as usize + bytes.len()]);
            });
            match written.and_then(|_| fs.add_entry(dir, name, ino)) {
                Ok(()) => Ok(0),
                Err(e) => {
                    fs.discard(ino);
                    Err(e)
                }
            }
        }
        OpCode::Truncate => {
            let (_, ino, flags) = fs.handle(a0)?;
            if fs.kind(ino) != FILE {
                return Err(BADF);
            }
            if flags & 2 == 0 {
                return Err(INVAL);
            }
            fs.truncate(ino, a1).map(|()| 0)
        }
        OpCode::Sync => {
            let (_, ino, _) = fs.handle(a0)?;
            if fs.kind(ino) != FILE || a1 > 1 {
                return Err(BADF);
            }
            Ok(0)
        }
        OpCode::SetTimes | OpCode::SetTimesAt => {
            let (ino, atim, mtim, flags) = if code == OpCode::SetTimes {
                let (_, ino, _) = fs.handle(a0)?;
                (ino, a1, a2, a3)
            } else {
                let dir = fs.dir_handle(a0)?;
                let (name, len) = fs.name(0, a1)?;
                (fs.child(dir, &name[..len]).ok_or(NOENT)?, a2, a3, a4)
            };
            if flags & !times::ALL != 0 {
                return Err(INVAL);
            }
            let now = fs.now();
            let node = fs.inode(ino);
            for (set, set_now, field, value) in [
                (times::ATIM, times::ATIM_NOW, I_ATIM, atim),
                (times::MTIM, times::MTIM_NOW, I_MTIM, mtim),
            ] {
                if flags & set != 0 {
                    fs.set_u64(node + field, value);
                } else if flags & set_now != 0 {
                    fs.set_u64(node + field, now);
                }
            }
            fs.set_u64(node + I_CTIM, now);
            Ok(0)
        }
        OpCode::ReadDir => read_dir(&mut fs, a0, a1),
        OpCode::Read | OpCode::Pread => {
            let (_, ino, flags) = fs.handle(a0)?;
            if flags & 1 == 0 || fs.kind(ino) != FILE {
                return Err(BADF);
            }
            let (buf, len) = (a1, a2);
            let pos = if code == OpCode::Pread { a3 } else { 0 };
            let n = fs.read_into(ino, pos, len, |sys, off, bytes| {
                sys.write_memory(buf + off, bytes)
            });
            Ok(n)
        }
        OpCode::Write | OpCode::Pwrite | OpCode::Append => {
            let (_, ino, flags) = fs.handle(a0)?;
            if flags & 2 == 0 || fs.kind(ino) != FILE {
                return Err(BADF);
            }
            let (buf, len) = (a1, a2);
            let pos = match code {
                OpCode::Pwrite => a3,
                OpCode::Append => fs.size(ino),
                _ => 0,
            };
            fs.write_from(ino, pos, len, |sys, off, bytes| {
                sys.read_memory(buf + off, bytes)
            })
        }
        OpCode::Close => {
            let (at, ino, _) = fs.handle(a0)?;
            fs.set_u32(at + H_USED, 0);
            let opens = fs.inode(ino) + I_OPENS;
            let n = fs.u32(opens);
            fs.set_u32(opens, n.saturating_sub(1));
            fs.release(ino);
            Ok(0)
        }
        // The walk never asks a memory file system for a run of
        // directories (`path::Walk::open_run`): its lookups cost no exit.
        OpCode::Wait
        | OpCode::ReadScratch
        | OpCode::LookupDir
        | OpCode::Accept
        | OpCode::Recv
        | OpCode::Send
        | OpCode::Shutdown => Err(INVAL),
    }
}

fn lookup_op<S: System>(fs: &mut Fs<'_, S>, dir: u64, len: u64, flags: u64) -> Result<u64, u16> {
    let dir = fs.dir_handle(dir)?;
    let (name, name_len) = fs.name(0, len)?;
    let name = &name[..name_len];
    if flags & !lookup::ALL != 0 {
        return Err(INVAL);
    }
    let write = flags & lookup::WRITE != 0;
    let ino = match fs.child(dir, name) {
        Some(_) if flags & lookup::EXCLUSIVE != 0 => return Err(EXIST),
        Some(ino) => ino,
        None if flags & lookup::CREATE != 0 => {
            let mount = fs.mount_of(dir);
            let ino = fs.alloc_inode(mount, FILE, dir)?;
            if let Err(e) = fs.add_entry(dir, name, ino) {
                fs.discard(ino);
                return Err(e);
            }
            ino
        }
        None => return Err(NOENT),
    };
    match fs.kind(ino) {
        LINK if flags & lookup::DIRECTORY != 0 => return Err(NOTDIR),
        LINK => return Err(LOOP),
        DIR if write => return Err(ISDIR),
        FILE if flags & lookup::DIRECTORY != 0 => return Err(NOTDIR),
        _ => {}
    }
    let is_dir = fs.kind(ino) == DIR;
    if flags & lookup::TRUNCATE != 0 && !is_dir {
        fs.truncate(ino, 0)?;
    }
    let mode = u32::from(flags & lookup::READ != 0 || !write) | (u32::from(write) << 1);
    let handle = fs.open_handle(ino, mode)?;
    Ok(handle | if is_dir { lookup::RESULT_DIRECTORY } else { 0 })
}

fn unlink_at<S: System>(fs: &mut Fs<'_, S>, dir: u32, slot: u64, ino: u32) {
    fs.remove_entry(dir, slot);
    let node = fs.inode(ino);
    if fs.kind(ino) == DIR {
        fs.set_u32(node + I_NLINK, 0);
        let at = fs.inode(dir) + I_NLINK;
        let n = fs.u32(at);
        fs.set_u32(at, n.saturating_sub(1));
    } else {
        let n = fs.u32(node + I_NLINK);
        fs.set_u32(node + I_NLINK, n.saturating_sub(1));
    }
    let now = fs.now();
    fs.set_u64(node + I_CTIM, now);
    let dnode = fs.inode(dir);
    fs.set_u64(dnode + I_MTIM, now);
    fs.release(ino);
}

fn link_op<S: System>(
    fs: &mut Fs<'_, S>,
    from: u32,
    old: &[u8],
    to: u32,
    new: &[u8],
) -> Result<(), u16> {
    let ino = fs.child(from, old).ok_or(NOENT)?;
    if fs.kind(ino) == DIR {
        return Err(PERM);
    }
    if fs.child(to, new).is_some() {
        return Err(EXIST);
    }
    fs.add_entry(to, new, ino)?;
    let node = fs.inode(ino);
    let n = fs.u32(node + I_NLINK);
    fs.set_u32(node + I_NLINK, n + 1);
    let now = fs.now();
    fs.set_u64(node + I_CTIM, now);
    Ok(())
}

fn rename_op<S: System>(
    fs: &mut Fs<'_, S>,
    from: u32,
    old: &[u8],
    to: u32,
    new: &[u8],
) -> Result<(), u16> {
    let (old_slot, ino) = fs.find(from, old).ok_or(NOENT)?;
    let moving_dir = fs.kind(ino) == DIR;
    if moving_dir {
        // Not into itself or below it.
        let mut at = to;
        loop {
            if at == ino {
                return Err(INVAL);
            }
            let parent_at = fs.inode(at) + I_PARENT;
            let parent = fs.u32(parent_at);
            if parent == at || parent == 0 {
                break;
            }
            at = parent;
        }
    }
    if let Some((new_slot, target)) = fs.find(to, new) {
        if target == ino {
            return Ok(());
        }
        let target_dir = fs.kind(target) == DIR;
        match (moving_dir, target_dir) {
            (true, false) => return Err(NOTDIR),
            (false, true) => return Err(ISDIR),
            (true, true) if !fs.is_empty_dir(target) => return Err(NOTEMPTY),
            _ => {}
        }
        unlink_at(fs, to, new_slot, target);
    }
    fs.add_entry(to, new, ino)?;
    fs.remove_entry(from, old_slot);
    if moving_dir && from != to {
        let node = fs.inode(ino);
        fs.set_u32(node + I_PARENT, to);
        for (dir, delta) in [(from, -1i64), (to, 1)] {
            let at = fs.inode(dir) + I_NLINK;
            let n = i64::from(fs.u32(at)) + delta;
            fs.set_u32(at, n.max(0) as u32);
        }
    }
    let now = fs.now();
    let node = fs.inode(ino);
    fs.set_u64(node + I_CTIM, now);
    Ok(())
}

/// Entries of `dir` from the `index`th on (`.` and `..` are not entries),
/// packed into the scratch area as the executor packs them.
fn read_dir<S: System>(fs: &mut Fs<'_, S>, raw: u64, index: u64) -> Result<u64, u16> {
    let dir = fs.dir_handle(raw)?;
    let size = fs.size(dir);
    let (mut live, mut packed, mut count) = (0u64, 0usize, 0u64);
    let mut slot = 0;
    while slot * ENTRY < size {
        let (ino, name, len) = fs.entry(dir, slot);
        slot += 1;
        if ino == 0 {
            continue;
        }
        if live < index {
            live += 1;
            continue;
        }
        let need = DIRENT_HEADER + len;
        if packed + need > SCRATCH_LEN {
            break;
        }
        let mut header = [0u8; DIRENT_HEADER];
        header[..8].copy_from_slice(&u64::from(ino).to_le_bytes());
        header[offset_of!(Dirent, filetype)] = fs.kind(ino);
        header[offset_of!(Dirent, name_len)] = len as u8;
        fs.sys.write_scratch(packed, &header);
        fs.sys.write_scratch(packed + DIRENT_HEADER, &name[..len]);
        packed += need;
        count += 1;
        live += 1;
    }
    Ok(count)
}
