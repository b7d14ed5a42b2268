//! Running sysd's vCPU until it yields, and turning every other way it can
//! stop into a typed error. Runs on the thread that owns the VM. What the
//! guest left in its registers and on the ring-0 stack is untrusted.

use kvm_ioctls::{VcpuExit, VcpuFd};
use wasc_wire::{layout, port};

use crate::arch::{RING0_STACK_BOTTOM, RING0_STACK_TOP};
use crate::memory::GuestRam;

/// An exception in sysd, as reported by the ring-0 stubs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub vector: u8,
    pub error_code: u64,
    /// Where sysd was executing.
    pub rip: u64,
    /// CR2: the address of a page fault.
    pub address: u64,
    /// sysd's stack pointer when it faulted.
    pub rsp: u64,
}

impl Fault {
    /// A short name for the exception, with a diagnosis where the layout
    /// makes one certain.
    pub fn kind(&self) -> &'static str {
        let guard = layout::STACK_GUARD..layout::STACK_GUARD + layout::PAGE_2M;
        match self.vector {
            14 if guard.contains(&self.address) => "stack overflow (#PF in the guard page)",
            0 => "divide error (#DE)",
            3 => "breakpoint (#BP)",
            6 => "invalid opcode (#UD)",
            8 => "double fault (#DF)",
            12 => "stack-segment fault (#SS)",
            13 => "general protection fault (#GP)",
            14 => "page fault (#PF)",
            17 => "alignment check (#AC)",
            _ => "exception",
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, vector {}, error code {:#x}, rip {:#x}, fault address {:#x}, rsp {:#x}",
            self.kind(),
            self.vector,
            self.error_code,
            self.rip,
            self.address,
            self.rsp
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("KVM_RUN failed: {0}")]
    Run(kvm_ioctls::Error),
    #[error("failed to read the vCPU registers: {0}")]
    Registers(kvm_ioctls::Error),
    #[error("sysd faulted: {0}")]
    Fault(Fault),
    #[error("sysd panicked: {0}")]
    Panic(String),
    #[error("sysd accessed guest memory that is not backed, at {address:#x}")]
    Unbacked { address: u64 },
    #[error("the sysd VM shut down (triple fault) at rip {rip:#x}")]
    Shutdown { rip: u64 },
    #[error("sysd used I/O port {port:#x} from ring {cpl}")]
    Port { port: u16, cpl: u16 },
    #[error("sysd stopped unexpectedly: {0}")]
    Unexpected(String),
    #[error("the fault frame at {rsp:#x} is not on the ring-0 stack")]
    Frame { rsp: u64 },
    #[error("guest memory: {0}")]
    Memory(#[from] crate::memory::Error),
}

impl Error {
    /// The sysd fault this error reports, if it is one.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            Error::Fault(fault) => Some(*fault),
            _ => None,
        }
    }
}

/// How a run of the vCPU ended, copied out of the borrowed `VcpuExit`.
enum Stop {
    Port(u16),
    Unbacked(u64),
    Shutdown,
    Interrupted,
    Other(String),
}

/// Why [`run_once`] returned without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Yielded {
    /// sysd exited on [`port::YIELD`].
    Yield,
    /// A signal interrupted `KVM_RUN` (the poll transport's stop kick).
    Interrupted,
}

/// Runs the vCPU until sysd yields on [`port::YIELD`].
pub fn run_until_yield(vcpu: &mut VcpuFd, ram: &GuestRam) -> Result<(), Error> {
    while run_once(vcpu, ram)? == Yielded::Interrupted {}
    Ok(())
}

/// Runs the vCPU until sysd yields or a signal interrupts it.
/// Returns from `KVM_RUN` in this process (every VM), for benchmarks.
static EXITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many times a vCPU of this process has come back from `KVM_RUN`.
pub fn exit_count() -> u64 {
    EXITS.load(std::sync::atomic::Ordering::Relaxed)
}

pub fn run_once(vcpu: &mut VcpuFd, ram: &GuestRam) -> Result<Yielded, Error> {
    let run = vcpu.run();
    EXITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stop = match run {
        Ok(VcpuExit::IoOut(port, _)) => Stop::Port(port),
        Ok(VcpuExit::MmioRead(address, _) | VcpuExit::MmioWrite(address, _)) => {
            Stop::Unbacked(address)
        }
        Ok(VcpuExit::Shutdown) => Stop::Shutdown,
        Ok(VcpuExit::Intr) => Stop::Interrupted,
        Ok(other) => Stop::Other(format!("{other:?}")),
        Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => Stop::Interrupted,
        Err(e) => return Err(Error::Run(e)),
    };
    match stop {
        Stop::Interrupted => Ok(Yielded::Interrupted),
        // The hot path: no register read. Ring 0 runs only the fault stubs,
        // which use port::FAULT, so a YIELD always comes from sysd.
        Stop::Port(port::YIELD) => Ok(Yielded::Yield),
        Stop::Port(p) => {
            // The TSS bitmap keeps ring 3 off port::FAULT; check anyway.
            let cpl = vcpu.get_sregs().map_err(Error::Registers)?.cs.selector & 3;
            match (p, cpl) {
                (port::PANIC, 3) => Err(Error::Panic(panic_message(ram)?)),
                (port::FAULT, 0) => Err(Error::Fault(fault(vcpu, ram)?)),
                (port, cpl) => Err(Error::Port { port, cpl }),
            }
        }
        Stop::Unbacked(address) => Err(Error::Unbacked { address }),
        Stop::Shutdown => {
            let rip = vcpu.get_regs().map_err(Error::Registers)?.rip;
            Err(Error::Shutdown { rip })
        }
        Stop::Other(what) => Err(Error::Unexpected(what)),
    }
}

/// Reads the frame the CPU pushed on the ring-0 stack, below the vector and
/// error code the stub pushed: `[vector, error, rip, cs, rflags, rsp, ss]`.
fn fault(vcpu: &VcpuFd, ram: &GuestRam) -> Result<Fault, Error> {
    let regs = vcpu.get_regs().map_err(Error::Registers)?;
    let sregs = vcpu.get_sregs().map_err(Error::Registers)?;
    let rsp = regs.rsp;
    let frame_end = rsp.checked_add(7 * 8);
    let on_stack = rsp >= RING0_STACK_BOTTOM - 0x1000 // includes the IST stack below
        && frame_end.is_some_and(|end| end <= RING0_STACK_TOP + 0x1000);
    if !on_stack {
        return Err(Error::Frame { rsp });
    }
    let word = |i: u64| ram.read_u64(rsp + 8 * i);
    Ok(Fault {
        vector: word(0)? as u8,
        error_code: word(1)?,
        rip: word(2)?,
        address: sregs.cr2,
        rsp: word(5)?,
    })
}

fn panic_message(ram: &GuestRam) -> Result<String, Error> {
    Ok(crate::call::CallPageRef::new(ram)?.panic_message())
}
