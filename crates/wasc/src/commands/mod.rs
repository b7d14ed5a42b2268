//! The `wasc` subcommands.

mod bench;
mod flags;
mod image;
mod run;
mod serve;

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
    Serve(serve::ServeCommand),
    Image(image::ImageCommand),
    /// Measure start-up, memory and WASI call cost against `--isolation none`.
    Bench(bench::BenchCommand),
}

impl Command {
    pub fn execute(self) -> anyhow::Result<std::process::ExitCode> {
        match self {
            Command::Run(run) => run.execute(),
            Command::Serve(serve) => serve.execute(),
            Command::Image(image) => image.execute(),
            Command::Bench(bench) => bench.execute(),
        }
    }
}
