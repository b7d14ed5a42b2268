//! Guest RAM: one anonymous private mapping registered as KVM slot 0.
//!
//! This module and `call.rs` are the only places that touch guest memory
//! through raw pointers. Everything sysd can write is read from here as
//! untrusted bytes; every access is bounds-checked against the mapping.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::ptr::NonNull;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to map {len} bytes of guest RAM: {source}")]
    Map { len: usize, source: std::io::Error },
    #[error("failed to create the template memfd: {0}")]
    CreateMemfd(std::io::Error),
    #[error("failed to seal the template memfd: {0}")]
    Seal(std::io::Error),
    #[error("failed to discard guest RAM pages: {0}")]
    Discard(std::io::Error),
    #[error("failed to read which guest RAM pages were written (/proc/self/pagemap): {0}")]
    Pagemap(std::io::Error),
    #[error("guest access of {len} bytes at {gpa:#x} is outside guest RAM ({size:#x} bytes)")]
    OutOfRange { gpa: u64, len: usize, size: usize },
}

/// The host's page size, which pagemap reports in.
const PAGE: usize = 4096;

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

// SAFETY: every method copies bytes through raw pointers into or out of the
// mapping and hands out no reference into it, so concurrent calls (from a
// function thread and a vCPU thread) cannot alias a Rust reference. The guest
// writes this memory concurrently anyway, which is why readers validate.
unsafe impl Sync for GuestRam {}

impl GuestRam {
    /// Maps `len` bytes of zeroed memory. Pages are allocated on first touch,
    /// so unused parts of the layout cost nothing.
    pub fn new(len: usize) -> Result<Self, Error> {
        Self::map(
            len,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
        )
    }

    /// Creates a sealable memfd of `len` bytes and maps it shared, so what is
    /// written through the mapping becomes the template's contents.
    pub fn new_template(len: usize) -> Result<(Self, OwnedFd), Error> {
        // SAFETY: a C string literal and flags; the result is checked.
        let raw = unsafe {
            libc::memfd_create(
                c"wasc-sysd-template".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if raw < 0 {
            return Err(Error::CreateMemfd(std::io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: plain syscall on a descriptor we own.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } < 0 {
            return Err(Error::CreateMemfd(std::io::Error::last_os_error()));
        }
        let ram = Self::map(len, libc::MAP_SHARED, fd.as_raw_fd())?;
        Ok((ram, fd))
    }

    /// Seals a template memfd against any further change, once its shared
    /// mapping is gone.
    pub fn seal_template(fd: &OwnedFd) -> Result<(), Error> {
        let seals =
            libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        // SAFETY: plain fcntl on a descriptor we own.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
            return Err(Error::Seal(std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// A private copy-on-write view of a template: pages are shared with the
    /// template until the guest writes them.
    pub fn from_template(fd: &OwnedFd, len: usize) -> Result<Self, Error> {
        Self::map(len, libc::MAP_PRIVATE | libc::MAP_NORESERVE, fd.as_raw_fd())
    }

    /// Drops every private page: an anonymous mapping reads as zeroes again,
    /// a template view reads as the template again.
    pub fn discard(&self) -> Result<(), Error> {
        // SAFETY: the range is exactly our mapping; MADV_DONTNEED only drops
        // page contents, which no host reference points into.
        if unsafe { libc::madvise(self.base.as_ptr().cast(), self.len, libc::MADV_DONTNEED) } < 0 {
            return Err(Error::Discard(std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// A read-only view of a sealed template, to restore written pages from.
    pub fn template_source(fd: &OwnedFd, len: usize) -> Result<Self, Error> {
        Self::map_with(len, libc::PROT_READ, libc::MAP_PRIVATE, fd.as_raw_fd())
    }

    /// Puts the template's bytes back into every page of this view that the
    /// guest or the host wrote (a private copy, or one swapped out, as
    /// `pagemap` — `/proc/self/pagemap` — tells) and leaves every other
    /// page alone. Unlike [`GuestRam::discard`] no mapping changes: the
    /// next instance takes no page faults on pages the last one used, and
    /// KVM's shadow mappings of them stay valid. Pages that already equal
    /// the template are not written. Returns how many pages were restored.
    pub fn restore_written(&self, template: &GuestRam, pagemap: &File) -> Result<usize, Error> {
        // pagemap: one u64 per page; bit 63 present, 62 swapped, 61 a file
        // (here: the template's) or shared page.
        const PRESENT: u64 = 1 << 63;
        const SWAPPED: u64 = 1 << 62;
        const FILE: u64 = 1 << 61;
        const CHUNK: usize = 512;
        assert_eq!(
            template.len, self.len,
            "a template view restores its own template"
        );
        let pages = self.len / PAGE;
        let mut entries = [0u8; CHUNK * 8];
        let mut restored = 0;
        for first in (0..pages).step_by(CHUNK) {
            let count = CHUNK.min(pages - first);
            let offset = (self.base.as_ptr() as u64 / PAGE as u64 + first as u64) * 8;
            pagemap
                .read_exact_at(&mut entries[..count * 8], offset)
                .map_err(Error::Pagemap)?;
            for (i, entry) in entries[..count * 8].chunks_exact(8).enumerate() {
                let entry = u64::from_le_bytes(entry.try_into().expect("8-byte chunk"));
                let written = entry & SWAPPED != 0 || entry & (PRESENT | FILE) == PRESENT;
                if !written {
                    continue;
                }
                let at = (first + i) * PAGE;
                // SAFETY: `at + PAGE <= len` for both mappings (same length,
                // asserted above); the two mappings are distinct, and no
                // vCPU runs this VM while it is reset.
                unsafe {
                    let page = std::slice::from_raw_parts_mut(self.base.as_ptr().add(at), PAGE);
                    let original = std::slice::from_raw_parts(template.base.as_ptr().add(at), PAGE);
                    if page != original {
                        page.copy_from_slice(original);
                        restored += 1;
                    }
                }
            }
        }
        Ok(restored)
    }

    fn map(len: usize, flags: libc::c_int, fd: libc::c_int) -> Result<Self, Error> {
        Self::map_with(len, libc::PROT_READ | libc::PROT_WRITE, flags, fd)
    }

    fn map_with(
        len: usize,
        prot: libc::c_int,
        flags: libc::c_int,
        fd: libc::c_int,
    ) -> Result<Self, Error> {
        // SAFETY: a mapping at an address of the kernel's choosing aliases
        // nothing of ours; the result is checked below.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, 0) };
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
    fn template_views_are_copy_on_write_and_reset_by_discard() {
        let (shared, fd) = GuestRam::new_template(1 << 20).expect("memfd");
        shared.write_u64(64, 7).expect("write template");
        drop(shared);
        GuestRam::seal_template(&fd).expect("seal");
        let view = GuestRam::from_template(&fd, 1 << 20).expect("view");
        let other = GuestRam::from_template(&fd, 1 << 20).expect("view");
        view.write_u64(64, 9).expect("private write");
        assert_eq!(other.read_u64(64).expect("read"), 7, "writes stay private");
        view.discard().expect("discard");
        assert_eq!(
            view.read_u64(64).expect("read"),
            7,
            "discard reverts to the template"
        );
    }

    #[test]
    fn restoring_written_pages_reverts_them_and_keeps_the_rest_mapped() {
        let len = 64 << 12;
        let (shared, fd) = GuestRam::new_template(len).expect("memfd");
        shared.write_u64(3 << 12, 7).expect("write template");
        drop(shared);
        GuestRam::seal_template(&fd).expect("seal");
        let source = GuestRam::template_source(&fd, len).expect("source");
        let view = GuestRam::from_template(&fd, len).expect("view");
        let pagemap = File::open("/proc/self/pagemap").expect("pagemap");
        assert_eq!(view.read_u64(3 << 12).expect("read"), 7);
        view.write_u64(3 << 12, 9).expect("private write");
        view.write_u64((40 << 12) + 8, 5).expect("private write");
        view.write_u64(50 << 12, 0)
            .expect("a write of what was there");
        assert_eq!(view.restore_written(&source, &pagemap).expect("restore"), 2);
        assert_eq!(view.read_u64(3 << 12).expect("read"), 7);
        assert_eq!(view.read_u64((40 << 12) + 8).expect("read"), 0);
        // The written pages stay this view's own: restoring again finds
        // them equal to the template and writes nothing.
        assert_eq!(view.restore_written(&source, &pagemap).expect("restore"), 0);
        view.write_u64(3 << 12, 1).expect("private write");
        assert_eq!(view.restore_written(&source, &pagemap).expect("restore"), 1);
        assert_eq!(view.read_u64(3 << 12).expect("read"), 7);
    }

    #[test]
    fn rejects_accesses_past_the_end() {
        let ram = GuestRam::new(1 << 20).expect("map");
        assert!(ram.write(1 << 20, &[0]).is_err());
        assert!(ram.read_u64((1 << 20) - 4).is_err());
        assert!(ram.read(u64::MAX, &mut [0; 2]).is_err());
    }
}
