//! Resource limits of one run (`--max-memory`, `--timeout`) and how they
//! are enforced: a wasmtime `StoreLimits` for linear memory, and for time
//! epoch interruption armed by a process timer. The timer's first signal
//! makes the module trap at its next epoch check; if the run has still not
//! ended a grace period later (a blocking read, a silent sysd), the second
//! signal ends the process with [`TIMEOUT_EXIT_STATUS`]. Either way `wasc`
//! never runs past its deadline by more than the grace period.

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::time::Duration;

use wasmtime::{Engine, StoreLimits, StoreLimitsBuilder};

/// The exit status of a run stopped by `--timeout` (as GNU `timeout`).
pub const TIMEOUT_EXIT_STATUS: u8 = 124;

/// How long after the deadline a run that did not stop is ended hard.
pub const GRACE: Duration = Duration::from_secs(1);

/// Limits of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes of linear memory the module may have; `memory.grow`
    /// past it fails (returns -1), as the Wasm spec allows.
    pub max_memory: u64,
    /// Wall-clock time from start to the end of `_start`; `None`: no limit.
    pub timeout: Option<Duration>,
    /// The most descriptors (stdio and preopens included) the module may
    /// hold open in sysd; past it opens fail with `MFILE`. VM isolation
    /// only: wasmtime-wasi has no such limit.
    pub max_fds: u32,
}

/// The most descriptors sysd's table holds.
pub const MAX_FDS: u32 = 256;

impl Default for Limits {
    /// 1 GiB of linear memory; 15 minutes, the common serverless cap.
    fn default() -> Self {
        Self {
            max_memory: 1 << 30,
            timeout: Some(Duration::from_secs(15 * 60)),
            max_fds: MAX_FDS,
        }
    }
}

impl Limits {
    pub(crate) fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(usize::try_from(self.max_memory).unwrap_or(usize::MAX))
            .build()
    }
}

/// Puts a new store under its data's limits: memory through the limiter,
/// time through the epoch (which moves only when a `Deadline` fires).
pub(crate) fn apply<T: HasLimits>(store: &mut wasmtime::Store<T>) {
    store.limiter(|data| data.limits());
    store.set_epoch_deadline(1);
    store.epoch_deadline_trap();
}

/// Store data that carries the run's `StoreLimits`.
pub(crate) trait HasLimits {
    fn limits(&mut self) -> &mut StoreLimits;
}

/// Parses `--max-fds`: 4 (stdio and one preopen) to [`MAX_FDS`].
pub fn parse_max_fds(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of descriptors"))?;
    if !(4..=MAX_FDS).contains(&n) {
        return Err(format!("must be between 4 and {MAX_FDS}"));
    }
    Ok(n)
}

/// Parses a byte size: a number with an optional `K`, `M` or `G` suffix
/// (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let shift = match unit {
        "" => 0,
        "K" | "k" | "KiB" => 10,
        "M" | "m" | "MiB" => 20,
        "G" | "g" | "GiB" => 30,
        other => return Err(format!("unknown size unit `{other}` (expected K, M or G)")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 512M)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A `--timeout` value: a duration, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

impl std::str::FromStr for Timeout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_timeout(s).map(Timeout)
    }
}

/// Parses a duration: a number with a unit `ms`, `s`, `m` or `h`; `0` (or
/// `none`) means no limit.
pub fn parse_timeout(s: &str) -> Result<Option<Duration>, String> {
    if s == "0" || s == "none" {
        return Ok(None);
    }
    let split = s
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(s.len(), |(i, _)| i);
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 30s)"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "" => return Err(format!("`{s}` needs a unit: ms, s, m or h")),
        other => {
            return Err(format!(
                "unknown time unit `{other}` (expected ms, s, m or h)"
            ))
        }
    };
    Ok((!d.is_zero()).then_some(d))
}

/// The engine whose epoch the timer advances (leaked: one per run, and the
/// handler may read it at any time).
static ENGINE: AtomicPtr<Engine> = AtomicPtr::new(std::ptr::null_mut());
/// How many times the timer fired.
static FIRED: AtomicU32 = AtomicU32::new(0);

/// An armed deadline; dropping it disarms the timer.
#[derive(Debug)]
pub(crate) struct Deadline {
    armed: bool,
}

impl Deadline {
    /// Arms the timer for `timeout` (nothing if `None`). Call it before the
    /// thread is confined: it installs a signal handler.
    pub(crate) fn arm(engine: &Engine, timeout: Option<Duration>) -> Result<Self, crate::Error> {
        Self::try_arm(engine, timeout).map_err(crate::Error::Timer)
    }

    fn try_arm(engine: &Engine, timeout: Option<Duration>) -> std::io::Result<Self> {
        let Some(timeout) = timeout else {
            return Ok(Self { armed: false });
        };
        let engine = Box::into_raw(Box::new(engine.clone()));
        ENGINE.store(engine, Ordering::SeqCst);
        FIRED.store(0, Ordering::SeqCst);
        // SAFETY: an all-zero sigaction is a valid value to fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_alarm as *const () as usize;
        // No SA_RESTART: blocking calls return EINTR and re-check.
        action.sa_flags = 0;
        // SAFETY: `action` is valid; the handler is async-signal-safe
        // (atomics, write, _exit).
        if unsafe { libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let timer = libc::itimerval {
            it_value: timeval(timeout),
            it_interval: timeval(GRACE),
        };
        // SAFETY: `timer` is a valid itimerval; the old value is not read.
        if unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self { armed: true })
    }

    /// Whether the deadline passed.
    pub(crate) fn fired(&self) -> bool {
        self.armed && FIRED.load(Ordering::SeqCst) > 0
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if self.armed {
            let off = libc::itimerval {
                it_value: timeval(Duration::ZERO),
                it_interval: timeval(Duration::ZERO),
            };
            // SAFETY: as in `arm`.
            unsafe { libc::setitimer(libc::ITIMER_REAL, &off, std::ptr::null_mut()) };
        }
    }
}

fn timeval(d: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_usec: i64::from(d.subsec_micros()),
    }
}

extern "C" fn on_alarm(_: libc::c_int) {
    if FIRED.fetch_add(1, Ordering::SeqCst) == 0 {
        let engine = ENGINE.load(Ordering::SeqCst);
        if !engine.is_null() {
            // SAFETY: the engine was leaked in `arm` and is never freed;
            // incrementing the epoch is one atomic add.
            unsafe { (*engine).increment_epoch() };
        }
        return;
    }
    const MESSAGE: &[u8] = b"wasc: the function did not stop at its --timeout; ending it\n";
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
        libc::_exit(i32::from(TIMEOUT_EXIT_STATUS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("1T").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn timeouts_parse_with_units_and_zero_is_none() {
        assert_eq!(parse_timeout("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(parse_timeout("30s"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(parse_timeout("15m"), Ok(Some(Duration::from_secs(900))));
        assert_eq!(parse_timeout("2h"), Ok(Some(Duration::from_secs(7200))));
        assert_eq!(parse_timeout("0"), Ok(None));
        assert_eq!(parse_timeout("none"), Ok(None));
        assert!(parse_timeout("10").is_err(), "a unit is required");
        assert!(parse_timeout("10d").is_err());
    }
}
