//! The WaSC runtime: loads a function's Wasm module and runs it with WASI in
//! the isolation mode the user chose.
//!
//! Runs on the calling thread. Untrusted input: the module bytes (validated by
//! wasmtime) and, once it runs, everything the module does.
//!
//! The pipeline reads like the design: [`RunConfig`] → [`load_module`] →
//! isolation-specific linker and store → instantiate → call `_start` →
//! [`Outcome`].

mod config;
mod error;
mod inprocess;
mod limits;
mod module;
mod vm;

pub use config::{DirMapping, EnvVar, Isolation, RunConfig, TcpListen, TmpfsMount, Transport};
pub use error::Error;
pub use inprocess::{InProcessHost, InProcessInstance};
pub use limits::{
    parse_max_fds, parse_size, parse_timeout, Limits, Timeout, GRACE, MAX_FDS, TIMEOUT_EXIT_STATUS,
};
pub use module::load_module;
pub use vm::{VmHost, VmInstance, VmSource};

/// How a function run ended, mirroring what `wasmtime run` distinguishes.
#[derive(Debug)]
pub enum Outcome {
    /// `_start` returned (status 0) or the module called `proc_exit(status)`.
    Exited(i32),
    /// Wasm code trapped (`unreachable`, out-of-bounds access, a host function
    /// that traps on bad pointers, ...). The error carries wasmtime's
    /// backtrace and the same context `wasmtime run` adds.
    Trapped(wasmtime::Error),
    /// A host function failed with an error that is not a trap, such as
    /// `proc_exit` with a status outside `[0, 126)`.
    Failed(wasmtime::Error),
    /// The run passed its `--timeout` and was interrupted.
    TimedOut(std::time::Duration),
}

/// Instantiates `module`, calls its `_start`, and sorts out how that ended:
/// the last steps of both isolation modes.
pub(crate) fn instantiate_and_start<T: limits::HasLimits + 'static>(
    config: &RunConfig,
    linker: &wasmtime::Linker<T>,
    store: &mut wasmtime::Store<T>,
    module: &wasmtime::Module,
    deadline: &limits::Deadline,
) -> Result<Outcome, Error> {
    let instantiate = |source| Error::Instantiate {
        path: config.module.clone(),
        source,
    };
    let instance = linker
        .instantiate(&mut *store, module)
        .map_err(instantiate)?;
    let start = instance
        .get_typed_func::<(), ()>(&mut *store, "_start")
        .map_err(instantiate)?;
    let result = start.call(&mut *store, ());
    if deadline.fired() {
        if let Err(error) = &result {
            if error.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
                if let Some(timeout) = config.limits.timeout {
                    return Ok(Outcome::TimedOut(timeout));
                }
            }
        }
    }
    Ok(classify(config, result))
}

/// Runs the module described by `config` to completion on this thread.
///
/// Errors are problems found before the module's code runs (unreadable or
/// invalid module, bad `--dir`, unavailable isolation); everything that happens
/// once `_start` is called is an [`Outcome`].
/// wasmtime's pooling allocator as benchmarks use it: room for 1,100
/// instances with one memory and one table each.
pub fn pooling() -> wasmtime::InstanceAllocationStrategy {
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_memories(1_100)
        .total_tables(1_100)
        .total_core_instances(1_100)
        .max_memory_size(1 << 30);
    wasmtime::InstanceAllocationStrategy::Pooling(pool)
}

pub fn run(config: &RunConfig) -> Result<Outcome, Error> {
    match config.isolation {
        Isolation::None => inprocess::run(config),
        Isolation::Vm => vm::run(config),
    }
}

/// Sorts the end of `_start` into the cases `wasmtime run` distinguishes, and
/// adds the context it prints on a trap.
pub(crate) fn classify(config: &RunConfig, result: wasmtime::Result<()>) -> Outcome {
    let error = match result {
        Ok(()) => return Outcome::Exited(0),
        Err(error) => error,
    };
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Outcome::Exited(exit.0);
    }
    let is_trap = error.is::<wasmtime::Trap>();
    let error = error
        .context("failed to invoke command default")
        .context(format!(
            "failed to run main module `{}`",
            config.module.display()
        ));
    if is_trap {
        Outcome::Trapped(error)
    } else {
        Outcome::Failed(error)
    }
}
