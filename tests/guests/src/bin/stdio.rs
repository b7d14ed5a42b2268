//! fd_write (gather) to stdout and stderr, fd_read of all stdin, and the
//! descriptor calls that make sense on stdio.
use wasc_guests::{read, show, status, wasi};

fn main() {
    // wasmtime 48 writes only the first non-empty iovec of a gather write
    // (a short write, which POSIX allows); callers must loop.
    let parts: [&[u8]; 3] = [b"gathered\n", b"write\n", b"to stdout\n"];
    let iovs: Vec<_> = parts
        .iter()
        .map(|p| wasi::Ciovec {
            buf: p.as_ptr(),
            buf_len: p.len(),
        })
        .collect();
    // SAFETY: every iovec points at a live static slice.
    show("fd_write(stdout, 3 iovecs)", unsafe {
        wasi::fd_write(1, &iovs)
    });
    show("fd_write(stderr)", unsafe {
        // SAFETY: as above.
        wasi::fd_write(
            2,
            &[wasi::Ciovec {
                buf: b"to stderr\n".as_ptr(),
                buf_len: 10,
            }],
        )
    });
    show("fd_write(stdout, 0 iovecs)", unsafe {
        // SAFETY: an empty iovec array.
        wasi::fd_write(1, &[])
    });

    let mut input = Vec::new();
    loop {
        match read(0, 7) {
            Ok(chunk) if chunk.is_empty() => break,
            Ok(chunk) => input.extend(chunk),
            Err(e) => {
                println!("fd_read(stdin): {}", e.name());
                break;
            }
        }
    }
    println!("stdin: {:?}", String::from_utf8_lossy(&input));
    show("fd_read(stdin) at eof", read(0, 16).map(|v| v.len()));

    for fd in [0, 1, 2] {
        // SAFETY: plain WASI calls.
        unsafe {
            if let Some(st) = status(&format!("fd_fdstat_get({fd})"), wasi::fd_fdstat_get(fd)) {
                println!("  flags {}", st.fs_flags);
            }
            status(
                &format!("fd_seek({fd})"),
                wasi::fd_seek(fd, 0, wasi::WHENCE_CUR),
            );
            status(&format!("fd_tell({fd})"), wasi::fd_tell(fd));
            status(&format!("fd_prestat_get({fd})"), wasi::fd_prestat_get(fd));
        }
    }
    // SAFETY: writing to an fd that does not exist.
    status("fd_write(badf)", unsafe { wasi::fd_write(77, &[]) });
    status("fd_read(badf)", read(77, 1));
}
