//! The poll transport: a vCPU thread keeps sysd running; sysd spins on the
//! call page and parks (one exit) after an idle spell; the host wakes a
//! parked sysd by letting the thread re-enter `KVM_RUN`. A warm call is a
//! store and a spin on shared memory, with no VM exit.
//!
//! Threads: the vCPU thread created here, and the function thread that calls
//! [`PollThread::call`]. sysd is untrusted: the function thread stops
//! waiting if the vCPU thread reports a failure, and stopping never depends
//! on sysd's cooperation (a signal kicks the thread out of `KVM_RUN`).

use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::thread::JoinHandle;
use std::time::Duration;

use kvm_ioctls::VcpuFd;

use crate::ThreadSetup;
use wasc_wire::{Park, Response};

use crate::call::CallPageRef;
use crate::memory::GuestRam;
use crate::vcpu::{self, Yielded};

/// How long the function thread spins on the response before it starts
/// yielding its CPU between checks.
const HOST_SPINS: u32 = 50_000;

#[derive(Debug, Default)]
struct Shared {
    /// Sticky wake-up for a parked sysd.
    wake: Mutex<bool>,
    woken: Condvar,
    stop: AtomicBool,
    dead: AtomicBool,
    error: Mutex<Option<vcpu::Error>>,
}

impl Shared {
    fn wake(&self) {
        *lock(&self.wake) = true;
        self.woken.notify_one();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running vCPU thread.
#[derive(Debug)]
pub(crate) struct PollThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<VcpuFd>>,
    ram: Arc<GuestRam>,
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
                    let ready = setup.map_or(Ok(()), |setup| setup());
                    let failed = ready.is_err();
                    // The starter waits for this; it cannot be gone.
                    let _ = ready_tx.send(ready);
                    if failed {
                        return vcpu;
                    }
                    vcpu_loop(vcpu, &ram, &shared)
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
            self.shared.wake();
        }
        let mut spins = 0u32;
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
            if spins < HOST_SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Stops the vCPU thread and hands back the vCPU, whatever sysd does.
    pub(crate) fn stop(mut self) -> VcpuFd {
        self.halt().expect("a running PollThread has a thread")
    }

    fn halt(&mut self) -> Option<VcpuFd> {
        let thread = self.thread.take()?;
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake();
        // A sysd that is spinning never exits by itself: interrupt KVM_RUN.
        // Repeat, since a kick that lands just before KVM_RUN is lost.
        while !thread.is_finished() {
            // SAFETY: the thread has not been joined, so its pthread_t is
            // valid; the signal's handler does nothing.
            unsafe { libc::pthread_kill(thread.as_pthread_t(), kick_signal()) };
            std::thread::sleep(Duration::from_micros(50));
        }
        thread.join().ok()
    }
}

impl Drop for PollThread {
    fn drop(&mut self) {
        self.halt();
    }
}

fn vcpu_loop(mut vcpu: VcpuFd, ram: &GuestRam, shared: &Shared) -> VcpuFd {
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return vcpu;
        }
        match vcpu::run_once(&mut vcpu, ram) {
            Ok(Yielded::Interrupted) => {}
            Ok(Yielded::Yield) => {
                // sysd parked: sleep until a request or a stop.
                let mut woken = lock(&shared.wake);
                while !*woken && !shared.stop.load(Ordering::SeqCst) {
                    woken = shared.woken.wait(woken).unwrap_or_else(|p| p.into_inner());
                }
                *woken = false;
                drop(woken);
                if let Ok(page) = CallPageRef::new(ram) {
                    page.set_park(Park::Running);
                }
            }
            Err(error) => {
                *lock(&shared.error) = Some(error);
                shared.dead.store(true, Ordering::Release);
                return vcpu;
            }
        }
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
