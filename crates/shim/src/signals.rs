//! The signals that end a container, and installing handlers for them.
//! A container's first process is spared signals it has no handler for, so
//! both the supervising parent and the function process install one.

/// Signals that end a container (`ctr task kill`'s default is SIGTERM).
pub const ENDING_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// Installs `handler` for each of [`ENDING_SIGNALS`].
pub fn on_ending_signals(handler: extern "C" fn(libc::c_int)) -> std::io::Result<()> {
    for signal in ENDING_SIGNALS {
        // SAFETY: a zeroed sigaction is valid; the handler only calls
        // async-signal-safe functions.
        let result = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if result != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
