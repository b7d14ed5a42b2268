//! Checked access to the function's linear memory for one WASI call: every
//! range is checked against the call's memory size before sysd touches it.

use super::System;

/// A bad pointer: ends the call with [`Outcome::Trap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OutOfBounds {
    pub(super) start: u64,
    pub(super) len: u64,
    /// The pointer was where a call's result goes (wasmtime names the
    /// result in its error).
    pub(super) result: bool,
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
            }),
        }
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

    pub(super) fn read_u32(&mut self, start: u64) -> Result<u32, OutOfBounds> {
        let mut word = [0u8; 4];
        self.read(start, &mut word)?;
        Ok(u32::from_le_bytes(word))
    }

    pub(super) fn write_u32(&mut self, start: u64, value: u32) -> Result<(), OutOfBounds> {
        self.write(start, &value.to_le_bytes())
    }

    /// Writes a call's result (see [`OutOfBounds::result`]).
    pub(super) fn write_result(&mut self, start: u64, data: &[u8]) -> Result<(), OutOfBounds> {
        self.write(start, data).map_err(OutOfBounds::in_result)
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
        for &(offset, size) in fields {
            self.check(start.wrapping_add(offset), size)
                .map_err(OutOfBounds::in_result)?;
        }
        self.write_result(start, data)
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
