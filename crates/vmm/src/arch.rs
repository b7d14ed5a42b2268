//! x86-64 system state for a guest with no kernel: GDT, TSS, IDT, ring-0
//! exception stubs, and the segment and control registers that start the
//! vCPU directly in ring 3.
//!
//! Ring 0 is emulated instruction by instruction on these hosts (about 1 µs
//! each), so the ring-0 code is as short as it can be: each vector's stub
//! pushes its number and jumps to a common handler that exits to the host
//! with `out` on [`port::FAULT`] and halts. The host reads the exception frame
//! from the ring-0 stack and CR2 from the vCPU's registers.

use kvm_bindings::{kvm_regs, kvm_segment, kvm_sregs};
use wasc_wire::layout;
use wasc_wire::port;

use crate::memory::{Error, GuestRam};

// Offsets inside the supervisor-only system page.
pub const PML4: u64 = 0x1000;
pub const PDPT: u64 = 0x2000;
pub const PD_LOW: u64 = 0x3000;
/// Eight page directories for the 8 GiB window (after the double-fault
/// stack).
pub const PD_WINDOW: u64 = 0x10000;
const GDT: u64 = 0x8000;
const IDT: u64 = 0x9000;
const TSS: u64 = 0xa000;
const STUBS: u64 = 0xb000;
const STUB_SIZE: u64 = 16;
const COMMON_HANDLER: u64 = 0xc000;
/// The ring-0 stack the CPU switches to on an exception from ring 3.
pub const RING0_STACK_TOP: u64 = 0xf000;
pub const RING0_STACK_BOTTOM: u64 = 0xd000;
/// A separate stack (IST 1) for double faults.
const DOUBLE_FAULT_STACK_TOP: u64 = 0x10000;

const KERNEL_CODE: u16 = 0x08;
const USER_CODE: u16 = 0x18 | 3;
const USER_DATA: u16 = 0x20 | 3;
const TSS_SELECTOR: u16 = 0x28;

/// Vectors for which the CPU pushes an error code.
const HAS_ERROR_CODE: [u8; 10] = [8, 10, 11, 12, 13, 14, 17, 21, 29, 30];
const DOUBLE_FAULT: u8 = 8;

/// Writes GDT, TSS, IDT and the stubs into the system page.
pub fn write_system_tables(ram: &GuestRam) -> Result<(), Error> {
    let gdt: [u64; 7] = [
        0,
        0x00af_9a00_0000_ffff, // kernel code: 64-bit, DPL 0
        0x00cf_9200_0000_ffff, // kernel data
        0x00af_fa00_0000_ffff, // user code: 64-bit, DPL 3
        0x00cf_f200_0000_ffff, // user data, DPL 3
        tss_descriptor_low(),
        TSS >> 32,
    ];
    for (i, entry) in gdt.iter().enumerate() {
        ram.write_u64(GDT + 8 * i as u64, *entry)?;
    }

    // 64-bit TSS: RSP0 at 4, IST1 at 36, I/O map base at 102, then the I/O
    // permission bitmap.
    ram.write_u64(TSS + 4, RING0_STACK_TOP)?;
    ram.write_u64(TSS + 36, DOUBLE_FAULT_STACK_TOP)?;
    ram.write(TSS + 102, &(TSS_HEADER as u16).to_le_bytes())?;
    ram.write(TSS + TSS_HEADER, &io_bitmap())?;

    for vector in 0..=255u8 {
        let stub = STUBS + STUB_SIZE * u64::from(vector);
        ram.write(stub, &stub_code(vector, stub))?;
        let ist = u8::from(vector == DOUBLE_FAULT);
        ram.write(IDT + 16 * u64::from(vector), &gate(stub, ist))?;
    }
    ram.write(COMMON_HANDLER, &common_handler())?;
    Ok(())
}

/// Size of the 64-bit TSS proper; the I/O bitmap follows it.
const TSS_HEADER: u64 = 104;
/// The I/O bitmap covers ports 0..32 and ends with the required 0xff byte.
const IO_BITMAP_LEN: u64 = 5;
const TSS_LIMIT: u64 = TSS_HEADER + IO_BITMAP_LEN - 1;

/// Ring 3 may use exactly the ports sysd exits through: a clear bit allows a
/// port. IOPL stays 0 (these hosts ignore IOPL for ring 3, and a bitmap is
/// narrower anyway); ring 0 is not subject to the bitmap.
fn io_bitmap() -> [u8; IO_BITMAP_LEN as usize] {
    let mut bitmap = [0xff; IO_BITMAP_LEN as usize];
    for port in [port::YIELD, port::PANIC] {
        bitmap[usize::from(port / 8)] &= !(1 << (port % 8));
    }
    bitmap
}

fn tss_descriptor_low() -> u64 {
    let base = TSS;
    let limit = TSS_LIMIT;
    // Type 0xB (busy 64-bit TSS, as LTR would leave it), present.
    limit | ((base & 0xff_ffff) << 16) | (0x8b << 40) | (((base >> 24) & 0xff) << 56)
}

/// A 64-bit interrupt gate to `handler` in the kernel code segment, DPL 0
/// (so `int n` from ring 3 is a #GP, which is reported like any fault).
fn gate(handler: u64, ist: u8) -> [u8; 16] {
    let mut g = [0u8; 16];
    g[0..2].copy_from_slice(&(handler as u16).to_le_bytes());
    g[2..4].copy_from_slice(&KERNEL_CODE.to_le_bytes());
    g[4] = ist;
    g[5] = 0x8e; // present, DPL 0, interrupt gate
    g[6..8].copy_from_slice(&((handler >> 16) as u16).to_le_bytes());
    g[8..12].copy_from_slice(&((handler >> 32) as u32).to_le_bytes());
    g
}

/// `[push 0 ;] push VECTOR ; jmp COMMON_HANDLER`, padded with `nop`s.
fn stub_code(vector: u8, at: u64) -> [u8; STUB_SIZE as usize] {
    let mut code = Vec::with_capacity(STUB_SIZE as usize);
    if !HAS_ERROR_CODE.contains(&vector) {
        code.extend([0x6a, 0x00]); // push 0 (error code placeholder)
    }
    code.push(0x68); // push imm32
    code.extend(u32::from(vector).to_le_bytes());
    code.push(0xe9); // jmp rel32
    let after_jump = at + code.len() as u64 + 4;
    let rel = COMMON_HANDLER.wrapping_sub(after_jump) as u32;
    code.extend(rel.to_le_bytes());
    code.resize(STUB_SIZE as usize, 0x90);
    code.try_into().expect("stub fits in STUB_SIZE")
}

/// `mov dx, port::FAULT ; out dx, al ; 1: hlt ; jmp 1b`
fn common_handler() -> [u8; 8] {
    let [lo, hi] = port::FAULT.to_le_bytes();
    [0x66, 0xba, lo, hi, 0xee, 0xf4, 0xeb, 0xfd]
}

/// Registers that start sysd at `entry` in ring 3 with its stack set up.
pub fn initial_regs(entry: u64) -> kvm_regs {
    kvm_regs {
        rip: entry,
        rsp: layout::SYSD_STACK_TOP,
        // Bit 1 is reserved-one; IOPL 0: port access is by the TSS bitmap.
        rflags: 0x2,
        ..Default::default()
    }
}

/// Long mode, paging with NX, the GDT/IDT/TSS above, and ring-3 segments.
pub fn initial_sregs(mut sregs: kvm_sregs) -> kvm_sregs {
    let code = |selector: u16, dpl: u8| kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_: 0xb,
        present: 1,
        dpl,
        db: 0,
        s: 1,
        l: 1,
        g: 1,
        ..Default::default()
    };
    let data = |selector: u16, dpl: u8| kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_: 0x3,
        present: 1,
        dpl,
        db: 1,
        s: 1,
        l: 0,
        g: 1,
        ..Default::default()
    };
    sregs.cs = code(USER_CODE, 3);
    sregs.ss = data(USER_DATA, 3);
    sregs.ds = data(USER_DATA, 3);
    sregs.es = data(USER_DATA, 3);
    sregs.fs = data(USER_DATA, 3);
    sregs.gs = data(USER_DATA, 3);
    sregs.tr = kvm_segment {
        base: TSS,
        limit: TSS_LIMIT as u32,
        selector: TSS_SELECTOR,
        type_: 0xb,
        present: 1,
        ..Default::default()
    };
    sregs.gdt.base = GDT;
    sregs.gdt.limit = 7 * 8 - 1;
    sregs.idt.base = IDT;
    sregs.idt.limit = 256 * 16 - 1;
    // PE | MP | ET | NE | WP | PG
    sregs.cr0 = 0x1 | 0x2 | 0x10 | 0x20 | (1 << 16) | (1 << 31);
    sregs.cr3 = PML4;
    // PAE | OSFXSR | OSXMMEXCPT
    sregs.cr4 = (1 << 5) | (1 << 9) | (1 << 10);
    // LME | LMA | NXE
    sregs.efer = (1 << 8) | (1 << 10) | (1 << 11);
    sregs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_jump_to_the_common_handler() {
        for vector in [0u8, 8, 14, 255] {
            let at = STUBS + STUB_SIZE * u64::from(vector);
            let code = stub_code(vector, at);
            let jmp = code.iter().position(|&b| b == 0xe9).expect("jmp");
            let rel = i32::from_le_bytes(code[jmp + 1..jmp + 5].try_into().expect("4 bytes"));
            let target = (at + jmp as u64 + 5).wrapping_add(rel as i64 as u64);
            assert_eq!(target, COMMON_HANDLER, "vector {vector}");
        }
    }

    #[test]
    fn error_code_vectors_do_not_push_a_placeholder() {
        assert_eq!(stub_code(14, STUBS)[0], 0x68);
        assert_eq!(&stub_code(6, STUBS)[0..2], &[0x6a, 0x00]);
    }

    #[test]
    fn gate_splits_the_handler_address() {
        let g = gate(0x1234_5678_9abc_def0, 1);
        assert_eq!(&g[0..2], &[0xf0, 0xde]);
        assert_eq!(&g[6..8], &[0xbc, 0x9a]);
        assert_eq!(&g[8..12], &[0x78, 0x56, 0x34, 0x12]);
        assert_eq!(g[4], 1);
    }

    #[test]
    fn initial_state_is_ring_3_with_iopl_0() {
        let sregs = initial_sregs(kvm_sregs::default());
        assert_eq!(sregs.cs.selector & 3, 3);
        assert_eq!(sregs.cs.dpl, 3);
        assert_eq!(initial_regs(0x20_0000).rflags & (3 << 12), 0);
    }

    #[test]
    fn ring_3_may_use_only_the_yield_and_panic_ports() {
        let bitmap = io_bitmap();
        let allowed: Vec<u16> = (0..32u16)
            .filter(|p| bitmap[usize::from(p / 8)] & (1 << (p % 8)) == 0)
            .collect();
        assert_eq!(allowed, [port::YIELD, port::PANIC]);
        assert_eq!(bitmap[IO_BITMAP_LEN as usize - 1], 0xff);
    }
}
