//! The executor's handle table: what sysd may name, and nothing else.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::Refusal;

/// The most handles one instance may hold.
pub const MAX_HANDLES: usize = 1024;

#[derive(Debug)]
pub enum Handle {
    /// The instance's stdin (0), stdout (1) or stderr (2).
    Stdio { stream: u8, fd: StdioFd },
    /// A directory granted at start or opened beneath one, with where the
    /// last `ReadDir` stopped.
    Dir { fd: OwnedFd, cursor: DirCursor },
    /// A regular file (or other non-directory) opened beneath a directory.
    File {
        fd: OwnedFd,
        readable: bool,
        writable: bool,
    },
    /// A non-blocking listening TCP socket granted at start (`--tcplisten`).
    Listener(OwnedFd),
    /// A non-blocking connection accepted on a listener.
    Stream(OwnedFd),
}

/// Where one of an instance's standard streams goes.
#[derive(Debug)]
pub enum StdioFd {
    /// The host process's own descriptor of that number (`wasc run`): not
    /// owned, never closed here.
    Inherited(RawFd),
    /// A descriptor of the instance's own (a pipe, a file, a socket end),
    /// closed with the instance.
    Owned(OwnedFd),
}

impl StdioFd {
    /// The host process's own stdin, stdout and stderr.
    pub fn host() -> [StdioFd; 3] {
        [0, 1, 2].map(StdioFd::Inherited)
    }
}

/// Where a directory listing stopped: the index of the next entry and the
/// kernel's offset of it, so listing on from there needs no rescan.
#[derive(Debug, Default, Clone, Copy)]
pub struct DirCursor {
    pub next_index: u64,
    pub offset: i64,
}

impl Handle {
    pub fn dir(fd: OwnedFd) -> Self {
        Handle::Dir {
            fd,
            cursor: DirCursor::default(),
        }
    }

    pub fn fd(&self) -> RawFd {
        match self {
            Handle::Stdio {
                fd: StdioFd::Inherited(fd),
                ..
            } => *fd,
            Handle::Stdio {
                fd: StdioFd::Owned(fd),
                ..
            } => fd.as_raw_fd(),
            Handle::Dir { fd, .. }
            | Handle::File { fd, .. }
            | Handle::Listener(fd)
            | Handle::Stream(fd) => fd.as_raw_fd(),
        }
    }

    /// Whether it is a socket (moved with the socket ops only).
    pub fn is_socket(&self) -> bool {
        matches!(self, Handle::Listener(_) | Handle::Stream(_))
    }

    /// Whether `Read` and friends may read from it (sockets: never).
    pub fn readable(&self) -> bool {
        match self {
            Handle::Stdio { stream, .. } => *stream == 0,
            Handle::File { readable, .. } => *readable,
            Handle::Dir { .. } | Handle::Listener(_) | Handle::Stream(_) => false,
        }
    }

    /// Whether `Write` and friends may write to it (sockets: never).
    pub fn writable(&self) -> bool {
        match self {
            Handle::Stdio { stream, .. } => *stream == 1 || *stream == 2,
            Handle::File { writable, .. } => *writable,
            Handle::Dir { .. } | Handle::Listener(_) | Handle::Stream(_) => false,
        }
    }
}

#[derive(Debug, Default)]
pub struct HandleTable {
    slots: Vec<Option<Handle>>,
}

impl HandleTable {
    /// Handles 0, 1 and 2 are stdio; granted listening sockets follow in
    /// order, then granted directories.
    pub fn new(stdio: [StdioFd; 3], listeners: Vec<OwnedFd>, preopens: Vec<OwnedFd>) -> Self {
        let mut slots: Vec<Option<Handle>> = (0u8..)
            .zip(stdio)
            .map(|(stream, fd)| Some(Handle::Stdio { stream, fd }))
            .collect();
        slots.extend(listeners.into_iter().map(|fd| Some(Handle::Listener(fd))));
        slots.extend(preopens.into_iter().map(|fd| Some(Handle::dir(fd))));
        Self { slots }
    }

    pub fn get(&self, raw: u64) -> Result<&Handle, Refusal> {
        usize::try_from(raw)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
            .ok_or(Refusal::BadHandle(raw))
    }

    pub fn get_mut(&mut self, raw: u64) -> Result<&mut Handle, Refusal> {
        usize::try_from(raw)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::as_mut)
            .ok_or(Refusal::BadHandle(raw))
    }

    /// Stores `handle` in the lowest free slot; `None` if the table is full.
    pub fn insert(&mut self, handle: Handle) -> Option<u64> {
        if let Some(i) = self.slots.iter().position(Option::is_none) {
            self.slots[i] = Some(handle);
            return Some(i as u64);
        }
        if self.slots.len() >= MAX_HANDLES {
            return None;
        }
        self.slots.push(Some(handle));
        Some(self.slots.len() as u64 - 1)
    }

    pub fn remove(&mut self, raw: u64) -> Result<Handle, Refusal> {
        usize::try_from(raw)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::take)
            .ok_or(Refusal::BadHandle(raw))
    }
}
