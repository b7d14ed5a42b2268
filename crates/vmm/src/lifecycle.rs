//! Who holds a VM's vCPU, as explicit states (as Firecracker's vCPU has),
//! instead of a pair of options.
//!
//! ```text
//!            start_polling            stop (kick, join)
//!   Idle ───────────────────▶ Polling ─────────────────▶ Idle
//!    │                           │
//!    └── a thread that took it ──┴──▶ Lost (the VM is failed)
//! ```
//!
//! `Idle`: the VM holds the vCPU; each call runs it on the caller's thread
//! (the sync transport) and resets and state reads use it. `Polling`: a
//! vCPU thread runs sysd, polling the call page (the poll transport);
//! stopping it kicks the thread out of `KVM_RUN` and joins it, which gives
//! the vCPU back. `Lost`: a thread that held it ended without returning it.

use std::sync::Arc;

use kvm_ioctls::VcpuFd;

use crate::memory::GuestRam;
use crate::poll::PollThread;
use crate::{Error, ThreadSetup};

#[derive(Debug)]
pub(crate) enum VcpuState {
    Idle(VcpuFd),
    Polling(PollThread),
    Lost,
}

impl VcpuState {
    pub(crate) fn is_polling(&self) -> bool {
        matches!(self, VcpuState::Polling(_))
    }

    pub(crate) fn poll_thread(&self) -> Option<&PollThread> {
        match self {
            VcpuState::Polling(thread) => Some(thread),
            _ => None,
        }
    }

    /// The vCPU, for this thread: a polling thread is stopped first.
    pub(crate) fn idle(&mut self) -> Result<&mut VcpuFd, Error> {
        if let VcpuState::Polling(_) = self {
            let VcpuState::Polling(thread) = std::mem::replace(self, VcpuState::Lost) else {
                unreachable!("matched above")
            };
            *self = VcpuState::Idle(thread.stop());
        }
        match self {
            VcpuState::Idle(vcpu) => Ok(vcpu),
            _ => Err(Error::VcpuLost),
        }
    }

    /// Hands an idle vCPU to a new polling thread, which runs `setup`
    /// first. If the thread cannot start the vCPU is lost.
    pub(crate) fn start_polling(
        &mut self,
        ram: Arc<GuestRam>,
        setup: Option<ThreadSetup>,
    ) -> Result<(), Error> {
        match std::mem::replace(self, VcpuState::Lost) {
            VcpuState::Idle(vcpu) => {
                *self = VcpuState::Polling(PollThread::start(vcpu, ram, setup)?);
                Ok(())
            }
            polling @ VcpuState::Polling(_) => {
                *self = polling;
                Ok(())
            }
            VcpuState::Lost => Err(Error::VcpuLost),
        }
    }
}
