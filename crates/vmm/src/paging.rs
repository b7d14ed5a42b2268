//! sysd's page tables: four levels, 2 MiB leaf pages (1 GiB pages
//! triple-fault on these hosts), identity-mapped. See `wasc_wire::layout`.

use wasc_wire::layout::{self, PAGE_2M};

use crate::arch::{PDPT, PD_LOW, PD_WINDOW, PML4};
use crate::memory::{Error, GuestRam};

const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const HUGE: u64 = 1 << 7;
const NO_EXECUTE: u64 = 1 << 63;

/// Table entries pointing at a lower table allow everything; the leaf
/// entries decide.
const TABLE: u64 = PRESENT | WRITABLE | USER;

/// The leaf entry of each 2 MiB page of the low layout, index = page number.
fn low_pages() -> [(u64, u64); 6] {
    [
        (layout::SYSTEM, PRESENT | WRITABLE | HUGE),
        (layout::SYSD_TEXT, PRESENT | USER | HUGE),
        (
            layout::SYSD_DATA,
            PRESENT | WRITABLE | USER | HUGE | NO_EXECUTE,
        ),
        (layout::STACK_GUARD, 0),
        (
            layout::SYSD_STACK,
            PRESENT | WRITABLE | USER | HUGE | NO_EXECUTE,
        ),
        (
            layout::CALL_PAGE,
            PRESENT | WRITABLE | USER | HUGE | NO_EXECUTE,
        ),
    ]
}

/// Writes the page tables for the low layout; the window starts unmapped.
pub fn write_page_tables(ram: &GuestRam) -> Result<(), Error> {
    ram.write_u64(PML4, PDPT | TABLE)?;
    ram.write_u64(PDPT, PD_LOW | TABLE)?;
    // One page directory (1 GiB) per PDPT entry from the window's.
    let first = layout::WINDOW >> 30;
    for i in 0..layout::WINDOW_MAX >> 30 {
        ram.write_u64(PDPT + 8 * (first + i), (PD_WINDOW + 0x1000 * i) | TABLE)?;
    }
    for (i, (address, flags)) in low_pages().into_iter().enumerate() {
        let entry = if flags == 0 { 0 } else { address | flags };
        ram.write_u64(PD_LOW + 8 * i as u64, entry)?;
    }
    Ok(())
}

/// Maps `len` bytes (whole 2 MiB pages) of the tmpfs region, user
/// read-write and never executable, and unmaps the rest of it.
pub fn map_tmpfs(ram: &GuestRam, len: u64) -> Result<(), Error> {
    let pages = len.min(layout::TMPFS_MAX).div_ceil(PAGE_2M);
    for page in 0..layout::TMPFS_MAX / PAGE_2M {
        let address = layout::TMPFS + page * PAGE_2M;
        let entry = if page < pages {
            address | PRESENT | WRITABLE | USER | HUGE | NO_EXECUTE
        } else {
            0
        };
        ram.write_u64(PD_LOW + 8 * (address / PAGE_2M), entry)?;
    }
    Ok(())
}

/// Maps the first `len` bytes of the linear-memory window (rounded up to
/// 2 MiB), user read-write and never executable, and unmaps the rest of
/// the first `before` bytes, what the last call mapped: entries past both
/// are left as they are, unmapped (the tables start so, and only this
/// function changes them).
pub fn map_window(ram: &GuestRam, before: u64, len: u64) -> Result<(), Error> {
    let pages = len.min(layout::WINDOW_MAX).div_ceil(PAGE_2M);
    let touched = pages.max(before.min(layout::WINDOW_MAX).div_ceil(PAGE_2M));
    for page in 0..touched {
        let entry = if page < pages {
            (layout::WINDOW + page * PAGE_2M) | PRESENT | WRITABLE | USER | HUGE | NO_EXECUTE
        } else {
            0
        };
        ram.write_u64(PD_WINDOW + 8 * page, entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(ram: &GuestRam, address: u64) -> u64 {
        let index = address / PAGE_2M;
        ram.read_u64(PD_LOW + 8 * index).expect("read entry")
    }

    #[test]
    fn system_page_is_supervisor_only() {
        let ram = GuestRam::new(layout::RAM_END as usize).expect("map");
        write_page_tables(&ram).expect("write");
        assert_eq!(leaf(&ram, layout::SYSTEM) & USER, 0);
    }

    #[test]
    fn text_is_read_only_and_data_is_not_executable() {
        let ram = GuestRam::new(layout::RAM_END as usize).expect("map");
        write_page_tables(&ram).expect("write");
        let text = leaf(&ram, layout::SYSD_TEXT);
        assert_eq!(text & (WRITABLE | NO_EXECUTE), 0);
        for page in [layout::SYSD_DATA, layout::SYSD_STACK, layout::CALL_PAGE] {
            assert_ne!(leaf(&ram, page) & NO_EXECUTE, 0, "{page:#x}");
        }
        assert_eq!(leaf(&ram, layout::STACK_GUARD), 0);
    }

    #[test]
    fn window_maps_whole_pages_never_executable() {
        let ram = GuestRam::new(layout::RAM_END as usize).expect("map");
        map_window(&ram, 0, PAGE_2M + 1).expect("map window");
        let first = ram.read_u64(PD_WINDOW).expect("read");
        let second = ram.read_u64(PD_WINDOW + 8).expect("read");
        let third = ram.read_u64(PD_WINDOW + 16).expect("read");
        assert_ne!(first & NO_EXECUTE, 0);
        assert_eq!(second & !0xfff & !NO_EXECUTE, layout::WINDOW + PAGE_2M);
        assert_eq!(third, 0);
    }

    /// The leaf entry a four-level walk finds for `address`, as the CPU
    /// walks it (every level present and user-accessible), or `None`.
    fn walk(ram: &GuestRam, address: u64) -> Option<u64> {
        let mut table = PML4;
        for shift in [39, 30, 21] {
            let entry = ram
                .read_u64(table + 8 * ((address >> shift) & 511))
                .expect("read");
            if entry & (PRESENT | USER) != PRESENT | USER {
                return None;
            }
            if shift == 21 {
                return Some(entry);
            }
            table = entry & 0x000f_ffff_ffff_f000;
        }
        unreachable!()
    }

    #[test]
    fn window_reaches_eight_gib_and_shrinks_back() {
        let ram = GuestRam::new(layout::RAM_END as usize).expect("map");
        write_page_tables(&ram).expect("write");
        let six = 6 << 30;
        map_window(&ram, 0, six).expect("map 6 GiB");
        for offset in [0, (4 << 30) + 5 * PAGE_2M + 17, six - 1] {
            let leaf = walk(&ram, layout::WINDOW + offset).expect("mapped");
            assert_eq!(
                leaf & 0x000f_ffff_ffe0_0000,
                layout::WINDOW + offset / PAGE_2M * PAGE_2M
            );
            assert_ne!(leaf & WRITABLE, 0);
            assert_ne!(leaf & NO_EXECUTE, 0);
        }
        assert_eq!(walk(&ram, layout::WINDOW + six), None);
        // More than 8 GiB maps 8 GiB: no preview-1 access reaches past it.
        map_window(&ram, six, 10 << 30).expect("map 10 GiB");
        assert!(walk(&ram, layout::WINDOW + layout::WINDOW_MAX - 1).is_some());
        assert_eq!(walk(&ram, layout::WINDOW + layout::WINDOW_MAX), None);
        map_window(&ram, 10 << 30, PAGE_2M).expect("shrink");
        assert!(walk(&ram, layout::WINDOW).is_some());
        for offset in [PAGE_2M, 4 << 30, layout::WINDOW_MAX - 1] {
            assert_eq!(walk(&ram, layout::WINDOW + offset), None, "{offset:#x}");
        }
    }
}
