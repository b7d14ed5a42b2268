//! `wasc run`: the options users know from `wasmtime run`, plus
//! `--isolation`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use wasc_runtime::{RunConfig, TcpListen, Transport};

use super::flags::InstanceFlags;

/// `--timeout` unless given: the common serverless cap.
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Runs a WebAssembly command module.
#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct RunCommand {
    #[command(flatten)]
    instance: InstanceFlags,

    /// Bind and listen on a TCP address (HOST:PORT) before the module
    /// starts, and hand it the listening socket as fd 3, 4, … (before the
    /// preopened directories), as `wasmtime run --tcplisten` did. VM
    /// isolation only: wasmtime 48's in-process preview 1 has no sockets.
    #[arg(long = "tcplisten", value_name = "SOCKET_ADDRESS")]
    tcplisten: Vec<TcpListen>,

    /// The module (`.wasm` or `.wat`) followed by the arguments it receives.
    #[arg(value_name = "MODULE", required = true, num_args = 1..)]
    module_and_args: Vec<OsString>,
}

impl RunCommand {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let mut rest = self.module_and_args.into_iter();
        let module = PathBuf::from(rest.next().expect("clap requires MODULE"));
        let flags = self.instance;
        let config = RunConfig {
            module,
            args: rest.collect(),
            limits: flags.limits(Some(DEFAULT_TIMEOUT)),
            env: flags.env,
            dirs: flags.dirs,
            isolation: flags.isolation,
            transport: flags.transport.unwrap_or(Transport::Poll),
            kvm_device: flags.kvm_device.into(),
            tmpfs: flags.tmpfs,
            tcplisten: self.tcplisten,
        };
        let outcome = wasc_runtime::run(&config)?;
        if let Some(report) = outcome.report() {
            eprintln!("{report}");
        }
        Ok(ExitCode::from(outcome.exit_status()))
    }
}
