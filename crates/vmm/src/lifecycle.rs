//! Who holds a VM's vCPU, as explicit states (as Firecracker's vCPU has),
//! instead of a pair of options.
//!
//! ```text
//!          start_polling             idle (hold)
//!   Idle ─────────────────▶ Polling ────────────▶ Held
//!    ▲ ▲                     │  ▲                  │ │
//!    │ │  stop_polling (kick)│  └ resume (release) ┘ │
//!    │ └─────────────────────┘                       │
//!    └──────────── stop_polling (no kick) ───────────┘
//!   a thread that ended without the vCPU ──▶ Lost (the VM is failed)
//! ```
//!
//! `Idle`: the VM holds the vCPU and no thread exists; each call runs it on
//! the caller's thread (the sync transport). `Polling`: a vCPU thread runs
//! sysd, polling the call page (the poll transport). `Held`: the thread
//! lives on but has handed the vCPU to the VM — for a reset, a state read
//! or a window change — and takes it back with the next call. So a pooled
//! VM keeps its thread from one instance to the next. `Lost`: a thread
//! that held it ended without returning it.

use std::sync::Arc;

use kvm_ioctls::VcpuFd;

use crate::memory::GuestRam;
use crate::poll::PollThread;
use crate::{Error, ThreadSetup};

#[derive(Debug)]
pub(crate) enum VcpuState {
    Idle(VcpuFd),
    Polling(PollThread),
    Held(PollThread, VcpuFd),
    Lost,
}

impl VcpuState {
    /// Whether a vCPU thread exists (the poll transport), running sysd or
    /// not.
    pub(crate) fn is_polling(&self) -> bool {
        matches!(self, VcpuState::Polling(_) | VcpuState::Held(..))
    }

    /// Whether the host holds the vCPU of a living vCPU thread.
    pub(crate) fn is_held(&self) -> bool {
        matches!(self, VcpuState::Held(..))
    }

    /// The vCPU thread, running sysd: a held vCPU is given back to it
    /// first. `None` in the sync transport.
    pub(crate) fn resume(&mut self) -> Option<&PollThread> {
        if let VcpuState::Held(..) = self {
            let VcpuState::Held(mut thread, vcpu) = std::mem::replace(self, VcpuState::Lost) else {
                unreachable!("matched above")
            };
            thread.release(vcpu);
            *self = VcpuState::Polling(thread);
        }
        match self {
            VcpuState::Polling(thread) => Some(thread),
            _ => None,
        }
    }

    /// Asks a running vCPU thread to hand the vCPU over, without waiting:
    /// [`Self::idle`] takes it.
    pub(crate) fn ask_hold(&mut self) {
        if let VcpuState::Polling(thread) = self {
            thread.ask_hold();
        }
    }

    /// The vCPU, for this thread: a vCPU thread is made to hand it over
    /// (and keeps waiting for it).
    pub(crate) fn idle(&mut self) -> Result<&mut VcpuFd, Error> {
        if let VcpuState::Polling(_) = self {
            let VcpuState::Polling(mut thread) = std::mem::replace(self, VcpuState::Lost) else {
                unreachable!("matched above")
            };
            if let Some(vcpu) = thread.hold() {
                *self = VcpuState::Held(thread, vcpu);
            }
        }
        match self {
            VcpuState::Idle(vcpu) | VcpuState::Held(_, vcpu) => Ok(vcpu),
            _ => Err(Error::VcpuLost),
        }
    }

    /// Ends the vCPU thread, if one exists, keeping the vCPU.
    pub(crate) fn stop_polling(&mut self) -> Result<&mut VcpuFd, Error> {
        *self = match std::mem::replace(self, VcpuState::Lost) {
            VcpuState::Polling(thread) => thread.stop().map_or(VcpuState::Lost, VcpuState::Idle),
            VcpuState::Held(thread, vcpu) => {
                drop(thread);
                VcpuState::Idle(vcpu)
            }
            other => other,
        };
        match self {
            VcpuState::Idle(vcpu) => Ok(vcpu),
            _ => Err(Error::VcpuLost),
        }
    }

    /// Hands an idle vCPU to a new vCPU thread, which runs `setup` first.
    /// If the thread cannot start the vCPU is lost.
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
            running @ (VcpuState::Polling(_) | VcpuState::Held(..)) => {
                *self = running;
                Ok(())
            }
            VcpuState::Lost => Err(Error::VcpuLost),
        }
    }
}
