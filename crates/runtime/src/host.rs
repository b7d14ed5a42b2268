//! The runtime a process keeps: what a host sets once ([`HostConfig`]), the
//! engine every caller shares, compiled modules ([`FunctionModule`]), and
//! the instances made from them.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime::{Config, Engine};

use crate::deadline::Ticker;
use crate::inprocess::InProcessHost;
use crate::instance::{Instance, InstanceConfig, Kind};
use crate::vm::VmHost;
use crate::{Error, Isolation, Transport};

/// Where a new instance's VM comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmSource {
    /// Built from scratch: sysd loaded and booted (one-shot `wasc run`).
    Fresh,
    /// A copy-on-write clone of the host's booted template.
    Template,
    /// A reset VM from the host's pool (a template clone if it is empty).
    Pool,
}

/// Where the host's KVM comes from.
#[derive(Debug, Clone)]
pub enum KvmDevice {
    /// A device node to open (`/dev/kvm`; tests point it elsewhere).
    Path(PathBuf),
    /// A KVM device the caller already holds: a container's process gets
    /// one from its shim (docs/containerd.md).
    Open(Arc<OwnedFd>),
}

impl Default for KvmDevice {
    fn default() -> Self {
        Self::Path(PathBuf::from("/dev/kvm"))
    }
}

impl From<PathBuf> for KvmDevice {
    fn from(path: PathBuf) -> Self {
        Self::Path(path)
    }
}

/// What a host sets once for all its instances.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub isolation: Isolation,
    /// How WASI calls reach sysd (VM isolation).
    pub transport: Transport,
    /// Poll transport: how many empty polls sysd makes before it parks
    /// ([`POLL_SPIN_LIMIT`] for one instance per core,
    /// [`POLL_SPIN_LIMIT_SERVING`] for a server).
    pub poll_spin_limit: u32,
    /// The KVM device (`/dev/kvm`; tests point it elsewhere).
    pub kvm_device: KvmDevice,
    /// Where instances' VMs come from.
    pub vm_source: VmSource,
    /// wasmtime's pooling allocator: for a process that makes many
    /// instances.
    pub pooling: bool,
    /// Start no thread, ever: compile on the calling thread, and refuse
    /// what needs a thread of its own (the poll transport's vCPU thread,
    /// a `--timeout`'s epoch ticker). For a process forked from a
    /// multi-threaded one (the containerd shim's function process), where
    /// a new thread can block forever on a lock another thread held at the
    /// fork (std's thread registry, taken by every thread as it starts).
    pub single_thread: bool,
}

/// Empty polls before sysd parks in the poll transport, for an instance
/// with a core of its own (`wasc run`): long enough (≈ 0.3 ms here) to span
/// the compute between a module's WASI calls. 2,000 instead made `wasc
/// bench`'s SQLite and search slower in poll (docs/design.md).
pub const POLL_SPIN_LIMIT: u32 = 20_000;

/// The same for a server, whose instances share the cores with each other
/// and the network: a sysd whose function thread was preempted parks after
/// ≈ 30 µs and gives its core back. With 20,000, two poll workers on two
/// cores spent 4.3 ms of CPU per served hello, with 2,000 1.3 ms.
pub const POLL_SPIN_LIMIT_SERVING: u32 = 2_000;

impl HostConfig {
    /// A host for many instances: pooled VMs and memories, and the sync
    /// transport — with more instances running than cores, poll's second
    /// spinning thread per instance starves the others (docs/design.md,
    /// "Serving").
    pub fn serving(isolation: Isolation) -> Self {
        Self {
            isolation,
            transport: Transport::Sync,
            poll_spin_limit: POLL_SPIN_LIMIT_SERVING,
            kvm_device: KvmDevice::default(),
            vm_source: VmSource::Pool,
            pooling: true,
            single_thread: false,
        }
    }
}

/// The engine configuration every WaSC engine uses — both isolation modes,
/// and anything that precompiles modules for them.
pub fn engine_config(pooling: bool) -> Config {
    engine_config_for(pooling, true)
}

/// [`engine_config`], optionally without parallel compilation (which
/// runs on threads).
fn engine_config_for(pooling: bool, parallel_compilation: bool) -> Config {
    let mut config = Config::new();
    // sysd reads and writes linear memory in place, through a window the
    // VM maps at the memory's host address. A wasm32 memory never moves (it
    // lives in its 4 GiB reservation); a memory64 memory may move when it
    // grows past it, as in `wasmtime run`: the VM's limiter removes the
    // window before every growth, and the next call maps it again.
    config.memory_may_move(true);
    // Compilation runs in parallel on a pool of our own that is gone before
    // confinement (`compile_on_scoped_pool`): rayon's global pool would
    // leave idle threads unconfined while functions run.
    config.parallel_compilation(parallel_compilation);
    // Each instance's `--timeout` (crate::deadline).
    config.epoch_interruption(true);
    if pooling {
        config.allocation_strategy(pooling_strategy());
    }
    config
}

/// How much of a freed linear memory (and table) the pool resets in place
/// (memset, or the module's image copied back) instead of discarding with
/// `madvise`. A discarded page is unmapped from the host's page tables,
/// which drops KVM's mapping of it too, and a sysd touching it in the next
/// instance's window then takes an in-kernel fault (about 15 µs per served
/// hello call on a nested host, against 1–2 µs kept: docs/design.md). The
/// next instance still sees fresh memory: only how it is reset changes.
const KEEP_RESIDENT: usize = 512 << 10;

/// wasmtime's pooling allocator: room for 1,100 instances with one memory
/// and one table each.
fn pooling_strategy() -> wasmtime::InstanceAllocationStrategy {
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_memories(1_100)
        .total_tables(1_100)
        .total_core_instances(1_100)
        .max_memory_size(1 << 30)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT);
    wasmtime::InstanceAllocationStrategy::Pooling(pool)
}

enum Backend {
    Vm(VmHost),
    InProcess(InProcessHost),
}

/// A compiled, linked module, ready for any number of instances (of the
/// runtime that compiled it).
pub struct FunctionModule {
    path: PathBuf,
    pre: Pre,
}

enum Pre {
    Vm(crate::vm::Pre),
    InProcess(crate::inprocess::Pre),
}

impl std::fmt::Debug for FunctionModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionModule")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The instance pipeline: compile once, then make and run instances, from
/// any number of threads. `wasc run`, `wasc bench` and servers share it.
pub struct Runtime {
    config: HostConfig,
    engine: Engine,
    backend: Backend,
    /// Advances the epoch for instances' deadlines; started with the first
    /// instance that has one.
    ticker: Mutex<Option<Ticker>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// The engine, and for VM isolation `/dev/kvm` (failing clearly
    /// without it: there is no fallback to in-process WASI).
    pub fn new(config: HostConfig) -> Result<Self, Error> {
        if config.single_thread
            && config.isolation == Isolation::Vm
            && config.transport == Transport::Poll
        {
            return Err(Error::SingleThread("the poll transport"));
        }
        let engine = Engine::new(&engine_config_for(config.pooling, !config.single_thread))
            .map_err(Error::CreateEngine)?;
        let backend = match config.isolation {
            Isolation::Vm => Backend::Vm(VmHost::new(
                &engine,
                &config.kvm_device,
                config.poll_spin_limit,
            )?),
            Isolation::None => Backend::InProcess(InProcessHost::new(&engine)?),
        };
        Ok(Self {
            config,
            engine,
            backend,
            ticker: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Keeps `count` reset VMs ready (VM isolation; nothing otherwise).
    pub fn fill_pool(&self, count: usize) -> Result<(), Error> {
        match &self.backend {
            Backend::Vm(vm) => vm.fill_pool(count),
            Backend::InProcess(_) => Ok(()),
        }
    }

    /// Everything a host does once, done now rather than on first use:
    /// sysd's template booted, `vms` reset VMs in the pool, the epoch
    /// ticker started. Call it before worker threads confine themselves
    /// ([`confine_worker`]).
    pub fn warm_up(&self, vms: usize) -> Result<(), Error> {
        self.fill_pool(vms)?;
        self.start_ticker()
    }

    /// Reads, compiles and links a `.wasm` or `.wat` file.
    pub fn compile_file(&self, path: &Path) -> Result<FunctionModule, Error> {
        let bytes = crate::module::read_module(path)?;
        self.compile_bytes(path, &bytes)
    }

    /// Compiles and links module bytes (binary or text); `name` stands for
    /// the module in messages.
    pub fn compile_bytes(&self, name: &Path, bytes: &[u8]) -> Result<FunctionModule, Error> {
        let compile = || crate::module::compile_module(&self.engine, name, bytes);
        let module = if self.config.single_thread {
            compile()?
        } else {
            compile_on_scoped_pool(compile)?
        };
        // A memfd wasmtime would otherwise create at the first
        // instantiation, after the thread is confined.
        module
            .initialize_copy_on_write_image()
            .map_err(|e| Error::Confine(format!("preparing the module's memory image: {e}")))?;
        let instantiate = |source| Error::Instantiate {
            path: name.to_owned(),
            source,
        };
        let pre = match &self.backend {
            Backend::Vm(vm) => Pre::Vm(vm.prepare(&module).map_err(instantiate)?),
            Backend::InProcess(host) => Pre::InProcess(host.prepare(&module).map_err(instantiate)?),
        };
        Ok(FunctionModule {
            path: name.to_owned(),
            pre,
        })
    }

    /// A new instance of `module` with `config`'s grants, stdio and limits,
    /// its VM from the host's [`VmSource`] with its transport.
    pub fn instance(
        &self,
        module: &FunctionModule,
        config: InstanceConfig,
    ) -> Result<Instance, Error> {
        self.instance_from(module, config, self.config.vm_source, self.config.transport)
    }

    /// [`Runtime::instance`] with its VM from `source`, reaching sysd by
    /// `transport` (benchmarks compare them).
    pub fn instance_from(
        &self,
        module: &FunctionModule,
        config: InstanceConfig,
        source: VmSource,
        transport: Transport,
    ) -> Result<Instance, Error> {
        let timeout = config.limits.timeout;
        if timeout.is_some() {
            self.start_ticker()?;
        }
        let kind = match (&self.backend, &module.pre) {
            (Backend::Vm(host), Pre::Vm(pre)) => {
                Kind::Vm(host.instance(pre, config, source, transport)?)
            }
            (Backend::InProcess(host), Pre::InProcess(pre)) => {
                Kind::InProcess(host.instance(pre, config)?)
            }
            _ => return Err(Error::ForeignModule(module.path.clone())),
        };
        Ok(Instance {
            module: module.path.clone(),
            timeout,
            kind,
        })
    }

    fn start_ticker(&self) -> Result<(), Error> {
        let mut ticker = self.ticker.lock().unwrap_or_else(|e| e.into_inner());
        if ticker.is_none() {
            if self.config.single_thread {
                return Err(Error::SingleThread("a timeout (its epoch ticker)"));
            }
            *ticker = Some(Ticker::start(&self.engine)?);
        }
        Ok(())
    }

    /// Whether the epoch ticker thread runs.
    pub(crate) fn has_ticker(&self) -> bool {
        self.ticker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

/// Confines the calling thread as a worker of a library caller (a server,
/// the containerd shim): from now on it may make and run VM-isolated
/// instances and nothing else (`wasc_seccomp::policy::WORKER`). Threads it
/// starts inherit the filter. Not for in-process isolation, whose WASI
/// implementation needs the host's whole file-system surface.
pub fn confine_worker() -> Result<(), Error> {
    wasc_seccomp::install(wasc_seccomp::ThreadKind::Worker)
        .map_err(|e| Error::Confine(e.to_string()))
}

/// Runs `compile` on a rayon pool of its own (wasmtime compiles functions
/// in parallel on the pool it runs in) and waits until every thread of that
/// pool has exited.
fn compile_on_scoped_pool<T>(compile: impl FnOnce() -> T + Send) -> T
where
    T: Send,
{
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let (exited_tx, exited_rx) = std::sync::mpsc::channel();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("wasc-compile-{i}"))
        .exit_handler(move |_| {
            let _ = exited_tx.send(());
        })
        .build();
    let Ok(pool) = pool else {
        // No threads to spare: compile here, without parallelism.
        return compile();
    };
    let result = pool.install(compile);
    drop(pool);
    for _ in 0..threads {
        // An exit handler runs as each worker ends.
        if exited_rx.recv().is_err() {
            break;
        }
    }
    result
}
