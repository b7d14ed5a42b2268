//! The function's linear memory as the executor sees it: a base and the
//! current accessible length. Every range sysd names is checked here before a
//! system call reads or writes it.

use crate::Refusal;

pub use wasc_wire::hostop::MAX_TRANSFER;

/// A view of linear memory for one op.
#[derive(Debug)]
pub struct LinearMemory {
    base: *mut u8,
    len: usize,
}

impl LinearMemory {
    /// # Safety
    ///
    /// `base..base + len` must be valid for reads and writes, and not be
    /// accessed through a Rust reference, for as long as this value lives.
    pub unsafe fn new(base: *mut u8, len: usize) -> Self {
        Self { base, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The host address of `offset..offset + len`, if the whole range lies in
    /// the accessible memory and is no longer than [`MAX_TRANSFER`].
    pub(crate) fn range(&self, offset: u64, len: u64) -> Result<(*mut u8, usize), Refusal> {
        let refuse = || Refusal::Range {
            offset,
            len,
            size: self.len as u64,
        };
        if len > MAX_TRANSFER {
            return Err(Refusal::TooLong(len));
        }
        let end = offset.checked_add(len).ok_or_else(refuse)?;
        if end > self.len as u64 {
            return Err(refuse());
        }
        // SAFETY: `offset <= end <= len`, so the result stays inside (or one
        // past) the region the constructor's caller vouched for.
        Ok((unsafe { self.base.add(offset as usize) }, len as usize))
    }

    /// Stores `value` little-endian at `offset` if all four bytes lie in
    /// the memory (a call's result, when the host ends a call for sysd).
    pub fn store_u32(&self, offset: u64, value: u32) -> bool {
        let Ok((at, _)) = self.range(offset, 4) else {
            return false;
        };
        // SAFETY: `range` proved the four bytes lie in the memory; an
        // unaligned write of plain bytes.
        unsafe { at.cast::<[u8; 4]>().write_unaligned(value.to_le_bytes()) };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(buf: &mut [u8]) -> LinearMemory {
        // SAFETY: `buf` outlives the view in each test.
        unsafe { LinearMemory::new(buf.as_mut_ptr(), buf.len()) }
    }

    #[test]
    fn accepts_ranges_inside_including_the_end() {
        let mut buf = [0u8; 100];
        let m = memory(&mut buf);
        assert!(m.range(0, 100).is_ok());
        assert!(m.range(100, 0).is_ok());
        assert!(m.range(99, 1).is_ok());
    }

    #[test]
    fn stores_a_u32_only_inside() {
        let mut buf = [0u8; 8];
        {
            let m = memory(&mut buf);
            assert!(m.store_u32(4, 0x0403_0201));
            assert!(!m.store_u32(5, 7));
            assert!(!m.store_u32(u64::MAX - 1, 7));
        }
        assert_eq!(buf, [0, 0, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn refuses_ranges_past_the_end_or_overflowing() {
        let mut buf = [0u8; 100];
        let m = memory(&mut buf);
        assert!(matches!(m.range(99, 2), Err(Refusal::Range { .. })));
        assert!(matches!(m.range(101, 0), Err(Refusal::Range { .. })));
        assert!(matches!(m.range(u64::MAX, 2), Err(Refusal::Range { .. })));
        assert!(matches!(
            m.range(0, MAX_TRANSFER + 1),
            Err(Refusal::TooLong(_))
        ));
    }
}
