//! One function instance: what it is given ([`InstanceConfig`]), and
//! running it to an [`Outcome`] ([`Instance`]).

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

use crate::inprocess::InProcessInstance;
use crate::outcome::classify;
use crate::vm::VmInstance;
use crate::{DirMapping, Error, Limits, Outcome, TcpListen, TmpfsMount};

/// What one instance gets: its argv and environment, what it is granted,
/// its own standard streams, and its limits.
#[derive(Debug, Default)]
pub struct InstanceConfig {
    /// The guest's argv, `argv[0]` included.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Host directories, preopened in order after the listeners.
    pub dirs: Vec<DirMapping>,
    /// The same directories opened in advance ([`crate::open_dir`]), one
    /// per entry of `dirs`, or empty to open `dirs` per instance. A
    /// confined worker has no `open`: a server opens its routes' directories
    /// once and each VM instance gets duplicates. (In process, wasmtime-wasi
    /// opens `dirs` by path.)
    pub opened_dirs: Vec<std::sync::Arc<OwnedFd>>,
    /// In-VM memory file systems, preopened after `dirs`. In process, an
    /// empty temporary directory stands in for each.
    pub tmpfs: Vec<TmpfsMount>,
    /// Addresses to bind and listen on, preopened first. VM isolation only.
    pub tcplisten: Vec<TcpListen>,
    pub stdio: Stdio,
    pub limits: Limits,
}

/// Opens a `--dir` for [`InstanceConfig::opened_dirs`]: it must be a
/// directory.
pub fn open_dir(dir: &DirMapping) -> Result<OwnedFd, Error> {
    std::fs::File::open(&dir.host)
        .and_then(|f| {
            if f.metadata()?.is_dir() {
                Ok(OwnedFd::from(f))
            } else {
                Err(std::io::Error::from_raw_os_error(libc::ENOTDIR))
            }
        })
        .map_err(|source| Error::OpenDir {
            host: dir.host.clone(),
            source,
        })
}

/// An instance's standard streams: each its own descriptor (a pipe end, a
/// file, a socket), or `None` for the host process's own.
#[derive(Debug, Default)]
pub struct Stdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

impl Stdio {
    /// The descriptors the executor grants as handles 0–2.
    pub(crate) fn into_fds(self) -> [wasc_executor::StdioFd; 3] {
        use wasc_executor::StdioFd;
        let pick = |fd: Option<OwnedFd>, n| fd.map_or(StdioFd::Inherited(n), StdioFd::Owned);
        [
            pick(self.stdin, 0),
            pick(self.stdout, 1),
            pick(self.stderr, 2),
        ]
    }
}

/// An instance, made and not yet started. Its store, VM and descriptors
/// are its own; dropping it gives its VM back to the pool it came from.
pub struct Instance {
    pub(crate) module: PathBuf,
    pub(crate) timeout: Option<Duration>,
    pub(crate) kind: Kind,
}

pub(crate) enum Kind {
    Vm(VmInstance),
    InProcess(InProcessInstance),
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("module", &self.module)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Instance {
    /// Instantiates the module, runs `_start` under the instance's own
    /// deadline, and ends the instance.
    pub fn run(mut self) -> Outcome {
        self.call_start()
    }

    /// As [`Instance::run`], but the ended instance stays, for the caller
    /// to drop when it suits it — a server's worker answers the request
    /// first, and its VM's hold and reset come after. A VM instance's host
    /// handles are closed by now (its stdout's reader sees the end) and
    /// its sysd asked to park; in process, the streams close only when it
    /// is dropped.
    pub fn run_and_end(&mut self) -> Outcome {
        let outcome = self.call_start();
        if let Kind::Vm(instance) = &mut self.kind {
            instance.end();
        }
        outcome
    }

    /// As [`Instance::run`], but the instance (its memory, its VM) stays
    /// alive until dropped: for measuring what idle instances hold.
    pub fn call_start(&mut self) -> Outcome {
        let (result, deadline) = match &mut self.kind {
            Kind::Vm(instance) => instance.start(self.timeout),
            Kind::InProcess(instance) => instance.start(self.timeout),
        };
        let result = match result {
            Ok(result) => result,
            Err(source) => {
                return Outcome::NotStarted(Error::Instantiate {
                    path: self.module.clone(),
                    source,
                })
            }
        };
        if crate::deadline::timed_out(&result, deadline) {
            if let Some(timeout) = self.timeout {
                return Outcome::TimedOut(timeout);
            }
        }
        classify(&self.module, result)
    }

    /// `wasc run`'s last check: the linear-memory window left sysd's VM.
    pub(crate) fn unmap(&mut self) -> Result<(), Error> {
        match &mut self.kind {
            Kind::Vm(instance) => instance.unmap_window(),
            Kind::InProcess(_) => Ok(()),
        }
    }
}
