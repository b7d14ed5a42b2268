//! The ring-3 runtime shared by sysd's entry points (`x86_64-unknown-none`
//! only): the call-page loop, exits to the host, and the panic handler.

use core::fmt::Write;
use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::{fence, Ordering};

use wasc_wire::hostop::HostOp;
use wasc_wire::{
    layout, port, ticket, CallPage, OpResult, Park, Request, Response, Status, Transport,
    MAX_STEPS, NO_STORE, OP_COMPLETED, PANIC_MESSAGE_MAX, PANIC_MESSAGE_OFFSET,
};

use crate::wasi::FinalOp;

/// Defines sysd's entry point `_start`, which calls `$main` (an
/// `extern "C" fn() -> !`). The host starts the vCPU there in ring 3 with
/// `rsp` at the top of sysd's stack.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        core::arch::global_asm!(
            ".section .text._start, \"ax\"",
            ".global _start",
            "_start:",
            "    xor ebp, ebp",
            "    call {main}",
            "    ud2",
            main = sym $main,
        );
    };
}

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

/// Publishes a response: the body first, then (release) its ticket, which
/// is what the host polls.
fn publish_response(ticket: u64, response: Response) {
    let page = call_page();
    // SAFETY: see the call-page accessors note above.
    unsafe {
        addr_of_mut!((*page).response.status).write_volatile(response.status);
        addr_of_mut!((*page).response.errno).write_volatile(response.errno);
        addr_of_mut!((*page).response.value).write_volatile(response.value);
    }
    fence(Ordering::Release);
    // SAFETY: see the call-page accessors note above.
    unsafe { addr_of_mut!((*page).response.ticket).write_volatile(ticket) }
}

fn write_host_op(op: HostOp) {
    // SAFETY: see the call-page accessors note above.
    unsafe { addr_of_mut!((*call_page()).host_op).write_volatile(op) }
}

fn op_result_ticket() -> u64 {
    // SAFETY: see the call-page accessors note above.
    unsafe { addr_of!((*call_page()).op_result.ticket).read_volatile() }
}

fn op_result() -> OpResult {
    // SAFETY: see the call-page accessors note above.
    unsafe { addr_of!((*call_page()).op_result).read_volatile() }
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

/// Waits until `ready()` holds. Sync transport: exit to the host, which
/// resumes sysd once it has written something. Poll transport: poll, and
/// after `spin_limit` empty polls park (one exit), unless `ready()` became
/// true while parking was announced. Ends with an acquire fence, so what the
/// host published before the polled word is visible.
fn wait_until(ready: impl Fn() -> bool) {
    let mut idle = 0u32;
    loop {
        if ready() {
            fence(Ordering::Acquire);
            return;
        }
        // Re-read every time: the host may switch transports while sysd is
        // stopped anywhere in this loop.
        let control = control();
        if control.transport != Transport::Poll as u32 {
            exit_to_host(port::YIELD);
            continue;
        }
        idle += 1;
        if idle < control.spin_limit {
            core::hint::spin_loop();
            continue;
        }
        set_park(Park::Parked);
        fence(Ordering::SeqCst);
        if ready() {
            set_park(Park::Running);
            continue;
        }
        // The host's vCPU thread sets `Running` before resuming us.
        exit_to_host(port::YIELD);
        idle = 0;
    }
}

/// The host side of the current request: asks the executor for host ops.
#[derive(Debug)]
pub struct Host {
    seq: u64,
    step: u16,
    /// The op that ends the call, made after the handler returns.
    last: Option<FinalOp>,
}

impl Host {
    /// Publishes `response` as this request's answer, then spins forever
    /// without polling the call page: what a compromised sysd that ignores
    /// the host's requests to park looks like (the self-test image's
    /// `SelftestAnswerThenSpin`; the host has to stop the vCPU by force).
    pub fn answer_then_spin(&mut self, response: Response) -> ! {
        let ticket = ticket(self.seq, self.step);
        publish_response(ticket, Response { ticket, ..response });
        loop {
            core::hint::spin_loop();
        }
    }

    /// Has the host perform `op` and returns its value, or its errno.
    pub fn perform(&mut self, op: HostOp) -> Result<u64, u32> {
        if self.step == MAX_STEPS {
            return Err(ERRNO_NOMEM);
        }
        let ticket = ticket(self.seq, self.step);
        self.step += 1;
        write_host_op(op);
        publish_response(
            ticket,
            Response {
                ticket,
                status: Status::HostOp as u32,
                errno: 0,
                value: 0,
            },
        );
        wait_until(|| op_result_ticket() == ticket);
        let result = op_result();
        if result.errno == 0 {
            Ok(result.value)
        } else {
            Err(result.errno)
        }
    }

    /// Ends the current call with `last` once the handler returns (see
    /// [`crate::wasi::System::end_with`]); `false` if no op is left to this
    /// request or one is already set.
    pub fn end_with(&mut self, last: FinalOp) -> bool {
        if self.step >= MAX_STEPS - 1 || self.last.is_some() {
            return false;
        }
        self.last = Some(last);
        true
    }

    /// Makes the call's last op ([`Status::HostOpFinal`]) and, unless the
    /// host ended the call, ends it: the op's value (or the value taken for
    /// an errno counted as success) stored where the call said, errno
    /// otherwise.
    fn finish(&mut self, last: FinalOp) {
        let asked = ticket(self.seq, self.step);
        self.step += 1;
        write_host_op(last.op);
        publish_response(
            asked,
            Response {
                ticket: asked,
                status: Status::HostOpFinal as u32,
                errno: 0,
                value: last.store_at,
            },
        );
        wait_until(|| op_result_ticket() == asked);
        let result = op_result();
        if result.flags & OP_COMPLETED != 0 {
            return;
        }
        let (errno, store) = match (result.errno, last.success_on) {
            (0, _) => (0, Some(result.value as u32)),
            (errno, Some((taken, value))) if errno == taken => (0, Some(value)),
            (errno, _) => (errno.min(u32::from(u16::MAX)), None),
        };
        if let (Some(value), true) = (store, last.store_at != NO_STORE) {
            let at = (layout::WINDOW + last.store_at) as *mut [u8; 4];
            // SAFETY: the call checked `store_at..store_at + 4` against this
            // request's window, which the host keeps mapped while it runs.
            unsafe { at.write_volatile(value.to_le_bytes()) };
        }
        let done = ticket(self.seq, self.step);
        publish_response(
            done,
            Response {
                ticket: done,
                status: Status::Done as u32,
                errno,
                value: 0,
            },
        );
    }
}

/// WASI `nomem`: a request needed more host ops than a ticket can count.
const ERRNO_NOMEM: u32 = 48;

/// Serves requests forever: waits for a request with a new `seq`, lets
/// `handler` answer it (asking for host ops through [`Host`] as needed), and
/// publishes the answer.
pub fn serve(mut handler: impl FnMut(&Request, &mut Host) -> Response) -> ! {
    let mut last = 0u64;
    loop {
        wait_until(|| request_seq() != last);
        let request = request();
        last = request.seq;
        let mut host = Host {
            seq: request.seq,
            step: 0,
            last: None,
        };
        let response = handler(&request, &mut host);
        if let Some(last) = host.last.take() {
            host.finish(last);
            continue;
        }
        let ticket = ticket(request.seq, host.step);
        publish_response(ticket, Response { ticket, ..response });
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
