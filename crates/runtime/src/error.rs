//! Errors found before a function's code runs.

use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to read module `{}`: {source}", path.display())]
    ReadModule {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "module `{}` is {size} bytes, more than the {max} wasc accepts",
        path.display(),
        max = crate::module::MAX_MODULE_BYTES
    )]
    ModuleTooLarge { path: PathBuf, size: u64 },
    #[error("a single-threaded host cannot serve {0}, which needs a thread of its own")]
    SingleThread(&'static str),
    #[error("the KVM device path `{}` contains a NUL byte", .0.display())]
    BadKvmPath(PathBuf),
    #[error("failed to duplicate the inherited KVM device: {0}")]
    DupKvm(std::io::Error),
    #[error("{0}; VM isolation needs KVM (`--isolation none` runs WASI in this process instead)")]
    NoKvm(wasc_vmm::Error),
    #[error("failed to parse module `{}` as WebAssembly text: {message}", path.display())]
    ParseText { path: PathBuf, message: String },
    // `{source:#}` prints wasmtime's cause chain on one line.
    #[error("failed to compile module `{}`: {source:#}", path.display())]
    CompileModule {
        path: PathBuf,
        source: wasmtime::Error,
    },
    #[error("module `{}` has no `_start` export: wasc runs WASI command modules", path.display())]
    NoStartExport { path: PathBuf },
    #[error("module `{}` exports `_start` with type {ty}, expected `[] -> []`", path.display())]
    BadStartType { path: PathBuf, ty: String },
    #[error("failed to create the wasmtime engine: {0:#}")]
    CreateEngine(wasmtime::Error),
    #[error("failed to link WASI: {0:#}")]
    LinkWasi(wasmtime::Error),
    #[error("failed to open directory `{}` for --dir: {source}", host.display())]
    OpenDir {
        host: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to listen on `{addr}` for --tcplisten: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("failed to make the --tcplisten sockets non-blocking: {0}")]
    Listeners(std::io::Error),
    #[error(
        "--tcplisten needs --isolation vm: wasmtime 48's preview-1 WASI, which \
         --isolation none runs, has no sockets"
    )]
    TcpListenNeedsVm,
    #[error("failed to instantiate module `{}`: {source:#}", path.display())]
    Instantiate {
        path: PathBuf,
        source: wasmtime::Error,
    },
    #[error("argument {0:?} is not valid UTF-8")]
    NonUtf8Argument(OsString),
    #[error("environment variable `{0}` is not valid UTF-8")]
    NonUtf8Environment(String),
    #[error("{0}")]
    Vm(wasc_vmm::Error),
    #[error(
        "--tmpfs sizes add up to {0} bytes; at most 16 mounts and about {max} MiB in all",
        max = (wasc_wire::layout::TMPFS_MAX / 8 * 7) >> 20
    )]
    TmpfsTooLarge(u64),
    #[error(
        "{0} preopened descriptors (stdio, --tcplisten, --dir and --tmpfs together); \
         a VM's descriptor table holds {max}",
        max = wasc_wire::wasi::MAX_FDS
    )]
    TooManyPreopens(usize),
    #[error("arming the --timeout timer: {0}")]
    Timer(std::io::Error),
    #[error("module `{}` was compiled by another runtime", .0.display())]
    ForeignModule(PathBuf),
    #[error(
        "a confined worker thread cannot open --dir paths or --tcplisten grants; \
         open directories in advance (InstanceConfig::opened_dirs)"
    )]
    ConfinedWorkerGrants,
    #[error("opened_dirs must hold one directory per --dir")]
    OpenedDirsMismatch,
    #[error("confining wasc with seccomp: {0}")]
    Confine(String),
}
