//! `--isolation vm`: the module runs in wasmtime here, and every WASI import
//! is a thin forwarder (`forward.rs`) that hands `(function id, raw
//! arguments)` to sysd in its micro-VM and performs the host ops sysd asks
//! for with the executor. No WASI semantics live on this side.
//!
//! sysd implements all 46 functions of preview 1; an import with an unknown
//! name or the wrong type fails to link as it does with wasmtime-wasi.

mod forward;
mod grants;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use wasc_executor::Executor;
use wasc_seccomp::ThreadKind;
use wasc_vmm::{Hypervisor, Pool, Template, Vm, VmConfig};
use wasmtime::{Engine, InstancePre, Linker, Module, ResourceLimiter, Store, StoreLimits};

use crate::{Error, InstanceConfig, KvmDevice, Transport, VmSource};

const WASI: &str = "wasi_snapshot_preview1";

/// Reset VMs a host keeps ready at most.
const POOL_MAX_IDLE: usize = 1024;

/// What the forwarders need, kept in the store.
pub(crate) struct Instance {
    vm: Vm,
    executor: Executor,
    /// The module's `memory` export, once looked up (`Some(None)`: it has
    /// none).
    memory: Option<Option<wasmtime::Memory>>,
    /// The linear memory currently mapped into sysd: `(base, len)`.
    window: (usize, usize),
    limits: StoreLimits,
}

/// The run's limits, and one duty more: a memory about to grow may move (a
/// memory64 memory past its reservation), and sysd must never use a
/// window on memory wasmtime may free, so the window is retired first
/// (`Vm::retire_window`). The next WASI call maps the memory where it is
/// then. Wasmtime asks this for the instance's first memory too, while a
/// pooled VM's window still maps the last instance's.
impl ResourceLimiter for Instance {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.vm.retire_window()?;
            self.window = (0, 0);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// A module linked against the forwarders, ready to instantiate.
pub(crate) type Pre = InstancePre<Instance>;

/// Everything VM-isolated instances of one engine share: the linker (46
/// forwarders), `/dev/kvm`, and (once needed) sysd's booted template and a
/// pool of reset VMs.
pub(crate) struct VmHost {
    linker: Linker<Instance>,
    hypervisor: Arc<Hypervisor>,
    /// sysd booted once and its pool of reset clones, made on first use:
    /// a one-shot `wasc run` boots a fresh VM and needs neither.
    pool: OnceLock<(Arc<Template>, Arc<Pool>)>,
    /// Poll transport: sysd's empty polls before it parks.
    spin_limit: u32,
}

impl VmHost {
    /// Opens `kvm_device` and links the forwarders. sysd's template is
    /// booted on first use.
    pub(crate) fn new(
        engine: &Engine,
        kvm_device: &KvmDevice,
        spin_limit: u32,
    ) -> Result<Self, Error> {
        let hypervisor = match kvm_device {
            KvmDevice::Path(path) => {
                let device = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
                    .map_err(|_| Error::BadKvmPath(path.clone()))?;
                Hypervisor::open_path(&device)
            }
            KvmDevice::Open(fd) => {
                let own = fd.try_clone().map_err(Error::DupKvm)?;
                Hypervisor::from_fd(own, std::path::Path::new("the inherited KVM device"))
            }
        };
        let hypervisor = Arc::new(hypervisor.map_err(Error::NoKvm)?);
        let mut linker: Linker<Instance> = Linker::new(engine);
        forward::define_forwarders(&mut linker, engine)?;
        // A signal handler, installed before any thread is confined.
        wasc_vmm::install_kick_handler();
        Ok(Self {
            linker,
            hypervisor,
            pool: OnceLock::new(),
            spin_limit,
        })
    }

    /// The template and pool, booting the template the first time.
    fn pool(&self) -> Result<&(Arc<Template>, Arc<Pool>), Error> {
        if let Some(pool) = self.pool.get() {
            return Ok(pool);
        }
        let template = Arc::new(
            Template::new(
                &self.hypervisor,
                &VmConfig {
                    sysd: wasc_sysd_image::SYSD,
                },
            )
            .map_err(Error::Vm)?,
        );
        let pool = Arc::new(Pool::new(
            self.hypervisor.clone(),
            template.clone(),
            POOL_MAX_IDLE,
        ));
        // Another thread may have booted one meanwhile: keep the first.
        Ok(self.pool.get_or_init(|| (template, pool)))
    }

    /// Keeps `count` reset VMs ready.
    pub(crate) fn fill_pool(&self, count: usize) -> Result<(), Error> {
        self.pool()?.1.fill(count).map_err(Error::Vm)
    }

    pub(crate) fn prepare(&self, module: &Module) -> wasmtime::Result<Pre> {
        self.linker.instantiate_pre(module)
    }

    /// A new instance with `config`'s grants and limits, its VM from
    /// `source`, not yet instantiated. A poll-transport vCPU thread
    /// installs its seccomp filter before it runs sysd.
    pub(crate) fn instance(
        &self,
        pre: &Pre,
        config: InstanceConfig,
        source: VmSource,
        transport: Transport,
    ) -> Result<VmInstance, Error> {
        // Every preopen must have a descriptor: refuse, never drop one.
        let preopened = 3 + config.tcplisten.len() + config.dirs.len() + config.tmpfs.len();
        if preopened > wasc_wire::wasi::MAX_FDS {
            return Err(Error::TooManyPreopens(preopened));
        }
        // A confined worker cannot open a directory or bind a socket: say
        // so rather than die of the forbidden call.
        let opens_paths = !config.dirs.is_empty() && config.opened_dirs.is_empty();
        if wasc_seccomp::current() == Some(ThreadKind::Worker)
            && (opens_paths || !config.tcplisten.is_empty())
        {
            return Err(Error::ConfinedWorkerGrants);
        }
        if !config.opened_dirs.is_empty() && config.opened_dirs.len() != config.dirs.len() {
            return Err(Error::OpenedDirsMismatch);
        }
        let strings = grants::instance_data(&config)?;
        let preopens = grants::open_dirs(&config)?;
        let listeners = grants::listen(&config)?;
        let stdio = config.stdio.into_fds();
        let (vm, pool) = match source {
            VmSource::Fresh => (
                Vm::build(
                    &self.hypervisor,
                    &VmConfig {
                        sysd: wasc_sysd_image::SYSD,
                    },
                ),
                None,
            ),
            VmSource::Template => (self.pool()?.0.instantiate(&self.hypervisor), None),
            VmSource::Pool => {
                let pool = &self.pool()?.1;
                (pool.take(), Some(pool.clone()))
            }
        };
        let mut vm = vm.map_err(Error::Vm)?;
        if transport == Transport::Poll {
            let setup: wasc_vmm::ThreadSetup =
                Arc::new(|| wasc_seccomp::install(ThreadKind::Vcpu).map_err(|e| e.to_string()));
            vm.set_transport_with(
                wasc_vmm::Transport::Poll {
                    spin_limit: self.spin_limit,
                },
                Some(setup),
            )
            .map_err(Error::Vm)?;
        }
        let quotas = config.tmpfs.iter().map(|m| m.size).sum();
        vm.map_tmpfs(wasc_wire::layout::tmpfs_region(quotas))
            .map_err(Error::Vm)?;
        // A pooled poll VM's thread enters the VM while we instantiate.
        vm.start_early().map_err(Error::Vm)?;
        vm.write_instance_data(&wasc_wire::InstanceData {
            args: &strings.args,
            env: &strings.env,
            preopens: &strings.preopens,
            tmpfs: &strings.tmpfs,
            max_fds: config.limits.max_fds,
            listeners: listeners.len() as u32,
            terminals: grants::terminals(&stdio),
        })
        .map_err(Error::Vm)?;
        let executor = Executor::granted(stdio, listeners, preopens).map_err(Error::Listeners)?;
        let mut store = Store::new(
            pre.module().engine(),
            Instance {
                vm,
                executor,
                memory: None,
                window: (0, 0),
                limits: config.limits.store_limits(),
            },
        );
        store.limiter(|data| data);
        Ok(VmInstance {
            store: Some(store),
            pre: pre.clone(),
            pool,
        })
    }
}

/// One VM-isolated instance: its store (the VM, the executor, the limits)
/// and its linked module. Dropping it gives its VM back to the pool it came
/// from (reset), or destroys the VM.
pub(crate) struct VmInstance {
    store: Option<Store<Instance>>,
    pre: Pre,
    pool: Option<Arc<Pool>>,
}

impl VmInstance {
    /// Instantiates the module (the outer error) and calls `_start` (the
    /// inner) under a deadline `timeout` from now (also returned).
    pub(crate) fn start(
        &mut self,
        timeout: Option<Duration>,
    ) -> (wasmtime::Result<wasmtime::Result<()>>, Option<Instant>) {
        let store = self.store.as_mut().expect("a live instance has a store");
        let deadline = crate::deadline::arm(store, timeout);
        // A wait in the host ends by the deadline too, and a call whose
        // wait met it ends the module (`forward`).
        store.data_mut().executor.set_deadline(deadline);
        let result = self.pre.instantiate(&mut *store).and_then(|wasm| {
            let start = wasm.get_typed_func::<(), ()>(&mut *store, "_start")?;
            Ok(start.call(&mut *store, ()))
        });
        (result, deadline)
    }

    /// The module is done: its host handles close (whoever reads its
    /// stdout sees the end now) and its sysd is asked to park, so the VM's
    /// reset at the drop finds it parked rather than waits for it.
    pub(crate) fn end(&mut self) {
        if let Some(store) = self.store.as_mut() {
            let data = store.data_mut();
            data.executor.close_all();
            data.vm.request_hold();
        }
    }

    /// Unmaps the linear-memory window from sysd's VM (a failure means the
    /// VM's state is unknown: `wasc run` reports it).
    pub(crate) fn unmap_window(&mut self) -> Result<(), Error> {
        match self.store.as_mut() {
            Some(store) => store.data_mut().vm.unmap_window().map_err(Error::Vm),
            None => Ok(()),
        }
    }
}

impl Drop for VmInstance {
    fn drop(&mut self) {
        let Some(mut store) = self.store.take() else {
            return;
        };
        // The window maps memory this store owns: retire it before the
        // store frees that memory (sysd runs again only once the window
        // maps the next instance's memory; kept if that is at the same
        // place, as it often is with wasmtime's pooled memory slots).
        let _ = store.data_mut().vm.retire_window();
        let vm = store.into_data().vm;
        if let Some(pool) = &self.pool {
            pool.give_back(vm);
        }
    }
}

impl VmHost {
    /// For `wasc run`: checks the process has only the threads it should —
    /// this one, the vCPU thread in the poll transport, and the epoch
    /// ticker if one runs — and confines this one. KVM's per-VM kernel
    /// workers (`kvm-nx-lpage-recovery`) show up among the process's tasks
    /// but run no user code; they are not counted.
    pub(crate) fn confine_process(transport: Transport, ticker: bool) -> Result<(), Error> {
        let expected = 1 + usize::from(transport == Transport::Poll) + usize::from(ticker);
        // The compilation pool's threads have said they are ending; give
        // them a moment to be gone from the task list. Fewer than expected
        // is retried too: a listing of `/proc/self/task` taken while
        // threads exit can miss a live one (seen under load: the ticker
        // left out while the pool's threads went away).
        let patience = Instant::now();
        loop {
            let threads = wasc_seccomp::user_threads()
                .map_err(|e| Error::Confine(format!("listing threads: {e}")))?
                .len();
            if threads == expected {
                break;
            }
            if patience.elapsed() > Duration::from_secs(1) {
                return Err(Error::Confine(format!(
                    "{threads} threads are running where {expected} should; refusing to run with any unconfined"
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        wasc_seccomp::install(ThreadKind::Function).map_err(|e| Error::Confine(e.to_string()))
    }
}
