//! Host access to the call page in guest RAM. sysd may write any bytes
//! there at any time its vCPU runs: the host copies values out with volatile
//! reads and validates the copies; it never holds a reference into the page.

use std::marker::PhantomData;

use wasc_wire::{
    layout, CallPage, Instance, Request, Response, PANIC_MESSAGE_MAX, PANIC_MESSAGE_OFFSET,
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

    pub fn write_request(&self, request: Request) {
        // SAFETY: `page` points at a 4 KiB-aligned `CallPage` inside guest RAM
        // (checked in `new`), which outlives `self`; a volatile write of a
        // plain-data struct cannot be elided or torn into a reference.
        unsafe { std::ptr::addr_of_mut!((*self.page).request).write_volatile(request) }
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
