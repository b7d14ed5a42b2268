//! Call scripts (`call_script` guest, `wasc-difftest`) for the divergences
//! from wasmtime that users found: each runs in process (the reference) and
//! in a VM with both transports, and the three reports must be equal —
//! status, every errno and value written, trap messages, and the granted
//! tree afterwards. A few also pin what the reference does, where "the same
//! as wasmtime" alone would not say enough (a failed call changes nothing).
//!
//! Then the differential fuzzer's seeded run: generated scripts, all three
//! modes, no difference allowed.

use wasc_difftest::{compare, generate, run, Mode, Report, Runner};
use wasc_test_guests as guests;

fn runner() -> Runner {
    Runner::new(env!("CARGO_BIN_EXE_wasc"), guests::CALL_SCRIPT)
}

/// Runs `script` in every mode; panics on any difference from the reference.
fn same_everywhere(script: &[&str]) -> Report {
    let script: Vec<String> = script.iter().map(|s| s.to_string()).collect();
    let runner = runner();
    let reference = run(&runner, Mode::None, &script).expect("run in process");
    for mode in [Mode::VmSync, Mode::VmPoll] {
        let observed = run(&runner, mode, &script).expect("run in a VM");
        if let Some(diff) = compare(&reference, &observed) {
            panic!("{mode:?} differs for\n{}\n{diff}", script.join("\n"));
        }
    }
    reference
}

/// The granted tree as the fixture made it.
fn untouched_tree() -> String {
    same_everywhere(&[]).tree
}

const RW: &str = "0x1fffffff 0x1fffffff";

#[test]
fn failed_open_with_trailing_slash_changes_nothing() {
    let report = same_everywhere(&[
        &format!("path_open 3 0 \"file/\" 8 {RW} 0 u32"),
        &format!("path_open 3 1 \"lfile/\" 8 {RW} 0 u32"),
        &format!("path_open 3 0 \"new/\" 1 {RW} 0 u32"),
        &format!("path_open 3 0 \"new/\" 9 {RW} 0 u32"),
        &format!("path_open 3 0 \"dir/\" 8 {RW} 0 u32"),
        &format!("path_open 4 0 \"new/\" 1 {RW} 0 u32"),
        "path_filestat_set_times 3 0 \"file/\" 5 5 5",
        "path_filestat_set_times 3 1 \"lfile/\" 5 5 5",
        "path_filestat_get 3 0 \"file\" filestat",
    ]);
    assert_eq!(report.tree, untouched_tree(), "{report}");
    assert!(!report.stdout.contains("mtim=5"), "{report}");
}

/// Found by the differential fuzzer: a non-following stat of `name/`
/// stats a lone name itself, but follows the slash below a directory part
/// (`./ldangle/` is NOENT, `dir/inner/` NOTDIR, `./ldir/` the directory).
#[test]
fn a_non_following_stat_follows_a_trailing_slash_below_a_directory() {
    let mut script = Vec::new();
    for path in [
        "ldangle/",
        "./ldangle/",
        "lfile/",
        "./lfile/",
        "dir/../lfile/",
        "ldir/",
        "./ldir/",
        "ldir//",
        "./lloop/",
        "./lout/",
        "file/",
        "./file/",
        "dir/inner/",
        "ldir/inner/",
        "dir/sub/",
        "dir/sub/up/",
        "./dir//",
    ] {
        script.push(format!("path_filestat_get 3 0 \"{path}\" filestat"));
    }
    let script: Vec<&str> = script.iter().map(String::as_str).collect();
    same_everywhere(&script);
}

/// Found by the differential fuzzer: linking `.` (a directory, refused in
/// the end) to a new name with a trailing slash follows the name first, so
/// a symlink out of the directory is `PERM`, not `EXIST`.
#[test]
fn linking_the_directory_itself_to_a_name_with_a_slash() {
    same_everywhere(&[
        "path_link 3 0 \".\" 3 \"lout/\"",
        "path_link 3 0 \".\" 3 \"ldir/\"",
        "path_link 3 0 \".\" 3 \"lfile/\"",
        "path_link 3 0 \".\" 3 \"file/\"",
        "path_link 3 0 \".\" 3 \"missing/\"",
        "path_link 3 0 \".\" 3 \"ldangle/\"",
        "path_link 3 0 \".\" 3 \"lloop/\"",
        "path_link 3 0 \".\" 3 \"lout\"",
        // Found by the differential fuzzer: a free name is PERM (the
        // directory cannot be linked), not NOENT.
        "path_link 3 0 \".\" 3 \"inner\"",
        "path_link 3 0 \".\" 3 \"dir/missing\"",
        "path_link 3 0 \"dir/.\" 3 \"new\"",
        "path_link 3 0 \".\" 3 \"missing/deeper\"",
    ]);
}

/// Linux looks a link's source up before it creates the new name, so a
/// missing source is NOENT even where the new name is `.` (found by the
/// differential fuzzer: sysd answered EXIST).
#[test]
fn linking_to_the_directory_itself_looks_at_the_source_first() {
    same_everywhere(&[
        "path_link 3 0 \"missing\" 3 \"./\"",
        "path_link 3 0 \"missing\" 3 \".\"",
        "path_link 3 0 \"dir/missing\" 3 \"dir/.\"",
        "path_link 3 0 \"file\" 3 \".\"",
        "path_link 3 0 \"ldangle\" 3 \"./\"",
        "path_link 3 0 \"lloop\" 3 \"dir/.\"",
        "path_link 3 0 \"dir\" 3 \".\"",
        "path_link 3 0 \"missing\" 3 \"..\"",
        "path_link 3 0 \"file\" 3 \"dir/..\"",
        "path_link 3 0 \"missing\" 3 \"dir/..\"",
    ]);
}

#[test]
fn trailing_slashes_on_links_and_stats() {
    same_everywhere(&[
        "path_filestat_get 3 1 \"file/\" filestat",
        "path_filestat_get 3 1 \"lfile/\" filestat",
        "path_readlink 3 \"lfile/\" buf:16 16 u32",
        "path_readlink 3 \"ldir/\" buf:16 16 u32",
        "path_link 3 0 \"file\" 3 \"new/\"",
        "path_link 3 0 \"dir\" 3 \"new/\"",
        "path_symlink \"t\" 3 \"new/\"",
        "path_symlink \"file\" 3 \"new2/\"",
    ]);
}

#[test]
fn empty_transfers_do_not_check_their_buffer() {
    same_everywhere(&[
        "random_get end 0",
        "random_get end+16 0",
        "path_readlink 3 \"lfile\" end 0 u32",
        &format!("path_open 3 0 \"file\" 0 {RW} 0 u32"),
        "fd_pread 5 iov(@end-4:100) 10 u32",
        "fd_pread 5 iov(@end-4:100) 8 u32",
        "fd_read 0 iov(buf:64) u32",
        "fd_read 0 iov(@end-4:100) u32",
    ]);
}

#[test]
fn misaligned_results_trap_as_in_wasmtime() {
    for script in [
        "fd_filestat_get 3 filestat+1",
        "fd_fdstat_get 3 fdstat+4",
        "fd_prestat_get 3 prestat+2",
        "clock_time_get 0 1 u64+4",
        "args_sizes_get u32+1 u32",
        "fd_seek 0 0 0 u64+4",
        "fd_write 1 iov(\"x\") u32+2",
    ] {
        same_everywhere(&[script]);
    }
}

#[test]
fn inode_numbers_agree_between_readdir_and_stat() {
    same_everywhere(&[
        "path_filestat_get 3 0 \"file\" filestat",
        "path_filestat_get 3 0 \"dir\" filestat",
        "fd_readdir 3 dirents:400 400 0 u32",
    ]);
}

#[test]
fn per_call_caps_of_pread_and_stdin() {
    let mut runner = runner();
    runner.stdin = vec![b's'; 100_000];
    let script: Vec<String> = [
        "path_open 3 0 \"big\" 1 0x1fffffff 0 0 u32",
        "fd_pwrite 5 iov(buf:100000) 0 u32",
        "fd_pread 5 iov(buf:100000) 0 u32",
        "fd_read 0 iov(buf:100000) u32",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let reference = run(&runner, Mode::None, &script).expect("run in process");
    for mode in [Mode::VmSync, Mode::VmPoll] {
        let observed = run(&runner, mode, &script).expect("run in a VM");
        assert_eq!(compare(&reference, &observed), None, "{mode:?}");
    }
}

#[test]
fn descriptor_numbers_after_close_and_renumber() {
    // wasmtime gives out the highest freed number first (here 7, 6, 5),
    // then numbers never used.
    let open = format!("path_open 3 0 \"file\" 0 {RW} 0 u32");
    let report = same_everywhere(&[
        &open,
        &open,
        &open,
        "fd_close 5",
        "fd_close 7",
        "fd_close 6",
        &open,
        &open,
        "fd_renumber 7 5",
        &open,
        &open,
        &open,
    ]);
    assert!(
        report
            .stdout
            .contains("6: path_open = 0 u32=7\n7: path_open = 0 u32=6\n"),
        "{report}"
    );
}

#[test]
fn poll_clock_corners() {
    for script in [
        "poll_oneoff sub(clock:2:1000:0:0) events:1 1 u32",
        "poll_oneoff sub(clock:3:1000:0:0) events:1 1 u32",
        "poll_oneoff sub(clock:0:1000:0:1) events:1 1 u32",
        "poll_oneoff sub(clock:1:1000:0:1) events:1 1 u32",
    ] {
        same_everywhere(&[script]);
    }
}

#[test]
fn seek_past_the_largest_offset() {
    same_everywhere(&[
        &format!("path_open 3 0 \"file\" 0 {RW} 0 u32"),
        "fd_seek 5 5 0 u64",
        "fd_seek 5 0x7fffffffffffffff 1 u64",
        "fd_seek 5 -100 1 u64",
        "fd_seek 5 -1 2 u64",
    ]);
}

#[test]
fn order_of_checks() {
    same_everywhere(&[
        "fd_filestat_set_times 99 5 5 3",
        "fd_filestat_set_times 99 5 5 12",
        "fd_pwrite 0 iov(\"x\") 0 u32",
        "fd_prestat_dir_name 0 buf:8 8",
        "fd_prestat_dir_name 1 buf:8 8",
        "fd_filestat_set_times 3 5 5 5",
        "fd_read 0 iov() u32",
    ]);
}

#[test]
fn create_without_read_or_write_rights_is_read_write() {
    same_everywhere(&[
        "path_open 3 0 \"new\" 1 0 0 0 u32",
        "fd_fdstat_get 5 fdstat",
        "fd_write 5 iov(\"abc\") u32",
        "fd_read 5 iov(buf:4) u32",
    ]);
}

/// The differential fuzzer's seeded run: 40 generated scripts (seeds are
/// fixed, so a failure names a script to replay with the `difffuzz`
/// example).
#[test]
fn generated_scripts_agree_in_every_mode() {
    let runner = runner();
    let mut failures = Vec::new();
    for seed in 0..40 {
        let script = generate(&wasc_difftest::generate::seed_bytes(seed, 48));
        let reference = run(&runner, Mode::None, &script).expect("run in process");
        for mode in [Mode::VmSync, Mode::VmPoll] {
            let observed = run(&runner, mode, &script).expect("run in a VM");
            if let Some(diff) = compare(&reference, &observed) {
                failures.push(format!(
                    "seed {seed} {mode:?}:\n{}\n{diff}",
                    script.join("\n")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn module(name: &str) -> String {
    format!("{}/tests/modules/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `wasc run` in `mode` with `dir` granted at `/d` (fd 3), then `args`
/// (module and its arguments), stdin from /dev/null.
fn wasc_in(mode: Mode, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let isolation: &[&str] = match mode {
        Mode::None => &["--isolation", "none"],
        Mode::VmSync => &["--transport", "sync"],
        Mode::VmPoll => &["--transport", "poll"],
    };
    std::process::Command::new(env!("CARGO_BIN_EXE_wasc"))
        .arg("run")
        .args(isolation)
        .arg("--dir")
        .arg(format!("{}::/d", dir.display()))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run wasc")
}

/// `module` run in `mode` with a fresh directory at fd 3: status, stdout
/// (its length and hash), stderr, and the directory's tree afterwards.
fn run_module(mode: Mode, module: &str) -> (Option<i32>, String, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = wasc_in(mode, dir.path(), &[module]);
    (
        output.status.code(),
        summary(&output.stdout),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        wasc_difftest::tree(dir.path()),
    )
}

/// One `fd_write` of 65 MiB to stdout and to a file, and one `fd_pwrite`:
/// all of it written, as in wasmtime (the executor moves at most 64 MiB
/// per op; sysd splits).
#[test]
fn writes_over_64_mib_are_written_whole() {
    let reference = run_module(Mode::None, &module("big_write.wat"));
    assert_eq!(reference.0, Some(0), "{}", reference.2);
    assert!(reference.1.starts_with("68157447 bytes"), "{}", reference.1);
    assert!(
        reference.3.starts_with("f big 68157450 fnv1a:"),
        "{}",
        reference.3
    );
    for mode in [Mode::VmSync, Mode::VmPoll] {
        assert_eq!(
            run_module(mode, &module("big_write.wat")),
            reference,
            "{mode:?}"
        );
    }
}

fn summary(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{} bytes, fnv1a {hash:016x}", bytes.len())
}

/// A module's run in every mode must match the reference exactly.
fn module_same_everywhere(module: &str) -> (Option<i32>, String, String, String) {
    let reference = run_module(Mode::None, module);
    for mode in [Mode::VmSync, Mode::VmPoll] {
        assert_eq!(run_module(mode, module), reference, "{mode:?}");
    }
    reference
}

#[test]
fn zero_page_memories_work_and_grow() {
    let (status, stdout, stderr, _) = module_same_everywhere(&module("zero_pages.wat"));
    assert_eq!(status, Some(6), "{stderr}");
    assert_eq!(stdout, summary(b"hello\nhello\n"));
}

#[test]
fn a_module_without_memory_gets_no_wasi() {
    let (status, _, stderr, _) = module_same_everywhere(&module("no_memory.wat"));
    assert_eq!(status, Some(1));
    assert!(
        stderr.contains("missing required memory export"),
        "{stderr}"
    );
}

/// `extra` more `--dir`s beside the fixture's (fd 3) and the tmpfs.
fn runner_with_dirs(root: &std::path::Path, extra: usize) -> Runner {
    let mut runner = runner();
    for i in 0..extra {
        runner.options.push("--dir".into());
        runner.options.push(format!("{}::/d{i}", root.display()));
    }
    runner
}

/// A VM serves every preopen that fits its descriptor table (256: stdio,
/// the fixture, 251 more, the tmpfs) and refuses more at start, never
/// dropping one silently; in process there is no such limit.
#[test]
fn every_preopen_is_served_or_the_run_is_refused() {
    let root = tempfile::tempdir().expect("temp dir");
    let script: Vec<String> = [
        "fd_prestat_get 254 prestat",
        "fd_prestat_dir_name 254 buf:5 5",
        "fd_prestat_get 255 prestat",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let fits = runner_with_dirs(root.path(), 251);
    let reference = run(&fits, Mode::None, &script).expect("run in process");
    assert!(reference.stdout.contains("buf=\"/d250\""), "{reference}");
    for mode in [Mode::VmSync, Mode::VmPoll] {
        let observed = run(&fits, mode, &script).expect("run in a VM");
        assert_eq!(compare(&reference, &observed), None, "{mode:?}");
    }
    let too_many = runner_with_dirs(root.path(), 252);
    assert_eq!(
        run(&too_many, Mode::None, &script).expect("run").status,
        Some(0)
    );
    for mode in [Mode::VmSync, Mode::VmPoll] {
        let refused = run(&too_many, mode, &script).expect("run in a VM");
        assert_eq!(refused.status, Some(1), "{refused}");
        assert_eq!(
            refused.stderr,
            "Error: 257 preopened descriptors (stdio, --tcplisten, --dir and --tmpfs together); \
             a VM's descriptor table holds 256\n"
        );
        assert_eq!(refused.stdout, "");
    }
}

/// Types as wasmtime reports them: `/dev/null` on stdin is no terminal
/// (unknown type), a Unix socket in a granted directory has no preview-1
/// type, and a directory holding a name that is not UTF-8 cannot be read
/// (ILSEQ, nothing written).
#[test]
fn file_types_and_names_as_wasmtime_reports_them() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).expect("bind");
    let script = [
        "fd_fdstat_get 0 fdstat",
        "fd_filestat_get 0 filestat",
        "path_filestat_get 3 0 \"sock\" filestat",
        "fd_readdir 3 dirents:100 100 0 u32",
    ];
    let run_in = |mode: Mode| {
        let mut args = vec![guests::CALL_SCRIPT];
        args.extend(script);
        let output = wasc_in(mode, dir.path(), &args);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let reference = run_in(Mode::None);
    assert!(
        reference.1.contains("0: fd_fdstat_get = 0 fdstat(type=0 "),
        "{}",
        reference.1
    );
    assert!(
        reference
            .1
            .contains("2: path_filestat_get = 0 filestat(dev=dev#1 ino=ino#2 type=0 "),
        "{}",
        reference.1
    );
    for mode in [Mode::VmSync, Mode::VmPoll] {
        assert_eq!(run_in(mode), reference, "{mode:?}");
    }
    std::fs::write(
        dir.path().join(std::ffi::OsStr::from_bytes(b"bad\xff")),
        b"",
    )
    .expect("odd name");
    let reference = run_in(Mode::None);
    assert!(
        reference.1.contains("3: fd_readdir = 25 "),
        "{}",
        reference.1
    );
    for mode in [Mode::VmSync, Mode::VmPoll] {
        assert_eq!(run_in(mode), reference, "{mode:?}");
    }
}

/// Nothing can be made in a removed directory through a descriptor still
/// open on it (Linux: NOENT); on a tmpfs such files were never freed.
#[test]
fn a_removed_directory_takes_no_new_names() {
    for dir in ["3", "4"] {
        same_everywhere(&[
            &format!("path_create_directory {dir} \"gone\""),
            &format!("path_open {dir} 0 \"gone\" 2 0 0 0 u32"),
            &format!("path_remove_directory {dir} \"gone\""),
            &format!("path_open 5 0 \"f\" 1 {RW} 0 u32"),
            "path_create_directory 5 \"d\"",
            "path_symlink \"t\" 5 \"l\"",
            "fd_readdir 5 dirents:100 100 0 u32",
        ]);
    }
}

/// Paths of 4,095 bytes are resolved and of 4,096 refused (NAMETOOLONG):
/// Linux's PATH_MAX counts the NUL.
#[test]
fn path_length_limit_as_linux() {
    let path = |len: usize| {
        let mut p = "a/".repeat(len / 2);
        p.truncate(len);
        format!("path_filestat_get 3 0 \"{p}\" filestat")
    };
    let report = same_everywhere(&[&path(4095), &path(4096)]);
    assert!(
        report.stdout.contains("0: path_filestat_get = 44"),
        "{report}"
    );
    assert!(
        report.stdout.contains("1: path_filestat_get = 37"),
        "{report}"
    );
}

/// A positioned transfer past i64::MAX is INVAL before the descriptor's
/// access is checked (found by the fuzzer, seed 20976).
#[test]
fn positioned_transfers_check_the_offset_first() {
    same_everywhere(&[
        "path_open 3 0 \"new\" 1 0x40 0 0 u32",
        "fd_pread 5 iov() -1 u32",
        "fd_pread 5 iov(buf:4) -1 u32",
        "fd_pwrite 5 iov(\"x\") -1 u32",
        "path_open 3 0 \"file\" 0 2 0 0 u32",
        "fd_pwrite 6 iov(\"x\") -1 u32",
    ]);
}

/// Writes to a stdout whose reader is gone succeed, as wasmtime's stdout
/// stream reports them (the VM answered PIPE).
#[test]
fn writes_to_a_broken_stdout_pipe_succeed() {
    for mode in Mode::ALL {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_wasc"))
            .arg("run")
            .args(mode.flags())
            .arg(module("broken_stdout.wat"))
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run wasc");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{mode:?}: {stderr}");
    }
}
