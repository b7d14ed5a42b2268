//! seccomp confinement for every thread of a running `wasc` (VM isolation).
//!
//! The policy is data ([`policy`]): per kind of thread, each allowed system
//! call with the reason and the argument forms it may take. [`filter`]
//! compiles a kind's policy with `seccompiler`; [`install`] applies it to
//! the calling thread after installing a `SIGSYS` handler. Anything not
//! allowed traps: the handler writes one line naming the thread kind and
//! the system call to stderr and ends the process with [`EXIT_STATUS`].
//!
//! A filter can only ever be narrowed: nothing here removes one.

pub mod policy;

use std::cell::Cell;
use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use policy::Arg;
pub use policy::ThreadKind;

/// The exit status of a process stopped for a forbidden system call
/// (128 + `SIGSYS`, as a shell reports a signal death).
pub const EXIT_STATUS: i32 = 128 + libc::SIGSYS;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("building the {kind} thread's seccomp filter: {source}")]
    Build {
        kind: &'static str,
        source: seccompiler::BackendError,
    },
    #[error("compiling the {kind} thread's seccomp filter: {source}")]
    Compile {
        kind: &'static str,
        source: seccompiler::BackendError,
    },
    #[error("installing the SIGSYS handler: {0}")]
    Handler(std::io::Error),
    #[error("installing the {kind} thread's seccomp filter: {source}")]
    Install {
        kind: &'static str,
        source: seccompiler::Error,
    },
}

/// The policy the calling thread installed, if it installed one.
pub fn current() -> Option<ThreadKind> {
    KIND.with(Cell::get)
}

/// The BPF program for `kind`.
pub fn filter(kind: ThreadKind) -> Result<BpfProgram, Error> {
    let build = |source| Error::Build {
        kind: kind.name(),
        source,
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for allow in kind.allowed() {
        let entry = rules.entry(allow.nr).or_default();
        for form in allow.forms {
            let conditions = form
                .iter()
                .map(|arg| {
                    let (index, op, value) = match *arg {
                        Arg::Eq(index, value) => (index, SeccompCmpOp::Eq, value),
                        Arg::Masked(index, mask, value) => {
                            (index, SeccompCmpOp::MaskedEq(mask), value)
                        }
                    };
                    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(build)?;
            entry.push(SeccompRule::new(conditions).map_err(build)?);
        }
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Trap,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .map_err(build)?;
    filter.try_into().map_err(|source| Error::Compile {
        kind: kind.name(),
        source,
    })
}

thread_local! {
    /// The calling thread's kind once confined, for the SIGSYS report.
    static KIND: Cell<Option<ThreadKind>> = const { Cell::new(None) };
}

/// Confines the calling thread to `kind`'s policy, for good. Each kind's
/// program is compiled once per process and reused: a pooled instance's
/// vCPU thread confines itself at every start.
pub fn install(kind: ThreadKind) -> Result<(), Error> {
    install_program(kind, compiled(kind)?)
}

/// `kind`'s program, compiled the first time it is asked for.
fn compiled(kind: ThreadKind) -> Result<&'static BpfProgram, Error> {
    // One slot per kind: `Network` is the last.
    const KINDS: usize = ThreadKind::Network as usize + 1;
    static PROGRAMS: [std::sync::OnceLock<BpfProgram>; KINDS] =
        [const { std::sync::OnceLock::new() }; KINDS];
    let slot = &PROGRAMS[kind as usize];
    if let Some(program) = slot.get() {
        return Ok(program);
    }
    let program = filter(kind)?;
    Ok(slot.get_or_init(|| program))
}

/// [`install`] with a program built earlier by [`filter`]. Allocates
/// nothing, so it may run in a child between `fork` and `exec`.
pub fn install_program(kind: ThreadKind, program: &BpfProgram) -> Result<(), Error> {
    quiet_allocator();
    install_handler()?;
    KIND.with(|k| k.set(Some(kind)));
    seccompiler::apply_filter(program).map_err(|source| Error::Install {
        kind: kind.name(),
        source,
    })
}

/// glibc's allocator opens `/proc/sys/vm/overcommit_memory` the first time
/// it would shrink a thread's heap, and `/sys/devices/system/cpu/online`
/// the first time a thread needs an arena of its own — calls no policy
/// allows. Trimming never happening keeps it from the first (freed memory
/// stays with the process until it exits); an explicit arena limit (its
/// default, 8 per core) from the second.
/// Once per process: the first thread to be confined runs it before any
/// filter exists.
fn quiet_allocator() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(set_allocator_limits);
}

fn set_allocator_limits() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let arenas = i32::try_from(cores.saturating_mul(8)).unwrap_or(i32::MAX);
    // SAFETY: mallopt only sets allocator parameters.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

/// Installs the process-wide `SIGSYS` handler, once: later calls (every
/// confined thread's start) need no `rt_sigaction` of their own.
fn install_handler() -> Result<(), Error> {
    static INSTALLED: std::sync::OnceLock<Result<(), i32>> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| install_handler_now().map_err(|e| e.raw_os_error().unwrap_or(0)))
        .map_err(|errno| Error::Handler(std::io::Error::from_raw_os_error(errno)))
}

fn install_handler_now() -> std::io::Result<()> {
    // SAFETY: an all-zero sigaction is a valid value to fill in.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigsys as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO;
    // SAFETY: `action` is a valid sigaction whose handler only makes
    // async-signal-safe calls (write, _exit); the old action is not read.
    let r = unsafe { libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut()) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A task of this process, from `/proc/self/task`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub tid: u32,
    pub name: String,
    /// The `Seccomp:` field of its status: 0 none, 2 filtered.
    pub seccomp: u32,
}

/// `PF_USER_WORKER`: a kernel worker thread living in a user process (KVM's
/// per-VM `kvm-nx-lpage-recovery`, io_uring workers). It runs no user code
/// and cannot carry a seccomp filter.
const PF_USER_WORKER: u64 = 0x4000;

/// The process's threads that run user code (kernel workers left out).
pub fn user_threads() -> std::io::Result<Vec<Task>> {
    tasks_of("/proc/self/task")
}

/// The user threads of process `pid`.
pub fn user_threads_of(pid: u32) -> std::io::Result<Vec<Task>> {
    tasks_of(&format!("/proc/{pid}/task"))
}

fn tasks_of(dir: &str) -> std::io::Result<Vec<Task>> {
    let mut tasks = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let (Ok(stat), Ok(status)) = (
            std::fs::read_to_string(path.join("stat")),
            std::fs::read_to_string(path.join("status")),
        ) else {
            // The thread ended while we looked.
            continue;
        };
        // Fields after the parenthesised name; `flags` is the 9th field
        // overall, the 7th after it.
        let flags = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(6))
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0);
        if flags & PF_USER_WORKER != 0 {
            continue;
        }
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_owned())
        };
        tasks.push(Task {
            tid: path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            name: field("Name:").unwrap_or_default(),
            seccomp: field("Seccomp:").and_then(|v| v.parse().ok()).unwrap_or(0),
        });
    }
    Ok(tasks)
}

/// Writes `wasc: seccomp: the <kind> thread made forbidden system call <n>`
/// and ends the process. Async-signal-safe: no allocation, no locks.
extern "C" fn on_sigsys(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // For SIGSYS the kernel puts the call address, the system call number
    // and the audit arch after the three leading ints (and padding).
    const SYSCALL_OFFSET: usize = 24;
    // SAFETY: the kernel passed a valid siginfo for SIGSYS, which is 128
    // bytes long; the number is an aligned i32 inside it.
    let nr = unsafe { info.cast::<u8>().add(SYSCALL_OFFSET).cast::<i32>().read() };
    let kind = KIND
        .try_with(|k| k.get())
        .ok()
        .flatten()
        .map_or("unconfined", ThreadKind::name);
    let mut line = [0u8; 128];
    let mut len = 0;
    for part in [
        b"wasc: seccomp: the ".as_slice(),
        kind.as_bytes(),
        b" thread made forbidden system call ",
    ] {
        line[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    len += decimal(nr, &mut line[len..]);
    line[len] = b'\n';
    len += 1;
    // SAFETY: write and _exit are async-signal-safe; `line` is valid for
    // `len` bytes.
    unsafe {
        libc::write(2, line.as_ptr().cast(), len);
        libc::_exit(EXIT_STATUS);
    }
}

/// Writes `n` in decimal into `out`: the digits written.
fn decimal(n: i32, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 12];
    let (mut v, mut i) = (i64::from(n).unsigned_abs(), digits.len());
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        digits[i] = b'-';
    }
    let s = &digits[i..];
    out[..s.len()].copy_from_slice(s);
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_compiles() {
        for kind in [ThreadKind::Function, ThreadKind::Vcpu] {
            let program = filter(kind).expect("compiles");
            assert!(!program.is_empty());
        }
    }

    #[test]
    fn no_call_is_listed_twice_for_a_kind() {
        for kind in [ThreadKind::Function, ThreadKind::Vcpu] {
            let mut names: Vec<_> = kind.allowed().map(|a| a.name).collect();
            let count = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), count, "{kind:?}");
        }
    }

    #[test]
    fn ioctl_numbers_match_the_kernel_headers() {
        assert_eq!(policy::KVM_RUN, 0xae80);
        assert_eq!(policy::KVM_SET_USER_MEMORY_REGION, 0x4020_ae46);
        assert_eq!(policy::KVM_GET_REGS, 0x8090_ae81);
        assert_eq!(policy::KVM_GET_SREGS, 0x8138_ae83);
    }

    #[test]
    fn decimal_renders_numbers() {
        let mut out = [0u8; 12];
        let n = decimal(257, &mut out);
        assert_eq!(&out[..n], b"257");
        let n = decimal(-1, &mut out);
        assert_eq!(&out[..n], b"-1");
    }
}
