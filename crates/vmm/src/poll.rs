//! The poll transport: a vCPU thread keeps sysd running; sysd spins on the
//! call page and parks (one exit) after an idle spell; the host wakes a
//! parked sysd by letting the thread re-enter `KVM_RUN`. A warm call is a
//! store and a spin on shared memory, with no VM exit.
//!
//! The thread lives as long as its VM, across pooled instances: between
//! instances the host *holds* the vCPU ([`PollThread::hold`]) — sysd is
//! asked to park at once, and the thread hands the vCPU over and sleeps —
//! resets it on its own thread, and *releases* it to the thread when the
//! next instance calls ([`PollThread::release`]) — or earlier, for a sysd
//! the reset left pristine (`Vm::start_early`). The hold can be asked for
//! as soon as an instance ends ([`PollThread::ask_hold`]) and taken later,
//! so sysd parks while the host answers the request. So an instance costs no
//! thread start, no seccomp install and no signal, and `KVM_RUN` always
//! comes from one thread.
//!
//! Threads: the vCPU thread created here, and the function thread that calls
//! [`PollThread::wait`]. sysd is untrusted: the function thread stops
//! waiting if the vCPU thread reports a failure, and neither holding nor
//! stopping depends on sysd's cooperation (a signal kicks the thread out of
//! `KVM_RUN`).

use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{fence, AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvm_ioctls::VcpuFd;

use crate::ThreadSetup;
use wasc_wire::{Park, Response};

use crate::affinity::{current_cpu, Apart};
use crate::call::CallPageRef;
use crate::memory::GuestRam;
use crate::vcpu::{self, Yielded};

/// How long the function thread spins on the response before it starts
/// yielding its CPU between checks.
const HOST_SPIN: Duration = Duration::from_micros(20);

/// How long a hold waits for sysd to park by itself before kicking the
/// thread out of `KVM_RUN`, and then between kicks.
const HOLD_PATIENCE: Duration = Duration::from_millis(1);
/// How long of that a hold spins before it sleeps.
const HOLD_SPIN: Duration = Duration::from_micros(150);
const KICK_INTERVAL: Duration = Duration::from_micros(100);

/// What the two threads tell each other, under one lock.
#[derive(Debug, Default)]
struct Handoff {
    /// Sticky wake-up for a parked sysd.
    wake: bool,
    /// The host wants the vCPU: the thread hands it over in `slot` at its
    /// next return from `KVM_RUN`, then sleeps until it is put back.
    hold: bool,
    stop: bool,
    /// The vCPU while the host holds it.
    slot: Option<VcpuFd>,
}

#[derive(Debug)]
struct Shared {
    control: Mutex<Handoff>,
    changed: Condvar,
    /// Set with `Handoff::slot` when the thread hands the vCPU over: the
    /// host spins on it before it sleeps (sysd parks within microseconds,
    /// and waking a sleeping thread on another CPU costs tens of them on a
    /// nested host).
    handed: AtomicBool,
    dead: AtomicBool,
    error: Mutex<Option<vcpu::Error>>,
    /// The CPU the host's thread ran on when it last released or woke the
    /// vCPU thread (-1: not known): the vCPU thread keeps off it.
    host_cpu: AtomicI32,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            control: Mutex::default(),
            changed: Condvar::default(),
            handed: AtomicBool::default(),
            dead: AtomicBool::default(),
            error: Mutex::default(),
            host_cpu: AtomicI32::new(-1),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Handoff> {
        lock(&self.control)
    }

    fn update(&self, change: impl FnOnce(&mut Handoff)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, Handoff>) -> MutexGuard<'a, Handoff> {
        self.changed
            .wait(guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A vCPU thread.
#[derive(Debug)]
pub(crate) struct PollThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Option<VcpuFd>>>,
    ram: Arc<GuestRam>,
    /// The host holds the vCPU: the thread is not in `KVM_RUN`, and stops
    /// when told, with no kick (a thread whose policy forbids signals may
    /// drop a held VM).
    held: bool,
    /// When the host asked for the vCPU ([`Self::ask_hold`]), if it has
    /// and has not got it yet.
    asked: Option<Instant>,
}

impl PollThread {
    /// Starts the vCPU thread; it runs `setup` (if any) before anything
    /// else and reports how that went before it runs sysd.
    pub(crate) fn start(
        vcpu: VcpuFd,
        ram: Arc<GuestRam>,
        setup: Option<ThreadSetup>,
    ) -> Result<Self, crate::Error> {
        install_kick_handler();
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("wasc-vcpu".into())
            .spawn({
                let (shared, ram) = (shared.clone(), ram.clone());
                move || {
                    let apart = Apart::new();
                    let ready = setup.map_or(Ok(()), |setup| setup());
                    let failed = ready.is_err();
                    // The starter waits for this; it cannot be gone.
                    let _ = ready_tx.send(ready);
                    if failed {
                        return Some(vcpu);
                    }
                    vcpu_loop(vcpu, &ram, &shared, apart)
                }
            })
            .map_err(crate::Error::SpawnVcpuThread)?;
        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err("the vCPU thread ended during setup".into()));
        if let Err(e) = ready {
            let _ = thread.join();
            return Err(crate::Error::VcpuThreadSetup(e));
        }
        Ok(Self {
            shared,
            thread: Some(thread),
            ram,
            held: false,
            asked: None,
        })
    }

    /// After the host published something (a request or an op result):
    /// wakes sysd if it parked, then waits until sysd publishes a response
    /// with a ticket other than `previous`, or the vCPU thread fails.
    pub(crate) fn wait(&self, previous: u64) -> Result<Response, vcpu::Error> {
        let page = CallPageRef::new(&self.ram)?;
        // Pairs with sysd's fence between announcing `Parked` and re-reading
        // what it waits for: one side sees the other's store.
        fence(Ordering::SeqCst);
        if page.park() == Park::Parked as u32 {
            self.shared.host_cpu.store(current_cpu(), Ordering::Relaxed);
            self.shared.update(|control| control.wake = true);
        }
        let spinning = Instant::now();
        let mut checks = 0u32;
        loop {
            if page.response_ticket() != previous {
                fence(Ordering::Acquire);
                return Ok(page.read_response());
            }
            if self.shared.dead.load(Ordering::Acquire) {
                return Err(lock(&self.shared.error)
                    .take()
                    .unwrap_or_else(|| vcpu::Error::Unexpected("the vCPU thread stopped".into())));
            }
            checks = checks.wrapping_add(1);
            // Read the clock every 64 checks only: it costs more than one.
            if !checks.is_multiple_of(64) || spinning.elapsed() < HOST_SPIN {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Asks for the vCPU without waiting for it: sysd is told to park now,
    /// and the thread to hand the vCPU over when it does. [`Self::hold`]
    /// takes it; until then sysd may still be running.
    pub(crate) fn ask_hold(&mut self) {
        if self.asked.is_some() {
            return;
        }
        if let Ok(page) = CallPageRef::new(&self.ram) {
            page.write_poll_control(0);
        }
        self.asked = Some(Instant::now());
        self.shared.update(|control| control.hold = true);
    }

    /// Takes the vCPU from the thread: asks sysd to park now (unless
    /// [`Self::ask_hold`] did), and kicks the thread out of `KVM_RUN` if
    /// sysd has not parked [`HOLD_PATIENCE`] after it was asked. The thread
    /// sleeps until [`Self::release`]. Returns the vCPU even if the thread
    /// failed (its error is [`Self::wait`]'s); `None` only if the thread
    /// ended without it.
    pub(crate) fn hold(&mut self) -> Option<VcpuFd> {
        self.ask_hold();
        let asked = self.asked.take().unwrap_or_else(Instant::now);
        // Spin only in the first moments after the request: a hold asked
        // long ago finds the vCPU handed over or sleeps.
        while !self.shared.handed.load(Ordering::Acquire) && asked.elapsed() < HOLD_SPIN {
            std::hint::spin_loop();
        }
        let mut control = self.shared.lock();
        loop {
            if let Some(vcpu) = control.slot.take() {
                self.shared.handed.store(false, Ordering::Relaxed);
                self.held = true;
                return Some(vcpu);
            }
            let finished = self.thread.as_ref().is_none_or(|t| t.is_finished());
            if finished {
                return None;
            }
            let patience = HOLD_PATIENCE.saturating_sub(asked.elapsed());
            let timeout = if patience.is_zero() {
                KICK_INTERVAL
            } else {
                patience
            };
            control = self
                .shared
                .changed
                .wait_timeout(control, timeout)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            if control.slot.is_none() && asked.elapsed() >= HOLD_PATIENCE {
                self.kick();
            }
        }
    }

    /// Gives a held vCPU back to the thread, which runs sysd again. sysd
    /// does not run while held, so the host may say it runs: the first
    /// [`Self::wait`] then sends no redundant wake-up.
    pub(crate) fn release(&mut self, vcpu: VcpuFd) {
        set_running(&self.ram);
        self.shared.host_cpu.store(current_cpu(), Ordering::Relaxed);
        self.held = false;
        self.shared.update(|control| {
            control.slot = Some(vcpu);
            control.hold = false;
        });
    }

    /// Stops the thread and hands back the vCPU if it held it.
    pub(crate) fn stop(mut self) -> Option<VcpuFd> {
        self.halt()
    }

    fn halt(&mut self) -> Option<VcpuFd> {
        let thread = self.thread.take()?;
        self.shared.update(|control| control.stop = true);
        // A sysd that is spinning never exits by itself: interrupt KVM_RUN.
        // Repeat, since a kick that lands just before KVM_RUN is lost.
        while !self.held && !thread.is_finished() {
            // SAFETY: the thread has not been joined, so its pthread_t is
            // valid; the signal's handler does nothing.
            unsafe { libc::pthread_kill(thread.as_pthread_t(), kick_signal()) };
            std::thread::sleep(Duration::from_micros(50));
        }
        thread.join().ok().flatten()
    }

    fn kick(&self) {
        if let Some(thread) = &self.thread {
            if !thread.is_finished() {
                // SAFETY: the thread has not been joined (it is joined only
                // in `halt`, which takes it), so its pthread_t is valid.
                unsafe { libc::pthread_kill(thread.as_pthread_t(), kick_signal()) };
            }
        }
    }
}

impl Drop for PollThread {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The vCPU thread: runs sysd; while sysd is parked sleeps until woken;
/// hands the vCPU over when the host holds it. Returns the vCPU if it has
/// it when told to stop.
fn vcpu_loop(mut vcpu: VcpuFd, ram: &GuestRam, shared: &Shared, apart: Apart) -> Option<VcpuFd> {
    loop {
        {
            let mut control = shared.lock();
            if control.stop {
                return Some(vcpu);
            }
            if control.hold {
                control.slot = Some(vcpu);
                shared.handed.store(true, Ordering::Release);
                shared.changed.notify_all();
                vcpu = loop {
                    if control.stop {
                        return control.slot.take();
                    }
                    if !control.hold {
                        if let Some(vcpu) = control.slot.take() {
                            break vcpu;
                        }
                    }
                    control = shared.wait(control);
                };
                control.wake = false;
                drop(control);
                apart.keep_off(shared.host_cpu.load(Ordering::Relaxed));
            }
        }
        match vcpu::run_once(&mut vcpu, ram) {
            Ok(Yielded::Interrupted) => {}
            Ok(Yielded::Yield) => {
                // sysd parked: sleep until a request, a hold or a stop.
                let mut control = shared.lock();
                while !control.wake && !control.stop && !control.hold {
                    control = shared.wait(control);
                }
                let woken = std::mem::take(&mut control.wake);
                drop(control);
                if woken {
                    apart.keep_off(shared.host_cpu.load(Ordering::Relaxed));
                    set_running(ram);
                }
            }
            Err(error) => {
                *lock(&shared.error) = Some(error);
                shared.dead.store(true, Ordering::Release);
                // The host may be waiting to hold it.
                shared.update(|control| control.slot = Some(vcpu));
                shared.handed.store(true, Ordering::Release);
                return None;
            }
        }
    }
}

fn set_running(ram: &GuestRam) {
    if let Ok(page) = CallPageRef::new(ram) {
        page.set_park(Park::Running);
    }
}

/// The signal that interrupts `KVM_RUN`: its handler does nothing, and it is
/// installed without `SA_RESTART` so the ioctl returns `EINTR`.
fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN()
}

extern "C" fn ignore_kick(_: libc::c_int) {}

/// Installs the kick's handler, once per process. The poll transport does
/// it when its first vCPU thread starts; a caller whose threads confine
/// themselves first does it before.
pub fn install_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid starting point; the handler
        // is async-signal-safe (it does nothing) and stays valid forever.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = ignore_kick as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(kick_signal(), &action, std::ptr::null_mut());
        }
    });
}
