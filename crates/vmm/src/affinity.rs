//! Keeping a vCPU thread off the CPU of the host thread it answers. A
//! wake-up tends to place the woken thread on the waker's CPU; sysd then
//! spins there (it cannot yield) while the host thread it answers waits for
//! that very CPU, and every call costs a spin limit or a time slice.

/// The CPU this thread runs on, or -1.
pub(crate) fn current_cpu() -> i32 {
    // SAFETY: sched_getcpu takes no arguments and touches no memory of ours.
    unsafe { libc::sched_getcpu() }
}

/// Moves the vCPU thread off the CPU of the host thread that woke it. Only
/// the wake-up's placement is undone: the thread's affinity is its own
/// again right after the move, so the scheduler stays free to balance.
#[derive(Debug)]
pub(crate) struct Apart {
    /// The CPUs this thread may use (its affinity when it started).
    allowed: Option<libc::cpu_set_t>,
}

impl Apart {
    /// This thread's affinity, as it is now.
    pub(crate) fn new() -> Self {
        // SAFETY: a zeroed cpu_set_t is a valid empty set, and the call
        // writes at most its size.
        let allowed = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let ok = libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) == 0;
            ok.then_some(set)
        };
        Self { allowed }
    }

    /// If this thread runs on `host` (the host thread's CPU), moves it to
    /// one of its other allowed CPUs, if it has any. Whether it moved it.
    pub(crate) fn keep_off(&self, host: i32) -> bool {
        let Some(allowed) = &self.allowed else {
            return false;
        };
        if host < 0 || current_cpu() != host {
            return false;
        }
        let host = host as usize;
        let mut others = *allowed;
        // SAFETY: CPU_ISSET, CPU_CLR and CPU_COUNT read and write only the
        // set; `host` is checked against its capacity first.
        unsafe {
            if host >= libc::CPU_SETSIZE as usize || !libc::CPU_ISSET(host, &others) {
                return false;
            }
            libc::CPU_CLR(host, &mut others);
            if libc::CPU_COUNT(&others) == 0 {
                return false;
            }
        }
        // SAFETY: pid 0 is this thread; both sets are initialised. The
        // first call moves it; the second leaves it there, unbound.
        unsafe {
            if libc::sched_setaffinity(0, std::mem::size_of_val(&others), &others) != 0 {
                return false;
            }
            libc::sched_setaffinity(0, std::mem::size_of_val(allowed), allowed);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affinity() -> libc::cpu_set_t {
        // SAFETY: as in `Apart::new`.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(
                libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set),
                0
            );
            set
        }
    }

    fn cpus(set: &libc::cpu_set_t) -> Vec<usize> {
        // SAFETY: CPU_ISSET only reads the set, below its capacity.
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, set) })
            .collect()
    }

    #[test]
    fn a_thread_on_the_host_cpu_moves_off_it_and_stays_unbound() {
        std::thread::spawn(|| {
            let allowed = affinity();
            let all = cpus(&allowed);
            let first = all[0];
            // Pinned to one CPU: there, and only there, it "woke".
            // SAFETY: a zeroed set is empty; CPU_SET writes within it
            // (`first` came from a set of this size); pid 0 is this thread.
            let pinned = unsafe {
                let mut one: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(first, &mut one);
                libc::sched_setaffinity(0, std::mem::size_of_val(&one), &one)
            };
            assert_eq!(pinned, 0);
            assert_eq!(current_cpu(), first as i32);
            let apart = Apart {
                allowed: Some(allowed),
            };
            assert!(!apart.keep_off(-1), "an unknown host CPU moves nothing");
            let moved = apart.keep_off(first as i32);
            // With one CPU there is nowhere to go.
            assert_eq!(moved, all.len() > 1, "allowed CPUs: {all:?}");
            assert_eq!(cpus(&affinity()), all, "the affinity is its own again");
        })
        .join()
        .expect("the test thread");
    }
}
