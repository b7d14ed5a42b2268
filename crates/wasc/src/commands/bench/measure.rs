//! Running instances in this process and measuring them: start latency,
//! call cost, memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use wasc_runtime::{
    DirMapping, InProcessHost, Isolation, Limits, RunConfig, Transport, VmHost, VmSource,
};

use super::guests::{self, Call};

/// Where an instance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// wasmtime-wasi in this process, wasmtime's pooling allocator.
    InProcess,
    /// sysd in a VM.
    Vm(Transport, VmSource),
}

impl Mode {
    pub fn label(self) -> String {
        match self {
            Mode::InProcess => "in process (wasmtime pooling)".into(),
            Mode::Vm(transport, source) => {
                let source = match source {
                    VmSource::Fresh => "fresh VM",
                    VmSource::Template => "VM from template",
                    VmSource::Pool => "VM from pool",
                };
                let transport = match transport {
                    Transport::Sync => "sync",
                    Transport::Poll => "poll",
                };
                format!("{source}, {transport}")
            }
        }
    }
}

/// Both hosts, a granted directory, and compiled guests.
pub struct Bench {
    pub inprocess: InProcessHost,
    pub vm: VmHost,
    pub dir: tempfile::TempDir,
    modules: Vec<(Call, u64, PathBuf, wasmtime::Module, wasmtime::Module)>,
}

impl Bench {
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        guests::prepare_dir(dir.path()).context("filling the granted directory")?;
        Ok(Self {
            inprocess: InProcessHost::new(true)?,
            vm: VmHost::new(Path::new("/dev/kvm"), true)?,
            dir,
            modules: Vec::new(),
        })
    }

    /// The guest making `call` `count` times, compiled for both hosts.
    fn modules(&mut self, call: Call, count: u64) -> anyhow::Result<usize> {
        if let Some(i) = self
            .modules
            .iter()
            .position(|(c, n, ..)| *c == call && *n == count)
        {
            return Ok(i);
        }
        let path = self
            .dir
            .path()
            .join(format!("guest-{}-{count}.wat", self.modules.len()));
        std::fs::write(&path, guests::module(call, count))?;
        let inprocess = self.inprocess.compile(&path)?;
        let vm = self.vm.compile(&path)?;
        self.modules.push((call, count, path, inprocess, vm));
        Ok(self.modules.len() - 1)
    }

    /// The run's configuration; `tmpfs` adds `--tmpfs /tmp` (fd 4).
    fn config(&self, path: &Path, mode: Mode, tmpfs: bool) -> RunConfig {
        let (isolation, transport) = match mode {
            Mode::InProcess => (Isolation::None, Transport::Sync),
            Mode::Vm(transport, _) => (Isolation::Vm, transport),
        };
        RunConfig {
            module: path.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            dirs: vec![DirMapping {
                host: self.dir.path().to_owned(),
                guest: "/sandbox".into(),
            }],
            isolation,
            transport,
            limits: Limits {
                max_memory: 1 << 30,
                timeout: None,
                max_fds: wasc_runtime::MAX_FDS,
            },
            kvm_device: PathBuf::from("/dev/kvm"),
            // fd 4: in a VM an in-VM memory file system; in process an
            // empty temporary directory.
            tmpfs: if tmpfs {
                vec![wasc_runtime::TmpfsMount {
                    guest: "/tmp".into(),
                    size: 64 << 20,
                }]
            } else {
                Vec::new()
            },
            tcplisten: Vec::new(),
        }
    }

    /// Creates an instance of the guest making `call` `count` times and runs
    /// it to the end: the wall time from "start this module" to `_start`
    /// returning, and the KVM exits it took.
    pub fn run(&mut self, mode: Mode, call: Call, count: u64) -> anyhow::Result<(Duration, u64)> {
        let i = self.modules(call, count)?;
        let (_, _, path, inprocess_module, vm_module) = &self.modules[i];
        let config = self.config(path, mode, call == Call::WriteTmpfs);
        let exits = wasc_vmm::exit_count();
        let start = Instant::now();
        let result = match mode {
            Mode::InProcess => {
                let mut instance = self.inprocess.instance(inprocess_module, &config)?;
                self.inprocess.start(&mut instance)
            }
            Mode::Vm(_, source) => {
                let mut instance = self.vm.instance(vm_module, &config, source, false)?;
                let result = self.vm.start(&mut instance);
                let elapsed = start.elapsed();
                let exits = wasc_vmm::exit_count() - exits;
                // Giving the VM back (a reset) is not part of a start.
                self.vm.finish(instance);
                wasm(result, || format!("{} in {}", call.label(), mode.label()))?;
                return Ok((elapsed, exits));
            }
        };
        let elapsed = start.elapsed();
        wasm(result, || format!("{} in {}", call.label(), mode.label()))?;
        Ok((elapsed, wasc_vmm::exit_count() - exits))
    }

    /// Starts `n` instances of the start-up guest and keeps them: the
    /// memory they hold while idle.
    pub fn hold(&mut self, mode: Mode, n: usize) -> anyhow::Result<Held> {
        let i = self.modules(Call::Args, 1)?;
        let (_, _, path, inprocess_module, vm_module) = &self.modules[i];
        let config = self.config(path, mode, false);
        let mut held = Held::default();
        for _ in 0..n {
            match mode {
                Mode::InProcess => {
                    let mut instance = self.inprocess.instance(inprocess_module, &config)?;
                    wasm(self.inprocess.start(&mut instance), || "holding".into())?;
                    held.inprocess.push(instance);
                }
                Mode::Vm(_, source) => {
                    let mut instance = self.vm.instance(vm_module, &config, source, false)?;
                    wasm(self.vm.start(&mut instance), || "holding".into())?;
                    held.vm.push(instance);
                }
            }
        }
        Ok(held)
    }
}

/// A guest run's result, as an error naming `what` ran.
fn wasm<T>(result: wasmtime::Result<T>, what: impl Fn() -> String) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!("{}: {e:?}", what()))
}

/// Idle instances kept alive.
#[derive(Default)]
pub struct Held {
    inprocess: Vec<wasc_runtime::InProcessInstance>,
    vm: Vec<wasc_runtime::VmInstance>,
}

/// p50, p99 (nearest rank) and max of some samples.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

pub fn stats(mut samples: Vec<f64>) -> Stats {
    samples.sort_by(f64::total_cmp);
    let pick = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    Stats {
        p50: pick(0.5),
        p99: pick(0.99),
        max: samples[samples.len() - 1],
    }
}

/// The process's proportional set size and the system's available memory,
/// in KiB.
pub fn memory() -> anyhow::Result<(u64, u64)> {
    let field = |text: &str, name: &str| -> anyhow::Result<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {name} field"))
    };
    let pss = field(&std::fs::read_to_string("/proc/self/smaps_rollup")?, "Pss:")?;
    let available = field(&std::fs::read_to_string("/proc/meminfo")?, "MemAvailable:")?;
    Ok((pss, available))
}

/// Raises the open-file limit to its hard maximum (1,000 VMs hold several
/// descriptors each).
pub fn raise_fd_limit() -> anyhow::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        bail!("getrlimit: {}", std::io::Error::last_os_error());
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: as above; lowering nothing.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        bail!("setrlimit: {}", std::io::Error::last_os_error());
    }
    Ok(limit.rlim_cur)
}
