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
    /// scratch area) beneath a directory handle, never following symlinks.
    /// Result: the new handle.
    Lookup = 5,
    /// `[handle]`: file status, written to the scratch area as a [`Stat`].
    Stat = 6,
    /// `[handle]`: close a handle.
    Close = 7,
}

impl OpCode {
    pub fn from_raw(raw: u32) -> Option<Self> {
        use OpCode::*;
        [Read, Write, Pread, Pwrite, Lookup, Stat, Close]
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
}

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

/// Where sysd puts a path component for `Lookup` and the executor puts a
/// [`Stat`]: an offset inside the call page.
pub const SCRATCH_OFFSET: usize = 2048;
/// Size of the scratch area.
pub const SCRATCH_LEN: usize = 2048;
/// The longest path component (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

// The scratch area lies inside the call page, past the regions with fixed
// structs, and holds a `Stat` (it overlaps the panic message, which a
// panicking sysd no longer needs it for).
const _: () = assert!(SCRATCH_OFFSET >= crate::PANIC_MESSAGE_OFFSET);
const _: () = assert!(SCRATCH_OFFSET + SCRATCH_LEN <= 4096);
const _: () = assert!(core::mem::size_of::<Stat>() <= SCRATCH_LEN);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_codes_round_trip_and_unknown_ones_do_not_decode() {
        for op in [OpCode::Read, OpCode::Lookup, OpCode::Close] {
            assert_eq!(OpCode::from_raw(op as u32), Some(op));
        }
        assert_eq!(OpCode::from_raw(0), None);
        assert_eq!(OpCode::from_raw(99), None);
    }
}
