//! `--isolation none`: wasmtime-wasi's preview-1 implementation in this
//! process. This is the reference semantics that sysd is tested against and
//! the baseline of every benchmark, configured as `wasmtime run` configures it.

use std::time::{Duration, Instant};

use wasmtime::{Engine, InstancePre, Linker, Module, Store, StoreLimits};
use wasmtime_wasi::cli::{InputFile, OutputFile};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::{Error, InstanceConfig};

/// The store's data: the WASI context and the instance's limits.
pub(crate) struct InProcess {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
    /// Directories standing in for `--tmpfs` mounts.
    scratch: Vec<tempfile::TempDir>,
}

/// A module linked against wasmtime-wasi, ready to instantiate.
pub(crate) type Pre = InstancePre<InProcess>;

/// The linker for in-process instances (the baseline).
pub(crate) struct InProcessHost {
    linker: Linker<InProcess>,
}

impl InProcessHost {
    pub(crate) fn new(engine: &Engine) -> Result<Self, Error> {
        let mut linker: Linker<InProcess> = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |data| &mut data.wasi)
            .map_err(Error::LinkWasi)?;
        Ok(Self { linker })
    }

    pub(crate) fn prepare(&self, module: &Module) -> wasmtime::Result<Pre> {
        self.linker.instantiate_pre(module)
    }

    /// A new instance with `config`'s grants and limits, not yet
    /// instantiated.
    pub(crate) fn instance(
        &self,
        pre: &Pre,
        mut config: InstanceConfig,
    ) -> Result<InProcessInstance, Error> {
        let stdio = std::mem::take(&mut config.stdio);
        let (wasi, scratch) = wasi_context(&config, stdio)?;
        let data = InProcess {
            wasi,
            limits: config.limits.store_limits(),
            scratch,
        };
        let mut store = Store::new(pre.module().engine(), data);
        store.limiter(|data| &mut data.limits);
        Ok(InProcessInstance {
            store,
            pre: pre.clone(),
        })
    }
}

/// One in-process instance, not yet instantiated.
pub(crate) struct InProcessInstance {
    store: Store<InProcess>,
    pre: Pre,
}

impl InProcessInstance {
    /// Instantiates the module (the outer error) and calls `_start` (the
    /// inner) under a deadline `timeout` from now (also returned).
    pub(crate) fn start(
        &mut self,
        timeout: Option<Duration>,
    ) -> (wasmtime::Result<wasmtime::Result<()>>, Option<Instant>) {
        let deadline = crate::deadline::arm(&mut self.store, timeout);
        let store = &mut self.store;
        let result = self.pre.instantiate(&mut *store).and_then(|wasm| {
            let start = wasm.get_typed_func::<(), ()>(&mut *store, "_start")?;
            Ok(start.call(&mut *store, ()))
        });
        (result, deadline)
    }

    /// The directories standing in for its `--tmpfs` mounts.
    pub(crate) fn scratch_dirs(&self) -> Vec<std::path::PathBuf> {
        let scratch = &self.store.data().scratch;
        scratch.iter().map(|d| d.path().to_owned()).collect()
    }
}

/// The WASI context, and the host directories that stand in for `--tmpfs`
/// mounts in process (fresh and empty; removed with the instance; their
/// quotas are not enforced).
fn wasi_context(
    config: &InstanceConfig,
    stdio: crate::Stdio,
) -> Result<(WasiP1Ctx, Vec<tempfile::TempDir>), Error> {
    // wasmtime-wasi's preview 1 answers every socket call with NOTSOCK and
    // takes no listeners (`wasmtime run --tcplisten` refuses it too).
    if !config.tcplisten.is_empty() {
        return Err(Error::TcpListenNeedsVm);
    }
    let mut builder = WasiCtxBuilder::new();
    builder
        .inherit_stdio()
        .allow_blocking_current_thread(true)
        .args(&config.argv)
        .envs(&config.env);
    if let Some(fd) = stdio.stdin {
        builder.stdin(InputFile::new(std::fs::File::from(fd)));
    }
    if let Some(fd) = stdio.stdout {
        builder.stdout(OutputFile::new(std::fs::File::from(fd)));
    }
    if let Some(fd) = stdio.stderr {
        builder.stderr(OutputFile::new(std::fs::File::from(fd)));
    }
    for dir in &config.dirs {
        builder
            .preopened_dir(&dir.host, &dir.guest, FsPerms::ReadWrite)
            .map_err(|source| Error::OpenDir {
                host: dir.host.clone(),
                source: into_io_error(source),
            })?;
    }
    let mut scratch = Vec::new();
    for mount in &config.tmpfs {
        let dir = tempfile::tempdir().map_err(|source| Error::OpenDir {
            host: std::env::temp_dir(),
            source,
        })?;
        builder
            .preopened_dir(dir.path(), &mount.guest, FsPerms::ReadWrite)
            .map_err(|source| Error::OpenDir {
                host: dir.path().to_owned(),
                source: into_io_error(source),
            })?;
        scratch.push(dir);
    }
    Ok((builder.build_p1(), scratch))
}

fn into_io_error(error: wasmtime::Error) -> std::io::Error {
    match error.downcast::<std::io::Error>() {
        Ok(io) => io,
        Err(other) => std::io::Error::other(format!("{other:#}")),
    }
}

/// Removes the `--tmpfs` stand-in directories of a `wasc run` that the hard
/// `--timeout` exit is about to end (the exit runs no destructors). Half the
/// grace period after the deadline, unless the run has ended and dropped
/// this first; a run that ends normally removes them itself.
pub(crate) struct Sweeper {
    _done: std::sync::mpsc::Sender<()>,
}

impl Sweeper {
    pub(crate) fn start(timeout: Duration, paths: Vec<std::path::PathBuf>) -> Self {
        let (done, ended) = std::sync::mpsc::channel::<()>();
        let wait = timeout.saturating_add(crate::deadline::GRACE / 2);
        if !paths.is_empty() {
            std::thread::spawn(move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = ended.recv_timeout(wait) {
                    for path in paths {
                        let _ = std::fs::remove_dir_all(path);
                    }
                }
            });
        }
        Self { _done: done }
    }
}
