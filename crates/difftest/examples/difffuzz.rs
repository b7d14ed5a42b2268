//! Runs generated call scripts in every isolation mode and prints each
//! script whose VM runs differ from `--isolation none`.
//!
//! `cargo run -p wasc-difftest --example difffuzz -- WASC GUEST FIRST_SEED COUNT`
use std::process::ExitCode;

use wasc_difftest::{compare, generate, run, Mode, Runner};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [wasc, guest, first, count] = args.as_slice() else {
        eprintln!("usage: difffuzz WASC GUEST FIRST_SEED COUNT");
        return ExitCode::from(2);
    };
    let runner = Runner::new(wasc, guest);
    let first: u64 = first.parse().expect("seed");
    let count: u64 = count.parse().expect("count");
    let mut found = 0;
    for seed in first..first + count {
        let script = generate(&wasc_difftest::generate::seed_bytes(seed, 48));
        let reference = run(&runner, Mode::None, &script).expect("run none");
        for mode in [Mode::VmSync, Mode::VmPoll] {
            let observed = run(&runner, mode, &script).expect("run vm");
            if let Some(diff) = compare(&reference, &observed) {
                found += 1;
                println!("=== seed {seed} {mode:?}\n{}\n{diff}", script.join("\n"));
                break;
            }
        }
    }
    println!("{count} scripts, {found} differ");
    ExitCode::from(u8::from(found > 0))
}
