//! The call-page protocol between the WaSC host and sysd, and the guest
//! memory layout both sides must agree on. `no_std`, no dependencies: this is
//! the only crate compiled into both the host and the sysd image.
//!
//! Everything in a call page is written by one side and read by the other;
//! each reader treats what the other side wrote as untrusted and validates it
//! (the host validates [`Response`], sysd validates [`Request`]). See
//! `docs/call-page.md`.

#![no_std]

mod errno;
pub mod hostop;
mod instance_data;
pub mod layout;
pub mod wasi;

pub use errno::Errno;
pub use instance_data::{InstanceData, INSTANCE_DATA_HEADER};

/// A WASI call or control request, written by the host.
///
/// A WASI call is `(function id, up to 9 raw arguments)`: the raw `i32`/`i64`
/// values wasmtime passed to the import, zero-extended.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    /// Incremented by the host for every request; echoed in the response.
    pub seq: u64,
    /// What to do: a [`Function`] id.
    pub function: u32,
    /// How many of `args` are meaningful.
    pub nargs: u32,
    pub args: [u64; 9],
    /// The accessible length of the linear-memory window at
    /// [`layout::WINDOW`] for this request. sysd checks every access to the
    /// function's memory against it.
    pub window_len: u64,
}

/// What sysd answers, written by sysd: the final answer to a request
/// (`Done`), or a host op it needs first (`HostOp`).
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Response {
    /// [`ticket`]`(request seq, step)`, written last: the word the host
    /// polls. `step` counts the host ops this request has made so far, so
    /// every response sysd publishes has a new ticket.
    pub ticket: u64,
    /// A [`Status`] value.
    pub status: u32,
    /// WASI errno when `status` is `Done` (0 = success).
    pub errno: u32,
    /// A function-specific result value.
    pub value: u64,
}

/// The ticket of the `step`th response to request `seq`.
pub const fn ticket(seq: u64, step: u16) -> u64 {
    (seq << 16) | step as u64
}

/// The most host ops one request may make.
pub const MAX_STEPS: u16 = u16::MAX;

/// The host's answer to a host op, written by the host.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpResult {
    /// The ticket of the `HostOp` response this answers, written last.
    pub ticket: u64,
    /// WASI errno (0 = success).
    pub errno: u32,
    /// [`OP_COMPLETED`] or 0.
    pub flags: u32,
    pub value: u64,
}

/// [`OpResult::flags`]: the op was a [`Status::HostOpFinal`] that
/// succeeded, and the host ended the call itself (stored the value where
/// sysd asked, answered `Done`): sysd publishes nothing more for this
/// request.
pub const OP_COMPLETED: u32 = 1;

/// A [`Status::HostOpFinal`] response's `value` when the op's value is
/// stored nowhere.
pub const NO_STORE: u64 = u64::MAX;

/// Per-instance values the host writes before an instance's first call.
/// Never inherited from a template: every instance gets its own.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Instance {
    /// Seed for sysd's random-number generator, from the host's `getrandom`.
    pub seed: [u64; 4],
    /// The vCPU's TSC frequency in kHz (0: clocks unavailable).
    pub tsc_khz: u64,
    /// The guest TSC at the moment the host read `ref_realtime` and
    /// `ref_monotonic` (nanoseconds); sysd computes time from `rdtsc`
    /// relative to this reading, with no exit.
    pub ref_tsc: u64,
    pub ref_realtime: u64,
    pub ref_monotonic: u64,
}

/// How sysd waits for requests, written by the host.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Control {
    /// A [`Transport`] value.
    pub transport: u32,
    /// Poll transport: how many empty polls of the request before sysd parks.
    pub spin_limit: u32,
}

/// sysd's state in the poll transport, written by sysd (and by the host's
/// vCPU thread when it resumes a parked sysd).
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SysdState {
    /// A [`Park`] value.
    pub park: u32,
}

/// The whole call page. It lives at [`layout::CALL_PAGE`] in the guest.
#[repr(C, align(4096))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallPage {
    pub request: Request,
    pub response: Response,
    pub instance: Instance,
    pub control: Control,
    pub state: SysdState,
    /// The op sysd asks for when `Response::status` is `HostOp`.
    pub host_op: hostop::HostOp,
    pub op_result: OpResult,
}

/// Values of [`Control::transport`].
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The calling thread runs the vCPU for each call; sysd exits as soon as
    /// it has answered.
    Sync = 0,
    /// A vCPU thread keeps sysd running; sysd spins on the request and
    /// parks (one exit) after `spin_limit` empty polls.
    Poll = 1,
}

/// Values of [`SysdState::park`]. Parking is a two-sided handshake: sysd
/// stores `Parked`, fences, and re-reads the request before it exits; the
/// host stores the request, fences, and wakes sysd if it reads `Parked`. One
/// of the two always sees the other's store.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Park {
    Running = 0,
    Parked = 1,
}

/// Where sysd's panic handler puts its message inside the call page; the
/// message length is in [`Response::value`].
pub const PANIC_MESSAGE_OFFSET: usize = 512;
/// The longest panic message the host reads (it shares the page's tail with
/// the host-op scratch area, which a panicking sysd no longer needs).
pub const PANIC_MESSAGE_MAX: usize = 4096 - PANIC_MESSAGE_OFFSET;

/// Values of [`Response::status`].
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing answered yet.
    Idle = 0,
    /// The request is complete; `errno` and `value` hold the result.
    Done = 1,
    /// sysd needs the host op in [`CallPage::host_op`] performed first.
    HostOp = 2,
    /// The function called `proc_exit`: `value` is the exit status.
    Exit = 3,
    /// The call ends the run as a wasmtime host error would: `errno` holds a
    /// [`wasi::TrapKind`], `value` its detail (for an out-of-bounds pointer,
    /// `start << 32 | len`).
    Trap = 4,
    /// As `HostOp`, and the op is the call's last step: if it succeeds with
    /// value `v` (at most `u32::MAX`), the host may end the call without
    /// running sysd again — store `v` as a little-endian u32 at linear-memory
    /// offset `value` (unless it is [`NO_STORE`]; the host checks it lies
    /// in the memory) and answer `Done`, errno 0 — and says so in the
    /// op result ([`OP_COMPLETED`]). Otherwise (the op failed, or the host
    /// does not end calls) sysd ends the call when it reads the op result.
    /// Saves the second VM exit of a call that needs one host op.
    HostOpFinal = 5,
}

impl Status {
    /// Decodes a status word written by the other side.
    pub fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(Self::Idle),
            1 => Some(Self::Done),
            2 => Some(Self::HostOp),
            3 => Some(Self::Exit),
            4 => Some(Self::Trap),
            5 => Some(Self::HostOpFinal),
            _ => None,
        }
    }
}

/// Request function ids.
///
/// The `SELFTEST_*` ids are understood only by the self-test sysd the VMM's
/// tests run: ping/echo and deliberate faults.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Answer `value = args[0] + 1`.
    SelftestPing = 0x1000,
    /// Answer `value` = the sum of `args[..nargs]`, proving all arguments
    /// arrive.
    SelftestSum = 0x1001,
    /// Read a byte from `args[0]` (a page fault if unmapped).
    SelftestRead = 0x1002,
    /// Write a byte to `args[0]`.
    SelftestWrite = 0x1003,
    /// Jump to `args[0]`.
    SelftestJump = 0x1004,
    /// Execute `ud2`.
    SelftestInvalidOpcode = 0x1005,
    /// Execute a privileged instruction (`hlt`) in ring 3: #GP.
    SelftestPrivileged = 0x1006,
    /// Recurse until the stack runs out.
    SelftestStackOverflow = 0x1007,
    /// Answer `value` = the first word of the instance seed.
    SelftestSeed = 0x1008,
    /// Ask the host `args[1]` times for host op `args[0]` with arguments
    /// `args[2..8]`; answer the sum of the values, or the first errno.
    SelftestHostOp = 0x1009,
    /// Answer with an undefined status (a protocol violation).
    SelftestBadStatus = 0x100a,
    /// Yield without answering (a protocol violation in the sync transport).
    SelftestSilentYield = 0x100b,
    /// Answer `value = 0`, then spin forever without polling: a sysd that
    /// ignores every request to park, which the host must stop by force.
    SelftestAnswerThenSpin = 0x100c,
}

impl Function {
    /// Decodes a function id written by the host.
    pub fn from_raw(raw: u32) -> Option<Self> {
        use Function::*;
        [
            SelftestPing,
            SelftestSum,
            SelftestRead,
            SelftestWrite,
            SelftestJump,
            SelftestInvalidOpcode,
            SelftestPrivileged,
            SelftestStackOverflow,
            SelftestSeed,
            SelftestHostOp,
            SelftestBadStatus,
            SelftestSilentYield,
            SelftestAnswerThenSpin,
        ]
        .into_iter()
        .find(|f| *f as u32 == raw)
    }
}

/// I/O ports sysd and the ring-0 stubs use to exit to the host. Port I/O is
/// the cheapest exit from guest ring 3 on these hosts (architecture.md).
pub mod port {
    /// sysd wrote a response (or is idle) and yields the vCPU.
    pub const YIELD: u16 = 0x10;
    /// sysd's panic handler: the panic message is in the call page's
    /// response area. Ends the instance.
    pub const PANIC: u16 = 0x11;
    /// A ring-0 exception stub: the exception frame is on the ring-0 stack.
    /// The host accepts it only from CPL 0.
    pub const FAULT: u16 = 0x12;
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn request_and_response_sit_on_their_own_cache_lines() {
        assert_eq!(align_of::<Request>(), 64);
        assert_eq!(size_of::<Request>(), 128);
        assert_eq!(offset_of!(CallPage, request), 0);
        assert_eq!(offset_of!(CallPage, response), 128);
        assert_eq!(offset_of!(CallPage, instance), 192);
        assert_eq!(offset_of!(CallPage, control), 256);
        assert_eq!(offset_of!(CallPage, state), 320);
        assert!(offset_of!(CallPage, op_result) + size_of::<OpResult>() <= PANIC_MESSAGE_OFFSET);
        assert_eq!(size_of::<CallPage>(), 4096);
    }

    #[test]
    fn field_offsets_are_stable() {
        assert_eq!(offset_of!(Request, seq), 0);
        assert_eq!(offset_of!(Request, function), 8);
        assert_eq!(offset_of!(Request, nargs), 12);
        assert_eq!(offset_of!(Request, args), 16);
        assert_eq!(offset_of!(Request, window_len), 88);
        assert_eq!(offset_of!(Response, ticket), 0);
        assert_eq!(offset_of!(Response, status), 8);
        assert_eq!(offset_of!(Response, errno), 12);
        assert_eq!(offset_of!(Response, value), 16);
        assert_eq!(offset_of!(CallPage, host_op), 384);
        assert_eq!(offset_of!(CallPage, op_result), 448);
    }

    #[test]
    fn tickets_are_distinct_per_request_and_step() {
        assert_ne!(ticket(1, 0), ticket(1, 1));
        assert_ne!(ticket(1, MAX_STEPS), ticket(2, 0));
        assert_eq!(ticket(0, 0), 0);
    }

    #[test]
    fn unknown_ids_do_not_decode() {
        assert_eq!(Status::from_raw(7), None);
        assert_eq!(Function::from_raw(0), None);
        assert_eq!(Function::from_raw(0x1000), Some(Function::SelftestPing));
    }
}
