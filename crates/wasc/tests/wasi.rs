//! Differential tests: every WASI test guest, run through `wasc`, must
//! produce the golden report recorded from the reference implementation
//! (wasmtime 48, `--isolation none`).
//!
//! Each case lists the isolation modes it runs in; a test is named
//! `<case>::<mode>`. Every case runs in all three: in process, and through
//! sysd in a VM with either transport.

mod harness;

use harness::{check, run, Case, Mode};
use wasc_test_guests as guests;

macro_rules! differential {
    ($($name:ident [$($mode:ident),+] => $case:expr;)*) => {
        $(
            #[allow(non_snake_case)]
            mod $name {
                use super::*;
                $( #[test] fn $mode() { check(&$case, Mode::$mode) } )+
            }
        )*
    };
}

differential! {
    args_env [None, VmSync, VmPoll] => Case::new("args_env", guests::ARGS_ENV)
        .no_dir()
        .args(&["first", "with space", "--flag", "ünïcode", ""])
        .env(&["A=1", "EMPTY=", "B=x=y", "WASC_TEST_INHERITED", "WASC_TEST_UNSET_VARIABLE"]);
    clocks [None, VmSync, VmPoll] => Case::new("clocks", guests::CLOCKS).no_dir();
    random [None, VmSync, VmPoll] => Case::new("random", guests::RANDOM).no_dir();
    stdio [None, VmSync, VmPoll] => Case::new("stdio", guests::STDIO).no_dir().stdin(b"hello stdin\nsecond line");
    files [None, VmSync, VmPoll] => Case::new("files", guests::FILES).file("existing.txt", b"0123456789");
    dirs [None, VmSync, VmPoll] => Case::new("dirs", guests::DIRS).file("file.txt", b"file").file("full/x", b"x");
    links [None, VmSync, VmPoll] => Case::new("links", guests::LINKS).file("target.txt", b"target");
    fd_ops [None, VmSync, VmPoll] => Case::new("fd_ops", guests::FD_OPS).file("a.txt", b"A").file("b.txt", b"B");
    poll [None, VmSync, VmPoll] => Case::new("poll", guests::POLL).file("data.txt", b"data");
    sockets [None, VmSync, VmPoll] => Case::new("sockets", guests::SOCKETS).no_dir();
    exit_0 [None, VmSync, VmPoll] => Case::new("exit_0", guests::EXIT).no_dir().args(&["0"]);
    exit_3 [None, VmSync, VmPoll] => Case::new("exit_3", guests::EXIT).no_dir().args(&["3"]);
    exit_125 [None, VmSync, VmPoll] => Case::new("exit_125", guests::EXIT).no_dir().args(&["125"]);
    exit_126_is_refused [None, VmSync, VmPoll] => Case::new("exit_126", guests::EXIT).no_dir().args(&["126"]);
    trap [None, VmSync, VmPoll] => Case::new("trap", guests::TRAP).no_dir();
    c_libc_tour [None, VmSync, VmPoll] => Case::new("c_libc_tour", guests::C_LIBC_TOUR)
        .args(&["7"])
        .env(&["GREETING=hello from the host"])
        .file("existing.txt", b"x");
}

/// The file-system cases again, on an in-VM memory file system
/// (`--tmpfs /sandbox`, fixtures made by the guest): status, stdout and
/// stderr must equal the reference recorded on a real directory. In
/// process, an empty temporary directory stands in for the tmpfs.
fn check_on_tmpfs(case: Case, mode: Mode) {
    let name = case.name.clone();
    let observed = run(&case.on_tmpfs(), mode);
    let golden = std::fs::read_to_string(format!(
        "{}/tests/expected/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("golden report");
    let expected = golden.split("--- tree\n").next().expect("a report");
    let report = observed.report();
    let actual = report.split("--- tree\n").next().expect("a report");
    assert_eq!(actual, expected, "{name} on a tmpfs under {mode:?}");
}

macro_rules! on_tmpfs {
    ($($name:ident => $case:expr;)*) => {
        $(
            #[allow(non_snake_case)]
            mod $name {
                use super::*;
                #[test] fn None() { check_on_tmpfs($case, Mode::None) }
                #[test] fn VmSync() { check_on_tmpfs($case, Mode::VmSync) }
                #[test] fn VmPoll() { check_on_tmpfs($case, Mode::VmPoll) }
            }
        )*
    };
}

on_tmpfs! {
    tmpfs_files => Case::new("files", guests::FILES).file("existing.txt", b"0123456789");
    tmpfs_dirs => Case::new("dirs", guests::DIRS).file("file.txt", b"file").file("full/x", b"x");
    tmpfs_links => Case::new("links", guests::LINKS).file("target.txt", b"target");
    tmpfs_fd_ops => Case::new("fd_ops", guests::FD_OPS).file("a.txt", b"A").file("b.txt", b"B");
    tmpfs_poll => Case::new("poll", guests::POLL).file("data.txt", b"data");
}

/// Every case of the `bad_args` guest (pointers outside memory, bad UTF-8,
/// enum values and flags outside their types), each in its own process,
/// gathered into one report: which calls answer with an errno and which end
/// the run is part of the reference behaviour.
const BAD_ARG_CASES: &[&str] = &[
    "args_sizes_get",
    "args_get",
    "environ_sizes_get",
    "environ_get",
    "clock_time_get",
    "clock_res_get_straddle",
    "random_get",
    "random_get_straddle",
    "random_get_huge_len",
    "fd_write_iovs",
    "fd_write_buf",
    "fd_write_nwritten",
    "fd_write_many_iovs",
    "fd_read_buf",
    "fd_fdstat_get",
    "fd_filestat_get",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_readdir",
    "path_open_path",
    "path_open_bad_utf8",
    "path_open_result",
    "path_create_directory",
    "poll_oneoff_in",
    "poll_oneoff_out",
    "poll_oneoff_bad_tag",
    "clock_res_get_bad_id",
    "clock_time_get_bad_id",
    "fd_seek_bad_whence",
    "fd_advise_bad_advice",
    "fd_fdstat_set_flags_undefined_bits",
    "path_open_undefined_oflags",
    "fd_seek_wide_whence",
    "fd_advise_wide_advice",
    "fd_fdstat_set_flags_wide",
    "fd_filestat_set_times_wide_flags",
    "proc_raise_bad_signal",
    "proc_raise_wide_signal",
    "sock_accept_wide_flags",
    "sock_recv_wide_flags",
    "sock_send_undefined_flags",
    "sock_send_wide_flags",
    "sock_shutdown_wide_flags",
    "path_open_wide_oflags",
];

/// Cases whose VM report may differ from the reference, and why (none
/// today). Each must still end the run.
const BAD_ARG_VM_DIFFERENCES: &[(&str, &str)] = &[];

/// One report section per case, in `BAD_ARG_CASES` order.
fn bad_args_sections(mode: Mode) -> Vec<(&'static str, String)> {
    BAD_ARG_CASES
        .iter()
        .map(|case| {
            let observed = run(
                &Case::new("bad_args", guests::BAD_ARGS)
                    .args(&[case])
                    .stdin(b"input")
                    .file("f.txt", b"f"),
                mode,
            );
            // The last cause line says why the run ended.
            let reason = observed
                .stderr
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("");
            let section = format!(
                "== {case}\nstatus: {:?}\nstdout: {:?}\nreason: {reason:?}\n",
                observed.status,
                observed.stdout.trim_end(),
            );
            (*case, section)
        })
        .collect()
}

fn golden_bad_args() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/bad_args.txt")
}

#[test]
fn bad_args_none() {
    let report: String = bad_args_sections(Mode::None)
        .into_iter()
        .map(|(_, section)| section)
        .collect();
    if std::env::var_os("WASC_BLESS").is_some() {
        std::fs::write(golden_bad_args(), &report).expect("write golden");
        return;
    }
    let expected =
        std::fs::read_to_string(golden_bad_args()).expect("golden file; record with WASC_BLESS=1");
    assert_eq!(
        report, expected,
        "bad-pointer behaviour differs from the golden report"
    );
}

/// The VM's report equals the reference case by case, but for the listed
/// differences, which must still end the run.
fn check_bad_args_vm(mode: Mode) {
    let expected =
        std::fs::read_to_string(golden_bad_args()).expect("golden file; record with WASC_BLESS=1");
    for (case, section) in bad_args_sections(mode) {
        let golden = expected
            .split_inclusive('\n')
            .skip_while(|l| *l != format!("== {case}\n"))
            .take(4)
            .collect::<String>();
        if BAD_ARG_VM_DIFFERENCES.iter().any(|(c, _)| *c == case) {
            assert!(
                section.contains("status: Some(1)"),
                "{case} under {mode:?} must still end the run:\n{section}"
            );
            continue;
        }
        assert_eq!(
            section, golden,
            "{case} under {mode:?} differs from the reference"
        );
    }
}

#[test]
fn bad_args_vm_sync() {
    check_bad_args_vm(Mode::VmSync);
}

#[test]
fn bad_args_vm_poll() {
    check_bad_args_vm(Mode::VmPoll);
}

/// SQLite (the bundled amalgamation) gives the same answers through sysd as
/// in process: its phase timings differ, its checksum must not.
#[test]
fn sqlite_gives_the_same_answers_in_every_mode() {
    let answer = |mode| {
        let observed = run(
            &Case::new("sqlite_bench", guests::SQLITE_BENCH).args(&["300"]),
            mode,
        );
        assert_eq!(observed.status, Some(0), "{mode:?}: {observed:?}");
        let checksum = observed
            .stdout
            .lines()
            .find(|l| l.starts_with("checksum "))
            .map(str::to_owned);
        (checksum, observed.tree)
    };
    let reference = answer(Mode::None);
    assert!(reference.0.is_some(), "the guest prints a checksum");
    for mode in [Mode::VmSync, Mode::VmPoll] {
        assert_eq!(answer(mode), reference, "{mode:?}");
    }
}
