//! sysd's WASI preview-1 implementation, as far as it goes: argument and
//! environment access, `random_get`, stdio (`fd_read`/`fd_write` through
//! host ops, descriptor queries), the error paths of sockets, `proc_exit`,
//! `proc_raise` and `sched_yield`. [`IMPLEMENTED`] lists them; the host
//! refuses to run a module in a VM if it imports anything else, rather than
//! let it see different behaviour.
//!
//! Semantics follow wasmtime 48 (the golden reports in
//! `crates/wasc/tests/expected`). Every pointer and length from the module
//! is checked against the current linear-memory size before use.

mod data;
mod memory;

use wasc_wire::hostop::{HostOp, OpCode, Stat};
use wasc_wire::wasi::{ids, TrapKind};

use data::{clock_value, random, sizes, strings};
use memory::{Memory, OutOfBounds};

/// The functions this module implements, by id.
pub const IMPLEMENTED: [u32; 22] = [
    ids::ARGS_GET,
    ids::CLOCK_RES_GET,
    ids::CLOCK_TIME_GET,
    ids::ARGS_SIZES_GET,
    ids::ENVIRON_GET,
    ids::ENVIRON_SIZES_GET,
    ids::FD_CLOSE,
    ids::FD_FDSTAT_GET,
    ids::FD_PRESTAT_GET,
    ids::FD_PRESTAT_DIR_NAME,
    ids::FD_READ,
    ids::FD_SEEK,
    ids::FD_TELL,
    ids::FD_WRITE,
    ids::PROC_EXIT,
    ids::PROC_RAISE,
    ids::RANDOM_GET,
    ids::SCHED_YIELD,
    ids::SOCK_ACCEPT,
    ids::SOCK_RECV,
    ids::SOCK_SEND,
    ids::SOCK_SHUTDOWN,
];

// WASI errnos used here.
const BADF: u16 = 8;
pub(crate) const IO: u16 = 29;
const NOSYS: u16 = 52;
const NOTSOCK: u16 = 57;
const NOTSUP: u16 = 58;
const SPIPE: u16 = 70;

/// What sysd needs from the machine it runs on.
pub trait System {
    /// Copies linear memory at `offset` (already bounds-checked) into `buf`.
    fn read_memory(&mut self, offset: u64, buf: &mut [u8]);
    /// Copies `data` into linear memory at `offset` (already bounds-checked).
    fn write_memory(&mut self, offset: u64, data: &[u8]);
    /// Has the host executor perform `op`.
    fn host_op(&mut self, op: HostOp) -> Result<u64, u32>;
    /// The host op's scratch area, where a `Stat` comes back.
    fn scratch(&mut self) -> [u8; 64];
    /// The instance's arguments and environment (see [`InstanceData`]).
    fn instance_data(&mut self) -> InstanceData<'_>;
    /// Fills `buf` from sysd's CSPRNG.
    fn random(&mut self, buf: &mut [u8]);
    /// The per-instance values, including the clock calibration.
    fn instance(&mut self) -> wasc_wire::Instance;
    /// The time-stamp counter.
    fn rdtsc(&mut self) -> u64;
}

/// Nanoseconds on the realtime (`monotonic == false`) or monotonic clock at
/// time-stamp counter `tsc`, from the host's calibration; `None` if the host
/// gave none.
pub fn clock_ns(calibration: &wasc_wire::Instance, tsc: u64, monotonic: bool) -> Option<u64> {
    if calibration.tsc_khz == 0 {
        return None;
    }
    let reference = if monotonic {
        calibration.ref_monotonic
    } else {
        calibration.ref_realtime
    };
    let ticks = u128::from(tsc.wrapping_sub(calibration.ref_tsc));
    let elapsed = ticks * 1_000_000 / u128::from(calibration.tsc_khz);
    Some(reference.wrapping_add(elapsed as u64))
}

/// Arguments and environment, each a run of NUL-terminated strings.
#[derive(Debug, Clone, Copy)]
pub struct InstanceData<'a> {
    pub args: &'a [u8],
    pub env: &'a [u8],
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Return this errno to the module (0 = success).
    Errno(u16),
    /// `proc_exit(status)`.
    Exit(u32),
    /// End the run as wasmtime would, with this kind and detail.
    Trap(TrapKind, u64),
}

/// sysd's WASI state for one instance.
#[derive(Debug)]
pub struct Wasi {
    /// Whether fds 0, 1 and 2 are still open.
    stdio_open: [bool; 3],
}

impl Default for Wasi {
    fn default() -> Self {
        Self {
            stdio_open: [true; 3],
        }
    }
}

impl Wasi {
    /// Performs WASI function `function` with raw `args` on a linear memory
    /// of `memory_len` bytes.
    pub fn call(
        &mut self,
        function: u32,
        args: &[u64],
        memory_len: u64,
        sys: &mut impl System,
    ) -> Outcome {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let mut memory = Memory {
            sys,
            len: memory_len,
        };
        let result = match function {
            ids::ARGS_SIZES_GET => sizes(&mut memory, |d| d.args, arg(0), arg(1)),
            ids::ENVIRON_SIZES_GET => sizes(&mut memory, |d| d.env, arg(0), arg(1)),
            ids::ARGS_GET => strings(&mut memory, |d| d.args, arg(0), arg(1)),
            ids::ENVIRON_GET => strings(&mut memory, |d| d.env, arg(0), arg(1)),
            ids::RANDOM_GET => random(&mut memory, arg(0), arg(1)),
            ids::CLOCK_RES_GET | ids::CLOCK_TIME_GET => {
                // Realtime and monotonic come from the TSC; wasmtime answers
                // BADF for the CPU-time clocks, and ends the run on others.
                let (clock, out) = (
                    arg(0) as u32,
                    if function == ids::CLOCK_RES_GET {
                        arg(1)
                    } else {
                        arg(2)
                    },
                );
                match clock {
                    0 | 1 => {
                        clock_value(&mut memory, function == ids::CLOCK_RES_GET, clock == 1, out)
                    }
                    2 | 3 => Ok(BADF),
                    _ => return Outcome::Trap(TrapKind::InvalidClockId, u64::from(clock)),
                }
            }
            ids::SCHED_YIELD => Ok(0),
            ids::PROC_RAISE => Ok(NOTSUP),
            ids::PROC_EXIT => {
                let status = arg(0) as u32;
                return if status < 126 {
                    Outcome::Exit(status)
                } else {
                    Outcome::Trap(TrapKind::InvalidExitStatus, u64::from(status))
                };
            }
            ids::FD_WRITE => {
                self.transfer(&mut memory, arg(0), arg(1), arg(2), arg(3), OpCode::Write)
            }
            ids::FD_READ => {
                self.transfer(&mut memory, arg(0), arg(1), arg(2), arg(3), OpCode::Read)
            }
            ids::FD_FDSTAT_GET => self.fdstat(&mut memory, arg(0), arg(1)),
            ids::FD_CLOSE => Ok(self.close(arg(0))),
            ids::FD_SEEK | ids::FD_TELL => Ok(self.stdio_or_badf(arg(0), SPIPE)),
            ids::FD_PRESTAT_GET | ids::FD_PRESTAT_DIR_NAME => Ok(BADF),
            ids::SOCK_ACCEPT | ids::SOCK_RECV | ids::SOCK_SEND | ids::SOCK_SHUTDOWN => {
                Ok(self.stdio_or_badf(arg(0), NOTSOCK))
            }
            _ => Ok(NOSYS),
        };
        match result {
            Ok(errno) => Outcome::Errno(errno),
            Err(OutOfBounds { start, len }) => Outcome::Trap(
                TrapKind::PointerOutOfBounds,
                (start << 32) | (len & 0xffff_ffff),
            ),
        }
    }

    fn is_open_stdio(&self, fd: u64) -> bool {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.stdio_open.get(i))
            .copied()
            .unwrap_or(false)
    }

    fn stdio_or_badf(&self, fd: u64, errno: u16) -> u16 {
        if self.is_open_stdio(fd) {
            errno
        } else {
            BADF
        }
    }

    fn close(&mut self, fd: u64) -> u16 {
        if !self.is_open_stdio(fd) {
            return BADF;
        }
        self.stdio_open[fd as usize] = false;
        0
    }

    /// `fd_write`/`fd_read` on stdio: like wasmtime, one host transfer for
    /// the first non-empty iovec.
    fn transfer<S: System>(
        &mut self,
        memory: &mut Memory<'_, S>,
        fd: u64,
        iovs: u64,
        iovs_len: u64,
        result: u64,
        op: OpCode,
    ) -> Result<u16, OutOfBounds> {
        let allowed = match op {
            OpCode::Read => fd == 0,
            _ => fd == 1 || fd == 2,
        };
        if !self.is_open_stdio(fd) || !allowed {
            return Ok(BADF);
        }
        let iovs_len = iovs_len & 0xffff_ffff;
        memory.check(iovs, iovs_len.saturating_mul(8))?;
        let mut chosen = None;
        for i in 0..iovs_len {
            let buf = u64::from(memory.read_u32(iovs + 8 * i)?);
            let len = u64::from(memory.read_u32(iovs + 8 * i + 4)?);
            if len > 0 {
                chosen = Some((buf, len));
                break;
            }
        }
        let moved = match chosen {
            None => 0,
            Some((buf, len)) => {
                memory.check(buf, len)?;
                let host = HostOp {
                    op: op as u32,
                    reserved: 0,
                    args: [fd, buf, len, 0, 0, 0],
                };
                match memory.sys.host_op(host) {
                    Ok(n) => n,
                    Err(errno) => return Ok(errno as u16),
                }
            }
        };
        memory.write_u32(result, moved as u32)?;
        Ok(0)
    }

    /// `fd_fdstat_get` on stdio: the file type the host reports (a terminal
    /// is a character device; wasmtime reports pipes and files as unknown),
    /// no flags, and the rights of a stream.
    fn fdstat<S: System>(
        &mut self,
        memory: &mut Memory<'_, S>,
        fd: u64,
        out: u64,
    ) -> Result<u16, OutOfBounds> {
        if !self.is_open_stdio(fd) {
            return Ok(BADF);
        }
        memory.check(out, 24)?;
        let host = HostOp {
            op: OpCode::Stat as u32,
            reserved: 0,
            args: [fd, 0, 0, 0, 0, 0],
        };
        const FILETYPE: usize = core::mem::offset_of!(Stat, filetype);
        const CHARACTER_DEVICE: u8 = 2;
        let filetype = match memory.sys.host_op(host) {
            Ok(_) if memory.sys.scratch()[FILETYPE] == CHARACTER_DEVICE => CHARACTER_DEVICE,
            Ok(_) => 0,
            Err(errno) => return Ok(errno as u16),
        };
        // FD_READ | FD_WRITE | POLL_FD_READWRITE and friends, as a stream.
        let rights: u64 = if fd == 0 { 0x0820_0002 } else { 0x0820_0040 };
        let mut stat = [0u8; 24];
        stat[0] = filetype;
        stat[8..16].copy_from_slice(&rights.to_le_bytes());
        memory.write(out, &stat)?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine with a Vec for linear memory and recorded host ops.
    struct Fake {
        memory: [u8; 256],
        ops: usize,
        args: &'static [u8],
    }

    impl System for Fake {
        fn read_memory(&mut self, offset: u64, buf: &mut [u8]) {
            buf.copy_from_slice(&self.memory[offset as usize..offset as usize + buf.len()]);
        }
        fn write_memory(&mut self, offset: u64, data: &[u8]) {
            self.memory[offset as usize..offset as usize + data.len()].copy_from_slice(data);
        }
        fn host_op(&mut self, op: HostOp) -> Result<u64, u32> {
            self.ops += 1;
            Ok(op.args[2])
        }
        fn scratch(&mut self) -> [u8; 64] {
            [0; 64]
        }
        fn instance_data(&mut self) -> InstanceData<'_> {
            InstanceData {
                args: self.args,
                env: b"A=1\0",
            }
        }
        fn random(&mut self, buf: &mut [u8]) {
            buf.fill(7);
        }
        fn instance(&mut self) -> wasc_wire::Instance {
            wasc_wire::Instance {
                tsc_khz: 2_000_000, // 2 GHz
                ref_tsc: 1_000,
                ref_realtime: 1_700_000_000_000_000_000,
                ref_monotonic: 5_000,
                ..Default::default()
            }
        }
        fn rdtsc(&mut self) -> u64 {
            1_000 + 2_000 // 1 µs after the reference
        }
    }

    fn fake() -> Fake {
        Fake {
            memory: [0; 256],
            ops: 0,
            args: b"prog.wasm\0x\0",
        }
    }

    fn word(sys: &Fake, at: usize) -> u32 {
        u32::from_le_bytes(sys.memory[at..at + 4].try_into().expect("4 bytes"))
    }

    #[test]
    fn args_sizes_and_strings() {
        let (mut wasi, mut sys) = (Wasi::default(), fake());
        assert_eq!(
            wasi.call(ids::ARGS_SIZES_GET, &[0, 4], 256, &mut sys),
            Outcome::Errno(0)
        );
        assert_eq!((word(&sys, 0), word(&sys, 4)), (2, 12));
        assert_eq!(
            wasi.call(ids::ARGS_GET, &[16, 64], 256, &mut sys),
            Outcome::Errno(0)
        );
        assert_eq!((word(&sys, 16), word(&sys, 20)), (64, 74));
        assert_eq!(&sys.memory[64..76], b"prog.wasm\0x\0");
    }

    #[test]
    fn pointers_past_memory_trap_with_the_region() {
        let (mut wasi, mut sys) = (Wasi::default(), fake());
        let out = wasi.call(ids::ARGS_GET, &[254, 0], 256, &mut sys);
        assert_eq!(
            out,
            Outcome::Trap(TrapKind::PointerOutOfBounds, (254 << 32) | 4)
        );
        let out = wasi.call(ids::RANDOM_GET, &[200, 100], 256, &mut sys);
        assert_eq!(
            out,
            Outcome::Trap(TrapKind::PointerOutOfBounds, (200 << 32) | 100)
        );
        let huge = wasi.call(ids::RANDOM_GET, &[u64::MAX, 2], 256, &mut sys);
        assert!(matches!(
            huge,
            Outcome::Trap(TrapKind::PointerOutOfBounds, _)
        ));
    }

    #[test]
    fn fd_write_sends_only_the_first_non_empty_iovec() {
        let (mut wasi, mut sys) = (Wasi::default(), fake());
        // iovecs at 0: {buf 100, len 0}, {buf 120, len 5}, {buf 140, len 9}
        for (i, (buf, len)) in [(100u32, 0u32), (120, 5), (140, 9)].iter().enumerate() {
            sys.memory[8 * i..8 * i + 4].copy_from_slice(&buf.to_le_bytes());
            sys.memory[8 * i + 4..8 * i + 8].copy_from_slice(&len.to_le_bytes());
        }
        assert_eq!(
            wasi.call(ids::FD_WRITE, &[1, 0, 3, 200], 256, &mut sys),
            Outcome::Errno(0)
        );
        assert_eq!((sys.ops, word(&sys, 200)), (1, 5));
        assert_eq!(
            wasi.call(ids::FD_WRITE, &[0, 0, 3, 200], 256, &mut sys),
            Outcome::Errno(BADF),
            "stdin is not writable"
        );
        assert_eq!(
            wasi.call(ids::FD_READ, &[1, 0, 3, 200], 256, &mut sys),
            Outcome::Errno(BADF),
            "stdout is not readable"
        );
    }

    #[test]
    fn closed_stdio_is_a_bad_descriptor() {
        let (mut wasi, mut sys) = (Wasi::default(), fake());
        assert_eq!(
            wasi.call(ids::FD_CLOSE, &[1], 256, &mut sys),
            Outcome::Errno(0)
        );
        assert_eq!(
            wasi.call(ids::FD_CLOSE, &[1], 256, &mut sys),
            Outcome::Errno(BADF)
        );
        assert_eq!(
            wasi.call(ids::FD_WRITE, &[1, 0, 0, 200], 256, &mut sys),
            Outcome::Errno(BADF)
        );
        assert_eq!(
            wasi.call(ids::SOCK_SEND, &[1], 256, &mut sys),
            Outcome::Errno(BADF)
        );
        assert_eq!(
            wasi.call(ids::SOCK_SEND, &[2], 256, &mut sys),
            Outcome::Errno(NOTSOCK)
        );
    }

    #[test]
    fn exit_statuses_past_125_trap() {
        let (mut wasi, mut sys) = (Wasi::default(), fake());
        assert_eq!(
            wasi.call(ids::PROC_EXIT, &[125], 256, &mut sys),
            Outcome::Exit(125)
        );
        assert_eq!(
            wasi.call(ids::PROC_EXIT, &[126], 256, &mut sys),
            Outcome::Trap(TrapKind::InvalidExitStatus, 126)
        );
    }

    #[test]
    fn clocks_count_from_the_calibration() {
        let (mut wasi, mut sys) = (Wasi::default(), fake());
        assert_eq!(
            wasi.call(ids::CLOCK_TIME_GET, &[1, 0, 8], 256, &mut sys),
            Outcome::Errno(0)
        );
        assert_eq!(
            u64::from_le_bytes(sys.memory[8..16].try_into().expect("8")),
            5_000 + 1_000
        );
        assert_eq!(
            wasi.call(ids::CLOCK_TIME_GET, &[0, 0, 8], 256, &mut sys),
            Outcome::Errno(0)
        );
        assert_eq!(
            u64::from_le_bytes(sys.memory[8..16].try_into().expect("8")),
            1_700_000_000_000_001_000
        );
        assert_eq!(
            wasi.call(ids::CLOCK_RES_GET, &[0, 8], 256, &mut sys),
            Outcome::Errno(0)
        );
        assert_eq!(
            wasi.call(ids::CLOCK_TIME_GET, &[2, 0, 8], 256, &mut sys),
            Outcome::Errno(BADF)
        );
        assert_eq!(
            wasi.call(ids::CLOCK_RES_GET, &[3, 8], 256, &mut sys),
            Outcome::Errno(BADF)
        );
        assert_eq!(
            wasi.call(ids::CLOCK_TIME_GET, &[4, 0, 8], 256, &mut sys),
            Outcome::Trap(TrapKind::InvalidClockId, 4)
        );
    }

    #[test]
    fn clock_math_survives_large_elapsed_times_and_missing_calibration() {
        let mut cal = wasc_wire::Instance {
            tsc_khz: 3_000_000,
            ..Default::default()
        };
        // A year of 3 GHz ticks does not overflow.
        let year = 365 * 24 * 3600 * 3_000_000_000u64;
        assert_eq!(
            clock_ns(&cal, year, true),
            Some(365 * 24 * 3600 * 1_000_000_000)
        );
        cal.tsc_khz = 0;
        assert_eq!(clock_ns(&cal, 1, true), None);
    }

    #[test]
    fn unimplemented_functions_answer_nosys() {
        let (mut wasi, mut sys) = (Wasi::default(), fake());
        let path_open = wasc_wire::wasi::id("path_open").expect("id");
        assert!(!IMPLEMENTED.contains(&path_open));
        assert_eq!(
            wasi.call(path_open, &[], 256, &mut sys),
            Outcome::Errno(NOSYS)
        );
        assert_eq!(wasi.call(9999, &[], 256, &mut sys), Outcome::Errno(NOSYS));
    }
}
