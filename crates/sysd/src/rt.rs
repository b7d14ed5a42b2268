//! The ring-3 runtime shared by sysd's entry points (`x86_64-unknown-none`
//! only): the call-page loop, exits to the host, and the panic handler.

use core::fmt::Write;
use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::{fence, Ordering};

use wasc_wire::{
    layout, port, CallPage, Park, Request, Response, Transport, PANIC_MESSAGE_MAX,
    PANIC_MESSAGE_OFFSET,
};

fn call_page() -> *mut CallPage {
    layout::CALL_PAGE as *mut CallPage
}

// Call-page accessors. The page is mapped read-write for ring 3 at a fixed
// address (wasc_wire::layout); accesses are volatile because the host reads
// and writes it concurrently, and every field is plain integers.

fn request_seq() -> u64 {
    // SAFETY: see the call-page accessors note above.
    unsafe { addr_of!((*call_page()).request.seq).read_volatile() }
}

fn request() -> Request {
    // SAFETY: see the call-page accessors note above.
    unsafe { addr_of!((*call_page()).request).read_volatile() }
}

/// Publishes a response: the body first, then (release) its `seq`, which is
/// what the host polls.
fn write_response(response: Response) {
    let page = call_page();
    // SAFETY: see the call-page accessors note above.
    unsafe {
        addr_of_mut!((*page).response.status).write_volatile(response.status);
        addr_of_mut!((*page).response.errno).write_volatile(response.errno);
        addr_of_mut!((*page).response.value).write_volatile(response.value);
    }
    fence(Ordering::Release);
    // SAFETY: see the call-page accessors note above.
    unsafe { addr_of_mut!((*page).response.seq).write_volatile(response.seq) }
}

fn control() -> wasc_wire::Control {
    // SAFETY: see the call-page accessors note above.
    unsafe { addr_of!((*call_page()).control).read_volatile() }
}

fn set_park(park: Park) {
    // SAFETY: see the call-page accessors note above.
    unsafe { addr_of_mut!((*call_page()).state.park).write_volatile(park as u32) }
}

/// Exits to the host through an I/O port; returns when the host resumes the
/// vCPU. The memory clobber orders earlier call-page writes before the exit.
pub fn exit_to_host(port: u16) {
    // SAFETY: the TSS I/O bitmap lets ring 3 use exactly sysd's exit ports;
    // `out` touches no memory.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") port, in("al") 0u8, options(nostack, preserves_flags))
    };
}

/// Serves requests forever: for each new request (a `seq` different from the
/// last one served) writes `handler`'s response. In the sync transport it
/// exits to the host right after answering; in the poll transport it keeps
/// polling and parks (exits) only after `spin_limit` empty polls.
pub fn serve(mut handler: impl FnMut(&Request) -> Response) -> ! {
    let mut last = 0u64;
    loop {
        let mut idle = 0u32;
        loop {
            // Re-read every time: the host may switch transports while sysd
            // is stopped anywhere in this loop.
            let control = control();
            let poll = control.transport == Transport::Poll as u32;
            let seq = request_seq();
            if seq != last {
                // The host publishes the body before `seq`.
                fence(Ordering::Acquire);
                let mut request = request();
                request.seq = seq;
                last = seq;
                let response = handler(&request);
                write_response(response);
                idle = 0;
                if poll {
                    continue;
                }
                break;
            }
            if !poll {
                break;
            }
            idle += 1;
            if idle < control.spin_limit {
                core::hint::spin_loop();
                continue;
            }
            // Park, unless a request arrived while we announced it.
            set_park(Park::Parked);
            fence(Ordering::SeqCst);
            if request_seq() != last {
                set_park(Park::Running);
                continue;
            }
            break;
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
