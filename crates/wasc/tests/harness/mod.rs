//! The differential test harness.
//!
//! Runs a guest through the real `wasc` binary in a given isolation mode with
//! given arguments, environment, stdin and a fresh host directory granted at
//! `/sandbox` (beside it, an `outside` directory that is NOT granted, for
//! escape tests). It records exit status, stdout, stderr and the resulting
//! directory tree as one text report, and compares the report with the golden
//! file `tests/expected/<case>.txt`.
//!
//! The golden files were recorded from `--isolation none` (wasmtime 48's
//! WASI, the reference semantics) and reviewed; every isolation mode must
//! reproduce them exactly. `WASC_BLESS=1` rewrites them from the `none` run.

#![allow(dead_code)] // Each test binary uses a different part.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use wasc_difftest::Mode;

/// One run of a guest.
#[derive(Debug, Clone)]
pub struct Case {
    /// Golden file name (without `.txt`).
    pub name: String,
    /// Path of the guest module.
    pub module: PathBuf,
    pub args: Vec<String>,
    /// Raw `--env` values.
    pub env: Vec<String>,
    pub stdin: Vec<u8>,
    /// Files to create in the granted directory before the run:
    /// `(relative path, contents)`; a path ending in `/` is a directory.
    pub files: Vec<(String, Vec<u8>)>,
    /// Symbolic links to create after the files: `(relative path, target)`.
    pub links: Vec<(String, String)>,
    /// Grant the directory at `/sandbox`.
    pub grant: bool,
    /// Mount a memory file system at `/sandbox` instead (`--tmpfs`); the
    /// guest creates the fixture files itself (`WASC_GUEST_FIXTURES`).
    pub tmpfs: bool,
}

impl Case {
    pub fn new(name: &str, module: &str) -> Self {
        Self {
            name: name.to_owned(),
            module: PathBuf::from(module),
            args: Vec::new(),
            env: Vec::new(),
            stdin: Vec::new(),
            files: Vec::new(),
            links: Vec::new(),
            grant: true,
            tmpfs: false,
        }
    }

    /// Runs on `--tmpfs /sandbox` with the fixtures made by the guest.
    pub fn on_tmpfs(mut self) -> Self {
        self.tmpfs = true;
        self.grant = false;
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn env(mut self, env: &[&str]) -> Self {
        self.env = env.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn stdin(mut self, data: &[u8]) -> Self {
        self.stdin = data.to_vec();
        self
    }

    pub fn file(mut self, path: &str, contents: &[u8]) -> Self {
        self.files.push((path.to_owned(), contents.to_vec()));
        self
    }

    pub fn link(mut self, path: &str, target: &str) -> Self {
        self.links.push((path.to_owned(), target.to_owned()));
        self
    }

    pub fn no_dir(mut self) -> Self {
        self.grant = false;
        self
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Observed {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Listing of the granted directory after the run.
    pub tree: String,
}

impl Observed {
    /// The report compared with the golden file. Temporary paths and the guests'
    /// directory are replaced by `$TMP` and `$GUESTS` so reports do not depend on the run.
    pub fn report(&self) -> String {
        format!(
            "status: {:?}\n--- stdout\n{}--- stderr\n{}--- tree\n{}",
            self.status, self.stdout, self.stderr, self.tree
        )
    }
}

/// Runs `wasc` with raw arguments and no preparation.
pub fn wasc(args: &[&str]) -> Observed {
    let output = Command::new(env!("CARGO_BIN_EXE_wasc"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn wasc");
    Observed {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        tree: String::new(),
    }
}

/// Runs `case` in `mode` and returns what it produced.
pub fn run(case: &Case, mode: Mode) -> Observed {
    let root = tempfile::tempdir().expect("temp dir");
    let sandbox = root.path().join("sandbox");
    std::fs::create_dir(&sandbox).expect("create sandbox");
    std::fs::create_dir(root.path().join("outside")).expect("create outside");
    std::fs::write(root.path().join("outside/secret.txt"), b"secret").expect("write secret");
    for (path, contents) in &case.files {
        let full = sandbox.join(path);
        if path.ends_with('/') {
            std::fs::create_dir_all(&full).expect("create fixture dir");
        } else {
            std::fs::create_dir_all(full.parent().expect("parent")).expect("create parents");
            std::fs::write(&full, contents).expect("write fixture file");
        }
    }
    for (path, target) in &case.links {
        std::os::unix::fs::symlink(target, sandbox.join(path)).expect("create fixture link");
    }

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasc"));
    cmd.arg("run").args(mode.flags());
    if case.grant {
        cmd.arg("--dir")
            .arg(format!("{}::/sandbox", sandbox.display()));
    }
    if case.tmpfs {
        cmd.arg("--tmpfs").arg("/sandbox");
        let fixtures: Vec<String> = case
            .files
            .iter()
            .map(|(path, contents)| format!("{path}={}", String::from_utf8_lossy(contents)))
            .collect();
        cmd.arg("--env")
            .arg(format!("WASC_GUEST_FIXTURES={}", fixtures.join(";")));
    }
    for var in &case.env {
        cmd.arg("--env").arg(var);
    }
    cmd.arg(&case.module).args(&case.args);
    cmd.env("WASC_TEST_INHERITED", "from the host");
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn wasc");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(&case.stdin).expect("feed stdin");
    drop(stdin);
    let output = child.wait_with_output().expect("wait for wasc");

    let tmp = root.path().display().to_string();
    let guests = case
        .module
        .parent()
        .expect("module has a directory")
        .display()
        .to_string();
    let clean = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .replace(&tmp, "$TMP")
            .replace(&guests, "$GUESTS")
    };
    let clean_stderr = |bytes: &[u8]| {
        clean(bytes)
            .lines()
            .filter(|l| !is_backtrace_frame(l))
            .fold(String::new(), |mut out, l| {
                writeln!(out, "{l}").expect("write to String");
                out
            })
    };
    Observed {
        status: output.status.code(),
        stdout: clean(&output.stdout),
        stderr: clean_stderr(&output.stderr),
        tree: if case.grant {
            tree(&sandbox)
        } else {
            String::new()
        },
    }
}

// The tree listing and the backtrace filter are the differential fuzzer's,
// so golden reports and call-script reports read alike.
pub use wasc_difftest::run::{is_backtrace_frame, tree};

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(format!("{name}.txt"))
}

/// Runs `case` in `mode` and asserts its report equals the golden file.
pub fn check(case: &Case, mode: Mode) {
    let report = run(case, mode).report();
    let golden = golden_path(&case.name);
    if mode == Mode::None && std::env::var_os("WASC_BLESS").is_some() {
        std::fs::write(&golden, &report).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
        panic!(
            "missing golden file {} ({e}); record it with WASC_BLESS=1",
            golden.display()
        )
    });
    if report != expected {
        panic!(
            "{} under {:?} differs from {}\n{}",
            case.name,
            mode,
            golden.display(),
            diff(&expected, &report)
        );
    }
}

/// A line diff good enough to read a failure.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                writeln!(
                    out,
                    "line {}:\n  expected: {}\n  actual:   {}",
                    i + 1,
                    x.unwrap_or(&"<none>"),
                    y.unwrap_or(&"<none>")
                )
                .expect("write to String");
            }
        }
    }
    out
}
