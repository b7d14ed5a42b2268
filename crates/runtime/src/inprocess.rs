//! `--isolation none`: wasmtime-wasi's preview-1 implementation in this
//! process. This is the reference semantics that sysd is tested against and
//! the baseline of every benchmark, configured as `wasmtime run` configures it.

use wasmtime::{Config, Engine, Linker, Store, StoreLimits};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::limits::{Deadline, HasLimits};
use crate::{load_module, Error, Outcome, RunConfig};

/// An engine and linker for in-process instances (the baseline), with
/// wasmtime's pooling allocator if asked: what benchmarks compare against.
pub struct InProcessHost {
    engine: Engine,
    linker: Linker<InProcess>,
}

impl std::fmt::Debug for InProcessHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessHost").finish_non_exhaustive()
    }
}

/// One in-process instance, not yet instantiated.
pub struct InProcessInstance {
    store: Store<InProcess>,
    module: wasmtime::Module,
}

impl std::fmt::Debug for InProcessInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessInstance").finish_non_exhaustive()
    }
}

impl InProcessHost {
    pub fn new(pooling: bool) -> Result<Self, Error> {
        let mut engine_config = Config::new();
        engine_config.epoch_interruption(true);
        if pooling {
            engine_config.allocation_strategy(crate::pooling());
        }
        let engine = Engine::new(&engine_config).map_err(Error::CreateEngine)?;
        let mut linker: Linker<InProcess> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |data| &mut data.wasi)
            .map_err(Error::LinkWasi)?;
        Ok(Self { engine, linker })
    }

    pub fn compile(&self, path: &std::path::Path) -> Result<wasmtime::Module, Error> {
        load_module(&self.engine, path)
    }

    /// A new instance of `module` with `config`'s arguments, environment,
    /// directories and limits.
    pub fn instance(
        &self,
        module: &wasmtime::Module,
        config: &RunConfig,
    ) -> Result<InProcessInstance, Error> {
        let (wasi, scratch) = wasi_context(config)?;
        let data = InProcess {
            wasi,
            limits: config.limits.store_limits(),
            scratch,
        };
        let mut store = Store::new(&self.engine, data);
        crate::limits::apply(&mut store);
        Ok(InProcessInstance {
            store,
            module: module.clone(),
        })
    }

    /// Instantiates and runs `instance`.
    pub fn start(&self, instance: &mut InProcessInstance) -> wasmtime::Result<()> {
        let wasm = self
            .linker
            .instantiate(&mut instance.store, &instance.module)?;
        let start = wasm.get_typed_func::<(), ()>(&mut instance.store, "_start")?;
        start.call(&mut instance.store, ())
    }
}

pub(crate) fn run(config: &RunConfig) -> Result<Outcome, Error> {
    let host = InProcessHost::new(false)?;
    let module = host.compile(&config.module)?;
    let mut instance = host.instance(&module, config)?;
    let deadline = Deadline::arm(&host.engine, config.limits.timeout)?;
    let _sweeper = config
        .limits
        .timeout
        .map(|timeout| Sweeper::start(timeout, &instance.store.data().scratch));
    crate::instantiate_and_start(
        config,
        &host.linker,
        &mut instance.store,
        &module,
        &deadline,
    )
}

/// The store's data: the WASI context and the run's limits.
struct InProcess {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
    /// Directories standing in for `--tmpfs` mounts.
    scratch: Vec<tempfile::TempDir>,
}

impl HasLimits for InProcess {
    fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }
}

/// The WASI context, and the host directories that stand in for `--tmpfs`
/// mounts in process (fresh and empty; removed with the instance; their
/// quotas are not enforced).
fn wasi_context(config: &RunConfig) -> Result<(WasiP1Ctx, Vec<tempfile::TempDir>), Error> {
    // wasmtime-wasi's preview 1 answers every socket call with NOTSOCK and
    // takes no listeners (`wasmtime run --tcplisten` refuses it too).
    if !config.tcplisten.is_empty() {
        return Err(Error::TcpListenNeedsVm);
    }
    let mut builder = WasiCtxBuilder::new();
    builder
        .inherit_stdio()
        .allow_blocking_current_thread(true)
        .args(&config.argv()?)
        .envs(&config.environment()?);
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

/// Removes the `--tmpfs` stand-in directories of a run that a hard
/// `--timeout` exit is about to end (the exit runs no destructors). Half the
/// grace period after the deadline, unless the run has ended and dropped
/// this first; a run that ends normally removes them itself.
struct Sweeper {
    _done: std::sync::mpsc::Sender<()>,
}

impl Sweeper {
    fn start(timeout: std::time::Duration, dirs: &[tempfile::TempDir]) -> Self {
        let (done, ended) = std::sync::mpsc::channel::<()>();
        let paths: Vec<std::path::PathBuf> = dirs.iter().map(|d| d.path().to_owned()).collect();
        let wait = timeout.saturating_add(crate::limits::GRACE / 2);
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
