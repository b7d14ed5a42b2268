//! The `wasc` subcommands.

mod run;

use clap::{Parser, Subcommand};

/// Run WebAssembly functions with WASI isolated in a micro-VM.
#[derive(Debug, Parser)]
#[command(name = "wasc", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Run(run::RunCommand),
}

impl Command {
    pub fn execute(self) -> anyhow::Result<std::process::ExitCode> {
        match self {
            Command::Run(run) => run.execute(),
        }
    }
}
