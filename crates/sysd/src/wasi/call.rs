//! What every call shares: how a call ends ([`Answer`], [`Stop`]), the
//! argument conversions wiggle makes before a call ([`narrow`],
//! [`invalid`]), the rights and fdflags bits, and reading an iovec. A leaf:
//! the call modules (`files`, `tree`, `poll`, `sockets`) import it, it
//! imports none of them.

use wasc_wire::wasi::{TrapKind, ValueType};

use super::memory::{Memory, OutOfBounds};
use super::{Outcome, System};

/// A call's result before it becomes an [`Outcome`]: an errno, or a trap.
pub(crate) type Answer = Result<u16, Stop>;

/// Why a call ends without an errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    OutOfBounds(OutOfBounds),
    Trap(TrapKind, u64),
}

impl From<OutOfBounds> for Stop {
    fn from(e: OutOfBounds) -> Self {
        Stop::OutOfBounds(e)
    }
}

impl Stop {
    pub fn outcome(self) -> Outcome {
        match self {
            Stop::OutOfBounds(OutOfBounds {
                start,
                len,
                result,
                misaligned,
            }) => Outcome::Trap(
                match (result, misaligned) {
                    (true, false) => TrapKind::ResultOutOfBounds,
                    (false, false) => TrapKind::PointerOutOfBounds,
                    (true, true) => TrapKind::ResultNotAligned,
                    (false, true) => TrapKind::PointerNotAligned,
                },
                (start << 32) | (len & 0xffff_ffff),
            ),
            Stop::Trap(kind, detail) => Outcome::Trap(kind, detail),
        }
    }
}

/// A value of an enum or flags type that its type does not define: the
/// call traps before anything else happens (wiggle's argument decoding).
pub(crate) fn invalid(kind: TrapKind, ty: ValueType) -> Stop {
    Stop::Trap(kind, ty as u64)
}

/// A raw argument as a witx type of at most `max`, converted as wiggle
/// converts it before the call: a value that does not fit ends the call.
pub(crate) fn narrow(raw: u64, max: u64, ty: ValueType) -> Result<u64, Stop> {
    if raw > max {
        return Err(invalid(TrapKind::IntConversion, ty));
    }
    Ok(raw)
}

/// Turns `Result<u16 errno, u16 errno>` style bodies into an errno.
pub(crate) fn errno(result: Result<(), u16>) -> u16 {
    match result {
        Ok(()) => 0,
        Err(errno) => errno,
    }
}

// Rights bits (wasi_snapshot_preview1).
pub(crate) mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const ALL: u64 = (1 << 30) - 1;

    /// What wasmtime reports for a preopened directory.
    pub const PREOPEN_BASE: u64 = PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES;
    pub const PREOPEN_INHERITING: u64 = PREOPEN_BASE
        | FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
}

pub(crate) mod fdflags {
    pub const APPEND: u64 = 1 << 0;
    pub const DSYNC: u64 = 1 << 1;
    pub const NONBLOCK: u64 = 1 << 2;
    pub const RSYNC: u64 = 1 << 3;
    pub const SYNC: u64 = 1 << 4;
    pub const ALL: u64 = 0x1f;
}

/// Iovec `i` of the array at `iovs`: `(buf, len)`, field by field.
pub(crate) fn iovec<S: System>(
    memory: &mut Memory<'_, S>,
    iovs: u64,
    i: u64,
) -> Result<(u64, u64), OutOfBounds> {
    let buf = u64::from(memory.read_u32(iovs + 8 * i)?);
    let len = u64::from(memory.read_u32(iovs + 8 * i + 4)?);
    Ok((buf, len))
}
