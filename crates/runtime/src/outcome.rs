//! How an instance's run ended, and the exit status each ending maps to.

use std::path::Path;

/// The exit status `wasmtime run` uses for a trap on Unix: that of a process
/// killed by SIGABRT.
pub const TRAP_EXIT_STATUS: u8 = 128 + 6;

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
    /// The module could not be instantiated (its memory is over the limit,
    /// its start function trapped): `_start` never ran.
    NotStarted(crate::Error),
}

impl Outcome {
    /// The status `wasc run` exits with, as `wasmtime run` would: the
    /// module's own status, 134 for a trap, 1 for a failure or a module
    /// that could not start, and 124 (as
    /// GNU `timeout`) past the deadline.
    pub fn exit_status(&self) -> u8 {
        match self {
            // WASI statuses are `[0, 126)` (sysd and wasmtime-wasi refuse
            // others before they get here); the fallback only guards
            // against a broken invariant.
            Outcome::Exited(status) => u8::try_from(*status).unwrap_or(1),
            Outcome::Trapped(_) => TRAP_EXIT_STATUS,
            Outcome::Failed(_) | Outcome::NotStarted(_) => 1,
            Outcome::TimedOut(_) => crate::deadline::TIMEOUT_EXIT_STATUS,
        }
    }

    /// What `wasc run` prints on stderr for this outcome (`None` for an
    /// exit): for a trap, the same report as `wasmtime run` — the cause
    /// chain with the Wasm backtrace; for a problem found before the
    /// module's code ran, one line, as other start-up errors.
    pub fn report(&self) -> Option<String> {
        match self {
            Outcome::Exited(_) => None,
            Outcome::Trapped(error) | Outcome::Failed(error) => Some(format!("Error: {error:?}")),
            Outcome::TimedOut(limit) => Some(format!(
                "Error: the function did not finish within its --timeout of {limit:?}"
            )),
            Outcome::NotStarted(error) => Some(format!("Error: {error}")),
        }
    }

    /// Whether the module exited with status 0.
    pub fn success(&self) -> bool {
        matches!(self, Outcome::Exited(0))
    }
}

/// Sorts the end of `_start` into the cases `wasmtime run` distinguishes, and
/// adds the context it prints on a trap.
pub(crate) fn classify(module: &Path, result: wasmtime::Result<()>) -> Outcome {
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
        .context(format!("failed to run main module `{}`", module.display()));
    if is_trap {
        Outcome::Trapped(error)
    } else {
        Outcome::Failed(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_are_wasmtime_runs() {
        let trap = || wasmtime::Error::from(wasmtime::Trap::UnreachableCodeReached);
        assert_eq!(Outcome::Exited(0).exit_status(), 0);
        assert_eq!(Outcome::Exited(3).exit_status(), 3);
        assert_eq!(Outcome::Exited(-1).exit_status(), 1);
        assert_eq!(Outcome::Trapped(trap()).exit_status(), 134);
        assert_eq!(Outcome::Failed(trap()).exit_status(), 1);
        assert_eq!(
            Outcome::TimedOut(std::time::Duration::from_secs(1)).exit_status(),
            124
        );
    }

    #[test]
    fn proc_exit_is_an_exit_and_a_trap_names_the_module() {
        let exit = classify(Path::new("m.wasm"), Err(wasmtime_wasi::I32Exit(5).into()));
        assert!(matches!(exit, Outcome::Exited(5)));
        let trap = classify(
            Path::new("m.wasm"),
            Err(wasmtime::Trap::UnreachableCodeReached.into()),
        );
        let Outcome::Trapped(error) = trap else {
            panic!("{trap:?}")
        };
        assert!(format!("{error:?}").contains("failed to run main module `m.wasm`"));
    }
}
