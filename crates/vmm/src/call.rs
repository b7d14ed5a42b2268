//! Host access to the call page in guest RAM. sysd may write any bytes
//! there at any time its vCPU runs: the host copies values out with volatile
//! reads and validates the copies; it never holds a reference into the page.

use std::marker::PhantomData;
use std::sync::atomic::{fence, Ordering};

use wasc_wire::hostop::{HostOp, SCRATCH_LEN, SCRATCH_OFFSET};
use wasc_wire::{
    layout, CallPage, Control, Instance, OpResult, Park, Request, Response, PANIC_MESSAGE_MAX,
    PANIC_MESSAGE_OFFSET,
};

use crate::memory::{Error, GuestRam};

/// The call page of one VM, borrowed from its guest RAM.
#[derive(Debug)]
pub struct CallPageRef<'a> {
    page: *mut CallPage,
    _ram: PhantomData<&'a GuestRam>,
}

impl<'a> CallPageRef<'a> {
    pub fn new(ram: &'a GuestRam) -> Result<Self, Error> {
        let page = ram.pointer(layout::CALL_PAGE, size_of::<CallPage>())?;
        Ok(Self {
            page: page.cast(),
            _ram: PhantomData,
        })
    }

    /// Publishes a request: the body first, then (release) its `seq`, which
    /// is what sysd polls.
    pub fn write_request(&self, request: Request) {
        let body = Request {
            seq: self.read_request_seq(),
            ..request
        };
        // SAFETY: `page` points at a 4 KiB-aligned `CallPage` inside guest RAM
        // (checked in `new`), which outlives `self`; volatile writes of plain
        // integers cannot be elided and create no reference into the page.
        unsafe { std::ptr::addr_of_mut!((*self.page).request).write_volatile(body) };
        fence(Ordering::Release);
        // SAFETY: as above.
        unsafe { std::ptr::addr_of_mut!((*self.page).request.seq).write_volatile(request.seq) };
    }

    fn read_request_seq(&self) -> u64 {
        // SAFETY: as in `write_request`.
        unsafe { std::ptr::addr_of!((*self.page).request.seq).read_volatile() }
    }

    /// The ticket of the latest response; [`Self::read_response`] after an
    /// acquire fence gives the body sysd published with it.
    pub fn response_ticket(&self) -> u64 {
        // SAFETY: as in `write_request`.
        unsafe { std::ptr::addr_of!((*self.page).response.ticket).read_volatile() }
    }

    /// A copy of the host op sysd asked for (untrusted: the executor
    /// validates it).
    pub fn read_host_op(&self) -> HostOp {
        // SAFETY: as in `write_request`; `HostOp` is plain integers.
        unsafe { std::ptr::addr_of!((*self.page).host_op).read_volatile() }
    }

    /// Publishes the answer to a host op: the body, then (release) the ticket.
    pub fn write_op_result(&self, result: OpResult) {
        let body = OpResult {
            ticket: self.op_result_ticket(),
            ..result
        };
        // SAFETY: as in `write_request`.
        unsafe { std::ptr::addr_of_mut!((*self.page).op_result).write_volatile(body) };
        fence(Ordering::Release);
        // SAFETY: as in `write_request`.
        unsafe {
            std::ptr::addr_of_mut!((*self.page).op_result.ticket).write_volatile(result.ticket)
        };
    }

    fn op_result_ticket(&self) -> u64 {
        // SAFETY: as in `write_request`.
        unsafe { std::ptr::addr_of!((*self.page).op_result.ticket).read_volatile() }
    }

    /// Copies the scratch area out of the page.
    pub fn read_scratch(&self, scratch: &mut [u8; SCRATCH_LEN]) {
        for (i, byte) in scratch.iter_mut().enumerate() {
            // SAFETY: `SCRATCH_OFFSET + i < 4096`, inside the page.
            *byte = unsafe {
                self.page
                    .cast::<u8>()
                    .add(SCRATCH_OFFSET + i)
                    .read_volatile()
            };
        }
    }

    /// Copies the scratch area back into the page.
    pub fn write_scratch(&self, scratch: &[u8; SCRATCH_LEN]) {
        for (i, byte) in scratch.iter().enumerate() {
            // SAFETY: `SCRATCH_OFFSET + i < 4096`, inside the page.
            unsafe {
                self.page
                    .cast::<u8>()
                    .add(SCRATCH_OFFSET + i)
                    .write_volatile(*byte)
            };
        }
    }

    /// Sets the poll transport, sysd parking after `spin_limit` empty
    /// polls (0: at its next poll).
    pub fn write_poll_control(&self, spin_limit: u32) {
        self.write_control(Control {
            transport: wasc_wire::Transport::Poll as u32,
            spin_limit,
        });
    }

    pub fn write_control(&self, control: Control) {
        // SAFETY: as in `write_request`.
        unsafe { std::ptr::addr_of_mut!((*self.page).control).write_volatile(control) }
    }

    pub fn park(&self) -> u32 {
        // SAFETY: as in `write_request`.
        unsafe { std::ptr::addr_of!((*self.page).state.park).read_volatile() }
    }

    pub fn set_park(&self, park: Park) {
        // SAFETY: as in `write_request`.
        unsafe { std::ptr::addr_of_mut!((*self.page).state.park).write_volatile(park as u32) }
    }

    pub fn write_instance(&self, instance: Instance) {
        // SAFETY: as in `write_request`.
        unsafe { std::ptr::addr_of_mut!((*self.page).instance).write_volatile(instance) }
    }

    /// A copy of the response; every bit pattern is a valid `Response`, so
    /// the copy is sound whatever sysd wrote. The caller validates it.
    pub fn read_response(&self) -> Response {
        // SAFETY: as in `write_request`; `Response` is plain integers.
        unsafe { std::ptr::addr_of!((*self.page).response).read_volatile() }
    }

    /// The message sysd's panic handler left, bounded and lossily decoded.
    pub fn panic_message(&self) -> String {
        let len = (self.read_response().value as usize).min(PANIC_MESSAGE_MAX);
        let mut buf = vec![0u8; len];
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: `PANIC_MESSAGE_OFFSET + i < 4096`, inside the page.
            *byte = unsafe {
                self.page
                    .cast::<u8>()
                    .add(PANIC_MESSAGE_OFFSET + i)
                    .read_volatile()
            };
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}
