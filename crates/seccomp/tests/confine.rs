//! A confined thread that makes a forbidden system call ends its process
//! with one line on stderr; allowed calls still work. Each case runs in a
//! forked child so the test process itself stays unconfined.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use wasc_seccomp::{filter, install_program, ThreadKind, EXIT_STATUS};

/// Forks; the child confines itself to `kind` and runs `body`, then exits
/// 0. Returns the child's exit status and what it wrote to stderr.
fn in_child(kind: ThreadKind, body: fn()) -> (i32, String) {
    // Everything that allocates happens before the fork.
    let program = filter(kind).expect("filter");
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the kernel just gave us these descriptors.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the child only makes async-signal-safe calls (dup2,
    // sigaction, prctl, seccomp, the body's raw system calls, _exit).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: see above; fd 2 becomes the pipe.
        unsafe { libc::dup2(write.as_raw_fd(), 2) };
        if install_program(kind, &program).is_err() {
            // SAFETY: async-signal-safe.
            unsafe { libc::_exit(100) };
        }
        body();
        // SAFETY: async-signal-safe.
        unsafe { libc::_exit(0) };
    }
    drop(write);
    let mut status = 0;
    // SAFETY: `pid` is our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(read), &mut stderr).expect("stderr");
    assert!(
        libc::WIFEXITED(status),
        "child died of a signal: {status:#x}"
    );
    (libc::WEXITSTATUS(status), stderr)
}

#[test]
fn a_forbidden_call_on_the_function_thread_stops_the_process() {
    let (status, stderr) = in_child(ThreadKind::Function, || {
        // SAFETY: a plain system call; it must not return.
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    });
    assert_eq!(status, EXIT_STATUS);
    assert_eq!(
        stderr,
        format!(
            "wasc: seccomp: the function thread made forbidden system call {}\n",
            libc::SYS_socket
        )
    );
}

#[test]
fn the_vcpu_thread_may_not_open_files() {
    let (status, stderr) = in_child(ThreadKind::Vcpu, || {
        // SAFETY: a plain system call on a NUL-terminated path.
        unsafe { libc::openat(libc::AT_FDCWD, c"/etc/passwd".as_ptr(), libc::O_RDONLY) };
    });
    assert_eq!(status, EXIT_STATUS);
    assert!(
        stderr.contains("the vCPU thread made forbidden system call"),
        "{stderr}"
    );
}

#[test]
fn arguments_are_filtered_too() {
    let (status, _) = in_child(ThreadKind::Function, || {
        // SAFETY: an anonymous mapping; it must not be allowed executable.
        unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
    });
    assert_eq!(status, EXIT_STATUS, "executable mmap");
    let (status, _) = in_child(ThreadKind::Function, || {
        let mut size = [0u16; 4];
        // SAFETY: TIOCGWINSZ writes a winsize into `size`.
        unsafe { libc::ioctl(0, libc::TIOCGWINSZ, size.as_mut_ptr()) };
    });
    assert_eq!(status, EXIT_STATUS, "an ioctl that is not KVM's");
}

#[test]
fn allowed_calls_still_work() {
    let (status, stderr) = in_child(ThreadKind::Function, || {
        // SAFETY: plain system calls on our own buffer and stderr.
        unsafe {
            let page = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if page == libc::MAP_FAILED {
                libc::_exit(3);
            }
            libc::write(2, c"still here".as_ptr().cast(), 10);
        }
    });
    assert_eq!((status, stderr.as_str()), (0, "still here"));
}
