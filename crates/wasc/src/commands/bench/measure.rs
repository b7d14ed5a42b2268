//! Running instances in this process and measuring them: start latency,
//! call cost, memory.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use wasc_runtime::{
    DirMapping, FunctionModule, HostConfig, Instance, InstanceConfig, Isolation, Limits, Outcome,
    Runtime, Transport, VmSource,
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

/// Both runtimes, a granted directory, and compiled guests.
pub struct Bench {
    pub inprocess: Runtime,
    pub vm: Runtime,
    pub dir: tempfile::TempDir,
    modules: Vec<(Call, u64, FunctionModule, FunctionModule)>,
}

impl Bench {
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        guests::prepare_dir(dir.path()).context("filling the granted directory")?;
        Ok(Self {
            inprocess: Runtime::new(HostConfig::serving(Isolation::None))?,
            vm: Runtime::new(HostConfig::serving(Isolation::Vm))?,
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
        let inprocess = self.inprocess.compile_file(&path)?;
        let vm = self.vm.compile_file(&path)?;
        self.modules.push((call, count, inprocess, vm));
        Ok(self.modules.len() - 1)
    }

    /// An instance's configuration; `tmpfs` adds `--tmpfs /tmp` (fd 4).
    fn config(&self, tmpfs: bool) -> InstanceConfig {
        InstanceConfig {
            argv: vec!["guest.wasm".into()],
            dirs: vec![DirMapping {
                host: self.dir.path().to_owned(),
                guest: "/sandbox".into(),
            }],
            limits: Limits {
                max_memory: 1 << 30,
                timeout: None,
                max_fds: wasc_runtime::MAX_FDS,
            },
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
            ..InstanceConfig::default()
        }
    }

    /// A new instance of module `i` in `mode`.
    fn instance(&self, i: usize, mode: Mode, tmpfs: bool) -> anyhow::Result<Instance> {
        let (_, _, inprocess, vm) = &self.modules[i];
        let config = self.config(tmpfs);
        Ok(match mode {
            Mode::InProcess => self.inprocess.instance(inprocess, config)?,
            Mode::Vm(transport, source) => self.vm.instance_from(vm, config, source, transport)?,
        })
    }

    /// Creates an instance of the guest making `call` `count` times and runs
    /// it to the end: the wall time from "start this module" to `_start`
    /// returning, the CPU time every thread of this process spent meanwhile
    /// (the function's and, in the poll transport, the vCPU's), and the KVM
    /// exits it took. Giving the VM back (a reset) is not part of a start.
    pub fn run(&mut self, mode: Mode, call: Call, count: u64) -> anyhow::Result<Run> {
        let i = self.modules(call, count)?;
        let exits = wasc_vmm::exit_count();
        let cpu = process_cpu();
        let start = Instant::now();
        let mut instance = self.instance(i, mode, call == Call::WriteTmpfs)?;
        let outcome = instance.call_start();
        let wall = start.elapsed();
        let cpu = process_cpu().saturating_sub(cpu);
        let exits = wasc_vmm::exit_count() - exits;
        drop(instance);
        succeeded(outcome, || format!("{} in {}", call.label(), mode.label()))?;
        Ok(Run { wall, cpu, exits })
    }

    /// Starts `n` instances of the start-up guest and keeps them: the
    /// memory they hold while idle.
    pub fn hold(&mut self, mode: Mode, n: usize) -> anyhow::Result<Held> {
        let i = self.modules(Call::Args, 1)?;
        let mut held = Held::default();
        for _ in 0..n {
            let mut instance = self.instance(i, mode, false)?;
            succeeded(instance.call_start(), || "holding".into())?;
            held.instances.push(instance);
        }
        Ok(held)
    }
}

/// A guest run that exited 0, or an error naming `what` ran.
fn succeeded(outcome: Outcome, what: impl Fn() -> String) -> anyhow::Result<()> {
    match outcome {
        Outcome::Exited(0) => Ok(()),
        other => bail!("{}: {other:?}", what()),
    }
}

/// One measured instance run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub wall: Duration,
    /// CPU time of all this process's threads during the run.
    pub cpu: Duration,
    pub exits: u64,
}

/// CPU time of all threads of this process so far.
pub fn process_cpu() -> Duration {
    // SAFETY: `ts` is a plain output value for clock_gettime.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Idle instances kept alive.
#[derive(Default)]
pub struct Held {
    instances: Vec<Instance>,
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
