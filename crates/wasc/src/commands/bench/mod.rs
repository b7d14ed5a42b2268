//! `wasc bench`: every benchmark of the issue-5 suite in one run, side by
//! side with the in-process baseline, written to `docs/benchmarks.md`.
//! `--quick` takes few samples (a CI smoke run: it checks the benchmarks
//! work, its numbers mean little).

mod guests;
mod machine;
mod measure;
mod plan;
#[cfg(feature = "bench-guests")]
mod search;
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

    /// Runs only these sections (repeatable) and prints them instead of
    /// writing the report: a quick look while working, not numbers for
    /// docs/benchmarks.md, which come from one whole run.
    #[arg(long, value_name = "SECTION", value_enum)]
    only: Vec<sections::Section>,

    /// The module the whole-process benchmark runs.
    #[arg(long, value_name = "PATH", default_value = "examples/hello.wat")]
    hello: PathBuf,
}

impl BenchCommand {
    pub fn execute(self) -> anyhow::Result<std::process::ExitCode> {
        if !self.only.is_empty() {
            let plan = plan::Plan::new(self.quick);
            print!("{}", sections::some(&plan, &self.hello, &self.only)?);
            return Ok(std::process::ExitCode::SUCCESS);
        }
        let mut report = sections::all(&plan::Plan::new(self.quick), &self.hello)?;
        // Sections other benchmarks write into the same file stay.
        if let Ok(old) = std::fs::read_to_string(&self.out) {
            for heading in FOREIGN_SECTIONS {
                if let Some(section) = section(&old, heading) {
                    report.push('\n');
                    report.push_str(section);
                }
            }
        }
        std::fs::write(&self.out, report)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", self.out.display()))?;
        eprintln!("wrote {}", self.out.display());
        Ok(std::process::ExitCode::SUCCESS)
    }
}

/// Headings of sections written by other benchmarks
/// (`cargo bench -p containerd-shim-wasc --bench containerd`).
const FOREIGN_SECTIONS: [&str; 1] = ["## Containers (containerd)"];

/// The section of `text` under the line `heading`, to the next `## ` heading.
fn section<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
    let start = text.match_indices(heading).find_map(|(i, _)| {
        let at_line_start = i == 0 || text.as_bytes()[i - 1] == b'\n';
        let whole_line = text[i + heading.len()..].starts_with('\n');
        (at_line_start && whole_line).then_some(i)
    })?;
    let body = &text[start + heading.len()..];
    let end = body
        .find("\n## ")
        .map_or(text.len(), |j| start + heading.len() + j + 1);
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::section;

    #[test]
    fn a_section_runs_to_the_next_heading_or_the_end() {
        let text = "# B\n\n## A\na\n\n## Containers (containerd)\nc1\nc2\n\n## Z\nz\n";
        assert_eq!(
            section(text, "## Containers (containerd)"),
            Some("## Containers (containerd)\nc1\nc2\n\n")
        );
        assert_eq!(
            section(
                "## Containers (containerd)\nlast\n",
                "## Containers (containerd)"
            ),
            Some("## Containers (containerd)\nlast\n")
        );
        assert_eq!(section(text, "## Missing"), None);
    }
}
