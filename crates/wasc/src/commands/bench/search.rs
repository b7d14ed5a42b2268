//! Whole-process searches over a real directory tree (issue 12): the
//! `tree_search` guest counting the lines that contain a word in every file
//! under `/usr/include` (Debian's C headers: thousands of files in hundreds
//! of directories), then ripgrep doing the same, granted with `--dir`, one
//! `wasc run` process per run. Wall and CPU time (user + system of the
//! child, all its threads).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};

use super::measure::stats;
use super::plan::Plan;
use super::plan::{progress, verdict};

/// The tree searched, and the word.
const TREE: &str = "/usr/include";
const WORD: &str = "define";

/// CPU time (user + system) of this process's waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: `usage` is a plain output value for getrusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// A program searching the tree, run as `wasc run --dir TREE::/t MODULE ARGS`.
struct Program {
    title: &'static str,
    module: &'static str,
    args: &'static [&'static str],
    what: &'static str,
}

pub fn search(plan: &Plan) -> anyhow::Result<String> {
    if !Path::new(TREE).is_dir() {
        return Ok(format!(
            "\n## Whole process: a search over `{TREE}`\n\nNot run: `{TREE}` is missing.\n"
        ));
    }
    let programs = [
        Program {
            title: "a search over",
            module: wasc_test_guests::TREE_SEARCH,
            args: &[WORD, "/t"],
            what: "a Rust guest that walks the\ntree with std (readdir, stat, open, read through WASI) and counts the lines\ncontaining the word in every file",
        },
        Program {
            title: "ripgrep over",
            module: wasc_test_guests::THIRD_PARTY_RG,
            args: &["-c", "--sort", "path", WORD, "/t"],
            what: "ripgrep 15 (built from crates.io\nfor `wasm32-wasip1` by `scripts/install-deps`) counting matching lines per\nfile",
        },
    ];
    let mut out = String::new();
    for program in &programs {
        out += &run_program(plan, program)?;
    }
    Ok(out)
}

fn run_program(plan: &Plan, program: &Program) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("finding the wasc binary")?;
    let runs = if plan.quick { 1 } else { 5 };
    let modes: [(&str, &[&str]); 3] = [
        ("`--isolation none`", &["--isolation", "none"]),
        ("VM, sync", &["--transport", "sync"]),
        ("VM, poll", &["--transport", "poll"]),
    ];
    let mut wall = vec![Vec::new(); modes.len()];
    let mut cpu = vec![Vec::new(); modes.len()];
    let mut answer: Option<String> = None;
    let title = program.title;
    for round in 0..runs {
        progress(&format!("{title} {TREE}: round {}/{runs}", round + 1));
        for (i, (_, flags)) in modes.iter().enumerate() {
            let cpu0 = children_cpu();
            let start = Instant::now();
            let output = Command::new(&exe)
                .arg("run")
                .args(*flags)
                .args(["--dir", &format!("{TREE}::/t")])
                .arg(program.module)
                .args(program.args)
                .output()?;
            wall[i].push(start.elapsed().as_secs_f64() * 1e3);
            cpu[i].push(children_cpu().saturating_sub(cpu0).as_secs_f64() * 1e3);
            ensure!(
                output.status.success(),
                "{title} {flags:?} failed: {:?}",
                output.status
            );
            let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            match &answer {
                None => answer = Some(text),
                Some(first) => ensure!(
                    *first == text,
                    "{title} {flags:?} printed other results than its first run"
                ),
            }
        }
    }
    let answer = answer.unwrap_or_default();
    let summary = if answer.lines().count() == 1 {
        answer
    } else {
        format!("{} lines of output", answer.lines().count())
    };
    let args = program.args.join(" ");
    let name = Path::new(program.module)
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut out = format!(
        "\n## Whole process: {title} `{TREE}`\n\n`wasc run --dir {TREE}::/t {name} {args}`: {what} ({summary}, the same in every mode).\nMedian of {runs} processes per mode; CPU is the child's user + system time,\nall its threads.\n\n| mode | wall ms | CPU ms | wall / none | CPU / none |\n| --- | ---: | ---: | ---: | ---: |\n",
        what = program.what,
    );
    let base = (stats(wall[0].clone()).p50, stats(cpu[0].clone()).p50);
    let mut best = (f64::MAX, f64::MAX);
    for (i, (name, _)) in modes.iter().enumerate() {
        let (w, c) = (stats(wall[i].clone()).p50, stats(cpu[i].clone()).p50);
        let ratios = (w / base.0, c / base.1);
        if i > 0 && ratios.0 < best.0 {
            best = ratios;
        }
        writeln!(
            out,
            "| {name} | {w:.1} | {c:.1} | {:.2}× | {:.2}× |",
            ratios.0, ratios.1
        )?;
    }
    writeln!(
        out,
        "\nTargets, faster VM transport: ≤ 1.5× wall — {} ({:.2}×); ≤ 2× CPU — {} ({:.2}×).",
        verdict(best.0 <= 1.5),
        best.0,
        verdict(best.1 <= 2.0),
        best.1
    )?;
    Ok(out)
}
