//! A WAGI handler for `wasc serve`'s tests. What it does is chosen by its
//! first query item (`argv[1]`), so one module covers the contract and the
//! faults:
//!
//! - `env` (or none): `text/plain`, then argv and the sorted environment,
//!   one per line, then the request body.
//! - `status=NNN`, `location=URL`, `header=NAME:VALUE` (repeatable): those
//!   header lines, then `done`.
//! - `raw=TEXT`: TEXT exactly as stdout (malformed responses).
//! - `read=PATH`: the file's text (a route's `--dir`), or 404.
//! - `count`: a global counter and a file in `/tmp` (a tmpfs), both
//!   reported: a fresh instance always says 1 and finds no earlier file.
//! - `trap`, `exit=N`, `spin`, `sleep=MS`, `oom`, `fds`, `close-stdout`,
//!   `huge=BYTES`, `stderr`: the faults.
use std::io::{Read, Write};

static mut COUNTER: u32 = 0;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut out = std::io::stdout().lock();
    let first = args.get(1).map(String::as_str).unwrap_or("env");
    let (verb, value) = first.split_once('=').unwrap_or((first, ""));
    match verb {
        "env" => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body).expect("read body");
            let mut vars: Vec<(String, String)> = std::env::vars().collect();
            vars.sort();
            writeln!(out, "Content-Type: text/plain\n").expect("write");
            for (i, arg) in args.iter().enumerate() {
                writeln!(out, "argv[{i}]={arg}").expect("write");
            }
            for (name, value) in vars {
                writeln!(out, "{name}={value}").expect("write");
            }
            writeln!(out, "body:").expect("write");
            out.write_all(&body).expect("write");
        }
        "status" | "location" | "header" => {
            for item in &args[1..] {
                match item.split_once('=') {
                    Some(("status", code)) => writeln!(out, "Status: {code}"),
                    Some(("location", url)) => writeln!(out, "Location: {url}"),
                    Some(("header", pair)) => writeln!(out, "{pair}"),
                    _ => Ok(()),
                }
                .expect("write");
            }
            write!(out, "\ndone").expect("write");
        }
        "raw" => out.write_all(value.as_bytes()).expect("write"),
        "read" => match std::fs::read_to_string(value) {
            Ok(text) => write!(out, "Content-Type: text/plain\n\n{text}"),
            Err(e) => write!(out, "Status: 404\nContent-Type: text/plain\n\n{e}"),
        }
        .expect("write"),
        "count" => {
            // SAFETY: one thread; a global is what the test is about.
            let count = unsafe {
                COUNTER += 1;
                COUNTER
            };
            let earlier = std::fs::read_to_string("/tmp/seen").unwrap_or_default();
            std::fs::write("/tmp/seen", "seen").expect("write /tmp/seen");
            write!(
                out,
                "Content-Type: text/plain\n\ncount={count} earlier={earlier:?}"
            )
            .expect("write");
        }
        "trap" => std::process::abort(),
        "exit" => std::process::exit(value.parse().unwrap_or(1)),
        "spin" =>
        {
            #[allow(clippy::empty_loop)]
            loop {
                std::hint::black_box(());
            }
        }
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_millis(value.parse().unwrap_or(0)));
            write!(out, "Content-Type: text/plain\n\nslept").expect("write");
        }
        "oom" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
            }
        }
        "fds" => {
            let mut files = Vec::new();
            while let Ok(file) = std::fs::File::create(format!("/tmp/f{}", files.len())) {
                files.push(file);
            }
            write!(out, "Content-Type: text/plain\n\nopened {}", files.len()).expect("write");
        }
        "close-stdout" => {
            // SAFETY: closing our own stdout; nothing writes to it after.
            let _ = unsafe { wasi::fd_close(1) };
            std::process::exit(0);
        }
        "huge" => {
            let n: usize = value.parse().unwrap_or(0);
            writeln!(out, "Content-Type: application/octet-stream\n").expect("write");
            let chunk = vec![b'x'; 64 << 10];
            let mut left = n;
            while left > 0 {
                let take = left.min(chunk.len());
                if out.write_all(&chunk[..take]).is_err() {
                    break;
                }
                left -= take;
            }
        }
        "stderr" => {
            eprintln!("a line for the log");
            write!(out, "Content-Type: text/plain\n\nlogged").expect("write");
        }
        _ => write!(out, "Status: 400\nContent-Type: text/plain\n\nunknown verb").expect("write"),
    }
}
