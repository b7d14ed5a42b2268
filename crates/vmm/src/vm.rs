//! A sysd VM: building it (fresh or from a template), its vCPU state,
//! instance start and reset, transports and the linear-memory window. Runs
//! on the thread that owns the [`Vm`].

use std::sync::Arc;

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_sregs, kvm_userspace_memory_region};
use kvm_ioctls::{SyncReg, VcpuFd, VmFd};

use crate::clock::TscClock;
use crate::lifecycle::VcpuState;
use crate::poll::PollThread;
use crate::ThreadSetup;
pub use wasc_wire::InstanceData;
use wasc_wire::{layout, Control, Instance, Park};

use crate::{
    arch, call, paging, vcpu, Error, GuestRam, Hypervisor, SysdImage, Template, Transport, VmConfig,
};

/// The KVM slot of the linear-memory window.
const WINDOW_SLOT: u32 = 1;
/// The KVM slot of the tmpfs region.
const TMPFS_SLOT: u32 = 2;
/// A pristine sysd started early ([`Vm::start_early`]) polls this many
/// times before it parks: enough to cover an instantiation, whose end it
/// waits for (its first request then finds it running).
const EARLY_SPIN_LIMIT: u32 = 20_000;

/// A booted sysd VM. Dropping it destroys the VM and frees its memory.
#[derive(Debug)]
pub struct Vm {
    // Declared first so the vCPU thread stops and the vCPU and VM are closed
    // before the memory they map is freed.
    pub(crate) vcpu: VcpuState,
    pub(crate) vm: VmFd,
    pub(crate) ram: Arc<GuestRam>,
    pub(crate) seq: u64,
    /// Host base and accessible length of the mapped linear memory.
    pub(crate) window: Option<(usize, usize)>,
    /// The window outlived its instance ([`Vm::retire_window`]): its KVM
    /// slot and page-table entries stay, so the next instance, if its
    /// memory lies at the same place, starts without a slot change (every
    /// slot removal drops all of KVM's shadow mappings of the VM, and sysd
    /// then faults its pages back in one exit at a time). Until
    /// [`Vm::map_window`] confirms it, it maps memory the last instance
    /// owned, and sysd does not run: the window is removed first.
    pub(crate) window_retired: bool,
    /// A call failed in a way that leaves sysd's state unknown; the VM must
    /// not be reused.
    pub(crate) failed: bool,
    /// The tmpfs region, if this instance has one.
    pub(crate) tmpfs: Option<GuestRam>,
    /// The VM's TSC against the host's, as last measured.
    clock: Option<TscClock>,
    /// KVM loads registers written to the shared run area on the next
    /// `KVM_RUN` (`KVM_CAP_SYNC_REGS`): a reset then needs two ioctls fewer.
    sync_regs: bool,
    /// How calls reach sysd; a reset keeps it (and a poll thread with it).
    transport: Transport,
    /// sysd has served no request since this instance began (a boot or a
    /// reset): its state is the template's, a function of sysd's image
    /// alone. Such a sysd may run while a retired window maps memory that
    /// is not this instance's ([`Vm::start_early`]): it reads the window
    /// only to serve a request, and the host writes the first one only
    /// once the window maps the caller's memory.
    pristine: bool,
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
        let mut vm = Self::assemble(hypervisor, vm, vcpu, ram);
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
        let mut vm = Self::assemble(hypervisor, vm, vcpu, ram);
        vm.restore(template)?;
        vm.begin_instance()?;
        Ok(vm)
    }

    fn assemble(hypervisor: &Hypervisor, vm: VmFd, vcpu: VcpuFd, ram: GuestRam) -> Self {
        Vm {
            vcpu: VcpuState::Idle(vcpu),
            vm,
            ram: Arc::new(ram),
            seq: 0,
            window: None,
            window_retired: false,
            failed: false,
            tmpfs: None,
            clock: None,
            sync_regs: hypervisor.sync_regs,
            transport: Transport::Sync,
            pristine: false,
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
        self.pristine = true;
        Ok(())
    }

    /// The vCPU, for this thread: stops the poll thread if one runs it.
    pub(crate) fn vcpu(&mut self) -> Result<&mut VcpuFd, Error> {
        self.vcpu.idle()
    }

    /// The TSC frequency and a guest-TSC reading paired with the host's
    /// realtime and monotonic clocks, so sysd can tell time without exits.
    /// The VM's TSC is measured (two vCPU ioctls) at most once a second,
    /// not per instance.
    fn clock_calibration(&mut self) -> Result<Instance, Error> {
        let clock = match self.clock {
            Some(clock) if clock.is_fresh() => clock,
            _ => {
                let measured = TscClock::measure(self.vcpu()?)?;
                *self.clock.insert(measured)
            }
        };
        Ok(clock.reference())
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

    /// Puts the template's vCPU state back. With sync registers the general
    /// and special registers go into the run area, which the next `KVM_RUN`
    /// loads before sysd runs (it fails, and the call with it, if KVM
    /// rejects them); nothing reads them before that.
    fn restore(&mut self, template: &Template) -> Result<(), Error> {
        let configure = |what| move |source| Error::ConfigureVcpu { what, source };
        let sync_regs = self.sync_regs;
        let vcpu = self.vcpu()?;
        if sync_regs {
            let run_area = vcpu.sync_regs_mut();
            run_area.regs = template.regs;
            run_area.sregs = template.sregs;
            vcpu.set_sync_dirty_reg(SyncReg::Register);
            vcpu.set_sync_dirty_reg(SyncReg::SystemRegister);
        } else {
            vcpu.set_sregs(&template.sregs)
                .map_err(configure("special registers"))?;
            vcpu.set_regs(&template.regs)
                .map_err(configure("registers"))?;
        }
        vcpu.set_fpu(&template.fpu)
            .map_err(configure("FPU state"))?;
        Ok(())
    }

    /// Switches how calls reach sysd. Switching to [`Transport::Poll`]
    /// starts a vCPU thread; switching back stops it.
    pub fn set_transport(&mut self, transport: Transport) -> Result<(), Error> {
        self.set_transport_with(transport, None)
    }

    /// [`Vm::set_transport`], and a vCPU thread that starts (poll transport)
    /// runs `setup` first — to confine itself — and runs sysd only if it
    /// succeeds.
    pub fn set_transport_with(
        &mut self,
        transport: Transport,
        setup: Option<ThreadSetup>,
    ) -> Result<(), Error> {
        let ram = self.ram.clone();
        let page = call::CallPageRef::new(&ram)?;
        self.transport = transport;
        match transport {
            Transport::Sync => {
                let was_polling = self.vcpu.is_polling();
                page.write_control(Control {
                    transport: wasc_wire::Transport::Sync as u32,
                    spin_limit: 0,
                });
                if was_polling {
                    // sysd runs below: not on a retired window.
                    self.drop_retired_window()?;
                }
                let vcpu = self.vcpu.stop_polling()?;
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
                page.write_poll_control(spin_limit);
                // A thread that exists is held or runs sysd, and a held
                // one runs it again only for a call (`exchange`), which
                // deals with a retired window. A new one runs it at once.
                if !self.vcpu.is_polling() {
                    self.drop_retired_window()?;
                    page.set_park(Park::Running);
                    if let Err(e) = self.vcpu.start_polling(self.ram.clone(), setup) {
                        self.failed = true;
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Returns a VM cloned from `template` to the template's state for the
    /// next instance: memory as the template's (a retired window kept, the
    /// tmpfs region kept but emptied), vCPU state restored, fresh seed. Its
    /// transport stays: a poll thread waits for the next instance's call.
    pub(crate) fn reset(&mut self, template: &Template) -> Result<(), Error> {
        debug_assert_eq!(self.ram.len(), template.len());
        // A poll thread may still run sysd: hold it before its memory is
        // restored under it (it keeps waiting for the next instance).
        self.vcpu()?;
        if !self.window_retired {
            self.unmap_window()?;
        }
        if let Some(region) = &self.tmpfs {
            // Nothing of this instance's files stays in an idle VM.
            region.discard()?;
        }
        template.reset_ram(&self.ram)?;
        // The template maps neither: write the kept regions' entries again,
        // the same bytes KVM's shadow pages were built from.
        if let Some((_, len)) = self.window {
            paging::map_window(&self.ram, 0, len as u64)?;
        }
        if let Some(region) = &self.tmpfs {
            paging::map_tmpfs(&self.ram, region.len() as u64)?;
        }
        self.restore(template)?;
        self.begin_instance()
    }

    /// Poll transport: lets a held vCPU thread run sysd again now, before
    /// the instance's first call, so that the VM entry (tens of µs on a
    /// software-virtualized host) overlaps the caller's own set-up rather
    /// than delaying that call. Only a pristine sysd starts early (see
    /// `pristine`); it polls with a longer spin limit ([`EARLY_SPIN_LIMIT`])
    /// until its first request. A no-op otherwise.
    pub fn start_early(&mut self) -> Result<(), Error> {
        if self.pristine && self.vcpu.is_held() && matches!(self.transport, Transport::Poll { .. })
        {
            self.release(EARLY_SPIN_LIMIT)?;
        }
        Ok(())
    }

    /// Before the host writes a request: sysd is about to see this
    /// instance's input, so it is pristine no more; one started early goes
    /// back to this VM's spin limit (a held one gets it with its release).
    pub(crate) fn end_pristine(&mut self) -> Result<(), Error> {
        if std::mem::take(&mut self.pristine) && !self.vcpu.is_held() {
            if let Transport::Poll { spin_limit } = self.transport {
                call::CallPageRef::new(&self.ram)?.write_poll_control(spin_limit);
            }
        }
        Ok(())
    }

    /// Before sysd's memory layout changes (a slot, its page-table
    /// entries): a vCPU thread that may be running sysd is held first.
    fn quiesce(&mut self) -> Result<(), Error> {
        if self.vcpu.is_polling() {
            self.vcpu()?;
        }
        Ok(())
    }

    /// The vCPU thread, running sysd, in the poll transport. A held thread
    /// is released with the control word written again: a hold set sysd's
    /// spin limit to 0, and a reset put back the template's (sync).
    pub(crate) fn poll_thread(&mut self) -> Result<Option<&PollThread>, Error> {
        match (self.vcpu.is_held(), self.transport) {
            (true, Transport::Poll { spin_limit }) => self.release(spin_limit),
            _ => Ok(self.vcpu.resume()),
        }
    }

    /// Gives a held vCPU back to its thread, sysd polling `spin_limit`
    /// times before it parks.
    fn release(&mut self, spin_limit: u32) -> Result<Option<&PollThread>, Error> {
        call::CallPageRef::new(&self.ram)?.write_poll_control(spin_limit);
        Ok(self.vcpu.resume())
    }

    /// Whether the host holds a poll thread's vCPU: sysd does not run
    /// until the next call (or [`Vm::start_early`]). For tests and
    /// diagnostics.
    pub fn vcpu_held(&self) -> bool {
        self.vcpu.is_held()
    }

    /// Whether a call failed in a way that leaves sysd unusable.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Writes what sysd reads at an instance's start where it reads it
    /// (`wasc_wire::INSTANCE_DATA_HEADER`). Call before the instance's
    /// first call.
    pub fn write_instance_data(&self, data: &InstanceData<'_>) -> Result<(), Error> {
        let total = data.encoded_len();
        if total as u64 > layout::INSTANCE_DATA_MAX {
            return Err(Error::InstanceDataTooLarge(total));
        }
        let mut area = vec![0; total];
        let written = data
            .encode(&mut area)
            .ok_or(Error::InstanceDataTooLarge(total))?;
        self.ram.write(layout::INSTANCE_DATA, &area[..written])?;
        Ok(())
    }

    /// The guest RAM.
    pub fn ram(&self) -> &GuestRam {
        &self.ram
    }

    /// Maps `len` bytes of host memory at `base` — the function's linear
    /// memory — at [`layout::WINDOW`] in sysd's address space, replacing any
    /// earlier window; of a memory64 memory over [`layout::WINDOW_MAX`],
    /// only that much (no preview-1 access reaches further). Call it again
    /// with the new base and length after the memory grows or moves.
    /// Only the mapped bytes are registered with KVM: the rest of the last
    /// 2 MiB page is unbacked, and a sysd access there stops the VM with
    /// [`vcpu::Error::Unbacked`].
    ///
    /// # Safety
    ///
    /// `base..base + len` must stay mapped and owned by this function
    /// instance until the window is replaced or removed
    /// ([`Vm::unmap_window`]) or the `Vm` dropped: sysd reads and writes
    /// it, whenever it runs. Unmap the window before the memory can move.
    pub unsafe fn map_window(&mut self, base: *mut u8, len: usize) -> Result<(), Error> {
        let (base_addr, page) = (base as usize, 4096);
        // A memory of 0 pages has no bytes to map, wherever its base is.
        let why = if len > 0 && base_addr % page != 0 {
            Some("the base is not page-aligned")
        } else if !len.is_multiple_of(page) {
            Some("the length is not a whole number of pages")
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
        let len = len.min(layout::WINDOW_MAX as usize);
        if self.window == Some((base_addr, len)) || (self.window.is_none() && len == 0) {
            // A retired window at the same place maps this instance's
            // memory now: keep it.
            self.window_retired = false;
            return Ok(());
        }
        self.quiesce()?;
        self.window_retired = false;
        // KVM cannot resize a slot: delete it, then add the new extent.
        // `window` is `Some` only while a slot exists (never for 0 bytes).
        let before = match self.window.take() {
            Some((_, before)) => {
                self.set_window_slot(0, 0)?;
                before
            }
            None => 0,
        };
        if len > 0 {
            self.set_window_slot(base_addr as u64, len as u64)?;
            self.window = Some((base_addr, len));
        }
        paging::map_window(&self.ram, before as u64, len as u64)?;
        Ok(())
    }

    /// Ends sysd's use of the window until the next call, so the memory
    /// behind it may be freed or moved: sysd runs again only after
    /// [`Vm::map_window`] has mapped the memory where it is then — the
    /// window kept as it is if that is the same place — or the window is
    /// removed. Cheaper than [`Vm::unmap_window`] when the memory stays
    /// (a failed growth) or the next instance's lies at the same place (a
    /// pooled VM, with wasmtime's pooled memory slots). A poll thread,
    /// whose sysd could touch the window at any time, is held first: sysd
    /// runs again only with the next call.
    pub fn retire_window(&mut self) -> Result<(), Error> {
        // A pristine sysd never reads the window (`pristine`).
        if !self.pristine {
            self.quiesce()?;
        }
        self.window_retired = self.window.is_some();
        Ok(())
    }

    /// The instance is over: a poll thread's sysd is asked to park now,
    /// without waiting for it. It still runs until it does, so the window's
    /// memory stays until [`Vm::retire_window`] (or a reset), which waits
    /// for the vCPU, has returned. Lets a caller finish its own work (say,
    /// answer a request) while sysd parks.
    pub fn request_hold(&mut self) {
        self.vcpu.ask_hold();
    }

    /// Removes a retired window before sysd runs other than for a call
    /// whose window was just mapped.
    pub(crate) fn drop_retired_window(&mut self) -> Result<(), Error> {
        if self.window_retired {
            self.unmap_window()?;
        }
        Ok(())
    }

    /// Removes the linear-memory window, so the memory behind it may be
    /// freed or moved while this VM lives on.
    pub fn unmap_window(&mut self) -> Result<(), Error> {
        self.window_retired = false;
        if let Some((_, before)) = self.window {
            self.quiesce()?;
            self.window = None;
            self.set_window_slot(0, 0)?;
            paging::map_window(&self.ram, before as u64, 0)?;
        }
        Ok(())
    }

    /// Gives this instance a tmpfs region of `len` bytes (whole 2 MiB
    /// pages, at most `layout::TMPFS_MAX`): zeroed memory of its own in a
    /// KVM slot at `layout::TMPFS`, mapped into sysd. 0 removes it. Asked
    /// once per instance: a region of the same length, kept and emptied by
    /// the reset, is kept with its slot (removing a slot drops all of KVM's
    /// shadow mappings).
    pub fn map_tmpfs(&mut self, len: u64) -> Result<(), Error> {
        let len = len.min(layout::TMPFS_MAX).div_ceil(layout::PAGE_2M) * layout::PAGE_2M;
        if self.tmpfs.as_ref().is_some_and(|r| r.len() as u64 == len) {
            return Ok(());
        }
        self.unmap_tmpfs()?;
        if len == 0 {
            return Ok(());
        }
        self.quiesce()?;
        let region = GuestRam::new(len as usize)?;
        let slot = kvm_userspace_memory_region {
            slot: TMPFS_SLOT,
            flags: 0,
            guest_phys_addr: layout::TMPFS,
            memory_size: len,
            userspace_addr: region.host_address(),
        };
        // SAFETY: `region` is kept in `self.tmpfs` until the slot is deleted
        // (`unmap_tmpfs`, which runs before it is dropped).
        unsafe { self.vm.set_user_memory_region(slot) }.map_err(Error::AttachWindow)?;
        paging::map_tmpfs(&self.ram, len)?;
        self.tmpfs = Some(region);
        Ok(())
    }

    /// Removes the tmpfs region and frees its memory.
    pub fn unmap_tmpfs(&mut self) -> Result<(), Error> {
        if self.tmpfs.is_some() {
            self.quiesce()?;
        }
        if let Some(region) = self.tmpfs.take() {
            let slot = kvm_userspace_memory_region {
                slot: TMPFS_SLOT,
                flags: 0,
                guest_phys_addr: layout::TMPFS,
                memory_size: 0,
                userspace_addr: region.host_address(),
            };
            // SAFETY: size 0 deletes the slot.
            unsafe { self.vm.set_user_memory_region(slot) }.map_err(Error::AttachWindow)?;
            paging::map_tmpfs(&self.ram, 0)?;
        }
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
    use wasc_wire::Function;

    const PING: u32 = Function::SelftestPing as u32;

    /// A compromised sysd may leave any register state behind; a reset puts
    /// the template's back before sysd runs again, by whichever route
    /// (`sync_regs` or ioctls) this host takes.
    #[test]
    fn a_reset_discards_the_register_state_sysd_left() {
        let hv = Hypervisor::open().expect("this test needs /dev/kvm");
        let config = VmConfig {
            sysd: wasc_sysd_image::SELFTEST,
        };
        let template = Template::new(&hv, &config).expect("template");
        let mut vm = template.instantiate(&hv).expect("instantiate");
        vm.call(PING, &[1]).expect("ping before");
        let vcpu = vm.vcpu().expect("idle vCPU");
        let garbage = kvm_regs {
            rip: 0xdead_0000,
            rsp: 0,
            rflags: 0x2,
            ..Default::default()
        };
        vcpu.set_regs(&garbage).expect("set garbage");
        let mut sregs = vcpu.get_sregs().expect("sregs");
        sregs.cr3 = 0x7000;
        vcpu.set_sregs(&sregs).expect("set garbage sregs");

        vm.reset(&template).expect("reset");
        vm.call(PING, &[2]).expect("ping after a reset");
        let regs = vm.vcpu().expect("idle vCPU").get_regs().expect("regs");
        assert_eq!(
            regs.rip, template.regs.rip,
            "sysd yields where the template did"
        );
        assert_eq!(
            vm.vcpu().expect("idle").get_sregs().expect("sregs").cr3,
            template.sregs.cr3
        );
    }
}
