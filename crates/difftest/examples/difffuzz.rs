//! Runs generated call scripts in every isolation mode and prints each
//! script whose VM runs differ from `--isolation none`.
//!
//! `cargo run -p wasc-difftest --example difffuzz -- WASC GUEST FIRST_SEED COUNT`
//! runs the scripts of COUNT seeds; `... WASC GUEST --input FILE...` replays
//! fuzzer inputs (a corpus file or a crash artifact).
use std::process::ExitCode;

use wasc_difftest::{compare, generate, run, Mode, Runner};

/// Runs one script in every mode; prints and returns whether a VM run
/// differs from the in-process reference.
fn differs(runner: &Runner, name: &str, script: &[String]) -> bool {
    let reference = run(runner, Mode::None, script).expect("run none");
    for mode in [Mode::VmSync, Mode::VmPoll] {
        let observed = run(runner, mode, script).expect("run vm");
        if let Some(diff) = compare(&reference, &observed) {
            println!("=== {name} {mode:?}\n{}\n{diff}", script.join("\n"));
            return true;
        }
    }
    false
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: difffuzz WASC GUEST FIRST_SEED COUNT | difffuzz WASC GUEST --input FILE..."
        );
        ExitCode::from(2)
    };
    let [wasc, guest, rest @ ..] = args.as_slice() else {
        return usage();
    };
    let runner = Runner::new(wasc, guest);
    let (mut total, mut found) = (0, 0);
    match rest {
        [flag, files @ ..] if flag == "--input" && !files.is_empty() => {
            for file in files {
                let bytes = std::fs::read(file).expect("read input");
                total += 1;
                found += usize::from(differs(&runner, file, &generate(&bytes)));
            }
        }
        [first, count] => {
            let first: u64 = first.parse().expect("seed");
            let count: u64 = count.parse().expect("count");
            for seed in first..first + count {
                let script = generate(&wasc_difftest::generate::seed_bytes(seed, 48));
                total += 1;
                found += usize::from(differs(&runner, &format!("seed {seed}"), &script));
            }
        }
        _ => return usage(),
    }
    println!("{total} scripts, {found} differ");
    ExitCode::from(u8::from(found > 0))
}
