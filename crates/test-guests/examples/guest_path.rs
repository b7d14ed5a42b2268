//! Prints the path of a built test guest: `guest_path NAME` (e.g.
//! `call_script`), for scripts and fuzz targets that run guests outside
//! `cargo test`.
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(name) = std::env::args().nth(1) else {
        eprintln!("usage: guest_path NAME");
        return ExitCode::from(2);
    };
    match wasc_test_guests::ALL
        .iter()
        .find(|(guest, _)| *guest == name)
    {
        Some((_, path)) => {
            println!("{path}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("no guest named {name}");
            ExitCode::FAILURE
        }
    }
}
