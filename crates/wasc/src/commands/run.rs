//! `wasc run`: the options users know from `wasmtime run`, plus
//! `--isolation`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use wasc_runtime::{
    DirMapping, EnvVar, Isolation, Limits, Outcome, RunConfig, TcpListen, Timeout, TmpfsMount,
    Transport,
};

/// Runs a WebAssembly command module.
#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct RunCommand {
    /// Grant access to a host directory, seen by the guest at GUEST (default:
    /// the host path as written).
    #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]")]
    dirs: Vec<DirMapping>,

    /// An in-VM memory file system seen by the guest at GUEST_DIR, of SIZE
    /// bytes (K, M or G; default 64M); writes past it fail with `NOSPC`.
    /// With `--isolation none`, an empty temporary host directory stands in
    /// (no size limit).
    #[arg(long = "tmpfs", value_name = "GUEST_DIR[:SIZE]")]
    tmpfs: Vec<TmpfsMount>,

    /// Bind and listen on a TCP address (HOST:PORT) before the module
    /// starts, and hand it the listening socket as fd 3, 4, … (before the
    /// preopened directories), as `wasmtime run --tcplisten` did. VM
    /// isolation only: wasmtime 48's in-process preview 1 has no sockets.
    #[arg(long = "tcplisten", value_name = "SOCKET_ADDRESS")]
    tcplisten: Vec<TcpListen>,

    /// Pass an environment variable to the guest; `--env NAME` passes the
    /// host's value through if it has one.
    #[arg(long = "env", value_name = "NAME[=VAL]")]
    env: Vec<EnvVar>,

    /// Where WASI runs: `vm` (sysd in a micro-VM) or `none` (in process,
    /// wasmtime-wasi).
    #[arg(long, value_name = "vm|none", default_value = "vm")]
    isolation: Isolation,

    /// How WASI calls reach sysd with `--isolation vm`: `poll` (a vCPU thread
    /// keeps sysd polling; no VM exit per call) or `sync` (one exit per call).
    #[arg(long, value_name = "poll|sync", default_value = "poll")]
    transport: Transport,

    /// The most linear memory the module may have (K, M or G suffix);
    /// `memory.grow` past it fails.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = wasc_runtime::parse_size)]
    max_memory: u64,

    /// Wall-clock limit for the run (e.g. 500ms, 30s, 15m, 1h; 0 for none).
    /// Past it the module is interrupted and `wasc` exits with status 124.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    timeout: Timeout,

    /// The most descriptors the module may hold open in sysd, stdio and
    /// preopens included (4–256); past it opens fail with `MFILE`. VM
    /// isolation only.
    #[arg(long, value_name = "N", default_value = "256", value_parser = wasc_runtime::parse_max_fds)]
    max_fds: u32,

    /// The KVM device (for tests of a missing or unusable one).
    #[arg(long, value_name = "PATH", default_value = "/dev/kvm", hide = true)]
    kvm_device: PathBuf,

    /// The module (`.wasm` or `.wat`) followed by the arguments it receives.
    #[arg(value_name = "MODULE", required = true, num_args = 1..)]
    module_and_args: Vec<OsString>,
}

impl RunCommand {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let mut rest = self.module_and_args.into_iter();
        let module = PathBuf::from(rest.next().expect("clap requires MODULE"));
        let config = RunConfig {
            module,
            args: rest.collect(),
            env: self.env,
            dirs: self.dirs,
            isolation: self.isolation,
            transport: self.transport,
            limits: Limits {
                max_memory: self.max_memory,
                timeout: self.timeout.0,
                max_fds: self.max_fds,
            },
            kvm_device: self.kvm_device,
            tmpfs: self.tmpfs,
            tcplisten: self.tcplisten,
        };
        let outcome = wasc_runtime::run(&config)?;
        match &outcome {
            Outcome::Exited(_) => {}
            // The same report as `wasmtime run`: the cause chain with the
            // Wasm backtrace.
            Outcome::Trapped(error) | Outcome::Failed(error) => eprintln!("Error: {error:?}"),
            Outcome::TimedOut(limit) => {
                eprintln!("Error: the function did not finish within its --timeout of {limit:?}")
            }
            // Found before the module's code ran: one line, as other
            // start-up errors.
            Outcome::NotStarted(error) => eprintln!("Error: {error}"),
        }
        Ok(ExitCode::from(outcome.exit_status()))
    }
}
