//! Checked loading of the sysd image: a statically linked x86-64 ELF
//! executable whose `PT_LOAD` segments fit the fixed layout. Anything
//! unexpected is refused rather than loaded.

use object::elf::{self, FileHeader64, ProgramHeader64};
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;
use wasc_wire::layout::{self, PAGE_2M};

use crate::memory::GuestRam;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sysd image is not a valid ELF file: {0}")]
    Parse(#[from] object::read::Error),
    #[error("sysd image is not a little-endian x86-64 executable")]
    WrongKind,
    #[error("sysd image entry point {0:#x} is outside its text page")]
    Entry(u64),
    #[error("sysd image has a segment of type {0:#x}; only PT_LOAD is allowed")]
    SegmentType(u32),
    #[error(
        "sysd image segment at {vaddr:#x} (+{memsz:#x}, flags {flags:#x}) does not fit the layout"
    )]
    Placement { vaddr: u64, memsz: u64, flags: u32 },
    #[error("sysd image segment at {vaddr:#x} has file size {filesz:#x} > memory size {memsz:#x}")]
    Sizes { vaddr: u64, filesz: u64, memsz: u64 },
    #[error("sysd image segment at {vaddr:#x} extends past the end of the file")]
    Truncated { vaddr: u64 },
    #[error("failed to copy the sysd image into guest RAM: {0}")]
    Copy(#[from] crate::memory::Error),
}

/// A loadable segment: bytes to copy and the zero-filled rest.
#[derive(Debug, Clone, Copy)]
struct Segment<'a> {
    vaddr: u64,
    bytes: &'a [u8],
    memsz: u64,
}

/// A validated sysd image.
#[derive(Debug, Clone)]
pub struct SysdImage<'a> {
    pub entry: u64,
    segments: Vec<Segment<'a>>,
}

/// Where a segment may go, by its permissions.
fn region_for(flags: u32) -> Option<u64> {
    const R: u32 = elf::PF_R;
    const W: u32 = elf::PF_W;
    const X: u32 = elf::PF_X;
    match flags & (R | W | X) {
        f if f == R | X || f == R => Some(layout::SYSD_TEXT),
        f if f == R | W => Some(layout::SYSD_DATA),
        _ => None,
    }
}

impl<'a> SysdImage<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Self, Error> {
        let header = FileHeader64::<Endianness>::parse(data)?;
        let endian = header.endian()?;
        if !header.is_little_endian()
            || header.e_machine(endian) != elf::EM_X86_64
            || header.e_type(endian) != elf::ET_EXEC
        {
            return Err(Error::WrongKind);
        }
        let entry = header.e_entry(endian);
        if !(layout::SYSD_TEXT..layout::SYSD_TEXT + PAGE_2M).contains(&entry) {
            return Err(Error::Entry(entry));
        }
        let mut segments = Vec::new();
        for phdr in header.program_headers(endian, data)? {
            let phdr: &ProgramHeader64<Endianness> = phdr;
            match phdr.p_type(endian) {
                elf::PT_LOAD => {}
                // Marks the stack non-executable, which the page tables do anyway.
                elf::PT_GNU_STACK => continue,
                other => return Err(Error::SegmentType(other)),
            }
            let (vaddr, memsz, filesz) = (
                phdr.p_vaddr(endian),
                phdr.p_memsz(endian),
                phdr.p_filesz(endian),
            );
            let flags = phdr.p_flags(endian);
            if filesz > memsz {
                return Err(Error::Sizes {
                    vaddr,
                    filesz,
                    memsz,
                });
            }
            let fits = region_for(flags).is_some_and(|region| {
                vaddr >= region
                    && vaddr
                        .checked_add(memsz)
                        .is_some_and(|end| end <= region + PAGE_2M)
            });
            if !fits {
                return Err(Error::Placement {
                    vaddr,
                    memsz,
                    flags,
                });
            }
            let bytes = phdr
                .data(endian, data)
                .map_err(|()| Error::Truncated { vaddr })?;
            segments.push(Segment {
                vaddr,
                bytes,
                memsz,
            });
        }
        Ok(Self { entry, segments })
    }

    /// Copies the segments into guest RAM and zeroes their tails (`.bss`).
    pub fn load(&self, ram: &GuestRam) -> Result<(), Error> {
        for segment in &self.segments {
            ram.write(segment.vaddr, segment.bytes)?;
            let tail = segment.memsz - segment.bytes.len() as u64;
            ram.zero(segment.vaddr + segment.bytes.len() as u64, tail as usize)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            SysdImage::parse(b"not an elf"),
            Err(Error::Parse(_))
        ));
    }

    #[test]
    fn rejects_a_host_shared_object() {
        // The test binary itself: a PIE or shared object, not ET_EXEC at the
        // sysd layout.
        let exe = std::fs::read("/proc/self/exe").expect("read own executable");
        assert!(SysdImage::parse(&exe).is_err());
    }

    #[test]
    fn writable_executable_segments_have_no_region() {
        assert_eq!(region_for(elf::PF_R | elf::PF_W | elf::PF_X), None);
        assert_eq!(region_for(elf::PF_R | elf::PF_X), Some(layout::SYSD_TEXT));
        assert_eq!(region_for(elf::PF_R | elf::PF_W), Some(layout::SYSD_DATA));
    }
}
