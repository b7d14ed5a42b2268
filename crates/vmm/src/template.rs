//! Start fast: sysd is loaded and booted once into a sealed memfd, and every
//! VM starts from a private copy-on-write view of it with the saved vCPU
//! state. Runs on whichever thread builds VMs.

use std::os::fd::OwnedFd;

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_sregs};
use wasc_wire::layout;

use crate::{Error, GuestRam, Hypervisor, SysdImage, Vm, VmConfig};

/// Booted sysd memory and vCPU state to clone instances from.
#[derive(Debug)]
pub struct Template {
    memfd: OwnedFd,
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
        Ok(Self {
            memfd,
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
}
