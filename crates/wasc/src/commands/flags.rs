//! The per-instance flags `wasc run` and `wasc serve` share, with the same
//! names and meanings as `wasmtime run`'s where they overlap.

use std::path::PathBuf;

use clap::Args;
use wasc_runtime::{DirMapping, EnvVar, Isolation, Limits, Timeout, TmpfsMount, Transport};

#[derive(Debug, Args)]
pub struct InstanceFlags {
    /// Grant access to a host directory, seen by the guest at GUEST (default:
    /// the host path as written).
    #[arg(long = "dir", value_name = "HOST_DIR[::GUEST_DIR]")]
    pub dirs: Vec<DirMapping>,

    /// An in-VM memory file system seen by the guest at GUEST_DIR, of SIZE
    /// bytes (K, M or G; default 64M); writes past it fail with `NOSPC`.
    /// With `--isolation none`, an empty temporary host directory stands in
    /// (no size limit).
    #[arg(long = "tmpfs", value_name = "GUEST_DIR[:SIZE]")]
    pub tmpfs: Vec<TmpfsMount>,

    /// Pass an environment variable to the guest; `--env NAME` passes the
    /// host's value through if it has one.
    #[arg(long = "env", value_name = "NAME[=VAL]")]
    pub env: Vec<EnvVar>,

    /// Where WASI runs: `vm` (sysd in a micro-VM) or `none` (in process,
    /// wasmtime-wasi).
    #[arg(long, value_name = "vm|none", default_value = "vm")]
    pub isolation: Isolation,

    /// How WASI calls reach sysd with `--isolation vm`: `poll` (a vCPU thread
    /// keeps sysd polling; no VM exit per call) or `sync` (one exit per
    /// call, no second thread). Default: poll for `run`, sync for `serve`.
    #[arg(long, value_name = "poll|sync")]
    pub transport: Option<Transport>,

    /// The most linear memory the module may have (K, M or G suffix);
    /// `memory.grow` past it fails.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = wasc_runtime::parse_size)]
    pub max_memory: u64,

    /// Wall-clock limit (e.g. 500ms, 30s, 15m, 1h; 0 for none). Past it the
    /// module is interrupted: `wasc run` exits with status 124, `wasc serve`
    /// answers 504. Default: 15m for `run`, 30s per request for `serve`.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<Timeout>,

    /// The most descriptors the module may hold open in sysd, stdio and
    /// preopens included (4–256); past it opens fail with `MFILE`. VM
    /// isolation only.
    #[arg(long, value_name = "N", default_value = "256", value_parser = wasc_runtime::parse_max_fds)]
    pub max_fds: u32,

    /// The KVM device (for tests of a missing or unusable one).
    #[arg(long, value_name = "PATH", default_value = "/dev/kvm", hide = true)]
    pub kvm_device: PathBuf,
}

impl InstanceFlags {
    /// The limits, with `default_timeout` unless `--timeout` was given.
    pub fn limits(&self, default_timeout: Option<std::time::Duration>) -> Limits {
        Limits {
            max_memory: self.max_memory,
            timeout: self.timeout.map_or(default_timeout, |t| t.0),
            max_fds: self.max_fds,
        }
    }
}
