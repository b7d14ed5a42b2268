//! `wasc`: the command-line edge. Parses arguments, runs the command, and
//! turns its result into an exit code and at most one error report on stderr.

mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    match cli.command.execute() {
        Ok(code) => code,
        Err(error) => {
            // `{:#}` keeps the whole cause chain on one line.
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
