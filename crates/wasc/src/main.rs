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
            eprintln!("Error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// The whole cause chain on one line, each cause once: messages that
/// already quote their source are not followed by it again.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line
}
