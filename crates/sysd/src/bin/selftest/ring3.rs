//! Entry point and [`Machine`] of the self-test sysd in guest ring 3.

use wasc_sysd::{rt, selftest, Machine};

wasc_sysd::entry!(main);

extern "C" fn main() -> ! {
    rt::serve(|request, host| selftest::handle(request, &mut Ring3 { host }))
}

/// The real machine: each method does exactly what it names, faults included.
struct Ring3<'a> {
    host: &'a mut rt::Host,
}

impl Machine for Ring3<'_> {
    fn read_byte(&mut self, address: u64) -> u8 {
        // SAFETY: deliberately unchecked: the self-test probes what the page
        // tables allow; a bad address faults into the host's report.
        unsafe { (address as *const u8).read_volatile() }
    }

    fn write_byte(&mut self, address: u64, value: u8) {
        // SAFETY: as in `read_byte`.
        unsafe { (address as *mut u8).write_volatile(value) }
    }

    fn jump(&mut self, address: u64) {
        // SAFETY: as in `read_byte`: executing from a non-executable page
        // must fault.
        let target: extern "C" fn() = unsafe { core::mem::transmute(address as usize) };
        target();
    }

    fn invalid_opcode(&mut self) {
        // SAFETY: `ud2` raises #UD and does nothing else.
        unsafe { core::arch::asm!("ud2", options(nomem, nostack)) }
    }

    fn privileged(&mut self) {
        // SAFETY: `hlt` in ring 3 raises #GP and does nothing else.
        unsafe { core::arch::asm!("hlt", options(nomem, nostack)) }
    }

    fn overflow_stack(&mut self) {
        recurse(0);
    }

    fn instance(&mut self) -> wasc_wire::Instance {
        rt::instance()
    }

    fn host_op(&mut self, op: wasc_wire::hostop::HostOp) -> Result<u64, u32> {
        self.host.perform(op)
    }

    fn silent_yield(&mut self) {
        rt::exit_to_host(wasc_wire::port::YIELD);
    }

    fn answer_then_spin(&mut self, response: wasc_wire::Response) {
        self.host.answer_then_spin(response);
    }
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 64]);
    if core::hint::black_box(true) {
        recurse(depth + 1).wrapping_add(frame[7])
    } else {
        frame[0]
    }
}
