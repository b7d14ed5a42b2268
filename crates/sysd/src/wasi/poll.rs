//! `poll_oneoff`: clock subscriptions are deadlines on sysd's TSC clock;
//! regular files and stdout/stderr are always ready, as wasmtime reports
//! them; stdin and socket readiness and the passage of time are waited for
//! with ONE host op ([`wasc_wire::hostop::OpCode::Wait`]), so sysd never
//! spins while the function waits. Socket events follow wasi-common: a
//! read reports at least 1 byte (what the connection holds), a write 0, a
//! hang-up the `HANGUP` flag, a socket error the event's `IO` error.

use wasc_wire::hostop::wait;

use super::call::Answer;
use super::errno::{BADF, INVAL, IO};
use super::fds::{FdTable, Kind};
use super::host::{self, Readiness};
use super::memory::{fields, Memory, OutOfBounds};
use super::{clock_ns, System};

const SUBSCRIPTION: u64 = 48;
const EVENT: u64 = 32;
/// How many distinct handles one poll waits on.
const MAX_WAIT: usize = wait::MAX_ENTRIES;

const CLOCK: u8 = 0;
const FD_READ: u8 = 1;
const FD_WRITE: u8 = 2;
const ABSTIME: u16 = 1;
const HANGUP: u16 = 1;

#[derive(Clone, Copy)]
enum Sub {
    /// A deadline on the monotonic clock (ns).
    Clock { deadline: u64 },
    /// Ready at once; the event's `nbytes` and flags.
    Ready { nbytes: u64, flags: u16 },
    /// Ready when the host says so: stdin (`socket` false) or a socket,
    /// for [`wait::READ`] or [`wait::WRITE`].
    Host {
        handle: u32,
        interest: u32,
        socket: bool,
    },
}

struct Decoded {
    userdata: u64,
    tag: u8,
    sub: Sub,
}

fn now<S: System>(sys: &mut S) -> Result<(u64, u64), u16> {
    let calibration = sys.instance();
    let tsc = sys.rdtsc();
    match (
        clock_ns(&calibration, tsc, true),
        clock_ns(&calibration, tsc, false),
    ) {
        (Some(monotonic), Some(realtime)) => Ok((monotonic, realtime)),
        _ => Err(super::errno::IO),
    }
}

/// Reads and classifies subscription `i`.
fn decode<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    subs: u64,
    i: u64,
    (monotonic, realtime): (u64, u64),
) -> Result<Result<Decoded, u16>, super::call::Stop> {
    let at = subs + i * SUBSCRIPTION;
    let userdata = memory.read_u64(at)?;
    let mut tag = [0u8; 1];
    memory.read(at + 8, &mut tag)?;
    let tag = tag[0];
    let sub = match tag {
        CLOCK => {
            let id = memory.read_u32(at + 16)?;
            let timeout = memory.read_u64(at + 24)?;
            memory.read_u64(at + 32)?; // precision: unused, as in wasmtime
            let flags = memory.read_u16(at + 40)?;
            // wasmtime reads subscriptions in its body, where a bad enum or
            // flag is INVAL, not a trap.
            if id > 3 || flags & !ABSTIME != 0 {
                return Ok(Err(INVAL));
            }
            let absolute = flags & ABSTIME != 0;
            let deadline = match (id, absolute) {
                (1, true) => timeout,
                (0 | 1, false) => monotonic.saturating_add(timeout),
                (0, true) => monotonic.saturating_add(timeout.saturating_sub(realtime)),
                _ => return Ok(Err(INVAL)),
            };
            Sub::Clock { deadline }
        }
        FD_READ | FD_WRITE => {
            let fd = u64::from(memory.read_u32(at + 16)?);
            let Ok(entry) = fds.get(fd) else {
                return Ok(Err(BADF));
            };
            match (tag, entry.kind) {
                (FD_READ, Kind::Stdin) => Sub::Host {
                    handle: entry.handle,
                    interest: wait::READ,
                    socket: false,
                },
                (_, Kind::Socket(_)) => Sub::Host {
                    handle: entry.handle,
                    interest: if tag == FD_READ {
                        wait::READ
                    } else {
                        wait::WRITE
                    },
                    socket: true,
                },
                (FD_READ, Kind::File(file)) => {
                    let size = match host::stat(memory.sys, entry.handle) {
                        Ok(stat) => stat.size,
                        Err(errno) => return Ok(Err(errno)),
                    };
                    let left = size.saturating_sub(file.position);
                    Sub::Ready {
                        nbytes: 1,
                        flags: if left == 0 { HANGUP } else { 0 },
                    }
                }
                (FD_WRITE, Kind::Stdout | Kind::Stderr | Kind::File(_)) => Sub::Ready {
                    nbytes: 1,
                    flags: 0,
                },
                _ => return Ok(Err(BADF)),
            }
        }
        _ => return Ok(Err(INVAL)),
    };
    Ok(Ok(Decoded { userdata, tag, sub }))
}

/// The userdata and timeout of subscription 0 if it is a relative clock:
/// wasmtime reads it whole (a bad tag, clock id or flag is INVAL) and then
/// sleeps, whatever the clock.
fn relative_clock<S: System>(
    memory: &mut Memory<'_, S>,
    subs: u64,
) -> Result<Result<Option<(u64, u64)>, u16>, OutOfBounds> {
    let userdata = memory.read_u64(subs)?;
    let mut tag = [0u8; 1];
    memory.read(subs + 8, &mut tag)?;
    if tag[0] != CLOCK {
        return Ok(Ok(None));
    }
    let id = memory.read_u32(subs + 16)?;
    let timeout = memory.read_u64(subs + 24)?;
    memory.read_u64(subs + 32)?; // precision: unused, as in wasmtime
    let flags = memory.read_u16(subs + 40)?;
    if id > 3 || flags & !ABSTIME != 0 {
        return Ok(Err(INVAL));
    }
    Ok(Ok((flags & ABSTIME == 0).then_some((userdata, timeout))))
}

/// wasmtime's sleep for one relative clock: `timeout` ns from `start`,
/// then one clock event with `nbytes` 1.
fn sleep<S: System>(
    memory: &mut Memory<'_, S>,
    start: u64,
    userdata: u64,
    timeout: u64,
    events: u64,
    result: u64,
) -> Answer {
    let deadline = start.saturating_add(timeout);
    loop {
        let monotonic = match now(memory.sys) {
            Ok((monotonic, _)) => monotonic,
            Err(errno) => return Ok(errno),
        };
        if monotonic >= deadline && deadline != u64::MAX {
            break;
        }
        let left = if deadline == u64::MAX {
            u64::MAX - 1
        } else {
            deadline - monotonic
        };
        if let Err(errno) = host::wait(memory.sys, &[], left, &mut []) {
            return Ok(errno);
        }
    }
    let mut event = [0u8; EVENT as usize];
    event[0..8].copy_from_slice(&userdata.to_le_bytes());
    event[10] = CLOCK;
    event[16..24].copy_from_slice(&1u64.to_le_bytes());
    memory.check_fields(events, fields::EVENT)?;
    memory.write(events, &event)?;
    memory.write_u32_result(result, 1)?;
    Ok(0)
}

/// `poll_oneoff(in, out, nsubscriptions, result)`.
pub(crate) fn poll_oneoff<S: System>(
    fds: &mut FdTable,
    memory: &mut Memory<'_, S>,
    subs: u64,
    events: u64,
    count: u64,
    result: u64,
) -> Answer {
    let count = count & 0xffff_ffff;
    if count == 0 {
        return Ok(INVAL);
    }
    if count > 1 && count * (SUBSCRIPTION + EVENT) > wasc_wire::wasi::CALL_FUEL {
        return Ok(super::errno::NOMEM);
    }
    let start = match now(memory.sys) {
        Ok(now) => now,
        Err(errno) => return Ok(errno),
    };
    if count == 1 {
        match relative_clock(memory, subs)? {
            Ok(Some((userdata, timeout))) => {
                return sleep(memory, start.0, userdata, timeout, events, result)
            }
            Ok(None) => {}
            Err(errno) => return Ok(errno),
        }
    }
    // Decode everything first: errors and traps come before any wait.
    let mut earliest = u64::MAX;
    let mut handles = [(0u32, 0u32); MAX_WAIT];
    let mut nhandles = 0;
    let mut ready_now = false;
    let mut too_many = false;
    for i in 0..count {
        let decoded = match decode(fds, memory, subs, i, start)? {
            Ok(decoded) => decoded,
            Err(errno) => return Ok(errno),
        };
        match decoded.sub {
            Sub::Clock { deadline } => earliest = earliest.min(deadline),
            Sub::Ready { .. } => ready_now = true,
            Sub::Host {
                handle, interest, ..
            } => {
                let key = (handle, interest);
                if !handles[..nhandles].contains(&key) {
                    if nhandles == MAX_WAIT {
                        too_many = true;
                    } else {
                        handles[nhandles] = key;
                        nhandles += 1;
                    }
                }
            }
        }
    }
    memory.check(events, 8)?;
    // One wait names at most MAX_WAIT handles; a subscription left out
    // would never be reported, so the call fails instead.
    if too_many {
        return Ok(super::errno::NOMEM);
    }
    // Wait until something is ready.
    let mut readiness = [Readiness::default(); MAX_WAIT];
    loop {
        let monotonic = match now(memory.sys) {
            Ok((monotonic, _)) => monotonic,
            Err(errno) => return Ok(errno),
        };
        let expired = earliest <= monotonic;
        let timeout = if ready_now || expired {
            0
        } else if earliest == u64::MAX {
            // Forever; with no handle, as long as a wait may last (the
            // executor refuses to wait on nothing for ever).
            u64::MAX - u64::from(nhandles == 0)
        } else {
            earliest - monotonic
        };
        if nhandles == 0 && timeout == 0 {
            break;
        }
        if let Err(errno) = host::wait(memory.sys, &handles[..nhandles], timeout, &mut readiness) {
            return Ok(errno);
        }
        let any = readiness[..nhandles]
            .iter()
            .any(|r| r.ready & wait::READY != 0);
        if ready_now || any || timeout == 0 {
            break;
        }
    }
    // One event per ready subscription, in order.
    let monotonic = match now(memory.sys) {
        Ok((monotonic, _)) => monotonic,
        Err(errno) => return Ok(errno),
    };
    let mut written = 0u64;
    for i in 0..count {
        let decoded = match decode(fds, memory, subs, i, start)? {
            Ok(decoded) => decoded,
            Err(errno) => return Ok(errno),
        };
        let (nbytes, flags, error) = match decoded.sub {
            Sub::Clock { deadline } if deadline <= monotonic => (0, 0, 0),
            Sub::Clock { .. } => continue,
            Sub::Ready { nbytes, flags } => (nbytes, flags, 0),
            Sub::Host {
                handle,
                interest,
                socket,
            } => {
                let index = handles[..nhandles]
                    .iter()
                    .position(|&key| key == (handle, interest));
                let Some(got) = index.map(|i| readiness[i]) else {
                    continue;
                };
                if got.ready & wait::READY == 0 {
                    continue;
                }
                match (socket, interest) {
                    (false, _) => (1, 0, 0),
                    _ if got.ready & wait::ERROR != 0 => (0, 0, IO),
                    (true, wait::READ) => (
                        u64::from(got.nbytes.max(1)),
                        if got.ready & wait::HANGUP != 0 {
                            HANGUP
                        } else {
                            0
                        },
                        0,
                    ),
                    (true, _) => (
                        0,
                        if got.ready & wait::HANGUP != 0 {
                            HANGUP
                        } else {
                            0
                        },
                        0,
                    ),
                }
            }
        };
        let mut event = [0u8; EVENT as usize];
        event[0..8].copy_from_slice(&decoded.userdata.to_le_bytes());
        event[8..10].copy_from_slice(&error.to_le_bytes());
        event[10] = decoded.tag;
        event[16..24].copy_from_slice(&nbytes.to_le_bytes());
        event[24..26].copy_from_slice(&flags.to_le_bytes());
        let at = events + written * EVENT;
        memory.check_fields(at, fields::EVENT)?;
        memory.write(at, &event)?;
        written += 1;
    }
    memory.write_u32_result(result, written as u32)?;
    Ok(0)
}
