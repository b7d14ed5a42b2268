//! The seccomp policy of each kind of thread, as data: every system call a
//! thread may make once untrusted code can run, why, and on which
//! arguments. Anything else stops the process (`crate::install`).
//! `docs/threat-model.md` lists the same calls; a test compares the two.

/// One allowed system call, with the argument conditions of each allowed
/// form (any form may match; every condition of a form must).
#[derive(Debug, Clone, Copy)]
pub struct Allow {
    pub name: &'static str,
    pub nr: i64,
    pub why: &'static str,
    /// Empty: any arguments.
    pub forms: &'static [&'static [Arg]],
}

/// A condition on one argument (by index).
#[derive(Debug, Clone, Copy)]
pub enum Arg {
    /// The argument equals the value.
    Eq(u8, u64),
    /// The argument masked with the first value equals the second.
    Masked(u8, u64, u64),
}

// ioctl request numbers (asm-generic/ioctl.h), sized from kvm-bindings.
const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | (0xAE << 8) | nr
}
const IOC_WRITE: u64 = 1;
const IOC_READ: u64 = 2;
pub const KVM_RUN: u64 = ioc(0, 0x80, 0);
pub const KVM_GET_REGS: u64 = ioc(IOC_READ, 0x81, size_of::<kvm_bindings::kvm_regs>());
pub const KVM_GET_SREGS: u64 = ioc(IOC_READ, 0x83, size_of::<kvm_bindings::kvm_sregs>());
pub const KVM_SET_USER_MEMORY_REGION: u64 = ioc(
    IOC_WRITE,
    0x46,
    size_of::<kvm_bindings::kvm_userspace_memory_region>(),
);

const KVM_CREATE_VM: u64 = ioc(0, 0x01, 0);
const KVM_GET_VCPU_MMAP_SIZE: u64 = ioc(0, 0x04, 0);
const KVM_CREATE_VCPU: u64 = ioc(0, 0x41, 0);
const KVM_SET_REGS: u64 = ioc(IOC_WRITE, 0x82, size_of::<kvm_bindings::kvm_regs>());
const KVM_SET_SREGS: u64 = ioc(IOC_WRITE, 0x84, size_of::<kvm_bindings::kvm_sregs>());
const KVM_GET_MSRS: u64 = ioc(
    IOC_READ | IOC_WRITE,
    0x88,
    size_of::<kvm_bindings::kvm_msrs>(),
);
const KVM_SET_FPU: u64 = ioc(IOC_WRITE, 0x8d, size_of::<kvm_bindings::kvm_fpu>());
const KVM_SET_CPUID2: u64 = ioc(IOC_WRITE, 0x90, size_of::<kvm_bindings::kvm_cpuid2>());
const KVM_GET_TSC_KHZ: u64 = ioc(0, 0xa3, 0);

const NO_EXEC: &[&[Arg]] = &[&[Arg::Masked(2, libc::PROT_EXEC as u64, 0)]];

macro_rules! allow {
    ($name:ident, $why:expr) => {
        Allow {
            name: stringify!($name),
            nr: libc::$name,
            why: $why,
            forms: &[],
        }
    };
    ($name:ident, $why:expr, $forms:expr) => {
        Allow {
            name: stringify!($name),
            nr: libc::$name,
            why: $why,
            forms: $forms,
        }
    };
}

/// Calls every thread needs to run Rust code at all.
pub const COMMON: &[Allow] = &[
    allow!(SYS_futex, "locks, condition variables and thread joins"),
    allow!(
        SYS_sched_yield,
        "waiting for the other side of the call page"
    ),
    allow!(
        SYS_mmap,
        "the allocator and linear memory, never executable",
        NO_EXEC
    ),
    allow!(
        SYS_mprotect,
        "linear-memory growth and guard pages, never executable",
        NO_EXEC
    ),
    allow!(SYS_munmap, "the allocator"),
    allow!(SYS_madvise, "the allocator and thread-stack release"),
    allow!(SYS_mremap, "the allocator"),
    allow!(SYS_brk, "the allocator"),
    allow!(
        SYS_rt_sigreturn,
        "returning from the vCPU kick and wasmtime's trap handlers"
    ),
    allow!(SYS_rt_sigprocmask, "thread exit and signal handling"),
    allow!(
        SYS_sigaltstack,
        "wasmtime's and std's alternate signal stacks"
    ),
    allow!(
        SYS_clock_gettime,
        "time, when the vDSO falls back to the kernel"
    ),
    allow!(SYS_getrandom, "std's hash keys"),
    allow!(
        SYS_restart_syscall,
        "resuming a sleep or wait interrupted by a stop (SIGSTOP and SIGCONT, a cgroup freezer, a debugger)"
    ),
    allow!(SYS_exit, "thread exit"),
    allow!(SYS_exit_group, "process exit"),
    allow!(SYS_write, "stdio for the function; error reports"),
];

/// The thread that runs the Wasm function, its forwarders and the host
/// executor, and (sync transport) the vCPU.
pub const FUNCTION: &[Allow] = &[
    allow!(SYS_read, "executor: read"),
    allow!(SYS_writev, "std's vectored writes to stdout and stderr"),
    allow!(SYS_pread64, "executor: pread; a pool reset reading /proc/self/pagemap"),
    allow!(SYS_pwrite64, "executor: pwrite"),
    allow!(SYS_pwritev2, "executor: append (RWF_APPEND)"),
    allow!(SYS_openat2, "executor: lookup of one component (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)"),
    allow!(SYS_close, "executor: close; dropping the VM"),
    allow!(
        SYS_fcntl,
        "F_GETFD only: std checks a descriptor is open before closing it",
        &[&[Arg::Eq(1, libc::F_GETFD as u64)]]
    ),
    allow!(SYS_fstat, "executor: stat"),
    allow!(SYS_newfstatat, "executor: stat-at (AT_SYMLINK_NOFOLLOW)"),
    allow!(SYS_readlinkat, "executor: readlink"),
    allow!(SYS_mkdirat, "executor: mkdir"),
    allow!(SYS_unlinkat, "executor: unlink, rmdir"),
    allow!(SYS_renameat, "executor: rename"),
    allow!(SYS_linkat, "executor: link (no follow)"),
    allow!(SYS_symlinkat, "executor: symlink"),
    allow!(SYS_utimensat, "executor: set times (futimens, utimensat AT_SYMLINK_NOFOLLOW)"),
    allow!(SYS_ftruncate, "executor: truncate"),
    allow!(SYS_fsync, "executor: sync"),
    allow!(SYS_fdatasync, "executor: sync (data only)"),
    allow!(SYS_lseek, "executor: readdir positions"),
    allow!(SYS_getdents64, "executor: readdir"),
    allow!(SYS_ppoll, "executor: wait"),
    allow!(
        SYS_accept4,
        "executor: accept on a --tcplisten listener, non-blocking and close-on-exec",
        &[&[Arg::Eq(3, (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u64)]]
    ),
    allow!(
        SYS_recvfrom,
        "executor: recv, never blocking (MSG_DONTWAIT, with MSG_PEEK or not)",
        &[
            &[Arg::Eq(3, libc::MSG_DONTWAIT as u64)],
            &[Arg::Eq(3, (libc::MSG_DONTWAIT | libc::MSG_PEEK) as u64)],
        ]
    ),
    allow!(
        SYS_sendto,
        "executor: send, never blocking or raising SIGPIPE (MSG_DONTWAIT | MSG_NOSIGNAL)",
        &[&[Arg::Eq(3, (libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) as u64)]]
    ),
    allow!(SYS_shutdown, "executor: shutdown of an accepted connection"),
    allow!(
        SYS_ioctl,
        "KVM: run the vCPU (sync transport), map the linear-memory window, read registers on a fault; FIONREAD: bytes queued on a connection (executor: wait)",
        &[
            &[Arg::Eq(1, KVM_RUN)],
            &[Arg::Eq(1, KVM_SET_USER_MEMORY_REGION)],
            &[Arg::Eq(1, KVM_GET_REGS)],
            &[Arg::Eq(1, KVM_GET_SREGS)],
            &[Arg::Eq(1, libc::FIONREAD)],
        ]
    ),
    allow!(SYS_tgkill, "poll transport: kick the vCPU thread out of KVM_RUN"),
    allow!(SYS_getpid, "poll transport: the kick's target"),
    allow!(SYS_gettid, "std's thread bookkeeping"),
    allow!(SYS_clock_nanosleep, "poll transport: pause between kicks"),
    allow!(
        SYS_setitimer,
        "ITIMER_REAL only: disarming `wasc run`'s --timeout backstop after the run",
        &[&[Arg::Eq(0, libc::ITIMER_REAL as u64)]]
    ),
    allow!(SYS_nanosleep, "poll transport: pause between kicks"),
];

/// The poll transport's vCPU thread: runs sysd, nothing else.
pub const VCPU: &[Allow] = &[
    allow!(
        SYS_ioctl,
        "KVM: run the vCPU, read registers on a fault",
        &[
            &[Arg::Eq(1, KVM_RUN)],
            &[Arg::Eq(1, KVM_GET_REGS)],
            &[Arg::Eq(1, KVM_GET_SREGS)],
        ]
    ),
    allow!(
        SYS_sched_setaffinity,
        "its own affinity only (pid 0): keeping off the CPU of the thread it answers",
        &[&[Arg::Eq(0, 0)]]
    ),
];

/// The runtime's epoch ticker: sleeps and advances the engine's epoch, so
/// each instance's own deadline is checked; nothing else.
pub const TICKER: &[Allow] = &[
    allow!(SYS_clock_nanosleep, "sleeping between ticks"),
    allow!(SYS_nanosleep, "sleeping between ticks"),
];

/// A library caller's worker thread (a server's, the containerd shim's):
/// everything the function thread may do, and making instances — pipes
/// for their stdio, a VM from the pool (resetting one given back), the
/// vCPU thread of the poll transport.
pub const WORKER: &[Allow] = &[
    allow!(SYS_pipe2, "the instance's stdio pipes"),
    allow!(
        SYS_fcntl,
        "F_DUPFD_CLOEXEC: an instance's copy of a directory opened in advance",
        &[&[Arg::Eq(1, libc::F_DUPFD_CLOEXEC as u64)]]
    ),
    allow!(
        SYS_ioctl,
        "TCGETS: whether the instance's stdio is a terminal; KVM: a new VM cloned from sysd's template when the pool is empty (create the VM and its vCPU, set CPUID, read the TSC rate and MSRs), and resetting a VM given back (set registers, special registers, FPU)",
        &[
            &[Arg::Eq(1, libc::TCGETS)],
            &[Arg::Eq(1, KVM_CREATE_VM)],
            &[Arg::Eq(1, KVM_GET_VCPU_MMAP_SIZE)],
            &[Arg::Eq(1, KVM_CREATE_VCPU)],
            &[Arg::Eq(1, KVM_SET_CPUID2)],
            &[Arg::Eq(1, KVM_GET_TSC_KHZ)],
            &[Arg::Eq(1, KVM_GET_MSRS)],
            &[Arg::Eq(1, KVM_SET_REGS)],
            &[Arg::Eq(1, KVM_SET_SREGS)],
            &[Arg::Eq(1, KVM_SET_FPU)],
        ]
    ),
    allow!(SYS_clone3, "the poll transport's vCPU thread (it confines itself)"),
    allow!(SYS_set_robust_list, "a new thread's start"),
    allow!(SYS_rseq, "a new thread's start"),
    allow!(SYS_prctl, "naming a new thread; no-new-privileges before its own filter"),
    allow!(SYS_sched_getaffinity, "a new thread's start"),
    allow!(
        SYS_sched_setaffinity,
        "own affinity only (pid 0): the vCPU thread, which inherits this filter, keeping off its worker's CPU",
        &[&[Arg::Eq(0, 0)]]
    ),
    allow!(
        SYS_seccomp,
        "SECCOMP_SET_MODE_FILTER only: the vCPU thread narrowing its inherited filter to its own",
        &[&[Arg::Eq(0, 1)]]
    ),
];

/// `wasc serve`'s network threads (tokio's, and the main thread that
/// drives them): accept, read and write connections and the instances'
/// pipes. No `open`, no `socket`, `bind`, `listen` or `connect`, no exec.
pub const NETWORK: &[Allow] = &[
    allow!(SYS_epoll_wait, "tokio's reactor"),
    allow!(SYS_epoll_pwait, "tokio's reactor"),
    allow!(
        SYS_epoll_ctl,
        "tokio's reactor: registering connections and pipes"
    ),
    allow!(
        SYS_accept4,
        "accepting a connection, non-blocking and close-on-exec",
        &[&[Arg::Eq(
            3,
            (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u64
        )]]
    ),
    allow!(
        SYS_read,
        "connections and the instances' stdout and stderr pipes"
    ),
    allow!(SYS_readv, "connections"),
    allow!(SYS_recvfrom, "connections"),
    allow!(SYS_writev, "responses"),
    allow!(SYS_sendto, "responses"),
    allow!(SYS_close, "ending connections and pipes"),
    allow!(SYS_shutdown, "ending connections"),
    allow!(
        SYS_setsockopt,
        "TCP_NODELAY on an accepted connection",
        &[&[
            Arg::Eq(1, libc::IPPROTO_TCP as u64),
            Arg::Eq(2, libc::TCP_NODELAY as u64)
        ]]
    ),
    allow!(SYS_getsockname, "an accepted connection's addresses"),
    allow!(SYS_getpeername, "an accepted connection's addresses"),
    allow!(
        SYS_pipe2,
        "an instance's stdin, stdout and stderr, close-on-exec",
        &[&[Arg::Eq(1, libc::O_CLOEXEC as u64)]]
    ),
    allow!(
        SYS_fcntl,
        "F_GETFD (std's checks), F_GETFL and F_SETFL (our pipe ends non-blocking)",
        &[
            &[Arg::Eq(1, libc::F_GETFD as u64)],
            &[Arg::Eq(1, libc::F_GETFL as u64)],
            &[Arg::Eq(1, libc::F_SETFL as u64)],
        ]
    ),
    allow!(SYS_fstat, "checking a pipe end is a pipe"),
    allow!(
        SYS_newfstatat,
        "AT_EMPTY_PATH only: glibc's fstat, checking a pipe end is a pipe",
        &[&[Arg::Eq(3, libc::AT_EMPTY_PATH as u64)]]
    ),
    allow!(SYS_clock_nanosleep, "backing off after a failed accept"),
    allow!(SYS_nanosleep, "backing off after a failed accept"),
    allow!(SYS_gettid, "std's thread bookkeeping"),
    allow!(
        SYS_rt_sigaction,
        "SIGINT and SIGTERM only: watching for the graceful stop",
        &[
            &[Arg::Eq(0, libc::SIGINT as u64)],
            &[Arg::Eq(0, libc::SIGTERM as u64)],
        ]
    ),
];

/// The kinds of thread a running `wasc` has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum ThreadKind {
    Function,
    Vcpu,
    Ticker,
    Worker,
    Network,
}

impl ThreadKind {
    pub fn name(self) -> &'static str {
        match self {
            ThreadKind::Function => "function",
            ThreadKind::Vcpu => "vCPU",
            ThreadKind::Ticker => "epoch ticker",
            ThreadKind::Worker => "worker",
            ThreadKind::Network => "network",
        }
    }

    /// Every call this kind of thread may make.
    pub fn allowed(self) -> impl Iterator<Item = &'static Allow> {
        let (own, more): (&[Allow], &[Allow]) = match self {
            ThreadKind::Function => (FUNCTION, &[]),
            ThreadKind::Vcpu => (VCPU, &[]),
            ThreadKind::Ticker => (TICKER, &[]),
            ThreadKind::Worker => (FUNCTION, WORKER),
            ThreadKind::Network => (NETWORK, &[]),
        };
        COMMON.iter().chain(own).chain(more)
    }
}
