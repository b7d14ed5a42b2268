//! `--isolation vm`: the module runs in wasmtime here, and every WASI import
//! is a thin forwarder that hands `(function id, raw arguments)` to sysd in
//! its micro-VM and performs the host ops sysd asks for with the executor.
//! No WASI semantics live on this side.
//!
//! sysd implements all 46 functions of preview 1; an import with an unknown
//! name or the wrong type fails to link as it does with wasmtime-wasi.

use std::os::fd::OwnedFd;

use wasc_executor::{Executor, LinearMemory};
use wasc_seccomp::ThreadKind;
use wasc_vmm::{HostOps, Hypervisor, Pool, Template, Vm, VmConfig};
use wasc_wire::hostop::{HostOp, SCRATCH_LEN};
use wasc_wire::wasi::{self as ids, TrapKind};
use wasc_wire::Status;
use wasmtime::{
    Caller, Config, Engine, FuncType, Linker, Module, Store, StoreLimits, Val, ValType,
};

use crate::limits::{Deadline, HasLimits};

use crate::{load_module, Error, Outcome, RunConfig, Transport};

const WASI: &str = "wasi_snapshot_preview1";

/// Empty polls before sysd parks in the poll transport: long enough to span
/// the gap between a module's back-to-back WASI calls, short enough that an
/// idle instance stops burning its core within tens of microseconds.
const POLL_SPIN_LIMIT: u32 = 20_000;

/// What the forwarders need, kept in the store.
struct Instance {
    vm: Vm,
    executor: Executor,
    /// The module's `memory` export, once looked up (`Some(None)`: it has
    /// none).
    memory: Option<Option<wasmtime::Memory>>,
    /// The linear memory currently mapped into sysd: `(base, len)`.
    window: (usize, usize),
    limits: StoreLimits,
}

impl HasLimits for Instance {
    fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }
}

/// Where a new instance's VM comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmSource {
    /// Built from scratch: sysd loaded and booted.
    Fresh,
    /// A copy-on-write clone of the host's booted template.
    Template,
    /// A reset VM from the host's pool (a template clone if it is empty).
    Pool,
}

/// Everything VM-isolated instances of one engine share: the engine and
/// linker (46 forwarders), `/dev/kvm`, and (once needed) sysd's booted
/// template and a pool of reset VMs. `wasc run` makes one instance; benchmarks make many.
pub struct VmHost {
    engine: Engine,
    linker: Linker<Instance>,
    hypervisor: std::sync::Arc<Hypervisor>,
    /// sysd booted once and its pool of reset clones, made on first use:
    /// a one-shot `wasc run` boots a fresh VM and needs neither.
    pool: std::sync::OnceLock<(std::sync::Arc<Template>, Pool)>,
}

impl std::fmt::Debug for VmHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VmHost").finish_non_exhaustive()
    }
}

impl VmHost {
    /// Opens `kvm_device` and sets up an engine (with wasmtime's pooling
    /// allocator if `pooling`). sysd's template is booted on first use.
    pub fn new(kvm_device: &std::path::Path, pooling: bool) -> Result<Self, Error> {
        let mut wasm_config = Config::new();
        // sysd reads and writes linear memory in place at a fixed guest
        // address: the memory must never move.
        wasm_config.memory_may_move(false);
        // Compilation runs in parallel on a pool of our own that is gone
        // before confinement (`compile`): rayon's global pool would leave
        // idle threads unconfined while the function runs.
        wasm_config.parallel_compilation(true);
        wasm_config.epoch_interruption(true);
        if pooling {
            wasm_config.allocation_strategy(crate::pooling());
        }
        let engine = Engine::new(&wasm_config).map_err(Error::CreateEngine)?;
        let device = std::ffi::CString::new(kvm_device.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::BadKvmPath(kvm_device.to_owned()))?;
        let hypervisor = std::sync::Arc::new(Hypervisor::open_path(&device).map_err(Error::NoKvm)?);
        let mut linker: Linker<Instance> = Linker::new(&engine);
        define_forwarders(&mut linker, &engine)?;
        Ok(Self {
            engine,
            linker,
            hypervisor,
            pool: std::sync::OnceLock::new(),
        })
    }

    /// The template and pool, booting the template the first time.
    fn pool(&self) -> Result<&(std::sync::Arc<Template>, Pool), Error> {
        if let Some(pool) = self.pool.get() {
            return Ok(pool);
        }
        let template = std::sync::Arc::new(
            Template::new(
                &self.hypervisor,
                &VmConfig {
                    sysd: wasc_sysd_image::SYSD,
                },
            )
            .map_err(Error::Vm)?,
        );
        let pool = Pool::new(self.hypervisor.clone(), template.clone(), POOL_MAX_IDLE);
        Ok(self.pool.get_or_init(|| (template, pool)))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Keeps `count` reset VMs ready.
    pub fn fill_pool(&self, count: usize) -> Result<(), Error> {
        self.pool()?.1.fill(count).map_err(Error::Vm)
    }

    /// Compiles a module (and builds its copy-on-write memory image) on a
    /// thread pool that has ended when this returns.
    pub fn compile(&self, path: &std::path::Path) -> Result<Module, Error> {
        let module = compile_on_scoped_pool(|| load_module(&self.engine, path))?;
        // A memfd wasmtime would otherwise create at the first
        // instantiation, after the thread is confined.
        module
            .initialize_copy_on_write_image()
            .map_err(|e| Error::Confine(format!("preparing the module's memory image: {e}")))?;
        Ok(module)
    }

    /// A new instance of `module` with `config`'s arguments, environment,
    /// directories, limits and transport, its VM from `source`. Nothing of
    /// the module has run yet. `confine` makes a poll-transport vCPU thread
    /// install its seccomp filter first.
    pub fn instance(
        &self,
        module: &Module,
        config: &RunConfig,
        source: VmSource,
        confine: bool,
    ) -> Result<VmInstance, Error> {
        // Every preopen must have a descriptor: refuse, never drop one.
        let preopened = 3 + config.tcplisten.len() + config.dirs.len() + config.tmpfs.len();
        if preopened > wasc_wire::wasi::MAX_FDS {
            return Err(Error::TooManyPreopens(preopened));
        }
        let preopens = open_dirs(config)?;
        let listeners = listen(config)?;
        let mut vm = match source {
            VmSource::Fresh => Vm::build(
                &self.hypervisor,
                &VmConfig {
                    sysd: wasc_sysd_image::SYSD,
                },
            ),
            VmSource::Template => self.pool()?.0.instantiate(&self.hypervisor),
            VmSource::Pool => self.pool()?.1.take(),
        }
        .map_err(Error::Vm)?;
        if config.transport == Transport::Poll {
            let setup: Option<wasc_vmm::ThreadSetup> = confine.then(|| {
                std::sync::Arc::new(|| {
                    wasc_seccomp::install(ThreadKind::Vcpu).map_err(|e| e.to_string())
                }) as wasc_vmm::ThreadSetup
            });
            vm.set_transport_with(
                wasc_vmm::Transport::Poll {
                    spin_limit: POLL_SPIN_LIMIT,
                },
                setup,
            )
            .map_err(Error::Vm)?;
        }
        let data = instance_data(config)?;
        let quotas = config.tmpfs.iter().map(|m| m.size).sum();
        vm.map_tmpfs(wasc_wire::layout::tmpfs_region(quotas))
            .map_err(Error::Vm)?;
        vm.write_instance_data(&wasc_vmm::InstanceData {
            args: &data.args,
            env: &data.env,
            preopens: &data.preopens,
            tmpfs: &data.tmpfs,
            max_fds: config.limits.max_fds,
            listeners: listeners.len() as u32,
            terminals: terminals(),
        })
        .map_err(Error::Vm)?;
        let mut store = Store::new(
            &self.engine,
            Instance {
                vm,
                executor: Executor::with_listeners(listeners, preopens)
                    .map_err(Error::Listeners)?,
                memory: None,
                window: (0, 0),
                limits: config.limits.store_limits(),
            },
        );
        crate::limits::apply(&mut store);
        Ok(VmInstance {
            store: Some(store),
            module: module.clone(),
            path: config.module.clone(),
            source,
        })
    }

    /// Instantiates and runs `instance` (as `wasc run` does), then gives its
    /// VM back to the pool.
    pub fn start(&self, instance: &mut VmInstance) -> wasmtime::Result<()> {
        let store = instance.store.as_mut().expect("an instance has a store");
        let wasm = self.linker.instantiate(&mut *store, &instance.module)?;
        let start = wasm.get_typed_func::<(), ()>(&mut *store, "_start")?;
        start.call(&mut *store, ())
    }

    /// Ends `instance`: unmaps its window and, if its VM came from the
    /// pool, gives it back (reset) unless a call failed; other VMs are
    /// destroyed.
    pub fn finish(&self, mut instance: VmInstance) {
        let from_pool = instance.source == VmSource::Pool;
        if let (Some(vm), Some((_, pool))) = (instance.take_vm(), self.pool.get()) {
            if from_pool {
                pool.give_back(vm);
            }
        }
    }
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

/// Reset VMs a host keeps ready at most.
const POOL_MAX_IDLE: usize = 1024;

/// One VM-isolated instance: its store (the VM, the executor, the limits)
/// and its module, not yet instantiated.
pub struct VmInstance {
    store: Option<Store<Instance>>,
    module: Module,
    path: std::path::PathBuf,
    source: VmSource,
}

impl std::fmt::Debug for VmInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VmInstance")
            .field("module", &self.path)
            .finish_non_exhaustive()
    }
}

impl VmInstance {
    /// Unmaps the window (it maps memory the store owns) and takes the VM
    /// out of the store, which is then dropped.
    fn take_vm(&mut self) -> Option<Vm> {
        let mut store = self.store.take()?;
        let _ = store.data_mut().vm.unmap_window();
        let placeholder = store.into_data();
        Some(placeholder.vm)
    }
}

impl Drop for VmInstance {
    fn drop(&mut self) {
        if let Some(store) = self.store.as_mut() {
            // The window maps memory this store owns: remove it before the
            // store frees that memory.
            let _ = store.data_mut().vm.unmap_window();
        }
    }
}

pub(crate) fn run(config: &RunConfig) -> Result<Outcome, Error> {
    let host = VmHost::new(&config.kvm_device, false)?;
    let module = host.compile(&config.module)?;
    // One instance in this process: boot sysd straight into it.
    let mut instance = host.instance(&module, config, VmSource::Fresh, true)?;
    let store = instance.store.as_mut().expect("a new instance has a store");
    // From here on the module's code runs: confine this thread (the vCPU
    // thread confined itself when it started).
    let deadline = Deadline::arm(host.engine(), config.limits.timeout)?;
    confine_function_thread(config.transport)?;
    let outcome = crate::instantiate_and_start(config, &host.linker, store, &module, &deadline);
    let unmapped = store.data_mut().vm.unmap_window().map_err(Error::Vm);
    outcome.and_then(|outcome| unmapped.map(|()| outcome))
}

/// Checks the process has only the threads it should — this one and, in
/// the poll transport, the vCPU thread — and confines this one. KVM's
/// per-VM kernel workers (`kvm-nx-lpage-recovery`) show up among the
/// process's tasks but run no user code; they are not counted.
fn confine_function_thread(transport: Transport) -> Result<(), Error> {
    let expected = if transport == Transport::Poll { 2 } else { 1 };
    // The compilation pool's threads have said they are ending; give them a
    // moment to be gone from the task list.
    let patience = std::time::Instant::now();
    loop {
        let threads = wasc_seccomp::user_threads()
            .map_err(|e| Error::Confine(format!("listing threads: {e}")))?
            .len();
        if threads == expected {
            break;
        }
        if threads < expected || patience.elapsed() > std::time::Duration::from_secs(1) {
            return Err(Error::Confine(format!(
                "{threads} threads are running where {expected} should; refusing to run with any unconfined"
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    wasc_seccomp::install(ThreadKind::Function).map_err(|e| Error::Confine(e.to_string()))
}

fn open_dirs(config: &RunConfig) -> Result<Vec<OwnedFd>, Error> {
    config
        .dirs
        .iter()
        .map(|dir| {
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
        })
        .collect()
}

/// Binds and listens on every `--tcplisten` address, in order (the
/// executor makes each non-blocking). All of this happens before
/// confinement: the policy has no `socket`, `bind` or `listen`.
fn listen(config: &RunConfig) -> Result<Vec<OwnedFd>, Error> {
    config
        .tcplisten
        .iter()
        .map(|addr| {
            std::net::TcpListener::bind(addr.0.as_str())
                .map(OwnedFd::from)
                .map_err(|source| Error::Listen {
                    addr: addr.0.clone(),
                    source,
                })
        })
        .collect()
}

/// What sysd reads at start, each a run of NUL-terminated strings.
struct InstanceData {
    args: Vec<u8>,
    env: Vec<u8>,
    /// Guest names of the preopened directories, in handle order, then of
    /// the memory file systems.
    preopens: Vec<u8>,
    /// Each memory file system's quota in decimal.
    tmpfs: Vec<u8>,
}

/// Which of the host's stdin, stdout and stderr (bits 0, 1, 2) are
/// terminals: the module sees those as character devices, as with wasmtime.
fn terminals() -> u32 {
    use std::io::IsTerminal;
    u32::from(std::io::stdin().is_terminal())
        | u32::from(std::io::stdout().is_terminal()) << 1
        | u32::from(std::io::stderr().is_terminal()) << 2
}

fn instance_data(config: &RunConfig) -> Result<InstanceData, Error> {
    let mut args = Vec::new();
    for arg in config.argv()? {
        args.extend_from_slice(arg.as_bytes());
        args.push(0);
    }
    let mut env = Vec::new();
    for (name, value) in config.environment()? {
        env.extend_from_slice(format!("{name}={value}").as_bytes());
        env.push(0);
    }
    let mut preopens = Vec::new();
    for dir in &config.dirs {
        preopens.extend_from_slice(dir.guest.as_bytes());
        preopens.push(0);
    }
    let mut tmpfs = Vec::new();
    let mut total = 0u64;
    for mount in &config.tmpfs {
        preopens.extend_from_slice(mount.guest.as_bytes());
        preopens.push(0);
        tmpfs.extend_from_slice(mount.size.to_string().as_bytes());
        tmpfs.push(0);
        total = total.saturating_add(mount.size);
    }
    if wasc_wire::layout::tmpfs_region(total) >= wasc_wire::layout::TMPFS_MAX
        || config.tmpfs.len() > 16
    {
        return Err(Error::TmpfsTooLarge(total));
    }
    Ok(InstanceData {
        args,
        env,
        preopens,
        tmpfs,
    })
}

/// One forwarder per preview-1 function, with the function's real type, so a
/// module that declares another type fails to link as with wasmtime-wasi.
fn define_forwarders(linker: &mut Linker<Instance>, engine: &Engine) -> Result<(), Error> {
    for (id, (name, signature)) in ids::NAMES.iter().zip(ids::SIGNATURES).enumerate() {
        let params = signature.bytes().map(|b| {
            if b == b'I' {
                ValType::I64
            } else {
                ValType::I32
            }
        });
        let results = if *name == "proc_exit" {
            vec![]
        } else {
            vec![ValType::I32]
        };
        let ty = FuncType::new(engine, params, results);
        linker
            .func_new(WASI, name, ty, move |caller, params, results| {
                forward(id as u32, caller, params, results)
            })
            .map_err(Error::LinkWasi)?;
    }
    Ok(())
}

/// The forwarder: raw arguments in, sysd's answer out.
fn forward(
    id: u32,
    mut caller: Caller<'_, Instance>,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    // The export cannot change after instantiation: look it up once.
    let memory = match caller.data().memory {
        Some(memory) => memory,
        None => {
            let memory = caller.get_export("memory").and_then(|e| e.into_memory());
            caller.data_mut().memory = Some(memory);
            memory
        }
    };
    // wasmtime-wasi refuses every call of a module without one.
    let Some(memory) = memory else {
        return Err(wasmtime::Error::msg("missing required memory export"));
    };
    let (base, len) = (memory.data_ptr(&caller) as usize, memory.data_size(&caller));
    let mut args = [0u64; 9];
    for (slot, value) in args.iter_mut().zip(params) {
        *slot = match value {
            Val::I32(x) => u64::from(*x as u32),
            Val::I64(x) => *x as u64,
            _ => 0,
        };
    }
    let instance = caller.data_mut();
    if instance.window != (base, len) {
        // SAFETY: the memory belongs to this store, which owns the VM, and
        // never moves (memory_may_move(false)); it is remapped here whenever
        // its size changes, before sysd runs.
        unsafe { instance.vm.map_window(base as *mut u8, len) }?;
        instance.window = (base, len);
    }
    let mut host = ExecutorOps {
        executor: &mut instance.executor,
        base,
        len,
    };
    let reply = instance
        .vm
        .call_with(id, &args[..params.len()], &mut host)?;
    match reply.status {
        Status::Exit => Err(wasmtime_wasi::I32Exit(reply.value as i32).into()),
        Status::Trap => Err(trap_error(id, reply.errno, reply.value)),
        _ => {
            if let Some(result) = results.first_mut() {
                *result = Val::I32(reply.errno as i32);
            }
            Ok(())
        }
    }
}

/// The errors wasmtime-wasi gives for the same situations, with the same
/// chain of causes (wiggle adds "In func …" context for results it writes
/// and arguments it converts). `kind` and `detail` come from sysd: anything
/// unexpected is reported as such, not trusted.
fn trap_error(id: u32, kind: u32, detail: u64) -> wasmtime::Error {
    let function = ids::NAMES.get(id as usize).copied().unwrap_or("?");
    let in_func = |at: &str, error: wasmtime::Error| {
        let context = format!("In func {WASI}::{function} at {at}: {error}");
        error.context(context)
    };
    let region = || {
        wasmtime::Error::msg(format!(
            "Pointer out of bounds: Region {{ start: {}, len: {} }}",
            detail >> 32,
            detail & 0xffff_ffff
        ))
    };
    let misaligned = || {
        wasmtime::Error::msg(format!(
            "Pointer not aligned to {}: Region {{ start: {}, len: {} }}",
            detail & 0xffff_ffff,
            detail >> 32,
            detail & 0xffff_ffff
        ))
    };
    let value = |what: &str| match ids::ValueType::from_raw(detail) {
        Some(ty) => in_func(
            &format!("convert {}", ty.name()),
            wasmtime::Error::msg(format!("Invalid {what} value {}", ty.name())),
        ),
        None => wasmtime::Error::msg(format!("sysd ended the call with unknown type {detail}")),
    };
    match kind {
        k if k == TrapKind::PointerOutOfBounds as u32 => region(),
        k if k == TrapKind::ResultOutOfBounds as u32 => match ids::result_name(id) {
            Some(result) => in_func(&format!("write {result}"), region()),
            None => region(),
        },
        k if k == TrapKind::PointerNotAligned as u32 => misaligned(),
        k if k == TrapKind::ResultNotAligned as u32 => match ids::result_name(id) {
            Some(result) => in_func(&format!("write {result}"), misaligned()),
            None => misaligned(),
        },
        k if k == TrapKind::InvalidExitStatus as u32 => {
            wasmtime::Error::msg("exit with invalid exit status outside of [0..126)")
        }
        k if k == TrapKind::InvalidClockId as u32 => in_func(
            "convert Clockid",
            wasmtime::Error::msg("Invalid enum value Clockid"),
        ),
        k if k == TrapKind::InvalidEnum as u32 => value("enum"),
        k if k == TrapKind::InvalidFlags as u32 => value("flag"),
        k if k == TrapKind::IntConversion as u32 => match ids::ValueType::from_raw(detail) {
            Some(ty) => in_func(
                &format!("convert {}", ty.name()),
                wasmtime::Error::msg("out of range integral type conversion attempted")
                    .context("Int conversion error: TryFromIntError(())"),
            ),
            None => wasmtime::Error::msg(format!("sysd ended the call with unknown type {detail}")),
        },
        k if k == TrapKind::RandomTooLong as u32 => wasmtime::Error::msg(format!(
            "requested len {detail} exceeds limit {}",
            ids::RANDOM_LIMIT
        ))
        .context("failed to call `get-random-bytes`"),
        _ => wasmtime::Error::msg(format!("sysd ended the call with unknown trap kind {kind}")),
    }
}

/// Host ops through the executor, on the caller's linear memory.
struct ExecutorOps<'a> {
    executor: &'a mut Executor,
    base: usize,
    len: usize,
}

impl HostOps for ExecutorOps<'_> {
    fn perform(&mut self, op: &HostOp, scratch: &mut [u8; SCRATCH_LEN]) -> Result<u64, u16> {
        // SAFETY: `base..base + len` is the caller's linear memory, alive and
        // not otherwise borrowed while the forwarder runs.
        let memory = unsafe { LinearMemory::new(self.base as *mut u8, self.len) };
        self.executor
            .execute(op, &memory, scratch)
            .map_err(|errno| errno.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ExternType;

    /// The forwarders' types are wasmtime-wasi's types, function by function.
    #[test]
    fn signatures_match_wasmtime_wasi() {
        let engine = Engine::default();
        let mut linker: Linker<wasmtime_wasi::p1::WasiP1Ctx> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx).expect("link wasi");
        let mut store = Store::new(&engine, wasmtime_wasi::WasiCtxBuilder::new().build_p1());
        let items: Vec<_> = linker
            .iter(&mut store)
            .filter(|(module, _, _)| *module == WASI)
            .map(|(_, name, item)| (name.to_owned(), item))
            .collect();
        let mut seen = 0;
        for (name, item) in items {
            let name = name.as_str();
            let ExternType::Func(ty) = item.ty(&store) else {
                panic!("{name} is not a function")
            };
            let id = ids::id(name).unwrap_or_else(|| panic!("{name} missing from the id table"));
            let expected: String = ty
                .params()
                .map(|p| match p {
                    ValType::I32 => 'i',
                    ValType::I64 => 'I',
                    other => panic!("{name}: unexpected {other:?}"),
                })
                .collect();
            assert_eq!(ids::SIGNATURES[id as usize], expected, "{name}");
            assert_eq!(
                ty.results().len(),
                usize::from(name != "proc_exit"),
                "{name}"
            );
            seen += 1;
        }
        assert_eq!(seen, 46);
    }
}
