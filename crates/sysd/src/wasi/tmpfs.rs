//! In-VM memory file systems (`--tmpfs`): sysd's own memory at
//! `layout::TMPFS`, never the host's files. They answer the same
//! one-component ops as the host executor ([`OpCode`]), with Linux's
//! errnos, so the path resolution and WASI logic above them are shared:
//! [`super::host::op`] sends every op on a handle with [`TMPFS_BIT`] here.
//!
//! The region, formatted on first use: block 0 the superblock and mount
//! table, then the handle table, the inode table, the block bitmap and
//! 4 KiB data blocks. A file's blocks are 12 direct pointers, one indirect
//! and one double-indirect block; a block never written reads as zeros
//! (sparse files). A directory's content is fixed-size entries. Each mount
//! has a byte quota; past it writes fail with `NOSPC`. Nothing here
//! allocates: all state lives in the region.

use core::mem::offset_of;

use wasc_wire::hostop::{
    lookup, times, Dirent, OpCode, Stat, DIRENT_HEADER, NAME_MAX, SCRATCH_LEN,
};
use wasc_wire::hostop::{SECOND_OFFSET, TARGET_MAX};

use super::errno::*;
use super::System;

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

/// The file system behind one call.
struct Fs<'a, S: System> {
    sys: &'a mut S,
}

impl<S: System> Fs<'_, S> {
    fn u8(&mut self, at: u64) -> u8 {
        let mut b = [0u8; 1];
        self.sys.tmpfs_read(at, &mut b);
        b[0]
    }
    fn set_u8(&mut self, at: u64, v: u8) {
        self.sys.tmpfs_write(at, &[v]);
    }
    fn u32(&mut self, at: u64) -> u32 {
        let mut b = [0u8; 4];
        self.sys.tmpfs_read(at, &mut b);
        u32::from_le_bytes(b)
    }
    fn set_u32(&mut self, at: u64, v: u32) {
        self.sys.tmpfs_write(at, &v.to_le_bytes());
    }
    fn u64(&mut self, at: u64) -> u64 {
        let mut b = [0u8; 8];
        self.sys.tmpfs_read(at, &mut b);
        u64::from_le_bytes(b)
    }
    fn set_u64(&mut self, at: u64, v: u64) {
        self.sys.tmpfs_write(at, &v.to_le_bytes());
    }

    fn blocks(&mut self) -> u64 {
        u64::from(self.u32(SB_BLOCKS))
    }
    fn inodes(&mut self) -> u64 {
        u64::from(self.u32(SB_INODES))
    }
    fn inode_table(&self) -> u64 {
        HANDLE_TABLE + HANDLES * HANDLE_SIZE
    }
    fn inode(&self, ino: u32) -> u64 {
        self.inode_table() + u64::from(ino) * INODE_SIZE
    }
    fn size(&mut self, ino: u32) -> u64 {
        let at = self.inode(ino) + I_SIZE;
        self.u64(at)
    }
    fn bitmap(&mut self) -> u64 {
        let end = self.inode_table() + self.inodes() * INODE_SIZE;
        end.div_ceil(BLOCK) * BLOCK
    }

    /// The realtime clock, for timestamps.
    fn now(&mut self) -> u64 {
        let calibration = self.sys.instance();
        let tsc = self.sys.rdtsc();
        super::clock_ns(&calibration, tsc, false).unwrap_or(0)
    }

    // Blocks.

    fn mount_of(&mut self, ino: u32) -> u64 {
        let at = self.inode(ino) + I_MOUNT;
        u64::from(self.u8(at))
    }

    fn alloc_block(&mut self, mount: u64) -> Result<u32, u16> {
        let m = SB_MOUNT_TABLE + mount * MOUNT_SIZE;
        let (quota, used) = (self.u64(m + 8), self.u64(m + 16));
        if used >= quota {
            return Err(NOSPC);
        }
        let bitmap = self.bitmap();
        let blocks = self.blocks();
        let first = (bitmap + blocks.div_ceil(8)).div_ceil(BLOCK);
        for block in first..blocks {
            let byte = bitmap + block / 8;
            let bits = self.u8(byte);
            if bits & (1 << (block % 8)) == 0 {
                self.set_u8(byte, bits | (1 << (block % 8)));
                self.set_u64(m + 16, used + 1);
                let zero = [0u8; 256];
                for i in 0..BLOCK / 256 {
                    self.sys.tmpfs_write(block * BLOCK + i * 256, &zero);
                }
                return Ok(block as u32);
            }
        }
        Err(NOSPC)
    }

    fn free_block(&mut self, mount: u64, block: u32) {
        if block == 0 {
            return;
        }
        let bitmap = self.bitmap();
        let byte = bitmap + u64::from(block) / 8;
        let bits = self.u8(byte);
        self.set_u8(byte, bits & !(1 << (block % 8)));
        let m = SB_MOUNT_TABLE + mount * MOUNT_SIZE + 16;
        let used = self.u64(m);
        self.set_u64(m, used.saturating_sub(1));
    }

    /// Where block `index` of `ino` lives; with `create`, allocates it (and
    /// the indirect blocks on the way). 0: a hole.
    fn block_of(&mut self, ino: u32, index: u64, create: bool) -> Result<u32, u16> {
        let node = self.inode(ino);
        let mount = self.mount_of(ino);
        let slot = if index < DIRECT {
            node + I_DIRECT + 4 * index
        } else if index < DIRECT + PER_BLOCK {
            let table = self.table(node + I_INDIRECT, mount, create)?;
            if table == 0 {
                return Ok(0);
            }
            u64::from(table) * BLOCK + 4 * (index - DIRECT)
        } else if index < DIRECT + PER_BLOCK + PER_BLOCK * PER_BLOCK {
            let i = index - DIRECT - PER_BLOCK;
            let outer = self.table(node + I_DOUBLE, mount, create)?;
            if outer == 0 {
                return Ok(0);
            }
            let inner = self.table(
                u64::from(outer) * BLOCK + 4 * (i / PER_BLOCK),
                mount,
                create,
            )?;
            if inner == 0 {
                return Ok(0);
            }
            u64::from(inner) * BLOCK + 4 * (i % PER_BLOCK)
        } else {
            return Err(FBIG);
        };
        let block = self.u32(slot);
        if block == 0 && create {
            let block = self.alloc_block(mount)?;
            self.set_u32(slot, block);
            return Ok(block);
        }
        Ok(block)
    }

    /// The block a pointer at `slot` names, allocated if `create`.
    fn table(&mut self, slot: u64, mount: u64, create: bool) -> Result<u32, u16> {
        let block = self.u32(slot);
        if block == 0 && create {
            let block = self.alloc_block(mount)?;
            self.set_u32(slot, block);
            return Ok(block);
        }
        Ok(block)
    }

    /// Frees every block of `ino` from block `keep` on.
    fn free_from(&mut self, ino: u32, keep: u64) {
        let node = self.inode(ino);
        let mount = self.mount_of(ino);
        let size = self.u64(node + I_SIZE);
        let count = size.div_ceil(BLOCK);
        for index in keep..count.max(keep) {
            if let Ok(block) = self.block_of(ino, index, false) {
                if block != 0 {
                    self.free_block(mount, block);
                    // Clear the pointer: recompute its slot through a
                    // zero-length lookup is not possible, so clear via
                    // the direct/indirect layout.
                    self.clear_pointer(ino, index);
                }
            }
        }
        if keep <= DIRECT {
            let table = self.u32(node + I_INDIRECT);
            self.free_block(mount, table);
            self.set_u32(node + I_INDIRECT, 0);
        }
        if keep <= DIRECT + PER_BLOCK {
            let outer = self.u32(node + I_DOUBLE);
            if outer != 0 {
                for i in 0..PER_BLOCK {
                    let inner = self.u32(u64::from(outer) * BLOCK + 4 * i);
                    self.free_block(mount, inner);
                }
                self.free_block(mount, outer);
                self.set_u32(node + I_DOUBLE, 0);
            }
        }
    }

    fn clear_pointer(&mut self, ino: u32, index: u64) {
        let node = self.inode(ino);
        if index < DIRECT {
            self.set_u32(node + I_DIRECT + 4 * index, 0);
        } else if index < DIRECT + PER_BLOCK {
            let table = self.u32(node + I_INDIRECT);
            if table != 0 {
                self.set_u32(u64::from(table) * BLOCK + 4 * (index - DIRECT), 0);
            }
        } else {
            let i = index - DIRECT - PER_BLOCK;
            let outer = self.u32(node + I_DOUBLE);
            if outer != 0 {
                let inner = self.u32(u64::from(outer) * BLOCK + 4 * (i / PER_BLOCK));
                if inner != 0 {
                    self.set_u32(u64::from(inner) * BLOCK + 4 * (i % PER_BLOCK), 0);
                }
            }
        }
    }

    // File content.

    /// Copies `len` bytes at `pos` of `ino` out with `sink(offset, bytes)`.
    fn read_into(
        &mut self,
        ino: u32,
        pos: u64,
        len: u64,
        mut sink: impl FnMut(&mut S, u64, &[u8]),
    ) -> u64 {
        let size = self.size(ino);
        let end = pos.saturating_add(len).min(size);
        let mut at = pos;
        let mut chunk = [0u8; 512];
        while at < end {
            let index = at / BLOCK;
            let within = at % BLOCK;
            let n = (BLOCK - within).min(end - at).min(chunk.len() as u64);
            let block = self.block_of(ino, index, false).unwrap_or(0);
            let bytes = &mut chunk[..n as usize];
            if block == 0 {
                bytes.fill(0);
            } else {
                self.sys
                    .tmpfs_read(u64::from(block) * BLOCK + within, bytes);
            }
            sink(self.sys, at - pos, bytes);
            at += n;
        }
        end.saturating_sub(pos)
    }

    /// Writes `len` bytes at `pos` of `ino`, taking them from `source`.
    fn write_from(
        &mut self,
        ino: u32,
        pos: u64,
        len: u64,
        mut source: impl FnMut(&mut S, u64, &mut [u8]),
    ) -> Result<u64, u16> {
        let end = pos.checked_add(len).ok_or(FBIG)?;
        let mut at = pos;
        let mut chunk = [0u8; 512];
        while at < end {
            let index = at / BLOCK;
            let within = at % BLOCK;
            let n = (BLOCK - within).min(end - at).min(chunk.len() as u64);
            let block = match self.block_of(ino, index, true) {
                Ok(block) => block,
                // A partial write counts what it wrote.
                Err(_) if at > pos => {
                    self.grow(ino, at);
                    return Ok(at - pos);
                }
                Err(e) => return Err(e),
            };
            let bytes = &mut chunk[..n as usize];
            source(self.sys, at - pos, bytes);
            self.sys
                .tmpfs_write(u64::from(block) * BLOCK + within, bytes);
            at += n;
        }
        self.grow(ino, end);
        let now = self.now();
        let node = self.inode(ino);
        self.set_u64(node + I_MTIM, now);
        self.set_u64(node + I_CTIM, now);
        Ok(len)
    }

    fn grow(&mut self, ino: u32, end: u64) {
        let at = self.inode(ino) + I_SIZE;
        if self.u64(at) < end {
            self.set_u64(at, end);
        }
    }

    fn truncate(&mut self, ino: u32, size: u64) -> Result<(), u16> {
        let node = self.inode(ino);
        let old = self.u64(node + I_SIZE);
        if size < old {
            self.free_from(ino, size.div_ceil(BLOCK));
            // Zero the tail of the last kept block so a later extension
            // reads zeros.
            if !size.is_multiple_of(BLOCK) {
                let block = self.block_of(ino, size / BLOCK, false)?;
                if block != 0 {
                    let zero = [0u8; 512];
                    let mut at = size % BLOCK;
                    while at < BLOCK {
                        let n = (BLOCK - at).min(512);
                        self.sys
                            .tmpfs_write(u64::from(block) * BLOCK + at, &zero[..n as usize]);
                        at += n;
                    }
                }
            }
        }
        if size > (DIRECT + PER_BLOCK + PER_BLOCK * PER_BLOCK) * BLOCK {
            return Err(FBIG);
        }
        self.set_u64(node + I_SIZE, size);
        let now = self.now();
        self.set_u64(node + I_MTIM, now);
        self.set_u64(node + I_CTIM, now);
        Ok(())
    }

    // Inodes.

    fn alloc_inode(&mut self, mount: u64, kind: u8, parent: u32) -> Result<u32, u16> {
        let count = self.inodes();
        for ino in 1..count as u32 {
            let node = self.inode(ino);
            if self.u8(node + I_KIND) == FREE {
                let zero = [0u8; INODE_SIZE as usize];
                self.sys.tmpfs_write(node, &zero);
                self.set_u8(node + I_KIND, kind);
                self.set_u8(node + I_MOUNT, mount as u8);
                self.set_u32(node + I_NLINK, if kind == DIR { 2 } else { 1 });
                self.set_u32(node + I_PARENT, parent);
                let now = self.now();
                for field in [I_ATIM, I_MTIM, I_CTIM] {
                    self.set_u64(node + field, now);
                }
                return Ok(ino);
            }
        }
        Err(NOSPC)
    }

    /// Frees `ino` if nothing links or holds it.
    fn release(&mut self, ino: u32) {
        let node = self.inode(ino);
        if self.u32(node + I_NLINK) == 0 && self.u32(node + I_OPENS) == 0 {
            self.free_from(ino, 0);
            self.set_u8(node + I_KIND, FREE);
        }
    }

    fn kind(&mut self, ino: u32) -> u8 {
        let at = self.inode(ino) + I_KIND;
        self.u8(at)
    }

    // Directories.

    /// The entry slot of `name` in `dir`, if any, and its inode.
    fn find(&mut self, dir: u32, name: &[u8]) -> Option<(u64, u32)> {
        let size = self.size(dir);
        let mut slot = 0;
        while slot * ENTRY < size {
            let (ino, entry_name, len) = self.entry(dir, slot);
            if ino != 0 && &entry_name[..len] == name {
                return Some((slot, ino));
            }
            slot += 1;
        }
        None
    }

    fn entry(&mut self, dir: u32, slot: u64) -> (u32, [u8; NAME_MAX], usize) {
        let mut raw = [0u8; ENTRY as usize];
        self.read_into(dir, slot * ENTRY, ENTRY, |_, off, bytes| {
            raw[off as usize..off as usize + bytes.len()].copy_from_slice(bytes);
        });
        let ino = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let len = usize::from(raw[4]).min(NAME_MAX);
        let mut name = [0u8; NAME_MAX];
        name[..len].copy_from_slice(&raw[8..8 + len]);
        (ino, name, len)
    }

    fn add_entry(&mut self, dir: u32, name: &[u8], ino: u32) -> Result<(), u16> {
        let size = self.size(dir);
        let mut slot = 0;
        while slot * ENTRY < size {
            if self.entry(dir, slot).0 == 0 {
                break;
            }
            slot += 1;
        }
        let mut raw = [0u8; ENTRY as usize];
        raw[..4].copy_from_slice(&ino.to_le_bytes());
        raw[4] = name.len() as u8;
        raw[8..8 + name.len()].copy_from_slice(name);
        self.write_from(dir, slot * ENTRY, ENTRY, |_, off, bytes| {
            bytes.copy_from_slice(&raw[off as usize..off as usize + bytes.len()]);
        })?;
        Ok(())
    }

    fn remove_entry(&mut self, dir: u32, slot: u64) {
        let zero = [0u8; 8];
        let _ = self.write_from(dir, slot * ENTRY, 8, |_, off, bytes| {
            bytes.copy_from_slice(&zero[off as usize..off as usize + bytes.len()]);
        });
    }

    fn is_empty_dir(&mut self, dir: u32) -> bool {
        let size = self.size(dir);
        (0..size / ENTRY).all(|slot| self.entry(dir, slot).0 == 0)
    }

    // Handles.

    fn handle(&mut self, raw: u64) -> Result<(u64, u32, u32), u16> {
        let index = raw & !u64::from(TMPFS_BIT);
        if !owns(raw) || index >= HANDLES {
            return Err(BADF);
        }
        let at = HANDLE_TABLE + index * HANDLE_SIZE;
        if self.u32(at + H_USED) == 0 {
            return Err(BADF);
        }
        Ok((at, self.u32(at + H_INO), self.u32(at + H_FLAGS)))
    }

    fn dir_handle(&mut self, raw: u64) -> Result<u32, u16> {
        let (_, ino, _) = self.handle(raw)?;
        if self.kind(ino) != DIR {
            return Err(BADF);
        }
        Ok(ino)
    }

    fn open_handle(&mut self, ino: u32, flags: u32) -> Result<u64, u16> {
        for index in 0..HANDLES {
            let at = HANDLE_TABLE + index * HANDLE_SIZE;
            if self.u32(at + H_USED) == 0 {
                self.set_u32(at + H_USED, 1);
                self.set_u32(at + H_INO, ino);
                self.set_u32(at + H_FLAGS, flags);
                let opens = self.inode(ino) + I_OPENS;
                let n = self.u32(opens);
                self.set_u32(opens, n + 1);
                return Ok(u64::from(TMPFS_BIT) | index);
            }
        }
        Err(MFILE)
    }

    fn stat(&mut self, ino: u32) -> Stat {
        let node = self.inode(ino);
        Stat {
            dev: 0x746d_7066,
            ino: u64::from(ino),
            filetype: self.u8(node + I_KIND),
            reserved: [0; 7],
            nlink: u64::from(self.u32(node + I_NLINK)),
            size: self.u64(node + I_SIZE),
            atim: self.u64(node + I_ATIM),
            mtim: self.u64(node + I_MTIM),
            ctim: self.u64(node + I_CTIM),
        }
    }

    fn put_stat(&mut self, stat: &Stat) {
        let mut raw = [0u8; core::mem::size_of::<Stat>()];
        let mut put = |at: usize, v: u64| raw[at..at + 8].copy_from_slice(&v.to_le_bytes());
        put(offset_of!(Stat, dev), stat.dev);
        put(offset_of!(Stat, ino), stat.ino);
        put(offset_of!(Stat, nlink), stat.nlink);
        put(offset_of!(Stat, size), stat.size);
        put(offset_of!(Stat, atim), stat.atim);
        put(offset_of!(Stat, mtim), stat.mtim);
        put(offset_of!(Stat, ctim), stat.ctim);
        raw[offset_of!(Stat, filetype)] = stat.filetype;
        self.sys.write_scratch(0, &raw);
    }

    /// The component at `offset` of the scratch area, `len` bytes.
    fn name(&mut self, offset: usize, len: u64) -> Result<([u8; NAME_MAX], usize), u16> {
        let len = len as usize;
        if len == 0 || len > NAME_MAX {
            return Err(INVAL);
        }
        let mut name = [0u8; NAME_MAX];
        self.sys.read_scratch(offset, &mut name[..len]);
        let n = &name[..len];
        if n.contains(&b'/') || n.contains(&0) || n == b".." {
            return Err(INVAL);
        }
        Ok((name, len))
    }

    /// `name` in `dir`, or the directory itself for `.`.
    fn child(&mut self, dir: u32, name: &[u8]) -> Option<u32> {
        if name == b"." {
            return Some(dir);
        }
        self.find(dir, name).map(|(_, ino)| ino)
    }
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
                let at = fs.inode(ino) + I_NLINK;
                fs.set_u32(at, 0);
                fs.release(ino);
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
                    let at = fs.inode(ino) + I_NLINK;
                    fs.set_u32(at, 0);
                    fs.release(ino);
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
        OpCode::Wait => Err(INVAL),
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
                let at = fs.inode(ino) + I_NLINK;
                fs.set_u32(at, 0);
                fs.release(ino);
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

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use wasc_wire::hostop::HostOp;

    use super::*;
    use crate::wasi::InstanceData;

    /// A machine with linear memory, a scratch area and a tmpfs region.
    struct Fake {
        memory: Vec<u8>,
        scratch: [u8; SCRATCH_LEN],
        region: Vec<u8>,
    }

    impl System for Fake {
        fn read_memory(&mut self, offset: u64, buf: &mut [u8]) {
            let at = offset as usize;
            buf.copy_from_slice(&self.memory[at..at + buf.len()]);
        }
        fn write_memory(&mut self, offset: u64, data: &[u8]) {
            let at = offset as usize;
            self.memory[at..at + data.len()].copy_from_slice(data);
        }
        fn host_op(&mut self, _: HostOp) -> Result<u64, u32> {
            panic!("a tmpfs op reached the host")
        }
        fn read_scratch(&mut self, offset: usize, buf: &mut [u8]) {
            buf.copy_from_slice(&self.scratch[offset..offset + buf.len()]);
        }
        fn write_scratch(&mut self, offset: usize, data: &[u8]) {
            self.scratch[offset..offset + data.len()].copy_from_slice(data);
        }
        fn tmpfs_len(&mut self) -> u64 {
            self.region.len() as u64
        }
        fn tmpfs_read(&mut self, offset: u64, buf: &mut [u8]) {
            let at = offset as usize;
            buf.copy_from_slice(&self.region[at..at + buf.len()]);
        }
        fn tmpfs_write(&mut self, offset: u64, data: &[u8]) {
            let at = offset as usize;
            self.region[at..at + data.len()].copy_from_slice(data);
        }
        fn instance_data(&mut self) -> InstanceData<'_> {
            InstanceData {
                args: b"",
                env: b"",
                preopens: b"/t\0",
                max_fds: 0,
                tmpfs: b"1048576\0",
            }
        }
        fn random(&mut self, _: &mut [u8]) {}
        fn instance(&mut self) -> wasc_wire::Instance {
            wasc_wire::Instance::default()
        }
        fn rdtsc(&mut self) -> u64 {
            0
        }
    }

    const ROOT: u64 = TMPFS_BIT as u64;

    fn fs(quota: u64) -> Fake {
        let mut fake = Fake {
            memory: std::vec![0; 1 << 20],
            scratch: [0; SCRATCH_LEN],
            region: std::vec![0; 4 << 20],
        };
        format(&mut fake, &[quota]);
        fake
    }

    fn at(fake: &mut Fake, code: OpCode, dir: u64, name: &str, more: &[u64]) -> Result<u64, u16> {
        fake.scratch[..name.len()].copy_from_slice(name.as_bytes());
        let mut args = [0u64; 6];
        args[0] = dir;
        args[1] = name.len() as u64;
        args[2..2 + more.len()].copy_from_slice(more);
        execute(fake, code, &args)
    }

    fn op(fake: &mut Fake, code: OpCode, args: &[u64]) -> Result<u64, u16> {
        let mut words = [0u64; 6];
        words[..args.len()].copy_from_slice(args);
        execute(fake, code, &words)
    }

    fn create(fake: &mut Fake, name: &str) -> u64 {
        let flags = lookup::READ | lookup::WRITE | lookup::CREATE;
        at(fake, OpCode::Lookup, ROOT, name, &[flags]).expect("create") & 0xffff_ffff
    }

    #[test]
    fn files_hold_what_was_written_and_holes_read_as_zeros() {
        let mut fake = fs(1 << 20);
        let file = create(&mut fake, "f");
        fake.memory[..5].copy_from_slice(b"hello");
        assert_eq!(op(&mut fake, OpCode::Pwrite, &[file, 0, 5, 10_000]), Ok(5));
        assert_eq!(
            op(&mut fake, OpCode::Pread, &[file, 100, 20_000, 0]),
            Ok(10_005)
        );
        assert!(fake.memory[100..10_100].iter().all(|&b| b == 0), "a hole");
        assert_eq!(&fake.memory[10_100..10_105], b"hello");
        op(&mut fake, OpCode::Truncate, &[file, 3]).expect("truncate");
        op(&mut fake, OpCode::Truncate, &[file, 10_005]).expect("extend");
        assert_eq!(
            op(&mut fake, OpCode::Pread, &[file, 200, 10_005, 0]),
            Ok(10_005)
        );
        assert!(
            fake.memory[200..10_205].iter().all(|&b| b == 0),
            "truncated away"
        );
    }

    #[test]
    fn a_full_mount_answers_nospc_and_keeps_what_fit() {
        let mut fake = fs(64 << 10);
        let file = create(&mut fake, "f");
        let written = op(&mut fake, OpCode::Pwrite, &[file, 0, 128 << 10, 0]);
        let n = written.expect("a partial write");
        assert!(n > 0 && n < 128 << 10, "{n}");
        assert_eq!(
            op(&mut fake, OpCode::Pwrite, &[file, 0, 4096, n]),
            Err(NOSPC)
        );
        // Freeing the file frees its blocks.
        op(&mut fake, OpCode::Close, &[file]).expect("close");
        at(&mut fake, OpCode::Unlink, ROOT, "f", &[]).expect("unlink");
        let file = create(&mut fake, "g");
        assert_eq!(op(&mut fake, OpCode::Pwrite, &[file, 0, 4096, 0]), Ok(4096));
    }

    #[test]
    fn an_unlinked_file_lives_while_open() {
        let mut fake = fs(1 << 20);
        let file = create(&mut fake, "f");
        fake.memory[..3].copy_from_slice(b"abc");
        op(&mut fake, OpCode::Write, &[file, 0, 3]).expect("write");
        at(&mut fake, OpCode::Unlink, ROOT, "f", &[]).expect("unlink");
        assert_eq!(at(&mut fake, OpCode::StatAt, ROOT, "f", &[]), Err(NOENT));
        assert_eq!(op(&mut fake, OpCode::Pread, &[file, 8, 3, 0]), Ok(3));
        assert_eq!(&fake.memory[8..11], b"abc");
    }

    #[test]
    fn directories_rename_and_list() {
        let mut fake = fs(1 << 20);
        at(&mut fake, OpCode::Mkdir, ROOT, "a", &[]).expect("mkdir");
        let a = at(&mut fake, OpCode::Lookup, ROOT, "a", &[lookup::DIRECTORY]).expect("open a")
            & 0xffff_ffff;
        at(&mut fake, OpCode::Mkdir, a, "b", &[]).expect("mkdir a/b");
        // a into a/b: into itself.
        fake.scratch[SECOND_OFFSET..SECOND_OFFSET + 1].copy_from_slice(b"c");
        let b = at(&mut fake, OpCode::Lookup, a, "b", &[lookup::DIRECTORY]).expect("open b")
            & 0xffff_ffff;
        assert_eq!(
            at(&mut fake, OpCode::Rename, ROOT, "a", &[b, 1]),
            Err(INVAL)
        );
        assert_eq!(at(&mut fake, OpCode::Rmdir, ROOT, "a", &[]), Err(NOTEMPTY));
        create(&mut fake, "x");
        assert_eq!(at(&mut fake, OpCode::Mkdir, ROOT, "x", &[]), Err(EXIST));
        assert_eq!(op(&mut fake, OpCode::ReadDir, &[ROOT, 0]), Ok(2));
        assert_eq!(op(&mut fake, OpCode::ReadDir, &[ROOT, 1]), Ok(1));
        assert_eq!(op(&mut fake, OpCode::ReadDir, &[ROOT, 9]), Ok(0));
    }

    #[test]
    fn symlinks_are_never_followed_here() {
        let mut fake = fs(1 << 20);
        fake.scratch[SECOND_OFFSET..SECOND_OFFSET + 1].copy_from_slice(b"f");
        at(&mut fake, OpCode::Symlink, ROOT, "s", &[1]).expect("symlink");
        assert_eq!(
            at(&mut fake, OpCode::Lookup, ROOT, "s", &[lookup::READ]),
            Err(LOOP)
        );
        assert_eq!(
            at(&mut fake, OpCode::Lookup, ROOT, "s", &[lookup::DIRECTORY]),
            Err(NOTDIR)
        );
        assert_eq!(at(&mut fake, OpCode::ReadLink, ROOT, "s", &[]), Ok(1));
        assert_eq!(fake.scratch[SECOND_OFFSET], b'f');
        assert_eq!(at(&mut fake, OpCode::Lookup, ROOT, "..", &[0]), Err(INVAL));
    }
}
