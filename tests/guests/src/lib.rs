//! Helpers shared by the WASI test guests.
//!
//! A guest prints one line per observation, in a form that does not depend on
//! the run (no timestamps, inode numbers or random bytes), so the same guest
//! must print the same lines under every isolation mode. Facts a guest can
//! check by itself (data read back equals data written) it asserts; a failed
//! assertion aborts, which the harness sees as a trap.

use std::fmt::Debug;

pub use wasi;
use wasi::{Errno, Fd};

/// Every right defined by preview 1.
pub const ALL_RIGHTS: wasi::Rights = (1 << 29) - 1;

/// Prints `label: ok` or `label: ERRNO` and hands back the value.
pub fn status<T>(label: &str, result: Result<T, Errno>) -> Option<T> {
    match result {
        Ok(value) => {
            println!("{label}: ok");
            Some(value)
        }
        Err(errno) => {
            println!("{label}: {}", errno.name());
            None
        }
    }
}

/// Prints `label: ok VALUE` or `label: ERRNO` and hands back the value.
pub fn show<T: Debug>(label: &str, result: Result<T, Errno>) -> Option<T> {
    match result {
        Ok(value) => {
            println!("{label}: ok {value:?}");
            Some(value)
        }
        Err(errno) => {
            println!("{label}: {}", errno.name());
            None
        }
    }
}

/// A `poll_oneoff` subscription to `kind` (`FD_READ` or `FD_WRITE`) on
/// `fd`.
pub fn fd_subscription(userdata: u64, kind: wasi::Eventtype, fd: wasi::Fd) -> wasi::Subscription {
    let rw = wasi::SubscriptionFdReadwrite {
        file_descriptor: fd,
    };
    let u = if kind == wasi::EVENTTYPE_FD_READ {
        wasi::SubscriptionUU { fd_read: rw }
    } else {
        wasi::SubscriptionUU { fd_write: rw }
    };
    wasi::Subscription {
        userdata,
        u: wasi::SubscriptionU { tag: kind.raw(), u },
    }
}

/// With `WASC_GUEST_FIXTURES=path=contents;…` in the environment (runs on a
/// memory file system, which starts empty), creates those files under
/// `/sandbox` first — what the test harness puts in a granted directory.
fn make_fixtures() {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let Ok(spec) = std::env::var("WASC_GUEST_FIXTURES") else {
        return;
    };
    for item in spec.split(';').filter(|s| !s.is_empty()) {
        let (path, contents) = item.split_once('=').expect("path=contents");
        let full = format!("/sandbox/{path}");
        if let Some((parent, _)) = full.rsplit_once('/') {
            std::fs::create_dir_all(parent).expect("fixture directory");
        }
        std::fs::write(&full, contents).expect("fixture file");
    }
}

/// Finds the preopened directory the guest sees as `name`.
pub fn preopen(name: &str) -> Fd {
    make_fixtures();
    for fd in 3..64 {
        // SAFETY: plain WASI calls on our own buffers.
        let Ok(prestat) = (unsafe { wasi::fd_prestat_get(fd) }) else {
            continue;
        };
        // SAFETY: tag 0 is the only prestat variant, `dir`.
        let len = unsafe { prestat.u.dir.pr_name_len };
        let mut buf = vec![0u8; len];
        // SAFETY: `buf` is `len` bytes long.
        if unsafe { wasi::fd_prestat_dir_name(fd, buf.as_mut_ptr(), len) }.is_ok()
            && buf == name.as_bytes()
        {
            return fd;
        }
    }
    panic!("no preopened directory named {name}");
}

/// Opens `path` under `dir` with all rights.
pub fn open(
    dir: Fd,
    path: &str,
    oflags: wasi::Oflags,
    fdflags: wasi::Fdflags,
) -> Result<Fd, Errno> {
    // SAFETY: plain WASI call; `path` is a live &str.
    unsafe { wasi::path_open(dir, 0, path, oflags, ALL_RIGHTS, ALL_RIGHTS, fdflags) }
}

/// Rights for a directory descriptor: everything but the rights that make a
/// host open it for writing, which a directory refuses.
pub const DIR_RIGHTS: wasi::Rights = ALL_RIGHTS
    & !(wasi::RIGHTS_FD_WRITE | wasi::RIGHTS_FD_ALLOCATE | wasi::RIGHTS_FD_FILESTAT_SET_SIZE);

/// Opens the directory `path` under `dir`.
pub fn open_dir(dir: Fd, path: &str) -> Result<Fd, Errno> {
    // SAFETY: plain WASI call; `path` is a live &str.
    unsafe {
        wasi::path_open(
            dir,
            0,
            path,
            wasi::OFLAGS_DIRECTORY,
            DIR_RIGHTS,
            ALL_RIGHTS,
            0,
        )
    }
}

/// Writes `data` at the current offset with one `fd_write` (which may write
/// less: callers that need everything loop).
pub fn write(fd: Fd, data: &[u8]) -> Result<usize, Errno> {
    let iov = wasi::Ciovec {
        buf: data.as_ptr(),
        buf_len: data.len(),
    };
    // SAFETY: `iov` points at `data`, which outlives the call.
    unsafe { wasi::fd_write(fd, &[iov]) }
}

/// Reads up to `max` bytes at the current offset.
pub fn read(fd: Fd, max: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; max];
    let iov = wasi::Iovec {
        buf: buf.as_mut_ptr(),
        buf_len: buf.len(),
    };
    // SAFETY: `iov` points at `buf`, which outlives the call.
    let n = unsafe { wasi::fd_read(fd, &[iov]) }?;
    buf.truncate(n);
    Ok(buf)
}

/// Lists a directory with one big `fd_readdir` from `cookie`, returning
/// `(name, filetype, next cookie)` per entry.
pub fn readdir(fd: Fd, cookie: u64) -> Result<Vec<(String, u8, u64)>, Errno> {
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: `buf` is writable for its whole length.
    let used = unsafe { wasi::fd_readdir(fd, buf.as_mut_ptr(), buf.len(), cookie) }?;
    assert!(used < buf.len(), "directory listing filled the buffer");
    Ok(parse_dirents(&buf[..used]))
}

/// Decodes a `fd_readdir` buffer; a trailing partial entry is dropped.
pub fn parse_dirents(mut bytes: &[u8]) -> Vec<(String, u8, u64)> {
    const HEADER: usize = 24;
    let mut entries = Vec::new();
    while bytes.len() >= HEADER {
        let next = u64::from_le_bytes(bytes[0..8].try_into().expect("8 bytes"));
        let namlen = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes")) as usize;
        let kind = bytes[20];
        if bytes.len() < HEADER + namlen {
            break;
        }
        let name = String::from_utf8_lossy(&bytes[HEADER..HEADER + namlen]).into_owned();
        entries.push((name, kind, next));
        bytes = &bytes[HEADER + namlen..];
    }
    entries
}

/// Names of a listing, sorted (host file systems order entries freely).
pub fn sorted_names(entries: &[(String, u8, u64)]) -> Vec<String> {
    let mut names: Vec<_> = entries.iter().map(|e| e.0.clone()).collect();
    names.sort();
    names
}
