//! The WaSC runtime: loads a function's Wasm module and runs instances of it
//! with WASI in the isolation mode the host chose.
//!
//! Untrusted input: the module bytes (validated by wasmtime) and, once it
//! runs, everything the module does.
//!
//! The pipeline reads like the design: a [`Runtime`] made from a
//! [`HostConfig`] (isolation, transport, KVM, pooling) compiles and links a
//! [`FunctionModule`] once; each [`InstanceConfig`] (argv, env, grants, its
//! own stdio, limits) makes an [`Instance`], whose [`Instance::run`] ends in
//! an [`Outcome`]. `wasc run` ([`run`]) is one instance in a confined
//! process; `wasc bench` and servers make many, from many threads.

mod config;
mod deadline;
mod error;
mod host;
mod inprocess;
mod instance;
mod limits;
mod module;
mod outcome;
mod vm;

pub use config::{DirMapping, EnvVar, Isolation, RunConfig, TcpListen, TmpfsMount, Transport};
pub use deadline::{GRACE, TICK, TIMEOUT_EXIT_STATUS};
pub use error::Error;
pub use host::{
    confine_worker, engine_config, FunctionModule, HostConfig, KvmDevice, Runtime, VmSource,
    POLL_SPIN_LIMIT, POLL_SPIN_LIMIT_SERVING,
};
pub use instance::{open_dir, Instance, InstanceConfig, Stdio};
pub use limits::{parse_max_fds, parse_size, parse_timeout, Limits, Timeout, MAX_FDS};
pub use outcome::{Outcome, TRAP_EXIT_STATUS};

/// Runs the module described by `config` to completion on this thread, as
/// `wasc run` does: one instance in this process, a fresh VM, and — with VM
/// isolation — every thread of the process confined before the module's
/// code runs, with a process timer that ends the process [`GRACE`] after
/// the deadline if the module is blocked where no epoch check reaches it.
///
/// Errors are problems found before the module's code runs (unreadable or
/// invalid module, bad `--dir`, unavailable isolation); everything that
/// happens once it is instantiated is an [`Outcome`].
pub fn run(config: &RunConfig) -> Result<Outcome, Error> {
    let (host, instance_config) = config.split()?;
    run_one(host, instance_config, &config.module)
}

/// [`run`] for a caller that builds the two halves itself: the containerd
/// shim's function process, whose argv comes from the container spec.
pub fn run_one(
    host: HostConfig,
    instance_config: InstanceConfig,
    module: &std::path::Path,
) -> Result<Outcome, Error> {
    let transport = host.transport;
    let isolation = host.isolation;
    let runtime = Runtime::new(host)?;
    let module = runtime.compile_file(module)?;
    let timeout = instance_config.limits.timeout;
    let mut instance = runtime.instance(&module, instance_config)?;
    let _sweeper = match (&instance.kind, timeout) {
        (instance::Kind::InProcess(instance), Some(timeout)) => {
            Some(inprocess::Sweeper::start(timeout, instance.scratch_dirs()))
        }
        _ => None,
    };
    let _backstop = deadline::Backstop::arm(timeout)?;
    if isolation == Isolation::Vm {
        // From here on the module's code runs: confine this thread (the
        // vCPU and ticker threads confined themselves when they started).
        vm::VmHost::confine_process(transport, runtime.has_ticker())?;
    }
    let outcome = instance.call_start();
    instance.unmap()?;
    Ok(outcome)
}
