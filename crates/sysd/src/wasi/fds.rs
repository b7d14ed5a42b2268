//! sysd's descriptor table: what each WASI fd is, which executor handle
//! backs it, and the per-descriptor state wasmtime keeps (file position,
//! append and non-blocking flags, read/write access).
//!
//! Handles 0–2 are the host's stdio, then come the listening sockets
//! (`--tcplisten`, in order) and the preopened directories (`--dir` order);
//! sysd gives them the same fd numbers at start, sockets first as the
//! wasmtime CLI does. New descriptors take the highest freed number, else
//! the next never used, as wasmtime's table does.

use super::errno::{BADF, MFILE};

/// How many descriptors one instance may hold open.
pub use wasc_wire::wasi::MAX_FDS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Stdin,
    Stdout,
    Stderr,
    /// A directory; `preopen` is its index among the preopens if it is one.
    Dir {
        preopen: Option<u32>,
    },
    File(File),
    Socket(Socket),
}

/// A TCP socket: a listener granted at start, or a connection accepted on
/// one. The host socket never blocks; `nonblock` is what the module asked
/// for, and sysd waits on the host for a blocking one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Socket {
    pub listener: bool,
    pub nonblock: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct File {
    pub read: bool,
    pub write: bool,
    pub append: bool,
    pub nonblock: bool,
    pub position: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The executor's handle.
    pub handle: u32,
    pub kind: Kind,
}

#[derive(Debug)]
pub(crate) struct FdTable {
    slots: [Option<Entry>; MAX_FDS],
    /// Whether the preopens have been added (on the instance's first call:
    /// the table itself is built before the instance data exists).
    pub started: bool,
    /// How many descriptors may be open at once (at most [`MAX_FDS`]).
    limit: usize,
    /// One past the highest number ever given out: every number below it
    /// that is not open was freed.
    high: usize,
}

impl Default for FdTable {
    fn default() -> Self {
        let mut slots = [None; MAX_FDS];
        for (fd, kind) in [Kind::Stdin, Kind::Stdout, Kind::Stderr]
            .into_iter()
            .enumerate()
        {
            slots[fd] = Some(Entry {
                handle: fd as u32,
                kind,
            });
        }
        Self {
            slots,
            started: false,
            limit: MAX_FDS,
            high: 3,
        }
    }
}

impl FdTable {
    /// Sets the instance's descriptor limit (0 or past [`MAX_FDS`]: the
    /// table's size), adds `listeners` listening sockets as fds 3, 4, …,
    /// then `count` preopened host directories, then the roots of `tmpfs`
    /// memory file systems (those that fit).
    pub fn start(&mut self, listeners: usize, count: usize, tmpfs: usize, limit: usize) {
        self.limit = if limit == 0 {
            MAX_FDS
        } else {
            limit.min(MAX_FDS)
        };
        let listeners = listeners.min(MAX_FDS - 3);
        for i in 0..listeners {
            // The listener is non-blocking, as the wasmtime CLI makes it.
            self.slots[3 + i] = Some(Entry {
                handle: (3 + i) as u32,
                kind: Kind::Socket(Socket {
                    listener: true,
                    nonblock: true,
                }),
            });
        }
        for i in 0..count {
            let fd = 3 + listeners + i;
            if fd < MAX_FDS {
                self.slots[fd] = Some(Entry {
                    handle: fd as u32,
                    kind: Kind::Dir {
                        preopen: Some(i as u32),
                    },
                });
            }
        }
        // Then the memory file systems' roots, after the host directories.
        for j in 0..tmpfs {
            let fd = 3 + listeners + count + j;
            if fd < MAX_FDS {
                self.slots[fd] = Some(Entry {
                    handle: super::tmpfs::TMPFS_BIT | j as u32,
                    kind: Kind::Dir {
                        preopen: Some((count + j) as u32),
                    },
                });
            }
        }
        self.high = (3 + listeners + count + tmpfs).min(MAX_FDS);
        self.started = true;
    }

    /// Adds `count` preopened directories as fds 3, 4, … (those that fit).
    #[cfg(test)]
    pub fn add_preopens(&mut self, count: usize) {
        self.start(0, count, 0, 0);
    }

    pub fn get(&self, fd: u64) -> Result<Entry, u16> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i).copied().flatten())
            .ok_or(BADF)
    }

    pub fn get_mut(&mut self, fd: u64) -> Result<&mut Entry, u16> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::as_mut)
            .ok_or(BADF)
    }

    /// The executor handle of the directory `fd` (`BADF` if it is not one,
    /// as wasmtime answers).
    pub fn dir(&self, fd: u64) -> Result<u32, u16> {
        match self.get(fd)? {
            Entry {
                handle,
                kind: Kind::Dir { .. },
            } => Ok(handle),
            _ => Err(BADF),
        }
    }

    /// The file `fd` and its handle (`BADF` if it is not a file).
    pub fn file(&mut self, fd: u64) -> Result<(u32, &mut File), u16> {
        match self.get_mut(fd)? {
            Entry {
                handle,
                kind: Kind::File(file),
            } => Ok((*handle, file)),
            _ => Err(BADF),
        }
    }

    /// The socket `fd` and its handle (`NOTSOCK` if it is open but not a
    /// socket, as wasmtime answers).
    pub fn socket(&self, fd: u64) -> Result<(u32, Socket), u16> {
        match self.get(fd)? {
            Entry {
                handle,
                kind: Kind::Socket(socket),
            } => Ok((handle, socket)),
            _ => Err(super::errno::NOTSOCK),
        }
    }

    /// Stores `entry` as wasmtime numbers it, within the limit: the highest
    /// freed number, else one past the highest ever given out.
    pub fn insert(&mut self, entry: Entry) -> Result<u32, u16> {
        if self.slots.iter().filter(|s| s.is_some()).count() >= self.limit {
            return Err(MFILE);
        }
        let freed = self.slots[..self.high].iter().rposition(Option::is_none);
        let fd = freed.unwrap_or(self.high);
        if fd >= MAX_FDS {
            return Err(MFILE);
        }
        self.slots[fd] = Some(entry);
        self.high = self.high.max(fd + 1);
        Ok(fd as u32)
    }

    pub fn remove(&mut self, fd: u64) -> Result<Entry, u16> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::take)
            .ok_or(BADF)
    }

    /// Moves `from` onto `to` (both open); the entry that was at `to` is
    /// returned for its handle to be closed.
    pub fn renumber(&mut self, from: u64, to: u64) -> Result<Option<Entry>, u16> {
        self.get(from)?;
        self.get(to)?;
        if from == to {
            return Ok(None);
        }
        let moved = self.remove(from)?;
        let old = self.slots[to as usize].replace(moved);
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_fds_take_the_highest_freed_number_then_the_next_new_one() {
        let mut table = FdTable::default();
        table.add_preopens(1);
        let dir = Entry {
            handle: 9,
            kind: Kind::Dir { preopen: None },
        };
        assert_eq!(table.insert(dir), Ok(4));
        assert_eq!(table.insert(dir), Ok(5));
        table.remove(1).expect("stdout");
        table.remove(4).expect("fd 4");
        assert_eq!(table.insert(dir), Ok(4));
        assert_eq!(table.insert(dir), Ok(1));
        assert_eq!(table.insert(dir), Ok(6));
        table.remove(6).expect("fd 6");
        assert_eq!(table.insert(dir), Ok(6));
        assert_eq!(table.get(99), Err(BADF));
        assert_eq!(table.get(u64::MAX), Err(BADF));
    }

    #[test]
    fn renumber_moves_and_hands_back_the_replaced_entry() {
        let mut table = FdTable::default();
        table.add_preopens(1);
        let old = table.renumber(3, 1).expect("renumber");
        assert_eq!(old.map(|e| e.kind), Some(Kind::Stdout));
        assert_eq!(table.get(3), Err(BADF));
        assert!(matches!(table.get(1).map(|e| e.kind), Ok(Kind::Dir { .. })));
        assert_eq!(table.renumber(1, 50), Err(BADF));
        assert_eq!(table.renumber(1, 1), Ok(None));
    }

    #[test]
    fn the_instance_limit_counts_every_open_descriptor() {
        let mut table = FdTable::default();
        table.start(0, 1, 0, 6);
        let dir = Entry {
            handle: 9,
            kind: Kind::Dir { preopen: None },
        };
        assert_eq!(table.insert(dir), Ok(4));
        assert_eq!(table.insert(dir), Ok(5));
        assert_eq!(table.insert(dir), Err(MFILE), "3 stdio + 1 preopen + 2");
        table.remove(4).expect("open");
        assert_eq!(table.insert(dir), Ok(4));
    }

    #[test]
    fn listeners_come_first_then_directories_then_memory_file_systems() {
        let mut table = FdTable::default();
        table.start(2, 1, 1, 0);
        let kinds: [_; 4] = core::array::from_fn(|i| table.get(3 + i as u64).map(|e| e.kind));
        let listener = Ok(Kind::Socket(Socket {
            listener: true,
            nonblock: true,
        }));
        assert_eq!(kinds[0], listener);
        assert_eq!(kinds[1], listener);
        assert_eq!(kinds[2], Ok(Kind::Dir { preopen: Some(0) }));
        assert_eq!(kinds[3], Ok(Kind::Dir { preopen: Some(1) }));
        assert_eq!(table.get(3).map(|e| e.handle), Ok(3));
        assert_eq!(table.get(5).map(|e| e.handle), Ok(5), "dirs follow sockets");
        assert_eq!(table.socket(4).map(|(h, _)| h), Ok(4));
        assert_eq!(table.socket(5), Err(super::super::errno::NOTSOCK));
        assert_eq!(table.socket(9), Err(BADF));
    }

    #[test]
    fn a_full_table_answers_mfile() {
        let mut table = FdTable::default();
        let file = Entry {
            handle: 5,
            kind: Kind::Dir { preopen: None },
        };
        for _ in 3..MAX_FDS {
            table.insert(file).expect("room");
        }
        assert_eq!(table.insert(file), Err(MFILE));
    }
}
