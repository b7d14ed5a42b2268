//! Entry point and [`System`] of sysd in guest ring 3.

use core::sync::atomic::{AtomicU64, Ordering};

use wasc_sysd::chacha::ChaCha20;
use wasc_sysd::rt;
use wasc_sysd::wasi::{FinalOp, InstanceData, Outcome, System, Wasi};
use wasc_wire::hostop::{HostOp, SCRATCH_OFFSET};
use wasc_wire::{layout, Response, Status};

wasc_sysd::entry!(main);

extern "C" fn main() -> ! {
    // Per-instance state lives on this stack: a template's copy is the
    // state before any instance, and a pool reset restores it.
    let mut wasi = Wasi::default();
    let mut rng: Option<ChaCha20> = None;
    rt::serve(|request, host| {
        let nargs = (request.nargs as usize).min(request.args.len());
        let mut sys = Ring3 {
            host,
            rng: &mut rng,
        };
        let outcome = wasi.call(
            request.function,
            &request.args[..nargs],
            request.window_len,
            &mut sys,
        );
        let (status, errno, value) = match outcome {
            Outcome::Errno(errno) => (Status::Done, u32::from(errno), 0),
            Outcome::Exit(code) => (Status::Exit, 0, u64::from(code)),
            Outcome::Trap(kind, detail) => (Status::Trap, kind as u32, detail),
        };
        Response {
            ticket: 0,
            status: status as u32,
            errno,
            value,
        }
    })
}

/// The mapped length of this instance's tmpfs region, computed on first use
/// from the quotas in the instance data, as the host sized it (a static in
/// sysd's data page: a template's copy is "not yet computed" and a pool
/// reset restores that).
fn tmpfs_len(sys: &mut Ring3<'_>) -> u64 {
    static LEN: AtomicU64 = AtomicU64::new(u64::MAX);
    let known = LEN.load(Ordering::Relaxed);
    if known != u64::MAX {
        return known;
    }
    let quotas = sys
        .instance_data()
        .tmpfs
        .split(|&b| b == 0)
        .filter_map(|s| core::str::from_utf8(s).ok()?.parse::<u64>().ok())
        .fold(0u64, u64::saturating_add);
    let len = layout::tmpfs_region(quotas);
    LEN.store(len, Ordering::Relaxed);
    len
}

/// `offset..offset + len` clamped to a tmpfs region of `region` bytes.
fn tmpfs_range(region: u64, offset: u64, len: usize) -> (u64, usize) {
    let offset = offset.min(region);
    (offset, len.min((region - offset) as usize))
}

/// `offset..offset + len` clamped to the scratch area.
fn scratch_range(offset: usize, len: usize) -> (usize, usize) {
    let offset = offset.min(wasc_sysd::wasi::SCRATCH);
    (offset, len.min(wasc_sysd::wasi::SCRATCH - offset))
}

struct Ring3<'a> {
    host: &'a mut rt::Host,
    rng: &'a mut Option<ChaCha20>,
}

impl System for Ring3<'_> {
    fn read_memory(&mut self, offset: u64, buf: &mut [u8]) {
        let src = (layout::WINDOW + offset) as *const u8;
        // SAFETY: `wasi` checked `offset..offset + len` against the window's
        // accessible length, which the host mapped at `layout::WINDOW`.
        unsafe { core::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) }
    }

    fn write_memory(&mut self, offset: u64, data: &[u8]) {
        let dst = (layout::WINDOW + offset) as *mut u8;
        // SAFETY: as in `read_memory`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) }
    }

    fn host_op(&mut self, op: HostOp) -> Result<u64, u32> {
        self.host.perform(op)
    }

    fn end_with(&mut self, last: FinalOp) -> bool {
        self.host.end_with(last)
    }

    fn read_scratch(&mut self, offset: usize, buf: &mut [u8]) {
        let (offset, len) = scratch_range(offset, buf.len());
        let src = (layout::CALL_PAGE + SCRATCH_OFFSET as u64) as *const u8;
        for (i, byte) in buf[..len].iter_mut().enumerate() {
            // SAFETY: `scratch_range` keeps the access inside the scratch
            // area of the mapped call page; the host writes it only while
            // sysd waits for a host op, so volatile reads see its bytes.
            *byte = unsafe { src.add(offset + i).read_volatile() };
        }
    }

    fn write_scratch(&mut self, offset: usize, data: &[u8]) {
        let (offset, len) = scratch_range(offset, data.len());
        let dst = (layout::CALL_PAGE + SCRATCH_OFFSET as u64) as *mut u8;
        for (i, byte) in data[..len].iter().enumerate() {
            // SAFETY: as in `read_scratch`.
            unsafe { dst.add(offset + i).write_volatile(*byte) };
        }
    }

    fn tmpfs_len(&mut self) -> u64 {
        tmpfs_len(self)
    }

    fn tmpfs_read(&mut self, offset: u64, buf: &mut [u8]) {
        let (offset, len) = tmpfs_range(tmpfs_len(self), offset, buf.len());
        let src = (layout::TMPFS + offset) as *const u8;
        // SAFETY: `tmpfs_range` keeps the access inside the tmpfs region,
        // mapped read-write for ring 3 and used by nothing else.
        unsafe { core::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), len) }
    }

    fn tmpfs_write(&mut self, offset: u64, data: &[u8]) {
        let (offset, len) = tmpfs_range(tmpfs_len(self), offset, data.len());
        let dst = (layout::TMPFS + offset) as *mut u8;
        // SAFETY: as in `tmpfs_read`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst, len) }
    }

    fn instance_data(&mut self) -> InstanceData<'_> {
        // The host wrote the area while sysd waited for this instance: no
        // earlier read of it may be reused.
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        // SAFETY: the instance-data area is mapped for ring 3, and the host
        // writes it only before the instance's first call.
        let area = unsafe {
            core::slice::from_raw_parts(
                layout::INSTANCE_DATA as *const u8,
                layout::INSTANCE_DATA_MAX as usize,
            )
        };
        InstanceData::decode(area)
    }

    fn random(&mut self, buf: &mut [u8]) {
        self.rng
            .get_or_insert_with(|| ChaCha20::new(rt::instance().seed))
            .fill(buf);
    }

    fn instance(&mut self) -> wasc_wire::Instance {
        rt::instance()
    }

    fn rdtsc(&mut self) -> u64 {
        // SAFETY: `rdtsc` only reads the time-stamp counter; CR4.TSD is
        // clear, so ring 3 may use it.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
}
