//! The host executor: the only code that turns sysd's requests into host
//! system calls. It knows a fixed list of primitive ops
//! ([`wasc_wire::hostop::OpCode`]), each on a handle from its own table, and
//! it treats sysd as compromised: every field of every [`HostOp`] is checked
//! — op code, reserved and unused words, handle, handle kind, linear-memory
//! range against the current size, name, flags — before anything happens.
//! A malformed request is refused with an errno and counted; it never
//! panics, never blocks beyond the one system call it names, and never
//! touches memory outside the function's linear memory and the scratch area.
//! Sockets are non-blocking on the host, so socket ops never wait either.
//!
//! Runs on the function's thread (both transports).

mod dirs;
mod errno;
mod handles;
mod memory;
mod ops;
mod paths;
mod sockets;
mod sys;
mod wait;

use std::os::fd::OwnedFd;

use wasc_wire::hostop::{HostOp, SCRATCH_LEN};

pub use errno::Errno;
pub use handles::{Handle, StdioFd, MAX_HANDLES};
pub use memory::{LinearMemory, MAX_TRANSFER};

/// Why a request was refused without being performed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown op {0}")]
    UnknownOp(u32),
    #[error("reserved or unused argument words are not zero")]
    NonZeroPadding,
    #[error("no handle {0}")]
    BadHandle(u64),
    #[error("handle {handle} cannot be used for {op}")]
    WrongKind { handle: u64, op: &'static str },
    #[error("range {offset:#x}+{len:#x} is outside linear memory of {size:#x} bytes")]
    Range { offset: u64, len: u64, size: u64 },
    #[error("transfer of {0:#x} bytes is too long")]
    TooLong(u64),
    #[error("file position {0:#x} is out of range")]
    Position(u64),
    #[error("invalid path component")]
    BadName,
    #[error("flags {0:#x} are not allowed")]
    BadFlags(u64),
}

impl Refusal {
    /// What sysd is told.
    pub fn errno(&self) -> Errno {
        match self {
            Refusal::UnknownOp(_) => Errno::NOSYS,
            Refusal::BadHandle(_) | Refusal::WrongKind { .. } => Errno::BADF,
            Refusal::Range { .. } => Errno::FAULT,
            Refusal::BadName => Errno::INVAL,
            Refusal::NonZeroPadding
            | Refusal::TooLong(_)
            | Refusal::Position(_)
            | Refusal::BadFlags(_) => Errno::INVAL,
        }
    }
}

/// How an op failed: refused before acting, or failed on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Refused(Refusal),
    Host(Errno),
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Self {
        Failure::Refused(refusal)
    }
}

/// One function instance's executor.
#[derive(Debug)]
pub struct Executor {
    handles: handles::HandleTable,
    refused: u64,
    /// The instance's deadline: no `Wait` lasts past it.
    deadline: Option<std::time::Instant>,
    /// A `Wait` found the deadline passed (and answered `INTR`).
    past_deadline: bool,
}

impl Executor {
    /// Handles 0–2 are the host's stdio; `preopens` (directories granted with
    /// `--dir`) become handles 3, 4, … in order.
    pub fn new(preopens: Vec<OwnedFd>) -> Self {
        Self::from_table(handles::HandleTable::new(
            StdioFd::host(),
            Vec::new(),
            preopens,
        ))
    }

    fn from_table(handles: handles::HandleTable) -> Self {
        Self {
            handles,
            refused: 0,
            deadline: None,
            past_deadline: false,
        }
    }

    /// As [`Executor::new`], with `listeners` (listening TCP sockets
    /// granted with `--tcplisten`) as handles 3, 4, … and the directories
    /// after them.
    pub fn with_listeners(
        listeners: Vec<OwnedFd>,
        preopens: Vec<OwnedFd>,
    ) -> std::io::Result<Self> {
        Self::granted(StdioFd::host(), listeners, preopens)
    }

    /// An executor with everything one instance is granted: its stdin,
    /// stdout and stderr as handles 0–2, then `listeners`, then
    /// `preopens`. Each listener is made non-blocking here, so `Accept`
    /// never waits whatever the caller passed; that can fail only if a
    /// descriptor is unusable.
    pub fn granted(
        stdio: [StdioFd; 3],
        listeners: Vec<OwnedFd>,
        preopens: Vec<OwnedFd>,
    ) -> std::io::Result<Self> {
        for listener in &listeners {
            sockets::make_nonblocking(listener)?;
        }
        Ok(Self::from_table(handles::HandleTable::new(
            stdio, listeners, preopens,
        )))
    }

    /// Validates and performs one op. The result is the op's value, or the
    /// errno for sysd.
    pub fn execute(
        &mut self,
        op: &HostOp,
        memory: &LinearMemory,
        scratch: &mut [u8; SCRATCH_LEN],
    ) -> Result<u64, Errno> {
        let bounded = self.bound_wait(op)?;
        let op = bounded.as_ref().unwrap_or(op);
        match ops::execute(&mut self.handles, op, memory, scratch) {
            Ok(value) => Ok(value),
            Err(Failure::Host(errno)) => Err(errno),
            Err(Failure::Refused(refusal)) => {
                self.refused += 1;
                Err(refusal.errno())
            }
        }
    }

    /// Bounds every later `Wait` by `deadline` (the instance's
    /// `--timeout`): a wait ends by then, and once it has passed a wait is
    /// `INTR` at once, so a function blocked in `poll_oneoff` comes back to
    /// its code, where the deadline ends it ([`Executor::past_deadline`]).
    pub fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        self.deadline = deadline;
        self.past_deadline = false;
    }

    /// Whether a `Wait` has found the deadline passed: the call that made
    /// it must end the module. Reading it costs no clock read, so the
    /// forwarder checks it after every call.
    pub fn past_deadline(&self) -> bool {
        self.past_deadline
    }

    /// `op` with its timeout cut to the deadline, if it is a `Wait` that
    /// would outlast it; `INTR` if the deadline has passed.
    fn bound_wait(&mut self, op: &HostOp) -> Result<Option<HostOp>, Errno> {
        let Some(deadline) = self.deadline else {
            return Ok(None);
        };
        if op.op != wasc_wire::hostop::OpCode::Wait as u32 {
            return Ok(None);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            self.past_deadline = true;
            return Err(Errno::INTR);
        }
        let left = u64::try_from(left.as_nanos()).unwrap_or(u64::MAX - 1);
        if op.args[1] <= left {
            return Ok(None);
        }
        let mut bounded = *op;
        bounded.args[1] = left;
        Ok(Some(bounded))
    }

    /// How many requests were refused as malformed.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Closes every handle the instance owns (an inherited stdio
    /// descriptor is let go of, not closed): the instance is over, and its
    /// reader sees end-of-file now rather than when the executor is
    /// dropped. Every later op is refused as on a bad handle.
    pub fn close_all(&mut self) {
        self.handles = handles::HandleTable::default();
    }
}
