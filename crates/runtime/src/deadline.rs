//! Time limits (`--timeout`). Each instance has its own deadline, checked
//! by its own store: one ticker thread per runtime advances the engine's
//! epoch every [`TICK`], and every store's epoch callback compares the
//! clock with its instance's deadline. One request's timeout interrupts that
//! request only.
//!
//! Epoch checks run in Wasm code. An instance blocked in the host (a read
//! from a terminal, a silent sysd) is not interrupted by them; `wasc run`
//! adds a process-wide [`Backstop`] that ends the process [`GRACE`] after
//! the deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Engine, Store, UpdateDeadline};

/// How often the ticker advances the epoch: the precision of a deadline.
pub const TICK: Duration = Duration::from_millis(5);

/// How long after the deadline a `wasc run` that did not stop is ended hard.
pub const GRACE: Duration = Duration::from_secs(1);

/// The exit status of a run stopped by `--timeout` (as GNU `timeout`).
pub const TIMEOUT_EXIT_STATUS: u8 = 124;

/// The thread advancing an engine's epoch, stopped and joined on drop. It
/// confines itself when it starts (`ThreadKind::Ticker`).
#[derive(Debug)]
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    pub(crate) fn start(engine: &Engine) -> Result<Self, crate::Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("wasc-epoch".into())
                .spawn(move || {
                    let confined = wasc_seccomp::install(wasc_seccomp::ThreadKind::Ticker)
                        .map_err(|e| e.to_string());
                    let ok = confined.is_ok();
                    let _ = ready_tx.send(confined);
                    while ok && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| crate::Error::Confine(format!("starting the epoch ticker: {e}")))?
        };
        let confined = ready_rx
            .recv()
            .unwrap_or_else(|_| Err("the epoch ticker ended at start".into()));
        let ticker = Self {
            stop,
            thread: Some(thread),
        };
        confined.map_err(crate::Error::Confine)?;
        Ok(ticker)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Puts `store` under a deadline `timeout` from now (none: never). Every
/// tick the callback looks at the clock; past the deadline the module
/// traps with [`wasmtime::Trap::Interrupt`] at its next epoch check.
pub(crate) fn arm<T: 'static>(store: &mut Store<T>, timeout: Option<Duration>) -> Option<Instant> {
    let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| match deadline {
        Some(deadline) if Instant::now() >= deadline => Err(wasmtime::Trap::Interrupt.into()),
        _ => Ok(UpdateDeadline::Continue(1)),
    });
    deadline
}

/// Whether `result` is the interruption of an instance whose `deadline`
/// has passed.
pub(crate) fn timed_out(result: &wasmtime::Result<()>, deadline: Option<Instant>) -> bool {
    let Err(error) = result else { return false };
    deadline.is_some_and(|deadline| Instant::now() >= deadline)
        && error.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt)
}

/// `wasc run`'s last resort: a process timer that ends the process with
/// [`TIMEOUT_EXIT_STATUS`] if the run is still going [`GRACE`] after its
/// deadline (it is blocked where no epoch check can reach it). Disarmed on
/// drop. Process-wide: for a process running one instance only.
#[derive(Debug)]
pub(crate) struct Backstop {
    armed: bool,
}

impl Backstop {
    /// Arms the timer (nothing if `timeout` is `None`). Call it before the
    /// thread is confined: it installs a signal handler.
    pub(crate) fn arm(timeout: Option<Duration>) -> Result<Self, crate::Error> {
        let Some(timeout) = timeout else {
            return Ok(Self { armed: false });
        };
        // SAFETY: an all-zero sigaction is a valid value to fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_alarm as *const () as usize;
        // No SA_RESTART: a blocking call returns EINTR and re-checks.
        action.sa_flags = 0;
        // SAFETY: `action` is valid; the handler is async-signal-safe
        // (write, _exit).
        if unsafe { libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut()) } != 0 {
            return Err(crate::Error::Timer(std::io::Error::last_os_error()));
        }
        let timer = libc::itimerval {
            it_value: timeval(timeout.saturating_add(GRACE)),
            it_interval: timeval(Duration::ZERO),
        };
        // SAFETY: `timer` is a valid itimerval; the old value is not read.
        if unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) } != 0 {
            return Err(crate::Error::Timer(std::io::Error::last_os_error()));
        }
        Ok(Self { armed: true })
    }
}

impl Drop for Backstop {
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

    /// Two stores of one engine, one ticker: the store whose deadline
    /// passes is interrupted, the other runs on.
    #[test]
    fn a_deadline_interrupts_its_own_store_only() {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).expect("engine");
        let module = wasmtime::Module::new(
            &engine,
            r#"(module (func (export "spin") (param i32) (result i32)
                 (loop $l (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                   (br_if $l (i32.ne (local.get 0) (i32.const 0))))
                 (i32.const 7)))"#,
        )
        .expect("module");
        let _ticker = Ticker::start(&engine).expect("ticker");
        let mut short = Store::new(&engine, ());
        let mut long = Store::new(&engine, ());
        let short_deadline = arm(&mut short, Some(Duration::from_millis(30)));
        let long_deadline = arm(&mut long, None);
        let spin = |store: &mut Store<()>, n: i32| {
            let instance = wasmtime::Instance::new(&mut *store, &module, &[]).expect("instance");
            let f = instance
                .get_typed_func::<i32, i32>(&mut *store, "spin")
                .expect("spin");
            f.call(&mut *store, n).map(drop)
        };
        // Endless (counts down from 0 through every i32): only the deadline
        // ends it.
        let result = spin(&mut short, 0);
        assert!(timed_out(&result, short_deadline), "{result:?}");
        // A long finite loop that spans many ticks finishes.
        let result = spin(&mut long, 200_000_000);
        assert!(result.is_ok(), "{result:?}");
        assert!(!timed_out(&result, long_deadline));
    }
}
