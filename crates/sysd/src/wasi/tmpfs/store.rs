//! The storage of a memory file system: the region's layout, blocks,
//! inodes, file content, directory entries and handles.

use core::mem::offset_of;

use wasc_wire::hostop::{Stat, NAME_MAX};

use super::super::errno::*;
use super::super::System;
use super::*;

/// The file system behind one call.
pub(super) struct Fs<'a, S: System> {
    pub(super) sys: &'a mut S,
}

impl<S: System> Fs<'_, S> {
    pub(super) fn u8(&mut self, at: u64) -> u8 {
        let mut b = [0u8; 1];
        self.sys.tmpfs_read(at, &mut b);
        b[0]
    }
    pub(super) fn set_u8(&mut self, at: u64, v: u8) {
        self.sys.tmpfs_write(at, &[v]);
    }
    pub(super) fn u32(&mut self, at: u64) -> u32 {
        let mut b = [0u8; 4];
        self.sys.tmpfs_read(at, &mut b);
        u32::from_le_bytes(b)
    }
    pub(super) fn set_u32(&mut self, at: u64, v: u32) {
        self.sys.tmpfs_write(at, &v.to_le_bytes());
    }
    pub(super) fn u64(&mut self, at: u64) -> u64 {
        let mut b = [0u8; 8];
        self.sys.tmpfs_read(at, &mut b);
        u64::from_le_bytes(b)
    }
    pub(super) fn set_u64(&mut self, at: u64, v: u64) {
        self.sys.tmpfs_write(at, &v.to_le_bytes());
    }

    pub(super) fn blocks(&mut self) -> u64 {
        u64::from(self.u32(SB_BLOCKS))
    }
    pub(super) fn inodes(&mut self) -> u64 {
        u64::from(self.u32(SB_INODES))
    }
    pub(super) fn inode_table(&self) -> u64 {
        HANDLE_TABLE + HANDLES * HANDLE_SIZE
    }
    pub(super) fn inode(&self, ino: u32) -> u64 {
        self.inode_table() + u64::from(ino) * INODE_SIZE
    }
    pub(super) fn size(&mut self, ino: u32) -> u64 {
        let at = self.inode(ino) + I_SIZE;
        self.u64(at)
    }
    pub(super) fn bitmap(&mut self) -> u64 {
        let end = self.inode_table() + self.inodes() * INODE_SIZE;
        end.div_ceil(BLOCK) * BLOCK
    }

    /// The realtime clock, for timestamps.
    pub(super) fn now(&mut self) -> u64 {
        let calibration = self.sys.instance();
        let tsc = self.sys.rdtsc();
        crate::wasi::clock_ns(&calibration, tsc, false).unwrap_or(0)
    }

    // Blocks.

    pub(super) fn mount_of(&mut self, ino: u32) -> u64 {
        let at = self.inode(ino) + I_MOUNT;
        u64::from(self.u8(at))
    }

    pub(super) fn alloc_block(&mut self, mount: u64) -> Result<u32, u16> {
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

    pub(super) fn free_block(&mut self, mount: u64, block: u32) {
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
    pub(super) fn block_of(&mut self, ino: u32, index: u64, create: bool) -> Result<u32, u16> {
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
    pub(super) fn table(&mut self, slot: u64, mount: u64, create: bool) -> Result<u32, u16> {
        let block = self.u32(slot);
        if block == 0 && create {
            let block = self.alloc_block(mount)?;
            self.set_u32(slot, block);
            return Ok(block);
        }
        Ok(block)
    }

    /// Frees every block of `ino` from block `keep` on.
    pub(super) fn free_from(&mut self, ino: u32, keep: u64) {
        let node = self.inode(ino);
        let mount = self.mount_of(ino);
        let size = self.u64(node + I_SIZE);
        let count = size.div_ceil(BLOCK);
        for index in keep..count.max(keep) {
            if let Ok(block) = self.block_of(ino, index, false) {
                if block != 0 {
                    self.free_block(mount, block);
                    // A hole again: later reads see zeros.
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

    pub(super) fn clear_pointer(&mut self, ino: u32, index: u64) {
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
    pub(super) fn read_into(
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
    pub(super) fn write_from(
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

    pub(super) fn grow(&mut self, ino: u32, end: u64) {
        let at = self.inode(ino) + I_SIZE;
        if self.u64(at) < end {
            self.set_u64(at, end);
        }
    }

    pub(super) fn truncate(&mut self, ino: u32, size: u64) -> Result<(), u16> {
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

    pub(super) fn alloc_inode(&mut self, mount: u64, kind: u8, parent: u32) -> Result<u32, u16> {
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

    /// Frees an inode just made whose entry could not be added.
    pub(super) fn discard(&mut self, ino: u32) {
        let at = self.inode(ino) + I_NLINK;
        self.set_u32(at, 0);
        self.release(ino);
    }

    /// Frees `ino` if nothing links or holds it.
    pub(super) fn release(&mut self, ino: u32) {
        let node = self.inode(ino);
        if self.u32(node + I_NLINK) == 0 && self.u32(node + I_OPENS) == 0 {
            self.free_from(ino, 0);
            self.set_u8(node + I_KIND, FREE);
        }
    }

    pub(super) fn kind(&mut self, ino: u32) -> u8 {
        let at = self.inode(ino) + I_KIND;
        self.u8(at)
    }

    // Directories.

    /// The entry slot of `name` in `dir`, if any, and its inode.
    pub(super) fn find(&mut self, dir: u32, name: &[u8]) -> Option<(u64, u32)> {
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

    pub(super) fn entry(&mut self, dir: u32, slot: u64) -> (u32, [u8; NAME_MAX], usize) {
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

    pub(super) fn add_entry(&mut self, dir: u32, name: &[u8], ino: u32) -> Result<(), u16> {
        // A removed directory (reachable only through a descriptor still
        // open on it) takes no new names, as on Linux: anything made there
        // could never be reached or freed.
        if self.u32(self.inode(dir) + I_NLINK) == 0 {
            return Err(NOENT);
        }
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

    pub(super) fn remove_entry(&mut self, dir: u32, slot: u64) {
        let zero = [0u8; 8];
        let _ = self.write_from(dir, slot * ENTRY, 8, |_, off, bytes| {
            bytes.copy_from_slice(&zero[off as usize..off as usize + bytes.len()]);
        });
    }

    pub(super) fn is_empty_dir(&mut self, dir: u32) -> bool {
        let size = self.size(dir);
        (0..size / ENTRY).all(|slot| self.entry(dir, slot).0 == 0)
    }

    // Handles.

    pub(super) fn handle(&mut self, raw: u64) -> Result<(u64, u32, u32), u16> {
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

    pub(super) fn dir_handle(&mut self, raw: u64) -> Result<u32, u16> {
        let (_, ino, _) = self.handle(raw)?;
        if self.kind(ino) != DIR {
            return Err(BADF);
        }
        Ok(ino)
    }

    pub(super) fn open_handle(&mut self, ino: u32, flags: u32) -> Result<u64, u16> {
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

    pub(super) fn stat(&mut self, ino: u32) -> Stat {
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

    pub(super) fn put_stat(&mut self, stat: &Stat) {
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
    pub(super) fn name(&mut self, offset: usize, len: u64) -> Result<([u8; NAME_MAX], usize), u16> {
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
    pub(super) fn child(&mut self, dir: u32, name: &[u8]) -> Option<u32> {
        if name == b"." {
            return Some(dir);
        }
        self.find(dir, name).map(|(_, ino)| ino)
    }
}
