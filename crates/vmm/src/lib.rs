//! The sysd micro-VM: a KVM guest with no kernel. The host builds the whole
//! guest state — page tables, GDT, TSS, IDT with ring-0 fault stubs — loads
//! the sysd image and starts one vCPU directly in ring 3 at sysd's entry.
//!
//! [`Vm::build`] reads like the boot sequence in `docs/design.md`. Runs on
//! the thread that owns the [`Vm`]. Untrusted input: everything sysd writes
//! (call page, registers, ring-0 stack contents) and the sysd image bytes.

mod arch;
mod call;
mod elf;
mod memory;
mod paging;
mod poll;
mod pool;
mod template;
mod vcpu;

use kvm_bindings::{
    kvm_fpu, kvm_msr_entry, kvm_regs, kvm_sregs, kvm_userspace_memory_region, CpuId, Msrs,
    KVM_MAX_CPUID_ENTRIES,
};
use std::sync::Arc;

use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use wasc_wire::hostop::{HostOp, SCRATCH_LEN};
use wasc_wire::{
    layout, ticket, Control, Instance, OpResult, Park, Request, Response, Status, MAX_STEPS,
};

pub use elf::SysdImage;
pub use memory::GuestRam;
pub use pool::Pool;
pub use template::Template;
pub use vcpu::Fault;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("KVM is not available: {}: {source}", path.display())]
    KvmUnavailable {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("failed to query supported CPUID: {0}")]
    SupportedCpuid(kvm_ioctls::Error),
    #[error("invalid sysd image: {0}")]
    Image(#[from] elf::Error),
    #[error("failed to set up guest RAM: {0}")]
    GuestRam(#[from] memory::Error),
    #[error("KVM_CREATE_VM failed: {0}")]
    CreateVm(kvm_ioctls::Error),
    #[error("failed to register guest RAM with KVM: {0}")]
    AttachRam(kvm_ioctls::Error),
    #[error("KVM_CREATE_VCPU failed: {0}")]
    CreateVcpu(kvm_ioctls::Error),
    #[error("failed to set the vCPU's {what}: {source}")]
    ConfigureVcpu {
        what: &'static str,
        source: kvm_ioctls::Error,
    },
    #[error("sysd failed to boot: {0}")]
    Boot(vcpu::Error),
    #[error("{0}")]
    Vcpu(#[from] vcpu::Error),
    #[error("a call takes at most 9 arguments, got {0}")]
    TooManyArguments(usize),
    #[error("sysd broke the call protocol: {0}")]
    Protocol(String),
    #[error("cannot map a linear memory of {len:#x} bytes at {base:#x}: {why}")]
    Window {
        base: usize,
        len: usize,
        why: &'static str,
    },
    #[error("failed to register the linear-memory window with KVM: {0}")]
    AttachWindow(kvm_ioctls::Error),
    #[error("failed to read the vCPU's {what}: {source}")]
    SaveVcpu {
        what: &'static str,
        source: kvm_ioctls::Error,
    },
    #[error("failed to draw the instance seed from getrandom: {0}")]
    Seed(std::io::Error),
    #[error("failed to start the vCPU thread: {0}")]
    SpawnVcpuThread(std::io::Error),
    #[error("the vCPU was lost when its thread failed to start")]
    VcpuLost,
    #[error("arguments and environment take {0} bytes, more than the {max} a VM holds", max = layout::INSTANCE_DATA_MAX)]
    InstanceDataTooLarge(usize),
}

/// How a call reaches sysd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The calling thread runs the vCPU for each call (one exit per call).
    Sync,
    /// A vCPU thread keeps sysd polling the call page; sysd parks after
    /// `spin_limit` empty polls. A warm call needs no exit.
    Poll { spin_limit: u32 },
}

/// An open `/dev/kvm` and what it supports, shared by every VM.
#[derive(Debug)]
pub struct Hypervisor {
    kvm: Kvm,
    cpuid: CpuId,
}

impl Hypervisor {
    pub fn open() -> Result<Self, Error> {
        Self::open_path(c"/dev/kvm")
    }

    /// Opens the KVM device at `path`.
    pub fn open_path(path: &std::ffi::CStr) -> Result<Self, Error> {
        let kvm = Kvm::new_with_path(path).map_err(|e| Error::KvmUnavailable {
            path: std::path::PathBuf::from(path.to_string_lossy().into_owned()),
            source: std::io::Error::from_raw_os_error(e.errno()),
        })?;
        // Long mode needs the guest CPUID to advertise it (KVM checks EFER.LME
        // against it); sysd sees the host's supported set.
        let cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(Error::SupportedCpuid)?;
        Ok(Self { kvm, cpuid })
    }
}

/// Plain configuration of a sysd VM.
#[derive(Debug, Clone, Copy)]
pub struct VmConfig<'a> {
    /// The sysd ELF image.
    pub sysd: &'a [u8],
}

/// The host side of host ops: performs what sysd asks for. The runtime
/// implements it with the host executor; sysd's requests are untrusted and
/// the implementation validates them.
pub trait HostOps {
    /// Performs `op`, with the call page's scratch area copied in and out.
    /// Returns the op's value or a WASI errno.
    fn perform(&mut self, op: &HostOp, scratch: &mut [u8; SCRATCH_LEN]) -> Result<u64, u16>;
}

/// No host ops: every request is answered with `NOSYS`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHostOps;

impl HostOps for NoHostOps {
    fn perform(&mut self, _: &HostOp, _: &mut [u8; SCRATCH_LEN]) -> Result<u64, u16> {
        Err(52)
    }
}

/// What sysd answered to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// `Done`, `Exit` or `Trap` (see [`wasc_wire::Status`]).
    pub status: Status,
    pub errno: u32,
    pub value: u64,
}

/// The KVM slot of the linear-memory window.
const WINDOW_SLOT: u32 = 1;

/// A booted sysd VM. Dropping it destroys the VM and frees its memory.
#[derive(Debug)]
pub struct Vm {
    // Declared first so the vCPU thread stops and the vCPU and VM are closed
    // before the memory they map is freed. Exactly one of `poll` and `vcpu`
    // holds the vCPU.
    poll: Option<poll::PollThread>,
    vcpu: Option<VcpuFd>,
    vm: VmFd,
    ram: Arc<GuestRam>,
    seq: u64,
    /// Host base and accessible length of the mapped linear memory.
    window: Option<(usize, usize)>,
    /// A call failed in a way that leaves sysd's state unknown; the VM must
    /// not be reused.
    failed: bool,
}

impl Vm {
    /// Builds a VM from scratch: loads `config.sysd` into fresh memory and
    /// runs it until its first yield. (A [`Template`] does this once for
    /// many VMs.)
    pub fn build(hypervisor: &Hypervisor, config: &VmConfig<'_>) -> Result<Self, Error> {
        let image = SysdImage::parse(config.sysd)?;
        let ram = GuestRam::new(layout::RAM_END as usize)?;
        write_guest_image(&ram, &image)?;
        let mut vm = Self::boot_fresh(hypervisor, ram, image.entry)?;
        vm.begin_instance()?;
        Ok(vm)
    }

    /// Creates the VM over `ram` with the initial ring-3 state at `entry`
    /// and runs sysd until it first yields.
    pub(crate) fn boot_fresh(
        hypervisor: &Hypervisor,
        ram: GuestRam,
        entry: u64,
    ) -> Result<Self, Error> {
        let (vm, vcpu) = create_vm(hypervisor, &ram)?;
        let configure = |what| move |source| Error::ConfigureVcpu { what, source };
        let sregs = vcpu.get_sregs().map_err(configure("special registers"))?;
        vcpu.set_sregs(&arch::initial_sregs(sregs))
            .map_err(configure("special registers"))?;
        vcpu.set_regs(&arch::initial_regs(entry))
            .map_err(configure("registers"))?;
        let mut vm = Self::assemble(vm, vcpu, ram);
        let ram = vm.ram.clone();
        vcpu::run_until_yield(vm.vcpu()?, &ram).map_err(Error::Boot)?;
        Ok(vm)
    }

    /// Creates the VM over `ram` (a template view) with the template's saved
    /// vCPU state: sysd resumes where the template's boot left it.
    pub(crate) fn from_state(
        hypervisor: &Hypervisor,
        ram: GuestRam,
        template: &Template,
    ) -> Result<Self, Error> {
        let (vm, vcpu) = create_vm(hypervisor, &ram)?;
        let mut vm = Self::assemble(vm, vcpu, ram);
        vm.restore(template)?;
        vm.begin_instance()?;
        Ok(vm)
    }

    fn assemble(vm: VmFd, vcpu: VcpuFd, ram: GuestRam) -> Self {
        Vm {
            poll: None,
            vcpu: Some(vcpu),
            vm,
            ram: Arc::new(ram),
            seq: 0,
            window: None,
            failed: false,
        }
    }

    /// Starts a new function instance on this VM: a fresh seed, call numbering
    /// from the start.
    fn begin_instance(&mut self) -> Result<(), Error> {
        let mut seed = [0u8; 32];
        fill_random(&mut seed)?;
        let mut instance = self.clock_calibration()?;
        for (word, bytes) in instance.seed.iter_mut().zip(seed.chunks_exact(8)) {
            *word = u64::from_le_bytes(bytes.try_into().expect("8-byte chunk"));
        }
        call::CallPageRef::new(&self.ram)?.write_instance(instance);
        self.seq = 0;
        self.failed = false;
        Ok(())
    }

    /// The vCPU, for this thread: stops the poll thread if one runs it.
    fn vcpu(&mut self) -> Result<&mut VcpuFd, Error> {
        if let Some(poll) = self.poll.take() {
            self.vcpu = Some(poll.stop());
        }
        self.vcpu.as_mut().ok_or(Error::VcpuLost)
    }

    /// The TSC frequency and a guest-TSC reading paired with the host's
    /// realtime and monotonic clocks, so sysd can tell time without exits.
    fn clock_calibration(&mut self) -> Result<Instance, Error> {
        let save = |what| move |source| Error::SaveVcpu { what, source };
        let vcpu = self.vcpu()?;
        let tsc_khz = vcpu.get_tsc_khz().map_err(save("TSC frequency"))?;
        let mut msrs = Msrs::from_entries(&[kvm_msr_entry {
            index: MSR_IA32_TSC,
            ..Default::default()
        }])
        .map_err(|_| Error::Protocol("cannot build an MSR list".into()))?;
        vcpu.get_msrs(&mut msrs).map_err(save("TSC"))?;
        let ref_tsc = msrs.as_slice()[0].data;
        Ok(Instance {
            tsc_khz: u64::from(tsc_khz),
            ref_tsc,
            ref_realtime: clock_ns(libc::CLOCK_REALTIME),
            ref_monotonic: clock_ns(libc::CLOCK_MONOTONIC),
            ..Instance::default()
        })
    }

    pub(crate) fn vcpu_state(&mut self) -> Result<(kvm_regs, kvm_sregs, kvm_fpu), Error> {
        let save = |what| move |source| Error::SaveVcpu { what, source };
        let vcpu = self.vcpu()?;
        Ok((
            vcpu.get_regs().map_err(save("registers"))?,
            vcpu.get_sregs().map_err(save("special registers"))?,
            vcpu.get_fpu().map_err(save("FPU state"))?,
        ))
    }

    fn restore(&mut self, template: &Template) -> Result<(), Error> {
        let configure = |what| move |source| Error::ConfigureVcpu { what, source };
        let vcpu = self.vcpu()?;
        vcpu.set_sregs(&template.sregs)
            .map_err(configure("special registers"))?;
        vcpu.set_regs(&template.regs)
            .map_err(configure("registers"))?;
        vcpu.set_fpu(&template.fpu)
            .map_err(configure("FPU state"))?;
        Ok(())
    }

    /// Switches how calls reach sysd. Switching to [`Transport::Poll`]
    /// starts a vCPU thread; switching back stops it.
    pub fn set_transport(&mut self, transport: Transport) -> Result<(), Error> {
        let ram = self.ram.clone();
        let page = call::CallPageRef::new(&ram)?;
        match transport {
            Transport::Sync => {
                let was_polling = self.poll.is_some();
                page.write_control(Control {
                    transport: wasc_wire::Transport::Sync as u32,
                    spin_limit: 0,
                });
                let vcpu = self.vcpu()?;
                if was_polling {
                    // The poll thread may have stopped sysd anywhere, even
                    // between deciding to park and its exit. Run it once to a
                    // yield: it now sees the sync transport and exits at a
                    // point where the next resume re-checks for a request.
                    if let Err(e) = vcpu::run_until_yield(vcpu, &ram) {
                        self.failed = true;
                        return Err(e.into());
                    }
                }
            }
            Transport::Poll { spin_limit } => {
                page.write_control(Control {
                    transport: wasc_wire::Transport::Poll as u32,
                    spin_limit,
                });
                if self.poll.is_none() {
                    page.set_park(Park::Running);
                    let vcpu = self.vcpu.take().ok_or(Error::VcpuLost)?;
                    match poll::PollThread::start(vcpu, self.ram.clone()) {
                        Ok(thread) => self.poll = Some(thread),
                        Err(e) => {
                            self.failed = true;
                            return Err(Error::SpawnVcpuThread(e));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Returns a VM cloned from `template` to the template's state for the
    /// next instance: window unmapped, private pages discarded, vCPU state
    /// restored, fresh seed.
    pub(crate) fn reset(&mut self, template: &Template) -> Result<(), Error> {
        debug_assert_eq!(self.ram.len(), template.len());
        if self.window.take().is_some() {
            self.set_window_slot(0, 0)?;
        }
        self.ram.discard()?;
        self.restore(template)?;
        self.begin_instance()
    }

    /// Whether a call failed in a way that leaves sysd unusable.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Calls sysd with no host ops available (sysd gets `NOSYS` for any).
    pub fn call(&mut self, function: u32, args: &[u64]) -> Result<Reply, Error> {
        self.call_with(function, args, &mut NoHostOps)
    }

    /// Calls sysd and performs the host ops it asks for with `host`, on this
    /// thread, until it answers. Works in both transports.
    pub fn call_with(
        &mut self,
        function: u32,
        args: &[u64],
        host: &mut dyn HostOps,
    ) -> Result<Reply, Error> {
        if args.len() > 9 {
            return Err(Error::TooManyArguments(args.len()));
        }
        let result = self.exchange(function, args, host);
        self.failed |= result.is_err();
        result
    }

    fn exchange(
        &mut self,
        function: u32,
        args: &[u64],
        host: &mut dyn HostOps,
    ) -> Result<Reply, Error> {
        let ram = self.ram.clone();
        let page = call::CallPageRef::new(&ram)?;
        self.seq += 1;
        let mut request = Request {
            seq: self.seq,
            function,
            nargs: args.len() as u32,
            args: [0; 9],
            window_len: self.window.map_or(0, |(_, len)| len as u64),
        };
        request.args[..args.len()].copy_from_slice(args);
        let mut previous = page.response_ticket();
        page.write_request(request);
        let mut scratch = [0u8; SCRATCH_LEN];
        for step in 0..=MAX_STEPS {
            let expected = ticket(self.seq, step);
            let response = self.wait(previous)?;
            if response.ticket != expected {
                return Err(Error::Protocol(format!(
                    "published ticket {:#x} while {expected:#x} was due",
                    response.ticket
                )));
            }
            previous = expected;
            match Status::from_raw(response.status) {
                Some(status @ (Status::Done | Status::Exit | Status::Trap)) => {
                    return Ok(Reply {
                        status,
                        errno: response.errno,
                        value: response.value,
                    })
                }
                Some(Status::HostOp) => {
                    let op = page.read_host_op();
                    page.read_scratch(&mut scratch);
                    let (errno, value) = match host.perform(&op, &mut scratch) {
                        Ok(value) => (0, value),
                        Err(errno) => (u32::from(errno), 0),
                    };
                    page.write_scratch(&scratch);
                    page.write_op_result(OpResult {
                        ticket: expected,
                        errno,
                        reserved: 0,
                        value,
                    });
                }
                _ => {
                    return Err(Error::Protocol(format!(
                        "answered with status {:#x}",
                        response.status
                    )))
                }
            }
        }
        Err(Error::Protocol(
            "made more host ops than a request may".into(),
        ))
    }

    /// Lets sysd run until it publishes a response with a ticket other than
    /// `previous`.
    fn wait(&mut self, previous: u64) -> Result<Response, Error> {
        if let Some(poll) = &self.poll {
            return Ok(poll.wait(previous)?);
        }
        let ram = self.ram.clone();
        vcpu::run_until_yield(self.vcpu()?, &ram)?;
        let page = call::CallPageRef::new(&ram)?;
        let response = page.read_response();
        if response.ticket == previous {
            return Err(Error::Protocol("yielded without answering".into()));
        }
        Ok(response)
    }

    /// Writes the instance's arguments and environment (each a run of
    /// NUL-terminated strings) where sysd reads them. Call before the
    /// instance's first call.
    pub fn write_instance_data(&self, args: &[u8], env: &[u8]) -> Result<(), Error> {
        let total = 8 + args.len() + env.len();
        if total as u64 > layout::INSTANCE_DATA_MAX {
            return Err(Error::InstanceDataTooLarge(total));
        }
        let base = layout::INSTANCE_DATA;
        self.ram.write(base, &(args.len() as u32).to_le_bytes())?;
        self.ram
            .write(base + 4, &(env.len() as u32).to_le_bytes())?;
        self.ram.write(base + 8, args)?;
        self.ram.write(base + 8 + args.len() as u64, env)?;
        Ok(())
    }

    /// The guest RAM.
    pub fn ram(&self) -> &GuestRam {
        &self.ram
    }

    /// Maps `len` bytes of host memory at `base` — the function's linear
    /// memory — at [`layout::WINDOW`] in sysd's address space, replacing any
    /// earlier window. Call it again with the new length after the memory
    /// grows; the memory must not move (wasmtime's `memory_may_move(false)`).
    /// Only `len` bytes are registered with KVM: the rest of the last 2 MiB
    /// page is unbacked, and a sysd access there stops the VM with
    /// [`vcpu::Error::Unbacked`].
    ///
    /// # Safety
    ///
    /// `base..base + len` must stay mapped and owned by this function
    /// instance until the window is replaced or the `Vm` dropped: sysd reads
    /// and writes it.
    pub unsafe fn map_window(&mut self, base: *mut u8, len: usize) -> Result<(), Error> {
        let (base_addr, page) = (base as usize, 4096);
        let why = if base_addr % page != 0 {
            Some("the base is not page-aligned")
        } else if !len.is_multiple_of(page) {
            Some("the length is not a whole number of pages")
        } else if len as u64 > layout::WINDOW_MAX {
            Some("the length exceeds the 4 GiB window")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Error::Window {
                base: base_addr,
                len,
                why,
            });
        }
        if self.window == Some((base_addr, len)) {
            return Ok(());
        }
        // KVM cannot resize a slot: delete it, then add the new extent.
        if self.window.take().is_some() {
            self.set_window_slot(0, 0)?;
        }
        if len > 0 {
            self.set_window_slot(base_addr as u64, len as u64)?;
        }
        paging::map_window(&self.ram, len as u64)?;
        self.window = Some((base_addr, len));
        Ok(())
    }

    fn set_window_slot(&self, host: u64, len: u64) -> Result<(), Error> {
        let region = kvm_userspace_memory_region {
            slot: WINDOW_SLOT,
            flags: 0,
            guest_phys_addr: layout::WINDOW,
            memory_size: len,
            userspace_addr: host,
        };
        // SAFETY: size 0 deletes the slot; otherwise the caller of
        // `map_window` guarantees the memory outlives the mapping.
        unsafe { self.vm.set_user_memory_region(region) }.map_err(Error::AttachWindow)
    }
}

/// Writes everything the guest needs before sysd's first instruction.
pub(crate) fn write_guest_image(ram: &GuestRam, image: &SysdImage<'_>) -> Result<(), Error> {
    paging::write_page_tables(ram)?;
    arch::write_system_tables(ram)?;
    image.load(ram)?;
    Ok(())
}

/// `KVM_CREATE_VM`, guest RAM as slot 0, and one vCPU with CPUID set.
fn create_vm(hypervisor: &Hypervisor, ram: &GuestRam) -> Result<(VmFd, VcpuFd), Error> {
    let vm = hypervisor.kvm.create_vm().map_err(Error::CreateVm)?;
    attach_ram(&vm, ram)?;
    let vcpu = vm.create_vcpu(0).map_err(Error::CreateVcpu)?;
    vcpu.set_cpuid2(&hypervisor.cpuid)
        .map_err(|source| Error::ConfigureVcpu {
            what: "CPUID",
            source,
        })?;
    Ok((vm, vcpu))
}

/// The IA32_TIME_STAMP_COUNTER MSR.
const MSR_IA32_TSC: u32 = 0x10;

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; these clocks always exist.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::Seed(error));
            }
            continue;
        }
        filled += n as usize;
    }
    Ok(())
}

fn attach_ram(vm: &VmFd, ram: &GuestRam) -> Result<(), Error> {
    let region = kvm_userspace_memory_region {
        slot: 0,
        flags: 0,
        guest_phys_addr: 0,
        memory_size: ram.len() as u64,
        userspace_addr: ram.host_address(),
    };
    // SAFETY: the region is `ram`'s whole mapping, which outlives the VM
    // (`Vm` drops `vcpu` and `_vm` before `ram`).
    unsafe { vm.set_user_memory_region(region) }.map_err(Error::AttachRam)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_kvm_device_is_one_clear_line() {
        let err = Hypervisor::open_path(c"/nonexistent/kvm").expect_err("no such device");
        assert_eq!(
            err.to_string(),
            "KVM is not available: /nonexistent/kvm: No such file or directory (os error 2)"
        );
    }
}
