//! Real programs nobody wrote for these tests, run in every mode against the
//! golden report recorded in process (wasmtime 48's WASI, the reference):
//! ripgrep (a search over a directory tree: readdir, stat, symlinks,
//! ignore files, stdin), zopfli (a compressor that writes its output a
//! byte per call) and uutils coreutils (cp, rm, ln, ls, split, sort, ...:
//! path operations as a real program makes them), built from their
//! crates.io sources for `wasm32-wasip1` by `scripts/install-deps`, and
//! `ztree`, a tree tool
//! written in Zig and built with Zig's own toolchain, whose std calls WASI
//! without wasi-libc. Status, stdout, stderr and the granted tree afterwards
//! must equal the reference byte for byte.

mod harness;

use harness::{check, Case, Mode};
use wasc_test_guests as guests;

/// A small source tree with what a search tool meets: nested directories,
/// hidden and ignored files, a binary file, symlinks to a file, to a
/// directory, dangling, and one out of the granted directory.
fn tree(case: Case) -> Case {
    case.file(
        "README.md",
        b"# Demo\nhello from the readme\nHello again, with a capital\n",
    )
    .file(
        "src/main.rs",
        b"fn main() {\n    println!(\"hello, world\");\n}\n",
    )
    .file(
        "src/lib/util.rs",
        b"pub fn greet() -> &'static str {\n    \"hello\"\n}\n// TODO: more\n",
    )
    .file("notes/.hidden.txt", b"a hidden hello\n")
    .file(".ignore", b"ignored.txt\n")
    .file("ignored.txt", b"hello from an ignored file\n")
    .file("data/blob.bin", &pseudo_random(4096))
    .file("data/big.txt", &text(12_000))
    .file("empty.txt", b"")
    .link("link-to-readme", "README.md")
    .link("link-to-src", "src")
    .link("dangling", "nowhere")
    .link("escape", "../outside/secret.txt")
}

/// Bytes that are the same on every run (a linear congruential generator).
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

/// Compressible text of `len` bytes: numbered lines of a few words.
fn text(len: usize) -> Vec<u8> {
    let words = ["alpha", "beta", "gamma", "delta", "hello", "omega"];
    let mut out = Vec::with_capacity(len + 64);
    let mut line = 0;
    while out.len() < len {
        line += 1;
        let w = |k: usize| words[(line * k) % words.len()];
        out.extend_from_slice(format!("{line:05} {} {} {}\n", w(1), w(3), w(7)).as_bytes());
    }
    out.truncate(len);
    out
}

fn rg(name: &str, args: &[&str]) -> Case {
    tree(Case::new(name, guests::THIRD_PARTY_RG)).args(args)
}

/// One coreutils utility (the multi-call binary's first argument) over
/// the tree.
fn coreutils(name: &str, args: &[&str]) -> Case {
    tree(Case::new(name, guests::THIRD_PARTY_COREUTILS)).args(args)
}

macro_rules! differential {
    ($($name:ident => $case:expr;)*) => {
        $(
            #[allow(non_snake_case)]
            mod $name {
                use super::*;
                #[test] fn None() { check(&$case, Mode::None) }
                #[test] fn VmSync() { check(&$case, Mode::VmSync) }
                #[test] fn VmPoll() { check(&$case, Mode::VmPoll) }
            }
        )*
    };
}

differential! {
    rg_search => rg("rg_search", &["-n", "-m", "3", "--sort", "path", "hello", "/sandbox"]);
    rg_files_following_links => rg("rg_files_following_links", &["--files", "--sort", "path", "-L", "/sandbox"]);
    rg_hidden_ignored_counts => rg("rg_hidden_ignored_counts", &["-c", "-uu", "--sort", "path", "-i", "HELLO", "/sandbox"]);
    rg_glob_context => rg("rg_glob_context", &["-C", "1", "--sort", "path", "-g", "*.rs", "-e", "greet|TODO", "/sandbox"]);
    rg_replace_through_a_link => rg("rg_replace_through_a_link", &["-o", "-m", "4", "-r", "<$0>", "(omega|the) [a-z]+", "/sandbox/data/big.txt", "/sandbox/link-to-readme"]);
    rg_binary => rg("rg_binary", &["--sort", "path", "-c", "[a-z]", "/sandbox/data"]);
    rg_stdin => rg("rg_stdin", &["-n", "-m", "3", "beta", "-"]).stdin(&text(2_000));
    rg_no_match => rg("rg_no_match", &["zzz-not-there", "/sandbox"]);
    rg_bad_pattern => rg("rg_bad_pattern", &["(unclosed", "/sandbox"]);
    rg_missing_path => rg("rg_missing_path", &["hello", "/sandbox/missing", "/outside"]);
    zopfli_compress => tree(Case::new("zopfli_compress", guests::THIRD_PARTY_ZOPFLI))
        .args(&["/sandbox/README.md", "/sandbox/data/big.txt", "/sandbox/empty.txt", "/sandbox/link-to-readme"]);
    zopfli_missing_input => tree(Case::new("zopfli_missing_input", guests::THIRD_PARTY_ZOPFLI))
        .args(&["/sandbox/nothing-here"]);
    cu_cp_files_and_a_link => coreutils("cu_cp_files_and_a_link", &["cp", "/sandbox/README.md", "/sandbox/link-to-readme", "/sandbox/empty.txt", "/sandbox/src/"]);
    cu_rm_recursive_and_missing => coreutils("cu_rm_recursive_and_missing", &["rm", "-r", "/sandbox/data", "/sandbox/dangling", "/sandbox/missing", "/sandbox/link-to-src"]);
    cu_ln_symbolic => coreutils("cu_ln_symbolic", &["ln", "-s", "../README.md", "/sandbox/src/readme"]);
    cu_ln_hard_through_links => coreutils("cu_ln_hard_through_links", &["ln", "/sandbox/README.md", "/sandbox/escape", "/sandbox/notes/"]);
    cu_split_lines => coreutils("cu_split_lines", &["split", "-l", "150", "/sandbox/data/big.txt", "/sandbox/part-"]);
    cu_sort_into_a_file => coreutils("cu_sort_into_a_file", &["sort", "-r", "-o", "/sandbox/sorted.txt", "/sandbox/data/big.txt", "/sandbox/README.md"]);
    cu_ls_recursive => coreutils("cu_ls_recursive", &["ls", "-1aRF", "/sandbox"]);
    cu_truncate_and_create => coreutils("cu_truncate_and_create", &["truncate", "-s", "100", "/sandbox/empty.txt", "/sandbox/new.txt", "/sandbox/data/big.txt"]);
    cu_cat_through_an_escape => coreutils("cu_cat_through_an_escape", &["cat", "/sandbox/escape", "/sandbox/link-to-readme", "-"]).stdin(b"from stdin\n");
    zig_ztree => tree(Case::new("zig_ztree", guests::ZIG_ZTREE))
        .args(&["one", "two words"])
        .env(&["ZTREE_MODE=differential"]);
}

/// zopfli's output is a gzip stream of its input: the reference run's tree
/// holds it, and it must decompress to what went in (the golden report
/// alone would also accept two identical wrong outputs).
#[test]
fn zopfli_output_is_the_input_compressed() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let input = text(12_000);
    std::fs::write(dir.path().join("big.txt"), &input).expect("write input");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_wasc"))
        .args(["run", "--dir"])
        .arg(format!("{}::/d", dir.path().display()))
        .args([guests::THIRD_PARTY_ZOPFLI, "/d/big.txt"])
        .status()
        .expect("run wasc");
    assert!(status.success(), "{status}");
    let gz = std::fs::read(dir.path().join("big.txt.gz")).expect("zopfli wrote big.txt.gz");
    assert!(gz.len() < input.len() / 2, "{} bytes", gz.len());
    let mut gunzip = std::process::Command::new("gzip")
        .args(["-dc"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn gzip");
    std::io::Write::write_all(&mut gunzip.stdin.take().expect("stdin"), &gz).expect("feed gzip");
    let mut out = Vec::new();
    gunzip
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut out)
        .expect("read gzip");
    assert!(gunzip.wait().expect("wait gzip").success());
    assert!(out == input, "decompressed output differs from the input");
}
