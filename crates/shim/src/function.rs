//! The function process: one container's module, run as `wasc run` runs
//! one — a fresh VM, WASI in sysd, every thread confined before the
//! module's code runs — with what the container was given: its root file
//! system at `/`, its environment and argv from the spec, its stdio, its
//! memory limit.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

use wasc_runtime::{
    DirMapping, EnvVar, Isolation, KvmDevice, Limits, RunConfig, Transport, MAX_FDS,
};

/// What the function process needs, from the container process.
#[derive(Debug)]
pub struct Handoff {
    pub kvm: BorrowedFd<'static>,
    /// The container's memory limit, in bytes.
    pub max_memory: Option<u64>,
    /// The module file (in the container's root, or a memory file).
    pub module: PathBuf,
    /// The module's argv, `argv[0]` (the entrypoint as the spec gives it)
    /// included.
    pub argv: Vec<String>,
    /// `NAME=VALUE` entries, as the spec gives them.
    pub env: Vec<String>,
}

extern "C" fn end_on_signal(signal: libc::c_int) {
    // SAFETY: _exit is async-signal-safe; it ends every thread at once.
    unsafe { libc::_exit(128 + signal) };
}

/// Runs the function; returns the process's exit status.
pub fn run(handoff: Handoff) -> i32 {
    match run_module(handoff) {
        Ok(status) => status,
        Err(why) => {
            eprintln!("Error: {why}");
            1
        }
    }
}

fn run_module(handoff: Handoff) -> Result<i32, String> {
    crate::signals::on_ending_signals(end_on_signal)
        .map_err(|e| format!("installing signal handlers: {e}"))?;
    let kvm: OwnedFd = handoff
        .kvm
        .try_clone_to_owned()
        .map_err(|e| format!("duplicating the KVM device: {e}"))?;
    let env = handoff
        .env
        .iter()
        .map(|var| var.parse::<EnvVar>())
        .collect::<Result<Vec<_>, _>>()?;
    let defaults = Limits::default();
    let config = RunConfig {
        module: handoff.module,
        args: Vec::new(),
        env,
        dirs: vec![DirMapping {
            host: PathBuf::from("/"),
            guest: "/".to_owned(),
        }],
        isolation: Isolation::Vm,
        // Many containers per host: the sync transport keeps no second
        // core spinning per container (docs/design.md, "Serving").
        transport: Transport::Sync,
        limits: Limits {
            max_memory: handoff.max_memory.unwrap_or(defaults.max_memory),
            // A container runs until it ends or is stopped.
            timeout: None,
            max_fds: MAX_FDS,
        },
        kvm_device: KvmDevice::Open(Arc::new(kvm)),
        tmpfs: Vec::new(),
        tcplisten: Vec::new(),
    };
    let (mut host, mut instance) = config.split().map_err(|e| e.to_string())?;
    // This process was forked from runwasi's multi-threaded one: a thread
    // started here could wait forever on a lock another thread of the
    // parent held at the fork (seen: std's thread registry, under ten
    // containers at once). Compile here and start no thread at all.
    host.single_thread = true;
    instance.argv = handoff.argv;
    let outcome =
        wasc_runtime::run_one(host, instance, &config.module).map_err(|e| e.to_string())?;
    if let Some(report) = outcome.report() {
        eprintln!("{report}");
    }
    Ok(i32::from(outcome.exit_status()))
}
