//! An instance's own stdin, stdout and stderr: handles 0–2 reach the
//! descriptors it was granted, not the host process's.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use wasc_executor::{Errno, Executor, StdioFd};
use wasc_wire::hostop::OpCode;

fn pipe() -> (std::fs::File, std::fs::File) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    (
        std::fs::File::from(OwnedFd::from(reader)),
        std::fs::File::from(OwnedFd::from(writer)),
    )
}

#[test]
fn handles_0_to_2_are_the_granted_descriptors() {
    let (stdin_r, mut stdin_w) = pipe();
    let (mut stdout_r, stdout_w) = pipe();
    let (mut stderr_r, stderr_w) = pipe();
    let mut f = common::fixture();
    f.executor = Executor::granted(
        [
            StdioFd::Owned(stdin_r.into()),
            StdioFd::Owned(stdout_w.into()),
            StdioFd::Owned(stderr_w.into()),
        ],
        Vec::new(),
        Vec::new(),
    )
    .expect("executor");
    stdin_w.write_all(b"request").expect("fill stdin");
    drop(stdin_w);

    assert_eq!(f.run(OpCode::Read, &[0, 0, 64]), Ok(7));
    assert_eq!(&f.memory[..7], b"request");
    assert_eq!(f.run(OpCode::Read, &[0, 0, 64]), Ok(0), "end of the body");

    f.memory[100..103].copy_from_slice(b"out");
    f.memory[200..203].copy_from_slice(b"err");
    assert_eq!(f.run(OpCode::Write, &[1, 100, 3]), Ok(3));
    assert_eq!(f.run(OpCode::Write, &[2, 200, 3]), Ok(3));
    // Reading an output stream, or writing the input, is refused.
    assert_eq!(f.run(OpCode::Write, &[0, 100, 3]), Err(Errno::BADF));
    assert_eq!(f.run(OpCode::Read, &[1, 0, 3]), Err(Errno::BADF));

    // Dropping the executor closes its descriptors: the readers see the end.
    drop(f);
    let mut out = String::new();
    stdout_r.read_to_string(&mut out).expect("stdout");
    let mut err = String::new();
    stderr_r.read_to_string(&mut err).expect("stderr");
    assert_eq!((out.as_str(), err.as_str()), ("out", "err"));
}

#[test]
fn close_all_ends_the_streams_while_the_executor_lives() {
    let (mut stdout_r, stdout_w) = pipe();
    let mut f = common::fixture();
    f.executor = Executor::granted(
        [
            StdioFd::Inherited(0),
            StdioFd::Owned(stdout_w.into()),
            StdioFd::Inherited(2),
        ],
        Vec::new(),
        Vec::new(),
    )
    .expect("executor");
    f.memory[..4].copy_from_slice(b"body");
    assert_eq!(f.run(OpCode::Write, &[1, 0, 4]), Ok(4));

    f.executor.close_all();
    // The reader sees the end with the executor still alive. Non-blocking,
    // so a write end left open fails the read (EAGAIN) instead of hanging.
    // SAFETY: fcntl(F_SETFL) only changes the flags of our own descriptor.
    let set = unsafe { libc::fcntl(stdout_r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    assert_eq!(set, 0);
    let mut out = String::new();
    stdout_r
        .read_to_string(&mut out)
        .expect("stdout at its end, not waiting for more");
    assert_eq!(out, "body");
    // Every handle is gone; the inherited ones were let go of, not closed.
    assert_eq!(f.run(OpCode::Write, &[1, 0, 4]), Err(Errno::BADF));
    assert_eq!(f.run(OpCode::Write, &[2, 0, 4]), Err(Errno::BADF));
    // SAFETY: fcntl(F_GETFD) only queries descriptor 2.
    let stderr_flags = unsafe { libc::fcntl(2, libc::F_GETFD) };
    assert!(stderr_flags >= 0, "stderr still open");
}
