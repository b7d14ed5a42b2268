//! While a module runs in a VM, every thread of the `wasc` process that
//! runs user code (the function thread, the poll transport's vCPU thread,
//! the epoch ticker) is under a seccomp filter (`Seccomp: 2` in its status),
//! in both transports. KVM's kernel workers, which run no user code, are
//! left out (`wasc_seccomp::user_threads_of`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use wasc_seccomp::user_threads_of;

fn every_thread_is_confined(transport: &str, expected_threads: usize) {
    // The stdio guest writes, then reads stdin to its end: holding stdin
    // open keeps it running.
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasc"))
        .args(["run", "--transport", transport, wasc_test_guests::STDIO])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wasc");
    let pid = child.id();
    // The function thread is confined just before `_start`; wait for it.
    let mut threads = Vec::new();
    for _ in 0..6_000 {
        threads = user_threads_of(pid).expect("read /proc");
        if threads.iter().any(|t| t.tid == pid && t.seccomp == 2) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"bye").expect("write stdin");
    drop(stdin);
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "{output:?}");

    assert_eq!(threads.len(), expected_threads, "{threads:?}");
    for task in &threads {
        assert_eq!(task.seccomp, 2, "thread {task:?} is not confined");
    }
    if transport == "poll" {
        assert!(threads.iter().any(|t| t.name == "wasc-vcpu"), "{threads:?}");
    }
    // The default --timeout (15 minutes) runs the epoch ticker.
    assert!(
        threads.iter().any(|t| t.name == "wasc-epoch"),
        "{threads:?}"
    );
}

#[test]
fn every_thread_is_confined_in_the_poll_transport() {
    every_thread_is_confined("poll", 3);
}

#[test]
fn every_thread_is_confined_in_the_sync_transport() {
    every_thread_is_confined("sync", 2);
}
