//! Entry point and [`System`] of sysd in guest ring 3.

use wasc_sysd::chacha::ChaCha20;
use wasc_sysd::rt;
use wasc_sysd::wasi::{InstanceData, Outcome, System, Wasi};
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

    fn scratch(&mut self) -> [u8; 64] {
        let mut out = [0u8; 64];
        let src = (layout::CALL_PAGE + SCRATCH_OFFSET as u64) as *const u8;
        for (i, byte) in out.iter_mut().enumerate() {
            // SAFETY: the scratch area is inside the mapped call page.
            *byte = unsafe { src.add(i).read_volatile() };
        }
        out
    }

    fn instance_data(&mut self) -> InstanceData<'_> {
        let base = layout::INSTANCE_DATA as *const u8;
        let max = layout::INSTANCE_DATA_MAX as usize - 8;
        // SAFETY: the header is inside the call-page region, mapped for ring 3.
        let (args_len, env_len) = unsafe {
            (
                base.cast::<u32>().read_volatile() as usize,
                base.add(4).cast::<u32>().read_volatile() as usize,
            )
        };
        // The host wrote these lengths; bound them anyway.
        let args_len = args_len.min(max);
        let env_len = env_len.min(max - args_len);
        // SAFETY: both ranges lie inside the instance-data area, which the
        // host writes only before the instance's first call.
        unsafe {
            InstanceData {
                args: core::slice::from_raw_parts(base.add(8), args_len),
                env: core::slice::from_raw_parts(base.add(8 + args_len), env_len),
            }
        }
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
