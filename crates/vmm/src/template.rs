//! Start fast: sysd is loaded and booted once into a sealed memfd, and every
//! VM starts from a private copy-on-write view of it with the saved vCPU
//! state. Runs on whichever thread builds VMs.

use std::fs::File;
use std::os::fd::OwnedFd;

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_sregs};
use wasc_wire::layout;

use crate::{Error, GuestRam, Hypervisor, SysdImage, Vm, VmConfig};

/// Booted sysd memory and vCPU state to clone instances from.
#[derive(Debug)]
pub struct Template {
    memfd: OwnedFd,
    /// The template's bytes, read-only, to restore a VM's written pages.
    source: GuestRam,
    /// This process's `/proc/self/pagemap`, opened before any confinement:
    /// which pages of a VM were written. Without it (no `/proc`), resets
    /// discard every page instead.
    pagemap: Option<File>,
    pub(crate) regs: kvm_regs,
    pub(crate) sregs: kvm_sregs,
    pub(crate) fpu: kvm_fpu,
}

impl Template {
    /// Loads sysd into a memfd, boots it to its first yield, and keeps the
    /// result. The memfd is sealed: nothing can change a template afterwards.
    pub fn new(hypervisor: &Hypervisor, config: &VmConfig<'_>) -> Result<Self, Error> {
        let image = SysdImage::parse(config.sysd)?;
        let (ram, memfd) = GuestRam::new_template(layout::RAM_END as usize)?;
        crate::vm::write_guest_image(&ram, &image)?;
        let mut vm = Vm::boot_fresh(hypervisor, ram, image.entry)?;
        let state = vm.vcpu_state()?;
        drop(vm);
        GuestRam::seal_template(&memfd)?;
        let source = GuestRam::template_source(&memfd, layout::RAM_END as usize)?;
        Ok(Self {
            memfd,
            source,
            pagemap: File::open("/proc/self/pagemap").ok(),
            regs: state.0,
            sregs: state.1,
            fpu: state.2,
        })
    }

    /// A new VM whose memory is a copy-on-write view of the template.
    pub fn instantiate(&self, hypervisor: &Hypervisor) -> Result<Vm, Error> {
        let ram = GuestRam::from_template(&self.memfd, layout::RAM_END as usize)?;
        Vm::from_state(hypervisor, ram, self)
    }

    /// The template's memory, for resetting a VM's view.
    pub(crate) fn len(&self) -> usize {
        layout::RAM_END as usize
    }

    /// Returns `ram`, a view of this template, to the template's bytes:
    /// restores the pages written since (they stay mapped, warm for the
    /// next instance), or drops every private page without a pagemap.
    pub(crate) fn reset_ram(&self, ram: &GuestRam) -> Result<(), Error> {
        match &self.pagemap {
            Some(pagemap) => ram.restore_written(&self.source, pagemap).map(drop)?,
            None => ram.discard()?,
        }
        Ok(())
    }
}
