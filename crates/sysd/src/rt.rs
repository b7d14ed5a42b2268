//! The ring-3 runtime shared by sysd's entry points (`x86_64-unknown-none`
//! only): the call-page loop, exits to the host, and the panic handler.

use core::fmt::Write;
use core::ptr::{addr_of, addr_of_mut};

use wasc_wire::{
    layout, port, CallPage, Request, Response, PANIC_MESSAGE_MAX, PANIC_MESSAGE_OFFSET,
};

fn call_page() -> *mut CallPage {
    layout::CALL_PAGE as *mut CallPage
}

/// Exits to the host through an I/O port; returns when the host resumes the
/// vCPU. The memory clobber orders earlier call-page writes before the exit.
pub fn exit_to_host(port: u16) {
    // SAFETY: `out` in ring 3 is allowed by IOPL 3; it touches no memory.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") port, in("al") 0u8, options(nostack, preserves_flags))
    };
}

/// Serves requests forever: for each new request (a `seq` different from the
/// last one served) writes `handler`'s response, then yields to the host.
pub fn serve(mut handler: impl FnMut(&Request) -> Response) -> ! {
    let page = call_page();
    let mut last = 0u64;
    loop {
        // SAFETY: the call page is mapped read-write for ring 3 at this fixed
        // address (wasc_wire::layout); volatile because the host writes it.
        let request = unsafe { addr_of!((*page).request).read_volatile() };
        if request.seq != last {
            last = request.seq;
            let response = handler(&request);
            // SAFETY: as above.
            unsafe { addr_of_mut!((*page).response).write_volatile(response) };
        }
        exit_to_host(port::YIELD);
    }
}

/// The per-instance values the host wrote into the call page.
pub fn instance() -> wasc_wire::Instance {
    // SAFETY: the call page is mapped for ring 3; volatile: host-written.
    unsafe { addr_of!((*call_page()).instance).read_volatile() }
}

/// Writes into the call page's panic-message area, truncating.
struct PanicWriter {
    len: usize,
}

impl Write for PanicWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let base = call_page().cast::<u8>();
        for &byte in s.as_bytes() {
            if self.len == PANIC_MESSAGE_MAX {
                break;
            }
            // SAFETY: `PANIC_MESSAGE_OFFSET + len < 4096`: inside the page.
            unsafe {
                base.add(PANIC_MESSAGE_OFFSET + self.len)
                    .write_volatile(byte)
            };
            self.len += 1;
        }
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut writer = PanicWriter { len: 0 };
    let _ = write!(writer, "{info}");
    let page = call_page();
    // SAFETY: the response's `value` field is inside the mapped call page.
    unsafe { addr_of_mut!((*page).response.value).write_volatile(writer.len as u64) };
    loop {
        exit_to_host(port::PANIC);
    }
}
