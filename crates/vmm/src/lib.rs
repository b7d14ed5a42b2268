//! The sysd micro-VM: a KVM guest with no kernel. The host builds the whole
//! guest state — page tables, GDT, TSS, IDT with ring-0 fault stubs — loads
//! the sysd image and starts one vCPU directly in ring 3 at sysd's entry.
//!
//! [`Vm::build`] reads like the boot sequence in `docs/design.md`. Runs on
//! the thread that owns the [`Vm`]. Untrusted input: everything sysd writes
//! (call page, registers, ring-0 stack contents) and the sysd image bytes.

mod affinity;
mod arch;
mod call;
mod clock;
mod elf;
mod exchange;
mod lifecycle;
mod memory;
mod paging;
mod poll;
mod pool;
mod template;
mod vcpu;
mod vm;

use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Cap, Kvm, SyncReg};
use wasc_wire::hostop::{HostOp, SCRATCH_LEN};
use wasc_wire::{layout, Status};

pub use elf::SysdImage;
pub use exchange::{check_response, Step};
pub use memory::GuestRam;
pub use poll::install_kick_handler;
pub use pool::Pool;
pub use template::Template;
pub use vcpu::{exit_count, Fault};
pub use vm::{InstanceData, Vm};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("KVM is not available: {}: {source}", path.display())]
    KvmUnavailable {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a KVM device (API version {version}, expected 12)", path.display())]
    NotKvm {
        path: std::path::PathBuf,
        version: i32,
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
    #[error("setting up the vCPU thread: {0}")]
    VcpuThreadSetup(String),
    #[error("the vCPU was lost when its thread failed to start")]
    VcpuLost,
    #[error("arguments and environment take {0} bytes, more than the {max} a VM holds", max = layout::INSTANCE_DATA_MAX)]
    InstanceDataTooLarge(usize),
}

/// Runs first on a vCPU thread the VMM starts (to confine it); an error
/// stops the thread before it runs sysd.
pub type ThreadSetup = std::sync::Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// How a call reaches sysd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The calling thread runs the vCPU for each call (one exit per call).
    Sync,
    /// A vCPU thread keeps sysd polling the call page; sysd parks after
    /// `spin_limit` empty polls. A warm call needs no exit.
    Poll { spin_limit: u32 },
}

/// The only stable KVM API version.
const KVM_API_VERSION: i32 = 12;

/// An open `/dev/kvm` and what it supports, shared by every VM.
#[derive(Debug)]
pub struct Hypervisor {
    kvm: Kvm,
    cpuid: CpuId,
    /// KVM takes general and special registers from the run area
    /// (`KVM_CAP_SYNC_REGS` covers both).
    sync_regs: bool,
}

impl Hypervisor {
    pub fn open() -> Result<Self, Error> {
        Self::open_path(c"/dev/kvm")
    }

    /// Opens the KVM device at `path`.
    pub fn open_path(path: &std::ffi::CStr) -> Result<Self, Error> {
        let label = std::path::PathBuf::from(path.to_string_lossy().into_owned());
        let kvm = Kvm::new_with_path(path).map_err(|e| Error::KvmUnavailable {
            path: label.clone(),
            source: std::io::Error::from_raw_os_error(e.errno()),
        })?;
        Self::with_kvm(kvm, label)
    }

    /// Uses a KVM device its caller opened — a container's init process
    /// inherits one from its shim, as its `/dev` has no `kvm` node and its
    /// device cgroup would refuse to open one. `label` names it in errors.
    pub fn from_fd(fd: std::os::fd::OwnedFd, label: &std::path::Path) -> Result<Self, Error> {
        use std::os::fd::{FromRawFd, IntoRawFd};
        // SAFETY: `fd` is an open descriptor this call owns; `Kvm` takes
        // ownership of it and closes it on drop. Anything that is not KVM
        // fails the version check below.
        let kvm = unsafe { Kvm::from_raw_fd(fd.into_raw_fd()) };
        Self::with_kvm(kvm, label.to_owned())
    }

    fn with_kvm(kvm: Kvm, label: std::path::PathBuf) -> Result<Self, Error> {
        let version = kvm.get_api_version();
        if version != KVM_API_VERSION {
            return Err(Error::NotKvm {
                path: label,
                version,
            });
        }
        // Long mode needs the guest CPUID to advertise it (KVM checks EFER.LME
        // against it); sysd sees the host's supported set.
        let cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(Error::SupportedCpuid)?;
        let wanted = (SyncReg::Register as i32) | (SyncReg::SystemRegister as i32);
        let sync_regs = kvm.check_extension_int(Cap::SyncRegs) & wanted == wanted;
        Ok(Self {
            kvm,
            cpuid,
            sync_regs,
        })
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

    /// Whether this host ends a call whose last host op succeeded
    /// ([`wasc_wire::Status::HostOpFinal`]) instead of running sysd again.
    fn ends_calls(&self) -> bool {
        false
    }

    /// Stores `value` little-endian at linear-memory offset `offset`, if
    /// all four bytes lie in the memory; `false` (nothing stored) if not.
    fn store_u32(&mut self, offset: u64, value: u32) -> bool {
        let _ = (offset, value);
        false
    }
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
