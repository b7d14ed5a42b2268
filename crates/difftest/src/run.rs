//! Runs a call script through `wasc` and reports what it did.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The isolation modes a script runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--isolation none`: wasmtime-wasi in process, the reference.
    None,
    /// `--isolation vm --transport sync`.
    VmSync,
    /// `--isolation vm --transport poll`.
    VmPoll,
}

impl Mode {
    /// Every mode, the reference first.
    pub const ALL: [Mode; 3] = [Mode::None, Mode::VmSync, Mode::VmPoll];

    /// The `wasc run` options that select this mode.
    pub fn flags(self) -> &'static [&'static str] {
        match self {
            Mode::None => &["--isolation", "none"],
            Mode::VmSync => &["--isolation", "vm", "--transport", "sync"],
            Mode::VmPoll => &["--isolation", "vm", "--transport", "poll"],
        }
    }
}

/// An entry of the granted tree every script starts from.
#[derive(Debug, Clone, Copy)]
pub enum Entry {
    File(&'static str, &'static [u8]),
    Dir(&'static str),
    Symlink(&'static str, &'static str),
}

/// The tree granted at `/sandbox`: files, directories and symlinks of every
/// kind a path walk meets (to a file, to a directory, dangling, a loop, and
/// one that leads outside the granted directory), and a directory two
/// levels down with a symlink back up (`dir/sub/up -> ../..`), so paths
/// like `dir/sub/deep` take sysd's one-op directory lookup and `..` after
/// it.
pub const FIXTURE: &[Entry] = &[
    Entry::File("file", b"0123456789"),
    Entry::Dir("dir"),
    Entry::File("dir/inner", b"inner"),
    Entry::Dir("dir/sub"),
    Entry::File("dir/sub/deep", b"deep"),
    Entry::Symlink("dir/sub/up", "../.."),
    Entry::Dir("empty"),
    Entry::Symlink("lfile", "file"),
    Entry::Symlink("ldir", "dir"),
    Entry::Symlink("ldangle", "missing"),
    Entry::Symlink("lloop", "lloop"),
    Entry::Symlink("lout", "../outside"),
];

/// Where `wasc` and the `call_script` guest are.
#[derive(Debug, Clone)]
pub struct Runner {
    pub wasc: PathBuf,
    pub guest: PathBuf,
    /// Bytes on the guest's stdin.
    pub stdin: Vec<u8>,
    /// Extra `wasc run` options (before the module).
    pub options: Vec<String>,
}

impl Runner {
    pub fn new(wasc: impl Into<PathBuf>, guest: impl Into<PathBuf>) -> Self {
        Self {
            wasc: wasc.into(),
            guest: guest.into(),
            stdin: b"stdin data\n".to_vec(),
            options: Vec::new(),
        }
    }
}

/// What one run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The granted tree afterwards ([`tree`]).
    pub tree: String,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {:?}\n--- stdout\n{}--- stderr\n{}--- tree\n{}",
            self.status, self.stdout, self.stderr, self.tree
        )
    }
}

fn make_fixture(root: &Path) -> std::io::Result<()> {
    for entry in FIXTURE {
        match *entry {
            Entry::File(path, data) => std::fs::write(root.join(path), data)?,
            Entry::Dir(path) => std::fs::create_dir(root.join(path))?,
            Entry::Symlink(path, target) => std::os::unix::fs::symlink(target, root.join(path))?,
        }
    }
    Ok(())
}

/// Runs `script` (one call per line) in `mode` over a fresh fixture.
pub fn run(runner: &Runner, mode: Mode, script: &[String]) -> std::io::Result<Report> {
    let root = tempfile::tempdir()?;
    let sandbox = root.path().join("sandbox");
    std::fs::create_dir(&sandbox)?;
    std::fs::create_dir(root.path().join("outside"))?;
    std::fs::write(root.path().join("outside/secret"), b"secret")?;
    make_fixture(&sandbox)?;

    let mut cmd = Command::new(&runner.wasc);
    cmd.arg("run")
        .args(mode.flags())
        .arg("--timeout")
        .arg("20s")
        .arg("--dir")
        .arg(format!("{}::/sandbox", sandbox.display()))
        .args(["--tmpfs", "/tmp:1M"])
        .args(&runner.options)
        .arg(&runner.guest)
        .args(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // The guest may exit without reading: a closed pipe is not an error here.
    let _ = stdin.write_all(&runner.stdin);
    drop(stdin);
    let output = child.wait_with_output()?;
    let tmp = root.path().display().to_string();
    let clean = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&tmp, "$TMP");
    let stderr = clean(&output.stderr)
        .lines()
        .filter(|l| !is_backtrace_frame(l))
        .fold(String::new(), |mut out, l| {
            let _ = writeln!(out, "{l}");
            out
        });
    Ok(Report {
        status: output.status.code(),
        stdout: clean(&output.stdout),
        stderr,
        tree: tree(&sandbox),
    })
}

/// A frame of wasmtime's Wasm backtrace (`    3:   0x2df3 - name!symbol`):
/// its hashes depend on where the guest was built.
pub fn is_backtrace_frame(line: &str) -> bool {
    let Some((index, rest)) = line.trim_start().split_once(':') else {
        return false;
    };
    !index.is_empty()
        && index.bytes().all(|b| b.is_ascii_digit())
        && rest.trim_start().starts_with("0x")
}

/// Lists a directory tree, sorted: `d name/`, `l name -> target`,
/// `f name SIZE CONTENT-OR-HASH`.
pub fn tree(root: &Path) -> String {
    let mut lines = Vec::new();
    walk(root, root, &mut lines);
    lines.sort();
    lines.iter().fold(String::new(), |mut out, line| {
        let _ = writeln!(out, "{line}");
        out
    })
}

fn walk(root: &Path, dir: &Path, lines: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        lines.push(format!("? {} unreadable", dir.display()));
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap_or_default();
            lines.push(format!("l {rel} -> {}", target.display()));
        } else if meta.is_dir() {
            lines.push(format!("d {rel}/"));
            walk(root, &path, lines);
        } else if meta.is_file() {
            let data = std::fs::read(&path).unwrap_or_default();
            let shown = match std::str::from_utf8(&data) {
                Ok(text) if data.len() <= 80 => format!("{text:?}"),
                _ => format!("fnv1a:{:016x}", fnv1a(&data)),
            };
            lines.push(format!("f {rel} {} {shown}", data.len()));
        } else {
            lines.push(format!("o {rel}"));
        }
    }
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `None` if the reports are equal, else both reports, reference first.
pub fn compare(reference: &Report, other: &Report) -> Option<String> {
    (reference != other).then(|| format!("--- reference\n{reference}=== observed\n{other}"))
}
