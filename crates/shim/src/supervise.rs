//! From runwasi's container process to the function process.
//!
//! runwasi calls the engine inside the container's init process, which by
//! then runs a multi-threaded async runtime; WaSC confines every thread of
//! a process that runs a module and refuses to run beside threads it does
//! not know. Re-executing a binary is not possible either: the container's
//! root holds the module, not the shim's dynamic loader and libraries. So
//! the container process forks: the child — one thread, the async runtime's
//! workers gone — is the function process (`crate::function`); the parent
//! touches nothing untrusted, forwards the signals that end a container
//! and exits with the child's status, as a signal would have given it.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::function::Handoff;
use crate::signals::on_ending_signals;

/// The function process's pid, for the forwarding handlers (0 before the
/// fork, and in the child).
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(signal: libc::c_int) {
    let child = CHILD.load(Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill is async-signal-safe; `child` is our own child.
        unsafe { libc::kill(child, signal) };
    } else {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + signal) };
    }
}

/// Runs `handoff` in a forked function process and returns its status as a
/// container's (128 + signal if a signal ended it).
pub fn run(handoff: Handoff) -> Result<i32, String> {
    // Installed before the fork, so no signal is lost between the two; a
    // signal that reaches the child before it installs its own handlers
    // ends it (CHILD is 0 there).
    on_ending_signals(forward).map_err(|e| format!("installing signal handlers: {e}"))?;
    // SAFETY: fork in a multi-threaded process: the child only runs this
    // crate's function process, which allocates (glibc's allocator is
    // fork-safe) and never touches the async runtime whose threads are
    // gone; it ends with _exit and never returns here.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        let status = crate::function::run(handoff);
        // SAFETY: ends the child without running the parent's exit hooks.
        unsafe { libc::_exit(status) };
    }
    CHILD.store(pid, Ordering::Relaxed);
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; `status` is a plain out-value.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        if waited == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(format!("waiting for the function process: {error}"));
        }
    }
    if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Ok(128 + libc::WTERMSIG(status))
    } else {
        Err(format!(
            "the function process ended with wait status {status:#x}"
        ))
    }
}
