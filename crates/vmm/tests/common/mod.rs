//! What the VM test binaries share. Each binary uses some of it.
#![allow(dead_code)]

use wasc_vmm::{Hypervisor, Vm, VmConfig};

/// `/dev/kvm`, or a loud failure: these tests never pass without it.
pub fn hypervisor() -> Hypervisor {
    Hypervisor::open().expect("these tests need a usable /dev/kvm")
}

/// A VM booted from scratch with the self-test sysd.
pub fn selftest_vm(hv: &Hypervisor) -> Vm {
    Vm::build(
        hv,
        &VmConfig {
            sysd: wasc_sysd_image::SELFTEST,
        },
    )
    .expect("boot the self-test sysd")
}
