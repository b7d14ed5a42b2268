//! A private containerd for the shim's end-to-end test and benchmark: its
//! own root, state directory, socket and namespace, the CRI plugin off, and
//! the shim under test first on its PATH. It never talks to a containerd it
//! did not start; it stops its own by process id and removes what it made.

#![allow(dead_code)] // the test and the benchmark each use a part.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// containerd's runtime name for the shim under test.
pub const RUNTIME: &str = "io.containerd.wasc.v1";

/// Where containerd's shims keep per-namespace container state outside the
/// daemon's own state directory.
const RUNTIME_ROOTS: [&str; 2] = ["/run/containerd/wasc", "/run/containerd/runc"];

#[derive(Debug)]
pub struct Containerd {
    daemon: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
    pub namespace: String,
}

/// A program from Debian's packages, or a loud failure naming the script
/// that installs it.
fn require(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{program}` is not installed: run scripts/install-deps"))
}

impl Containerd {
    /// Starts a private containerd whose PATH finds `shim` first.
    pub fn start(shim: &Path, tag: &str) -> Self {
        Self::start_with_env(shim, tag, &[])
    }

    /// [`Containerd::start`] with more environment for the daemon (and so
    /// for its shims).
    pub fn start_with_env(shim: &Path, tag: &str, env: &[(&str, &str)]) -> Self {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        assert_eq!(
            uid, 0,
            "containerd needs root here; this test must not pass without it"
        );
        assert!(
            Path::new("/dev/kvm").exists(),
            "/dev/kvm is missing: the WaSC shim needs KVM"
        );
        let containerd = require("containerd");
        require("ctr");
        require("runc");
        // Short: the socket path must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("wcd")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("mkdir bin");
        std::os::unix::fs::symlink(shim, bin.join("containerd-shim-wasc-v1")).expect("link shim");
        let socket = dir.path().join("c.sock");
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = {root:?}\nstate = {state:?}\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = {socket:?}\n[ttrpc]\n  address = {ttrpc:?}\n",
                root = dir.path().join("root"),
                state = dir.path().join("state"),
                socket = socket,
                ttrpc = dir.path().join("c.sock.ttrpc"),
            ),
        )
        .expect("write config");
        let log = std::fs::File::create(dir.path().join("containerd.log")).expect("log");
        let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .expect("PATH");
        let daemon = Command::new(containerd)
            .arg("--config")
            .arg(&config)
            .env("PATH", path)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let mut this = Self {
            daemon,
            dir,
            socket,
            namespace: format!("wasc-{tag}-{}", std::process::id()),
        };
        let started = Instant::now();
        loop {
            if this.socket.exists()
                && this
                    .ctr(&["version"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            {
                break;
            }
            if let Ok(Some(status)) = this.daemon.try_wait() {
                panic!("containerd exited at start ({status}):\n{}", this.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "containerd did not answer within 30 s:\n{}",
                this.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        this
    }

    /// `ctr` on this containerd and namespace.
    pub fn ctr(&self, args: &[&str]) -> Command {
        let mut command = Command::new("ctr");
        command
            .arg("--address")
            .arg(&self.socket)
            .arg("--namespace")
            .arg(&self.namespace);
        command.args(args);
        command
    }

    /// Runs `ctr` to completion, failing loudly if it fails.
    pub fn ctr_ok(&self, args: &[&str]) -> Output {
        let output = self.ctr(args).output().expect("run ctr");
        assert!(
            output.status.success(),
            "ctr {args:?}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Imports an image tarball.
    pub fn import(&self, tarball: &Path) {
        self.ctr_ok(&[
            "image",
            "import",
            "--all-platforms",
            &tarball.to_string_lossy(),
        ]);
    }

    /// Whether the task `id` is running.
    pub fn is_running(&self, id: &str) -> bool {
        self.ctr(&["task", "ls"]).output().is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.split_whitespace().next() == Some(id) && l.contains("RUNNING"))
        })
    }

    /// Processes whose command line names this namespace: the shims, and
    /// for WaSC the container processes runwasi forks from its zygote.
    pub fn namespace_processes(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
                let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
                let words: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
                let named = words
                    .windows(2)
                    .any(|w| w[0] == b"-namespace" && w[1] == self.namespace.as_bytes());
                named.then_some(pid)
            })
            .collect()
    }

    /// A scratch directory that goes away with this containerd.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// Removes every task and container of the namespace: each shim then
    /// exits by itself.
    fn remove_containers(&self) {
        let Ok(listed) = self.ctr(&["container", "ls", "-q"]).output() else {
            return;
        };
        for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]).output();
            let _ = self.ctr(&["task", "rm", "-f", id]).output();
            let _ = self.ctr(&["container", "rm", id]).output();
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.remove_containers();
        // SIGTERM to the daemon this harness started (by its pid), then a
        // bounded wait, then SIGKILL.
        let pid = libc::pid_t::try_from(self.daemon.id()).expect("pid");
        // SAFETY: kill on the pid of our own child, which we have not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.daemon.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(None) = self.daemon.try_wait() {
            let _ = self.daemon.kill();
            let _ = self.daemon.wait();
        }
        for root in RUNTIME_ROOTS {
            let _ = std::fs::remove_dir_all(Path::new(root).join(&self.namespace));
            // The runtime's own directory too, if nothing else is in it.
            let _ = std::fs::remove_dir(root);
        }
    }
}

/// Percentile `p` (0–100) of sorted durations.
pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len() * p).div_ceil(100).saturating_sub(1);
    sorted[index.min(sorted.len() - 1)]
}
