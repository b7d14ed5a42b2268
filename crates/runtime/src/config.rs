//! Plain configuration of one function run, as parsed from the command line.

use std::ffi::OsString;
use std::path::PathBuf;
use std::str::FromStr;

/// Where the WASI implementation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// WASI in sysd, behind a KVM micro-VM boundary (the default).
    Vm,
    /// wasmtime-wasi's preview-1 implementation in this process: the
    /// reference semantics and the benchmark baseline. Never chosen silently.
    None,
}

impl FromStr for Isolation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vm" => Ok(Self::Vm),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown isolation `{other}` (expected `vm` or `none`)"
            )),
        }
    }
}

/// How WASI calls reach sysd (`--transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The function's thread runs the vCPU for each call: one VM exit per
    /// call.
    Sync,
    /// A vCPU thread keeps sysd polling; a warm call needs no exit. The
    /// default: many times faster per call here (docs/benchmarks.md).
    Poll,
}

impl FromStr for Transport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sync" => Ok(Self::Sync),
            "poll" => Ok(Self::Poll),
            other => Err(format!(
                "unknown transport `{other}` (expected `sync` or `poll`)"
            )),
        }
    }
}

/// A host directory granted to the function: `--dir HOST[::GUEST]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMapping {
    pub host: PathBuf,
    pub guest: String,
}

impl FromStr for DirMapping {
    type Err = String;

    /// Parses `HOST[::GUEST]` as `wasmtime run --dir` does: without `::` the
    /// guest sees the directory under the host path as written.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, guest) = match s.split_once("::") {
            Some((host, guest)) => (host, guest),
            None => (s, s),
        };
        if host.is_empty() {
            return Err(format!("`{s}`: the host directory is empty"));
        }
        if guest.is_empty() {
            return Err(format!("`{s}`: the guest path is empty"));
        }
        Ok(Self {
            host: PathBuf::from(host),
            guest: guest.to_owned(),
        })
    }
}

/// An environment variable for the function: `--env NAME=VAL`, or
/// `--env NAME` to pass the host's value through (left unset if the host has
/// none, as wasmtime does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: Option<String>,
}

impl FromStr for EnvVar {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, value) = match s.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (s, None),
        };
        if name.is_empty() {
            return Err(format!("`{s}`: the variable name is empty"));
        }
        Ok(Self {
            name: name.to_owned(),
            value,
        })
    }
}

/// Everything `wasc run` is given: one instance on a host of its own.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Path of the `.wasm` or `.wat` module.
    pub module: PathBuf,
    /// Arguments after the module; `argv[0]` is derived from `module`.
    pub args: Vec<OsString>,
    pub env: Vec<EnvVar>,
    pub dirs: Vec<DirMapping>,
    pub isolation: Isolation,
    /// Only meaningful with [`Isolation::Vm`].
    pub transport: Transport,
    pub limits: crate::Limits,
    /// The KVM device (`/dev/kvm`; tests point it elsewhere).
    pub kvm_device: crate::KvmDevice,
    /// In-VM memory file systems (`--tmpfs`), preopened after `dirs`.
    pub tmpfs: Vec<TmpfsMount>,
    /// Listening TCP sockets to bind and pre-open (`--tcplisten`), as fds 3,
    /// 4, … before the directories. VM isolation only.
    pub tcplisten: Vec<TcpListen>,
}

/// `--tcplisten ADDR`: a TCP address the host binds and listens on before
/// the module starts, handed to it as a pre-opened listening socket, as
/// `wasmtime run --tcplisten` did. `ADDR` is `HOST:PORT` (a name that
/// resolves, or an IPv4 or bracketed IPv6 address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpListen(pub String);

impl FromStr for TcpListen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Self(s.to_owned()))
            }
            _ => Err(format!("`{s}` is not HOST:PORT")),
        }
    }
}

/// `--tmpfs GUEST[:SIZE]`: a memory file system seen by the guest at GUEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    pub guest: String,
    /// Its byte quota.
    pub size: u64,
}

impl TmpfsMount {
    /// The default quota.
    pub const DEFAULT_SIZE: u64 = 64 << 20;
}

impl FromStr for TmpfsMount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (guest, size) = match s.rsplit_once(':') {
            Some((guest, size)) => (guest, crate::parse_size(size)?),
            None => (s, Self::DEFAULT_SIZE),
        };
        if guest.is_empty() || guest.contains('\0') {
            return Err(format!("`{s}` does not name a guest directory"));
        }
        if size < 1 << 20 {
            return Err(format!(
                "a tmpfs needs at least 1M, `{s}` asks for {size} bytes"
            ));
        }
        Ok(Self {
            guest: guest.to_owned(),
            size,
        })
    }
}

impl RunConfig {
    /// What a host for this run sets once, and what its one instance gets
    /// (the host's own stdio): `wasc run` boots a fresh VM.
    pub fn split(&self) -> Result<(crate::HostConfig, crate::InstanceConfig), crate::Error> {
        let host = crate::HostConfig {
            isolation: self.isolation,
            transport: self.transport,
            poll_spin_limit: crate::POLL_SPIN_LIMIT,
            kvm_device: self.kvm_device.clone(),
            vm_source: crate::VmSource::Fresh,
            pooling: false,
            single_thread: false,
        };
        let instance = crate::InstanceConfig {
            argv: self.argv()?,
            env: self.environment()?,
            dirs: self.dirs.clone(),
            opened_dirs: Vec::new(),
            tmpfs: self.tmpfs.clone(),
            tcplisten: self.tcplisten.clone(),
            stdio: crate::Stdio::default(),
            limits: self.limits,
        };
        Ok((host, instance))
    }

    /// The guest's argv: the module's base name (so host paths do not leak,
    /// as in `wasmtime run`) followed by the user's arguments.
    pub fn argv(&self) -> Result<Vec<String>, crate::Error> {
        let argv0 = self.module.file_name().unwrap_or(self.module.as_os_str());
        std::iter::once(argv0)
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|arg| {
                arg.to_str()
                    .map(str::to_owned)
                    .ok_or_else(|| crate::Error::NonUtf8Argument(arg.to_owned()))
            })
            .collect()
    }

    /// The guest's environment: explicit values, and inherited ones that the
    /// host actually has.
    pub fn environment(&self) -> Result<Vec<(String, String)>, crate::Error> {
        let mut vars = Vec::with_capacity(self.env.len());
        for var in &self.env {
            let value = match &var.value {
                Some(value) => value.clone(),
                None => match std::env::var_os(&var.name) {
                    Some(value) => value
                        .into_string()
                        .map_err(|_| crate::Error::NonUtf8Environment(var.name.clone()))?,
                    None => continue,
                },
            };
            vars.push((var.name.clone(), value));
        }
        Ok(vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_without_guest_path_uses_host_path() {
        let dir: DirMapping = "/tmp/data".parse().expect("valid");
        assert_eq!(dir.host, PathBuf::from("/tmp/data"));
        assert_eq!(dir.guest, "/tmp/data");
    }

    #[test]
    fn dir_splits_host_and_guest_at_double_colon() {
        let dir: DirMapping = "./out::/work".parse().expect("valid");
        assert_eq!(dir.host, PathBuf::from("./out"));
        assert_eq!(dir.guest, "/work");
    }

    #[test]
    fn dir_rejects_empty_sides() {
        assert!("::/x".parse::<DirMapping>().is_err());
        assert!("/x::".parse::<DirMapping>().is_err());
    }

    #[test]
    fn env_with_value_keeps_everything_after_first_equals() {
        let var: EnvVar = "A=b=c".parse().expect("valid");
        assert_eq!(var.name, "A");
        assert_eq!(var.value.as_deref(), Some("b=c"));
    }

    #[test]
    fn env_without_value_inherits_or_is_skipped() {
        let config = RunConfig {
            module: PathBuf::from("/some/dir/m.wasm"),
            args: vec![],
            env: vec![
                "PATH".parse().expect("valid"),
                "WASC_SURELY_UNSET_VARIABLE".parse().expect("valid"),
                "X=1".parse().expect("valid"),
            ],
            dirs: vec![],
            isolation: Isolation::None,
            transport: Transport::Poll,
            limits: crate::Limits::default(),
            kvm_device: crate::KvmDevice::default(),
            tmpfs: Vec::new(),
            tcplisten: Vec::new(),
        };
        let env = config.environment().expect("utf-8 env");
        let names: Vec<_> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "X"]);
    }

    #[test]
    fn argv0_is_the_module_base_name() {
        let config = RunConfig {
            module: PathBuf::from("/some/dir/m.wasm"),
            args: vec!["a".into(), "--b".into()],
            env: vec![],
            dirs: vec![],
            isolation: Isolation::None,
            transport: Transport::Poll,
            limits: crate::Limits::default(),
            kvm_device: crate::KvmDevice::default(),
            tmpfs: Vec::new(),
            tcplisten: Vec::new(),
        };
        assert_eq!(config.argv().expect("utf-8"), ["m.wasm", "a", "--b"]);
    }

    #[test]
    fn tcplisten_needs_a_host_and_a_port() {
        assert!("127.0.0.1:8080".parse::<TcpListen>().is_ok());
        assert!("[::1]:0".parse::<TcpListen>().is_ok());
        assert!("localhost:80".parse::<TcpListen>().is_ok());
        for bad in [
            "8080",
            ":8080",
            "127.0.0.1:",
            "127.0.0.1:http",
            "127.0.0.1:65536",
        ] {
            assert!(bad.parse::<TcpListen>().is_err(), "{bad}");
        }
    }

    #[test]
    fn transport_parses_known_names_only() {
        assert_eq!("sync".parse::<Transport>(), Ok(Transport::Sync));
        assert_eq!("poll".parse::<Transport>(), Ok(Transport::Poll));
        assert!("spin".parse::<Transport>().is_err());
    }

    #[test]
    fn isolation_parses_known_names_only() {
        assert_eq!("vm".parse::<Isolation>(), Ok(Isolation::Vm));
        assert_eq!("none".parse::<Isolation>(), Ok(Isolation::None));
        assert!("kvm".parse::<Isolation>().is_err());
    }
}
