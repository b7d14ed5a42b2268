//! Host operations: the primitive operations sysd may ask the host executor
//! to perform, on handles from the executor's table. sysd writes a
//! [`HostOp`]; the executor decodes and validates every field before acting.
//!
//! Byte-moving ops name a range of the function's linear memory (offsets into
//! the window); the host performs the system call straight into that range
//! after checking it against the current memory size. A path component for
//! `Lookup` is copied by sysd into the call page's scratch area.

/// A request from sysd to the host executor: an op id and six raw words.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostOp {
    /// An [`OpCode`] value.
    pub op: u32,
    pub reserved: u32,
    pub args: [u64; 6],
}

/// Host op ids, with their argument words.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// `[handle, offset, len]`: read into linear memory at the handle's
    /// position. Result: bytes read.
    Read = 1,
    /// `[handle, offset, len]`: write from linear memory at the handle's
    /// position. Result: bytes written.
    Write = 2,
    /// `[handle, offset, len, position]`: read at a file position.
    Pread = 3,
    /// `[handle, offset, len, position]`: write at a file position.
    Pwrite = 4,
    /// `[dir handle, name len, flags]`: open ONE path component (in the
    /// scratch area) beneath a directory handle, never following symlinks;
    /// `.` reopens the directory itself. Result: the new handle, with
    /// [`lookup::RESULT_DIRECTORY`] set if it is a directory.
    Lookup = 5,
    /// `[handle]`: file status, written to the scratch area as a [`Stat`].
    Stat = 6,
    /// `[handle]`: close a handle.
    Close = 7,
    /// `[dir handle, name len]`: status of ONE component beneath a directory
    /// handle, never following a symlink, as a [`Stat`] in the scratch area.
    /// The name `.` is the directory itself.
    StatAt = 8,
    /// `[dir handle, name len]`: the target of the symlink named by one
    /// component, written to the scratch area at [`SECOND_OFFSET`]. Result:
    /// its length.
    ReadLink = 9,
    /// `[dir handle, name len]`: create a directory.
    Mkdir = 10,
    /// `[dir handle, name len]`: remove a non-directory.
    Unlink = 11,
    /// `[dir handle, name len]`: remove an empty directory.
    Rmdir = 12,
    /// `[dir handle, name len, dir handle 2, name 2 len]`: rename; the
    /// second name is at [`SECOND_OFFSET`].
    Rename = 13,
    /// `[dir handle, name len, dir handle 2, name 2 len]`: hard link, never
    /// following a symlink; the new name is at [`SECOND_OFFSET`].
    Link = 14,
    /// `[dir handle, name len, target len]`: create a symlink whose target
    /// (any bytes but NUL; the executor never follows symlinks) is at
    /// [`SECOND_OFFSET`].
    Symlink = 15,
    /// `[handle, size]`: set a file's size.
    Truncate = 16,
    /// `[handle, data only]`: flush a file to storage (`fdatasync` if the
    /// second word is 1, `fsync` if 0).
    Sync = 17,
    /// `[handle, atim, mtim, flags]`: set times ([`times`] flags).
    SetTimes = 18,
    /// `[dir handle, name len, atim, mtim, flags]`: set the times of one
    /// component, never following a symlink.
    SetTimesAt = 19,
    /// `[dir handle, index]`: directory entries from the `index`th on
    /// (`.` and `..` are not entries), as many as fit, packed into the
    /// scratch area as [`Dirent`]s. Result: how many.
    ReadDir = 20,
    /// `[handle, offset, len]`: write from linear memory at the end of the
    /// file, atomically (`O_APPEND` semantics). Result: bytes written.
    Append = 21,
    /// `[count, timeout ns]`: wait until one of the `count` handles listed
    /// in the scratch area as [`WaitEntry`]s is ready, or the timeout
    /// (relative, monotonic; `u64::MAX`: none) passes. With no handles it
    /// is a sleep. Result: how many are ready. See [`wait`].
    Wait = 22,
    /// `[handle, len]`: read at most `len` bytes (and at most the scratch
    /// area) from a readable handle into the scratch area. Result: how
    /// many. For wasmtime's order on stdin: it reads before it finds the
    /// module's buffer out of bounds.
    ReadScratch = 23,
    /// `[listener handle]`: accept one pending connection on a listening
    /// socket granted with `--tcplisten`, without blocking (`EAGAIN` if none
    /// is pending). Result: the connection's handle. Every host socket is
    /// non-blocking; sysd waits with [`OpCode::Wait`] for a module that
    /// wants to block.
    Accept = 24,
    /// `[handle, offset, len, flags]`: receive into linear memory from a
    /// connection, without blocking; [`socket::PEEK`] leaves the bytes
    /// queued. Result: bytes received (0: the peer shut down).
    Recv = 25,
    /// `[handle, offset, len]`: send from linear memory on a connection,
    /// without blocking and never raising `SIGPIPE`. Result: bytes sent.
    Send = 26,
    /// `[handle, how]`: shut down reading ([`socket::SHUT_RD`]), writing
    /// ([`socket::SHUT_WR`]) or both of a connection.
    Shutdown = 27,
    /// `[dir handle, path len]`: open, read-only, the directory at a
    /// relative path of two or more components (in the scratch area, one
    /// `/` between them, none `.` or `..`) beneath a directory handle, in
    /// one step: never following a symlink (`LOOP` on the way, `NOTDIR` as
    /// the last component; sysd then walks the path one component at a
    /// time instead) nor leaving the directory. Result: the new directory
    /// handle.
    LookupDir = 28,
}

impl OpCode {
    pub fn from_raw(raw: u32) -> Option<Self> {
        use OpCode::*;
        [
            Read,
            Write,
            Pread,
            Pwrite,
            Lookup,
            Stat,
            Close,
            StatAt,
            ReadLink,
            Mkdir,
            Unlink,
            Rmdir,
            Rename,
            Link,
            Symlink,
            Truncate,
            Sync,
            SetTimes,
            SetTimesAt,
            ReadDir,
            Append,
            Wait,
            ReadScratch,
            Accept,
            Recv,
            Send,
            Shutdown,
            LookupDir,
        ]
        .into_iter()
        .find(|op| *op as u32 == raw)
    }
}

/// Flags of [`OpCode::Lookup`].
pub mod lookup {
    /// Open for reading.
    pub const READ: u64 = 1 << 0;
    /// Open for writing.
    pub const WRITE: u64 = 1 << 1;
    /// Create the file if it does not exist.
    pub const CREATE: u64 = 1 << 2;
    /// With `CREATE`: fail if it exists.
    pub const EXCLUSIVE: u64 = 1 << 3;
    /// Truncate to zero length.
    pub const TRUNCATE: u64 = 1 << 4;
    /// Fail unless it is a directory.
    pub const DIRECTORY: u64 = 1 << 5;
    /// Every defined flag.
    pub const ALL: u64 = READ | WRITE | CREATE | EXCLUSIVE | TRUNCATE | DIRECTORY;
    /// Set in a `Lookup` result when the opened object is a directory; the
    /// low 32 bits are the handle.
    pub const RESULT_DIRECTORY: u64 = 1 << 32;
}

/// Flags of [`OpCode::SetTimes`] and [`OpCode::SetTimesAt`]: for each of
/// atim and mtim, set it to the given value, to now, or leave it.
pub mod times {
    pub const ATIM: u64 = 1 << 0;
    pub const ATIM_NOW: u64 = 1 << 1;
    pub const MTIM: u64 = 1 << 2;
    pub const MTIM_NOW: u64 = 1 << 3;
    pub const ALL: u64 = ATIM | ATIM_NOW | MTIM | MTIM_NOW;
}

/// Flags of the socket ops [`OpCode::Recv`] and [`OpCode::Shutdown`].
pub mod socket {
    /// `Recv`: look at the queued bytes without taking them.
    pub const PEEK: u64 = 1 << 0;
    /// `Shutdown`: no more receiving.
    pub const SHUT_RD: u64 = 1 << 0;
    /// `Shutdown`: no more sending.
    pub const SHUT_WR: u64 = 1 << 1;
}

/// [`OpCode::Wait`]: the scratch area holds `count` [`WaitEntry`]s; the
/// executor sets `ready` in each one that is ready and returns how many are.
pub mod wait {
    /// Wait for a handle to be readable.
    pub const READ: u32 = 1;
    /// Wait for a handle to be writable.
    pub const WRITE: u32 = 2;
    /// `ready` bit: the handle is ready for what was asked.
    pub const READY: u32 = 1 << 0;
    /// `ready` bit: the peer hung up (`POLLHUP`).
    pub const HANGUP: u32 = 1 << 1;
    /// `ready` bit: the handle has a pending error (`POLLERR`).
    pub const ERROR: u32 = 1 << 2;
    /// The most entries one wait names.
    pub const MAX_ENTRIES: usize = super::SCRATCH_LEN / core::mem::size_of::<super::WaitEntry>();
}

/// One handle to wait for ([`OpCode::Wait`]).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitEntry {
    pub handle: u32,
    /// [`wait::READ`] or [`wait::WRITE`].
    pub interest: u32,
    /// Set by the executor: [`wait::READY`], [`wait::HANGUP`] and
    /// [`wait::ERROR`] bits; 0 if nothing happened.
    pub ready: u32,
    /// Zero in the request. Set by the executor for a ready read on a
    /// connection: how many bytes can be received at once (`FIONREAD`).
    pub nbytes: u32,
}

/// The header of one packed directory entry ([`OpCode::ReadDir`]), followed
/// by `name_len` bytes of name; the next entry follows at once.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dirent {
    pub ino: u64,
    /// A WASI filetype value.
    pub filetype: u8,
    pub name_len: u8,
    pub reserved: [u8; 6],
}

/// The size of a [`Dirent`] header.
pub const DIRENT_HEADER: usize = core::mem::size_of::<Dirent>();

/// Where the second name of `Rename`/`Link`, the target of `Symlink`, and
/// the result of `ReadLink` go: an offset inside the scratch area.
pub const SECOND_OFFSET: usize = 256;
/// The longest symlink target sysd may create or read.
pub const TARGET_MAX: usize = SCRATCH_LEN - SECOND_OFFSET;

/// File status as the executor reports it (`OpCode::Stat`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    /// A WASI filetype value.
    pub filetype: u8,
    pub reserved: [u8; 7],
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

/// Where sysd puts a path component (every op that names one) and the
/// executor puts a [`Stat`], entries or a link target: an offset inside the
/// call page.
pub const SCRATCH_OFFSET: usize = 2048;
/// Size of the scratch area.
pub const SCRATCH_LEN: usize = 2048;

/// The most bytes one op moves (read, write, pread, pwrite, recv, send):
/// the executor refuses more, and sysd splits larger transfers.
pub const MAX_TRANSFER: u64 = 64 << 20;
/// The longest path component (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

// The scratch area lies inside the call page, past the regions with fixed
// structs, and holds a `Stat` (it overlaps the panic message, which a
// panicking sysd no longer needs it for).
const _: () = assert!(SCRATCH_OFFSET >= crate::PANIC_MESSAGE_OFFSET);
const _: () = assert!(SCRATCH_OFFSET + SCRATCH_LEN <= 4096);
const _: () = assert!(core::mem::size_of::<Stat>() <= SCRATCH_LEN);
const _: () = assert!(SECOND_OFFSET > NAME_MAX);
const _: () = assert!(DIRENT_HEADER == 16);
const _: () = assert!(core::mem::size_of::<WaitEntry>() == 16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_codes_round_trip_and_unknown_ones_do_not_decode() {
        for op in [
            OpCode::Read,
            OpCode::Lookup,
            OpCode::Close,
            OpCode::Wait,
            OpCode::Shutdown,
        ] {
            assert_eq!(OpCode::from_raw(op as u32), Some(op));
        }
        assert_eq!(OpCode::from_raw(0), None);
        assert_eq!(OpCode::from_raw(28), Some(OpCode::LookupDir));
        assert_eq!(OpCode::from_raw(29), None);
        assert_eq!(OpCode::from_raw(99), None);
    }
}
