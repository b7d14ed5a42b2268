//! The guest address-space layout. Guest virtual addresses equal guest
//! physical addresses. Every region is a whole number of 2 MiB pages, the
//! page size the VMM maps with (1 GiB pages triple-fault on these hosts).
//!
//! ```text
//! 0x0000_0000  system page   supervisor only: page tables, GDT, IDT, TSS,
//!                            ring-0 stubs and stacks
//! 0x0020_0000  sysd text     user, read + execute
//! 0x0040_0000  sysd data     user, read + write, no execute (.data, .bss)
//! 0x0060_0000  guard         not mapped: catches stack overflow
//! 0x0080_0000  sysd stack    user, read + write, no execute; grows down
//! 0x00a0_0000  call page     user, read + write, no execute
//! 0x00c0_0000  tmpfs         user, read + write, no execute (if any; up
//!                            to 256 MiB, a KVM slot of its own)
//! 0x1_0000_0000 Wasm linear memory window (up to 8 GiB), user, rw, no execute
//! ```

/// The size of every mapping.
pub const PAGE_2M: u64 = 2 << 20;

pub const SYSTEM: u64 = 0;
pub const SYSD_TEXT: u64 = 0x0020_0000;
pub const SYSD_DATA: u64 = 0x0040_0000;
pub const STACK_GUARD: u64 = 0x0060_0000;
pub const SYSD_STACK: u64 = 0x0080_0000;
/// Initial `rsp` of sysd.
pub const SYSD_STACK_TOP: u64 = SYSD_STACK + PAGE_2M;
pub const CALL_PAGE: u64 = 0x00a0_0000;
/// The instance's arguments, environment, preopen names and descriptor
/// limit, written by the host at instance start (see
/// `crate::INSTANCE_DATA_HEADER` for the format).
pub const INSTANCE_DATA: u64 = CALL_PAGE + 0x1_0000;
/// The most bytes of instance data, header included.
pub const INSTANCE_DATA_MAX: u64 = 0x10_0000;
/// End of the guest RAM slot.
pub const RAM_END: u64 = CALL_PAGE + PAGE_2M;
/// In-VM memory file systems (`--tmpfs`): sysd's own memory, never the
/// host's files, in a KVM slot of its own that exists only for instances
/// with a tmpfs. Mapped user read-write, no execute; pages cost nothing
/// until written.
pub const TMPFS: u64 = RAM_END;
/// The largest tmpfs region.
pub const TMPFS_MAX: u64 = 256 << 20;

/// The region an instance's memory file systems need for quotas adding up
/// to `quotas` bytes: room for the metadata, whole 2 MiB pages, at most
/// [`TMPFS_MAX`]. Host and sysd compute it alike.
pub const fn tmpfs_region(quotas: u64) -> u64 {
    if quotas == 0 {
        return 0;
    }
    let with_metadata = quotas.saturating_add(quotas / 8).saturating_add(PAGE_2M);
    let pages = with_metadata.div_ceil(PAGE_2M);
    let len = pages.saturating_mul(PAGE_2M);
    if len > TMPFS_MAX {
        TMPFS_MAX
    } else {
        len
    }
}

/// Where the function's linear memory appears in sysd's address space.
pub const WINDOW: u64 = 0x1_0000_0000;
/// The most of a linear memory the window maps: 8 GiB, as far as any
/// preview-1 access reaches (a 32-bit pointer plus a 32-bit length). A
/// wasm32 memory is at most 4 GiB; a larger memory64 memory is mapped up
/// to here.
pub const WINDOW_MAX: u64 = 0x2_0000_0000;
