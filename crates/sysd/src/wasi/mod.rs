//! sysd's WASI preview-1 implementation: all 46 functions of
//! `wasi_snapshot_preview1`, sockets included (listeners granted with
//! `--tcplisten` and the connections accepted on them).
//!
//! Semantics follow wasmtime 48 (the golden reports in
//! `crates/wasc/tests/expected`). Every pointer and length from the module
//! is checked against the current linear-memory size before use.
//!
//! Code map: [`fds`] the descriptor table; [`files`] calls on descriptors;
//! [`tree`] calls on paths and `fd_readdir`; [`path`] path resolution;
//! [`poll`] `poll_oneoff`; [`sockets`] the socket calls; [`host`] the
//! executor's ops; [`data`] arguments,
//! environment, clocks and random bytes; [`memory`] checked linear-memory
//! access.

mod call;
mod data;
mod errno;
pub mod fds;
mod files;
mod host;
mod memory;
mod path;
mod poll;
mod sockets;
#[cfg(test)]
mod testing;
pub mod tmpfs;
mod tree;

use wasc_wire::hostop::{HostOp, SCRATCH_LEN};
use wasc_wire::wasi::{ids, TrapKind, ValueType};

use call::Answer;
use data::{clock_value, random, sizes, strings};
use errno::{BADF, NOSYS, NOTSUP};
use files::Io;
use memory::Memory;
use tree::{OpenArgs, PathOp};

pub(crate) use errno::IO;

/// What sysd needs from the machine it runs on.
pub trait System {
    /// Copies linear memory at `offset` (already bounds-checked) into `buf`.
    fn read_memory(&mut self, offset: u64, buf: &mut [u8]);
    /// Copies `data` into linear memory at `offset` (already bounds-checked).
    fn write_memory(&mut self, offset: u64, data: &[u8]);
    /// Has the host executor perform `op`.
    fn host_op(&mut self, op: HostOp) -> Result<u64, u32>;
    /// Copies the host-op scratch area at `offset` into `buf` (the range
    /// lies inside the [`SCRATCH_LEN`] bytes; implementations clamp it).
    fn read_scratch(&mut self, offset: usize, buf: &mut [u8]);
    /// Copies `data` into the scratch area at `offset` (clamped likewise).
    fn write_scratch(&mut self, offset: usize, data: &[u8]);
    /// The size of the memory file systems' region (0: none).
    fn tmpfs_len(&mut self) -> u64;
    /// Copies the region at `offset` into `buf` (clamped to the region).
    fn tmpfs_read(&mut self, offset: u64, buf: &mut [u8]);
    /// Copies `data` into the region at `offset` (clamped to the region).
    fn tmpfs_write(&mut self, offset: u64, data: &[u8]);
    /// The instance's arguments, environment and preopen names.
    fn instance_data(&mut self) -> InstanceData<'_>;
    /// Fills `buf` from sysd's CSPRNG.
    fn random(&mut self, buf: &mut [u8]);
    /// The per-instance values, including the clock calibration.
    fn instance(&mut self) -> wasc_wire::Instance;
    /// The time-stamp counter.
    fn rdtsc(&mut self) -> u64;
    /// Asks to end the current call with `last`, after the call returns
    /// (whose own answer is then dropped): its success ends the call, and
    /// the host may end it without running sysd again, saving an exit.
    /// `false`: not taken (the call makes the op itself).
    fn end_with(&mut self, last: FinalOp) -> bool {
        let _ = last;
        false
    }
}

/// A call's last step ([`System::end_with`]): a host op whose value, on
/// success, is the call's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalOp {
    pub op: HostOp,
    /// Linear-memory offset the op's value goes to as a u32 — checked by
    /// the call: in bounds and aligned — or [`wasc_wire::NO_STORE`].
    pub store_at: u64,
    /// An errno of the op the call takes as success, with this value
    /// stored instead (a write to a reader that went away).
    pub success_on: Option<(u32, u32)>,
}

/// The scratch area's size, for [`System`] implementations.
pub const SCRATCH: usize = SCRATCH_LEN;

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

/// What the instance starts with (its layout is `wasc_wire`'s).
pub use wasc_wire::InstanceData;

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
#[derive(Debug, Default)]
pub struct Wasi {
    fds: fds::FdTable,
}

impl Wasi {
    /// Performs WASI function `function` with raw `args` on a linear memory
    /// of `memory_len` bytes.
    pub fn call<S: System>(
        &mut self,
        function: u32,
        args: &[u64],
        memory_len: u64,
        sys: &mut S,
    ) -> Outcome {
        if !self.fds.started {
            self.start(sys);
        }
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let mut memory = Memory {
            sys,
            len: memory_len,
        };
        match self.dispatch(function, &arg, &mut memory) {
            Ok(errno) => Outcome::Errno(errno),
            Err(Stopped::Exit(status)) => Outcome::Exit(status),
            Err(Stopped::Stop(stop)) => stop.outcome(),
        }
    }

    /// The instance's first call: descriptors for the preopens, and the
    /// memory file systems formatted.
    fn start<S: System>(&mut self, sys: &mut S) {
        let mut quotas = [0u64; 16];
        let (names, limit, mounts, listeners) = {
            let data = sys.instance_data();
            let names = data.preopens.iter().filter(|&&b| b == 0).count();
            let mut mounts = 0;
            for size in data.tmpfs.split(|&b| b == 0).filter(|s| !s.is_empty()) {
                if mounts == quotas.len() {
                    break;
                }
                quotas[mounts] = core::str::from_utf8(size)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                mounts += 1;
            }
            (
                names,
                data.max_fds as usize,
                mounts,
                data.listeners as usize,
            )
        };
        tmpfs::format(sys, &quotas[..mounts]);
        self.fds
            .start(listeners, names.saturating_sub(mounts), mounts, limit);
    }

    fn dispatch<S: System>(
        &mut self,
        function: u32,
        arg: &impl Fn(usize) -> u64,
        memory: &mut Memory<'_, S>,
    ) -> Result<u16, Stopped> {
        let fds = &mut self.fds;
        let a = |i: usize| arg(i);
        let answer: Answer = match function {
            ids::ARGS_SIZES_GET => Ok(sizes(memory, |d| d.args, a(0), a(1))?),
            ids::ENVIRON_SIZES_GET => Ok(sizes(memory, |d| d.env, a(0), a(1))?),
            ids::ARGS_GET => Ok(strings(memory, |d| d.args, a(0), a(1))?),
            ids::ENVIRON_GET => Ok(strings(memory, |d| d.env, a(0), a(1))?),
            ids::RANDOM_GET if a(1) & 0xffff_ffff > wasc_wire::wasi::RANDOM_LIMIT => Err(
                call::Stop::Trap(TrapKind::RandomTooLong, a(1) & 0xffff_ffff),
            ),
            ids::RANDOM_GET => Ok(random(memory, a(0), a(1))?),
            ids::CLOCK_RES_GET | ids::CLOCK_TIME_GET => {
                // Realtime and monotonic come from the TSC; wasmtime answers
                // BADF for the CPU-time clocks, and ends the run on others.
                let resolution = function == ids::CLOCK_RES_GET;
                let (clock, out) = (a(0) as u32, if resolution { a(1) } else { a(2) });
                match clock {
                    0 | 1 => Ok(clock_value(memory, resolution, clock == 1, out)?),
                    2 | 3 => Ok(BADF),
                    _ => {
                        return Err(Stopped::Stop(call::Stop::Trap(
                            TrapKind::InvalidClockId,
                            u64::from(clock),
                        )))
                    }
                }
            }
            ids::SCHED_YIELD => Ok(0),
            // The 31 preview-1 signals are checked as wiggle checks them,
            // then refused as wasmtime refuses every one.
            ids::PROC_RAISE => match call::narrow(a(0), 0xff, ValueType::Signal) {
                Ok(signal) if signal > 30 => {
                    Err(call::invalid(TrapKind::InvalidEnum, ValueType::Signal))
                }
                Ok(_) => Ok(NOTSUP),
                Err(stop) => Err(stop),
            },
            ids::PROC_EXIT => {
                let status = a(0) as u32;
                return if status < 126 {
                    Err(Stopped::Exit(status))
                } else {
                    Err(Stopped::Stop(call::Stop::Trap(
                        TrapKind::InvalidExitStatus,
                        u64::from(status),
                    )))
                };
            }
            ids::FD_WRITE => files::transfer(fds, memory, a(0), a(1), a(2), Io::Write, a(3)),
            ids::FD_READ => files::transfer(fds, memory, a(0), a(1), a(2), Io::Read, a(3)),
            ids::FD_PREAD => files::transfer(fds, memory, a(0), a(1), a(2), Io::Pread(a(3)), a(4)),
            ids::FD_PWRITE => {
                files::transfer(fds, memory, a(0), a(1), a(2), Io::Pwrite(a(3)), a(4))
            }
            ids::FD_SEEK => files::seek(fds, memory, a(0), a(1), a(2), a(3)),
            ids::FD_TELL => files::tell(fds, memory, a(0), a(1)),
            ids::FD_FDSTAT_GET => files::fdstat(fds, memory, a(0), a(1)),
            ids::FD_FDSTAT_SET_FLAGS => files::set_flags(fds, a(0), a(1)),
            ids::FD_FDSTAT_SET_RIGHTS => files::set_rights(fds, a(0), a(1), a(2)),
            ids::FD_FILESTAT_GET => files::filestat_get(fds, memory, a(0), a(1)),
            ids::FD_FILESTAT_SET_SIZE => Ok(files::set_size(fds, memory.sys, a(0), a(1))),
            ids::FD_FILESTAT_SET_TIMES => files::set_times(fds, memory.sys, a(0), a(1), a(2), a(3)),
            ids::FD_SYNC => Ok(files::sync(fds, memory.sys, a(0), false)),
            ids::FD_DATASYNC => Ok(files::sync(fds, memory.sys, a(0), true)),
            ids::FD_ADVISE => files::advise(fds, a(0), a(3)),
            ids::FD_ALLOCATE => Ok(files::allocate(fds, a(0))),
            ids::FD_CLOSE => Ok(files::close(fds, memory.sys, a(0))),
            ids::FD_RENUMBER => Ok(files::renumber(fds, memory.sys, a(0), a(1))),
            ids::FD_PRESTAT_GET => files::prestat_get(fds, memory, a(0), a(1)),
            ids::FD_PRESTAT_DIR_NAME => files::prestat_dir_name(fds, memory, a(0), a(1), a(2)),
            ids::FD_READDIR => tree::readdir(fds, memory, a(0), a(1), a(2), a(3), a(4)),
            ids::PATH_OPEN => tree::open(
                fds,
                memory,
                &OpenArgs {
                    dirfd: a(0),
                    dirflags: a(1),
                    path: a(2),
                    path_len: a(3),
                    oflags: a(4),
                    rights_base: a(5),
                    rights_inheriting: a(6),
                    fdflags: a(7),
                    result: a(8),
                },
            ),
            ids::PATH_FILESTAT_GET => tree::filestat_get(fds, memory, a(0), a(1), a(2), a(3), a(4)),
            ids::PATH_FILESTAT_SET_TIMES => {
                tree::set_times(fds, memory, a(0), a(1), a(2), a(3), a(4), a(5), a(6))
            }
            ids::PATH_CREATE_DIRECTORY => {
                tree::path_op(fds, memory, a(0), a(1), a(2), PathOp::CreateDirectory)
            }
            ids::PATH_REMOVE_DIRECTORY => {
                tree::path_op(fds, memory, a(0), a(1), a(2), PathOp::RemoveDirectory)
            }
            ids::PATH_UNLINK_FILE => {
                tree::path_op(fds, memory, a(0), a(1), a(2), PathOp::UnlinkFile)
            }
            ids::PATH_RENAME => tree::two_paths(
                fds,
                memory,
                a(0),
                0,
                (a(1), a(2)),
                a(3),
                (a(4), a(5)),
                false,
            ),
            ids::PATH_LINK => tree::two_paths(
                fds,
                memory,
                a(0),
                a(1),
                (a(2), a(3)),
                a(4),
                (a(5), a(6)),
                true,
            ),
            ids::PATH_SYMLINK => tree::symlink(fds, memory, (a(0), a(1)), a(2), (a(3), a(4))),
            ids::PATH_READLINK => tree::readlink(fds, memory, a(0), (a(1), a(2)), a(3), a(4), a(5)),
            ids::POLL_ONEOFF => poll::poll_oneoff(fds, memory, a(0), a(1), a(2), a(3)),
            ids::SOCK_ACCEPT => sockets::accept(fds, memory, a(0), a(1), a(2)),
            ids::SOCK_RECV => sockets::recv(fds, memory, a(0), a(1), a(2), a(3), a(4), a(5)),
            ids::SOCK_SEND => sockets::send(fds, memory, a(0), a(1), a(2), a(3), a(4)),
            ids::SOCK_SHUTDOWN => sockets::shutdown(fds, memory.sys, a(0), a(1)),
            _ => Ok(NOSYS),
        };
        answer.map_err(Stopped::Stop)
    }
}

/// How a call ends without an errno.
enum Stopped {
    Exit(u32),
    Stop(call::Stop),
}

impl From<memory::OutOfBounds> for Stopped {
    fn from(e: memory::OutOfBounds) -> Self {
        Stopped::Stop(call::Stop::OutOfBounds(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use testing::{Host, Machine};

    /// A host whose every op succeeds with its third argument (a transfer
    /// moves everything it was asked to), counting ops.
    struct Echo {
        ops: usize,
    }

    impl Host for Echo {
        fn op(&mut self, op: HostOp, _: &mut [u8; SCRATCH]) -> Result<u64, u32> {
            self.ops += 1;
            Ok(op.args[2])
        }
    }

    type Fake = Machine<Echo>;

    /// 256 bytes of memory, two arguments, and a clock 1 µs after the
    /// host's reference reading on a 2 GHz TSC.
    fn fake() -> Fake {
        let mut sys = Machine::new(256, Echo { ops: 0 });
        sys.args = b"prog.wasm\0x\0";
        sys.env = b"A=1\0";
        sys.random = 7;
        sys.calibration = wasc_wire::Instance {
            tsc_khz: 2_000_000,
            ref_tsc: 1_000,
            ref_realtime: 1_700_000_000_000_000_000,
            ref_monotonic: 5_000,
            ..Default::default()
        };
        sys.tsc = 1_000 + 2_000;
        sys
    }

    fn word(sys: &Fake, at: usize) -> u32 {
        sys.word(at)
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
        assert_eq!((sys.host.ops, word(&sys, 200)), (1, 5));
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
            Outcome::Errno(errno::NOTSOCK)
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
    fn unknown_functions_answer_nosys() {
        let (mut wasi, mut sys) = (Wasi::default(), fake());
        assert_eq!(wasi.call(9999, &[], 256, &mut sys), Outcome::Errno(NOSYS));
    }

    #[test]
    fn preopens_are_fds_from_3_with_their_names() {
        let (mut wasi, mut sys) = (Wasi::default(), fake());
        assert_eq!(
            wasi.call(ids::FD_PRESTAT_GET, &[3, 0], 256, &mut sys),
            Outcome::Errno(0)
        );
        assert_eq!(word(&sys, 4), 8);
        assert_eq!(
            wasi.call(ids::FD_PRESTAT_DIR_NAME, &[3, 16, 7], 256, &mut sys),
            Outcome::Errno(errno::NAMETOOLONG)
        );
        assert_eq!(
            wasi.call(ids::FD_PRESTAT_DIR_NAME, &[3, 16, 8], 256, &mut sys),
            Outcome::Errno(0)
        );
        assert_eq!(&sys.memory[16..24], b"/sandbox");
        assert_eq!(
            wasi.call(ids::FD_PRESTAT_GET, &[4, 0], 256, &mut sys),
            Outcome::Errno(BADF)
        );
    }
}
