//! Guest RAM: one anonymous private mapping registered as KVM slot 0.
//!
//! This module and `call.rs` are the only places that touch guest memory
//! through raw pointers. Everything sysd can write is read from here as
//! untrusted bytes; every access is bounds-checked against the mapping.

use std::ptr::NonNull;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to map {len} bytes of guest RAM: {source}")]
    Map { len: usize, source: std::io::Error },
    #[error("guest access of {len} bytes at {gpa:#x} is outside guest RAM ({size:#x} bytes)")]
    OutOfRange { gpa: u64, len: usize, size: usize },
}

/// Host mapping of the guest's RAM, guest physical address 0 upwards.
#[derive(Debug)]
pub struct GuestRam {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: `GuestRam` owns its mapping exclusively; moving it to another
// thread moves that ownership. Shared access goes through `&self` methods
// that copy bytes with volatile or bounds-checked operations.
unsafe impl Send for GuestRam {}

impl GuestRam {
    /// Maps `len` bytes of zeroed memory. Pages are allocated on first touch,
    /// so unused parts of the layout cost nothing.
    pub fn new(len: usize) -> Result<Self, Error> {
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing aliases nothing; the result is checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::Map {
                len,
                source: std::io::Error::last_os_error(),
            });
        }
        let base = NonNull::new(ptr.cast()).expect("mmap never returns null on success");
        Ok(Self { base, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Host address of the mapping, for `KVM_SET_USER_MEMORY_REGION`.
    pub fn host_address(&self) -> u64 {
        self.base.as_ptr() as u64
    }

    fn check(&self, gpa: u64, len: usize) -> Result<usize, Error> {
        let start = usize::try_from(gpa).ok();
        match start.and_then(|s| s.checked_add(len).map(|end| (s, end))) {
            Some((start, end)) if end <= self.len => Ok(start),
            _ => Err(Error::OutOfRange {
                gpa,
                len,
                size: self.len,
            }),
        }
    }

    /// Copies `bytes` into guest RAM at `gpa`.
    pub fn write(&self, gpa: u64, bytes: &[u8]) -> Result<(), Error> {
        let start = self.check(gpa, bytes.len())?;
        // SAFETY: `check` proved `start..start + len` lies inside the mapping,
        // which lives as long as `self`; the source is a distinct host slice.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.base.as_ptr().add(start),
                bytes.len(),
            )
        };
        Ok(())
    }

    /// Copies guest RAM at `gpa` into `buf`. The bytes are whatever the guest
    /// left there: callers validate them.
    pub fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), Error> {
        let start = self.check(gpa, buf.len())?;
        // SAFETY: as in `write`; the guest may change these bytes only while
        // its vCPU runs, and callers read while it is stopped or treat the
        // copy as untrusted either way.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base.as_ptr().add(start),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        Ok(())
    }

    pub fn write_u64(&self, gpa: u64, value: u64) -> Result<(), Error> {
        self.write(gpa, &value.to_le_bytes())
    }

    pub fn read_u64(&self, gpa: u64) -> Result<u64, Error> {
        let mut buf = [0u8; 8];
        self.read(gpa, &mut buf)?;
        Ok(u64::from_le_bytes(buf))
    }

    /// Zeroes `len` bytes at `gpa`.
    pub fn zero(&self, gpa: u64, len: usize) -> Result<(), Error> {
        let start = self.check(gpa, len)?;
        // SAFETY: `check` proved the range lies inside the mapping.
        unsafe { std::ptr::write_bytes(self.base.as_ptr().add(start), 0, len) };
        Ok(())
    }

    /// A raw pointer to `len` bytes at `gpa`, for the call page.
    pub(crate) fn pointer(&self, gpa: u64, len: usize) -> Result<*mut u8, Error> {
        let start = self.check(gpa, len)?;
        // SAFETY: `check` proved the offset is inside the mapping.
        Ok(unsafe { self.base.as_ptr().add(start) })
    }
}

impl Drop for GuestRam {
    fn drop(&mut self) {
        // SAFETY: `base` and `len` describe the mapping created in `new`,
        // and no reference into it outlives `self`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_was_written() {
        let ram = GuestRam::new(1 << 20).expect("map");
        ram.write_u64(0x1000, 0xdead_beef).expect("write");
        assert_eq!(ram.read_u64(0x1000).expect("read"), 0xdead_beef);
    }

    #[test]
    fn rejects_accesses_past_the_end() {
        let ram = GuestRam::new(1 << 20).expect("map");
        assert!(ram.write(1 << 20, &[0]).is_err());
        assert!(ram.read_u64((1 << 20) - 4).is_err());
        assert!(ram.read(u64::MAX, &mut [0; 2]).is_err());
    }
}
