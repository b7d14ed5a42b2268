//! A TCP server on the listening socket `wasc run --tcplisten` pre-opens as
//! fd 3, driven by a client in the test (`crates/wasc/tests/sockets.rs`).
//! Each line it prints is an observation or a cue for the client; the
//! client acts only after the cue it waits for, so the run is the same
//! every time.
//!
//! First connection: accept after a poll, peek, a `WAITALL` receive across
//! two buffers, `sock_send` and `fd_write`, `fd_read`, half close, the
//! peer's end of stream, and the hang-up seen by `poll_oneoff`. Second
//! connection: accepted non-blocking, a receive with nothing queued, then
//! blocking again through `fd_fdstat_set_flags`.
use wasc_guests::{fd_subscription as sub, read, show, status, wasi, write};

const LISTENER: wasi::Fd = 3;

fn describe(label: &str, fd: wasi::Fd) {
    // SAFETY: plain WASI call.
    match unsafe { wasi::fd_fdstat_get(fd) } {
        Ok(stat) => println!(
            "{label}: filetype {} flags {:#x} rights {:#x}/{:#x}",
            stat.fs_filetype.raw(),
            stat.fs_flags,
            stat.fs_rights_base,
            stat.fs_rights_inheriting
        ),
        Err(e) => println!("{label}: {}", e.name()),
    }
}

/// A 30-second relative clock: a test that goes wrong ends instead of
/// hanging.
fn guard() -> wasi::Subscription {
    wasi::Subscription {
        userdata: 99,
        u: wasi::SubscriptionU {
            tag: wasi::EVENTTYPE_CLOCK.raw(),
            u: wasi::SubscriptionUU {
                clock: wasi::SubscriptionClock {
                    id: wasi::CLOCKID_MONOTONIC,
                    timeout: 30_000_000_000,
                    precision: 0,
                    flags: 0,
                },
            },
        },
    }
}

/// Polls `fd` for `kind` (with the guard clock) and prints the events.
fn poll(label: &str, kind: wasi::Eventtype, fd: wasi::Fd) {
    let subs = [sub(1, kind, fd), guard()];
    let mut events: Vec<wasi::Event> = Vec::with_capacity(subs.len());
    // SAFETY: `events` has room for one event per subscription.
    match unsafe { wasi::poll_oneoff(subs.as_ptr(), events.as_mut_ptr(), subs.len()) } {
        Ok(n) => {
            // SAFETY: poll_oneoff initialised `n` events.
            unsafe { events.set_len(n) };
            let seen: Vec<_> = events
                .iter()
                .map(|e| {
                    format!(
                        "userdata {} {} type {} nbytes {} flags {}",
                        e.userdata,
                        e.error.name(),
                        e.type_.raw(),
                        e.fd_readwrite.nbytes,
                        e.fd_readwrite.flags
                    )
                })
                .collect();
            println!("{label}: {seen:?}");
        }
        Err(e) => println!("{label}: {}", e.name()),
    }
}

fn recv(fd: wasi::Fd, bufs: &mut [&mut [u8]], flags: wasi::Riflags) -> Result<usize, wasi::Errno> {
    let iovs: Vec<_> = bufs
        .iter_mut()
        .map(|b| wasi::Iovec {
            buf: b.as_mut_ptr(),
            buf_len: b.len(),
        })
        .collect();
    // SAFETY: every iovec points at a live buffer of its length.
    unsafe { wasi::sock_recv(fd, &iovs, flags) }.map(|(n, roflags)| {
        assert_eq!(roflags, 0, "stream sockets never truncate");
        n
    })
}

fn send(fd: wasi::Fd, parts: &[&[u8]]) -> Result<usize, wasi::Errno> {
    let iovs: Vec<_> = parts
        .iter()
        .map(|b| wasi::Ciovec {
            buf: b.as_ptr(),
            buf_len: b.len(),
        })
        .collect();
    // SAFETY: every iovec points at a live buffer of its length.
    unsafe { wasi::sock_send(fd, &iovs, 0) }
}

/// Receives until the peer's end of stream.
fn recv_to_end(fd: wasi::Fd) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let mut buf = [0u8; 64];
        match recv(fd, &mut [&mut buf], 0) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) => panic!("recv: {}", e.name()),
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn first_connection() {
    poll("poll listener", wasi::EVENTTYPE_FD_READ, LISTENER);
    // SAFETY: plain WASI call.
    let Some(conn) = show("accept", unsafe { wasi::sock_accept(LISTENER, 0) }) else {
        return;
    };
    describe("connection", conn);
    // SAFETY: plain WASI calls.
    unsafe {
        show(
            "fd_seek on a connection",
            wasi::fd_seek(conn, 0, wasi::WHENCE_CUR),
        );
        show("fd_pread on a connection", wasi::fd_pread(conn, &[], 0));
        let filetype = wasi::fd_filestat_get(conn).map(|st| st.filetype.raw());
        show("fd_filestat_get filetype", filetype);
    }
    // The client sent "hello world\n" in one write: a peek sees a prefix.
    let mut peek = [0u8; 5];
    let n = recv(conn, &mut [&mut peek], wasi::RIFLAGS_RECV_PEEK).expect("peek");
    println!("peek is a prefix: {}", n >= 1 && peek[..n] == b"hello"[..n]);
    let (mut a, mut b) = ([0u8; 5], [0u8; 7]);
    let n = recv(conn, &mut [&mut a, &mut b], wasi::RIFLAGS_RECV_WAITALL).expect("waitall");
    println!("waitall: {n} {:?}", text(&[&a[..], &b[..]].concat()));
    poll("poll writable", wasi::EVENTTYPE_FD_WRITE, conn);
    show("sock_send", send(conn, &[b"HELLO ", b"", b"WORLD\n"]));
    show("fd_write", write(conn, b"via fd_write\n"));
    println!("sent");
    // The client answers "ping\n" once it has read both.
    let mut got = Vec::new();
    while got.len() < 5 {
        got.extend(read(conn, 16).expect("fd_read"));
    }
    println!("fd_read: {:?}", text(&got));
    status("shutdown write", unsafe_shutdown(conn, wasi::SDFLAGS_WR));
    show("send after shutdown", send(conn, &[b"late"]));
    // The client sees our end of stream, sends "bye" and closes.
    println!("until end: {:?}", text(&recv_to_end(conn)));
    poll("poll after both ends closed", wasi::EVENTTYPE_FD_READ, conn);
    // SAFETY: plain WASI call.
    status("close", unsafe { wasi::fd_close(conn) });
}

fn unsafe_shutdown(fd: wasi::Fd, how: wasi::Sdflags) -> Result<(), wasi::Errno> {
    // SAFETY: plain WASI call.
    unsafe { wasi::sock_shutdown(fd, how) }
}

fn second_connection() {
    poll("poll listener again", wasi::EVENTTYPE_FD_READ, LISTENER);
    // SAFETY: plain WASI call.
    let accepted = unsafe { wasi::sock_accept(LISTENER, wasi::FDFLAGS_NONBLOCK) };
    let Some(conn) = show("accept non-blocking", accepted) else {
        return;
    };
    describe("non-blocking connection", conn);
    let mut buf = [0u8; 16];
    show("recv with nothing queued", recv(conn, &mut [&mut buf], 0));
    // SAFETY: plain WASI call.
    status("set blocking", unsafe {
        wasi::fd_fdstat_set_flags(conn, 0)
    });
    describe("blocking connection", conn);
    // The client sends "late\n" after the line above; a blocking receive
    // waits for it.
    println!("waiting");
    let mut got = Vec::new();
    while got.len() < 5 {
        let n = recv(conn, &mut [&mut buf], 0).expect("recv");
        assert!(n > 0, "early end of stream");
        got.extend_from_slice(&buf[..n]);
    }
    println!("blocking recv: {:?}", text(&got));
    // SAFETY: plain WASI call.
    status("close", unsafe { wasi::fd_close(conn) });
}

fn main() {
    describe("listener", LISTENER);
    // SAFETY: plain WASI calls on live buffers.
    unsafe {
        show(
            "accept with nothing pending",
            wasi::sock_accept(LISTENER, 0),
        );
        let mut buf = [0u8; 4];
        show("recv on the listener", recv(LISTENER, &mut [&mut buf], 0));
        show("send on the listener", send(LISTENER, &[b"x"]));
        status(
            "shutdown the listener",
            wasi::sock_shutdown(LISTENER, wasi::SDFLAGS_RD),
        );
        show("fd_read on the listener", read(LISTENER, 4));
        show("fd_tell on the listener", wasi::fd_tell(LISTENER));
        show("accept on stdout", wasi::sock_accept(1, 0));
    }
    println!("listening");
    first_connection();
    println!("next");
    second_connection();
    println!("done");
}
