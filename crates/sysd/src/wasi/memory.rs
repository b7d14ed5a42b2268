//! Checked access to the function's linear memory for one WASI call: every
//! range is checked against the call's memory size before sysd touches it.

use super::System;

/// A bad pointer, outside memory or misaligned: ends the call with
/// [`Outcome::Trap`](super::Outcome::Trap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OutOfBounds {
    pub(super) start: u64,
    pub(super) len: u64,
    /// The pointer was where a call's result goes (wasmtime names the
    /// result in its error).
    pub(super) result: bool,
    /// In bounds, but not a multiple of the scalar's size `len` (wiggle
    /// checks the alignment of every scalar it reads or writes, after its
    /// bounds).
    pub(super) misaligned: bool,
}

impl OutOfBounds {
    /// Marks a bad pointer as the call's result pointer.
    pub(super) fn in_result(self) -> Self {
        Self {
            result: true,
            ..self
        }
    }
}

/// Checked access to linear memory for one call.
pub(super) struct Memory<'a, S: System> {
    pub(super) sys: &'a mut S,
    pub(super) len: u64,
}

impl<S: System> Memory<'_, S> {
    pub(super) fn check(&self, start: u64, len: u64) -> Result<(), OutOfBounds> {
        match start.checked_add(len) {
            Some(end) if start <= u64::from(u32::MAX) && end <= self.len => Ok(()),
            _ => Err(OutOfBounds {
                start,
                len,
                result: false,
                misaligned: false,
            }),
        }
    }

    /// Checks a scalar of `size` bytes (1, 2, 4 or 8) at `start`: in
    /// bounds, then aligned to its size, as wiggle checks them.
    pub(super) fn check_scalar(&self, start: u64, size: u64) -> Result<(), OutOfBounds> {
        self.check(start, size)?;
        if !start.is_multiple_of(size) {
            return Err(OutOfBounds {
                start,
                len: size,
                result: false,
                misaligned: true,
            });
        }
        Ok(())
    }

    /// Checks each field (offset, size) of a struct at `start`, in order.
    pub(super) fn check_fields(
        &self,
        start: u64,
        fields: &[(u64, u64)],
    ) -> Result<(), OutOfBounds> {
        for &(offset, size) in fields {
            self.check_scalar(start.wrapping_add(offset), size)?;
        }
        Ok(())
    }

    pub(super) fn read(&mut self, start: u64, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        self.check(start, buf.len() as u64)?;
        self.sys.read_memory(start, buf);
        Ok(())
    }

    pub(super) fn write(&mut self, start: u64, data: &[u8]) -> Result<(), OutOfBounds> {
        self.check(start, data.len() as u64)?;
        self.sys.write_memory(start, data);
        Ok(())
    }

    /// Reads a scalar of `N` bytes (checked and aligned).
    fn read_scalar<const N: usize>(&mut self, start: u64) -> Result<[u8; N], OutOfBounds> {
        self.check_scalar(start, N as u64)?;
        let mut bytes = [0u8; N];
        self.sys.read_memory(start, &mut bytes);
        Ok(bytes)
    }

    pub(super) fn read_u16(&mut self, start: u64) -> Result<u16, OutOfBounds> {
        self.read_scalar(start).map(u16::from_le_bytes)
    }

    pub(super) fn read_u32(&mut self, start: u64) -> Result<u32, OutOfBounds> {
        self.read_scalar(start).map(u32::from_le_bytes)
    }

    pub(super) fn read_u64(&mut self, start: u64) -> Result<u64, OutOfBounds> {
        self.read_scalar(start).map(u64::from_le_bytes)
    }

    pub(super) fn write_u32(&mut self, start: u64, value: u32) -> Result<(), OutOfBounds> {
        self.check_scalar(start, 4)?;
        self.write(start, &value.to_le_bytes())
    }

    /// Writes a call's result, a scalar of 1, 2, 4 or 8 bytes (see
    /// [`OutOfBounds::result`]).
    pub(super) fn write_result(&mut self, start: u64, data: &[u8]) -> Result<(), OutOfBounds> {
        self.check_scalar(start, data.len() as u64)
            .map_err(OutOfBounds::in_result)?;
        self.write(start, data).map_err(OutOfBounds::in_result)
    }

    /// Whether a result scalar of `size` bytes at `start` would be written
    /// (in bounds and aligned).
    pub(super) fn result_fits(&self, start: u64, size: u64) -> bool {
        self.check_scalar(start, size).is_ok()
    }

    pub(super) fn write_u32_result(&mut self, start: u64, value: u32) -> Result<(), OutOfBounds> {
        self.write_result(start, &value.to_le_bytes())
    }

    /// Writes a struct whose fields lie at `fields` (offset, size): like
    /// wasmtime, which stores field by field, a bad pointer is reported as
    /// the first field that does not fit.
    /// Always a call's result.
    pub(super) fn write_fields(
        &mut self,
        start: u64,
        data: &[u8],
        fields: &[(u64, u64)],
    ) -> Result<(), OutOfBounds> {
        self.check_fields(start, fields)
            .map_err(OutOfBounds::in_result)?;
        self.write(start, data).map_err(OutOfBounds::in_result)
    }
}

/// Field layouts of the preview-1 structs sysd writes.
pub(super) mod fields {
    pub const FDSTAT: &[(u64, u64)] = &[(0, 1), (2, 2), (8, 8), (16, 8)];
    pub const FILESTAT: &[(u64, u64)] = &[
        (0, 8),
        (8, 8),
        (16, 1),
        (24, 8),
        (32, 8),
        (40, 8),
        (48, 8),
        (56, 8),
    ];
    pub const PRESTAT: &[(u64, u64)] = &[(0, 1), (4, 4)];
    pub const EVENT: &[(u64, u64)] = &[(0, 8), (8, 2), (10, 1), (16, 8), (24, 2)];
}
