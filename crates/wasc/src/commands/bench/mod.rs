//! `wasc bench`: every benchmark of the issue-5 suite in one run, side by
//! side with the in-process baseline, written to `docs/benchmarks.md`.
//! `--quick` takes few samples (a CI smoke run: it checks the benchmarks
//! work, its numbers mean little).

mod guests;
mod machine;
mod measure;
mod plan;
mod sections;
mod serve;
#[cfg(feature = "bench-guests")]
mod tcp;

use std::path::PathBuf;

use clap::Args;

/// Measures start-up, memory per instance and WASI call cost against
/// `--isolation none` and writes a Markdown report.
#[derive(Debug, Args)]
pub struct BenchCommand {
    /// Few samples: a smoke run, not numbers to quote.
    #[arg(long)]
    quick: bool,

    /// Where the report goes.
    #[arg(long, value_name = "PATH", default_value = "docs/benchmarks.md")]
    out: PathBuf,

    /// The module the whole-process benchmark runs.
    #[arg(long, value_name = "PATH", default_value = "examples/hello.wat")]
    hello: PathBuf,
}

impl BenchCommand {
    pub fn execute(self) -> anyhow::Result<std::process::ExitCode> {
        let report = sections::all(&plan::Plan::new(self.quick), &self.hello)?;
        std::fs::write(&self.out, report)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", self.out.display()))?;
        eprintln!("wrote {}", self.out.display());
        Ok(std::process::ExitCode::SUCCESS)
    }
}
