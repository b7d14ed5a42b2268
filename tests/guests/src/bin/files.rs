//! Regular files in a host directory preopened at /sandbox, which the harness
//! fills with `existing.txt` = "0123456789".
//!
//! path_open flags, fd_read/fd_write/fd_pread/fd_pwrite/fd_seek/fd_tell,
//! append, fd_filestat_set_size, fd_allocate, fd_sync, fd_datasync,
//! fd_advise, fd_filestat_get, path_filestat_get, fd_filestat_set_times,
//! path_filestat_set_times.
use wasc_guests::{open, preopen, read, show, status, wasi, write};

fn pread(fd: wasi::Fd, len: usize, offset: u64) -> Result<Vec<u8>, wasi::Errno> {
    let mut buf = vec![0u8; len];
    let iov = wasi::Iovec {
        buf: buf.as_mut_ptr(),
        buf_len: len,
    };
    // SAFETY: `iov` points at `buf`.
    let n = unsafe { wasi::fd_pread(fd, &[iov], offset) }?;
    buf.truncate(n);
    Ok(buf)
}

fn pwrite(fd: wasi::Fd, data: &[u8], offset: u64) -> Result<usize, wasi::Errno> {
    let iov = wasi::Ciovec {
        buf: data.as_ptr(),
        buf_len: data.len(),
    };
    // SAFETY: `iov` points at `data`.
    unsafe { wasi::fd_pwrite(fd, &[iov], offset) }
}

fn size(fd: wasi::Fd) -> u64 {
    // SAFETY: plain WASI call.
    unsafe { wasi::fd_filestat_get(fd) }
        .expect("fd_filestat_get")
        .size
}

fn text(r: Result<Vec<u8>, wasi::Errno>) -> Result<String, wasi::Errno> {
    r.map(|v| String::from_utf8_lossy(&v).into_owned())
}

fn main() {
    let dir = preopen("/sandbox");
    // SAFETY: every call below is a WASI call on descriptors this guest owns
    // and on buffers that outlive the call.
    unsafe {
        // Open flags.
        status("open missing", open(dir, "missing.txt", 0, 0));
        status(
            "open existing with EXCL|CREAT",
            open(
                dir,
                "existing.txt",
                wasi::OFLAGS_CREAT | wasi::OFLAGS_EXCL,
                0,
            ),
        );
        status(
            "open file with DIRECTORY",
            open(dir, "existing.txt", wasi::OFLAGS_DIRECTORY, 0),
        );
        status("open empty path", open(dir, "", 0, 0));

        let fd = open(dir, "existing.txt", 0, 0).expect("open existing");
        show("read 4", text(read(fd, 4)));
        show("fd_tell after read", wasi::fd_tell(fd));
        show("fd_seek cur +2", wasi::fd_seek(fd, 2, wasi::WHENCE_CUR));
        show("read rest", text(read(fd, 100)));
        show("read at eof", text(read(fd, 100)));
        show("fd_seek end -3", wasi::fd_seek(fd, -3, wasi::WHENCE_END));
        show("read last 3", text(read(fd, 100)));
        status(
            "fd_seek before start",
            wasi::fd_seek(fd, -100, wasi::WHENCE_SET),
        );
        show("fd_seek past end", wasi::fd_seek(fd, 100, wasi::WHENCE_SET));
        show("pread 3 at 5", text(pread(fd, 3, 5)));
        show("pread past end", text(pread(fd, 3, 50)));
        show("fd_tell unchanged by pread", wasi::fd_tell(fd));
        status(
            "fd_advise",
            wasi::fd_advise(fd, 0, 10, wasi::ADVICE_SEQUENTIAL),
        );
        status("fd_close", wasi::fd_close(fd));
        status("fd_close again", wasi::fd_close(fd));

        // Create, write, pwrite, truncate, extend, allocate, sync.
        let fd = open(dir, "new.txt", wasi::OFLAGS_CREAT | wasi::OFLAGS_EXCL, 0).expect("create");
        show("write", write(fd, b"hello world"));
        show("fd_tell after write", wasi::fd_tell(fd));
        show("pwrite HELLO at 0", pwrite(fd, b"HELLO", 0));
        show("fd_tell unchanged by pwrite", wasi::fd_tell(fd));
        show("pread all", text(pread(fd, 100, 0)));
        show("pwrite past end (sparse)", pwrite(fd, b"!", 20));
        show("size after sparse pwrite", Ok::<_, wasi::Errno>(size(fd)));
        show("pread the hole", pread(fd, 21, 0));
        status("fd_filestat_set_size 5", wasi::fd_filestat_set_size(fd, 5));
        show("size", Ok::<_, wasi::Errno>(size(fd)));
        status("fd_filestat_set_size 8", wasi::fd_filestat_set_size(fd, 8));
        show("pread extended", pread(fd, 100, 0));
        status("fd_allocate 0..64", wasi::fd_allocate(fd, 0, 64));
        show("size after allocate", Ok::<_, wasi::Errno>(size(fd)));
        status("fd_sync", wasi::fd_sync(fd));
        status("fd_datasync", wasi::fd_datasync(fd));
        status("fd_close", wasi::fd_close(fd));

        // Truncate on open.
        let fd = open(dir, "new.txt", wasi::OFLAGS_TRUNC, 0).expect("open trunc");
        show("size after TRUNC", Ok::<_, wasi::Errno>(size(fd)));
        show("write after TRUNC", write(fd, b"truncated"));
        wasi::fd_close(fd).expect("close");

        // Append: writes go to the end whatever the offset.
        let fd = open(dir, "append.txt", wasi::OFLAGS_CREAT, wasi::FDFLAGS_APPEND).expect("append");
        show("append write 1", write(fd, b"one,"));
        show("seek to 0", wasi::fd_seek(fd, 0, wasi::WHENCE_SET));
        show("append write 2", write(fd, b"two"));
        show("pread append.txt", text(pread(fd, 100, 0)));
        if let Some(st) = status("fd_fdstat_get append", wasi::fd_fdstat_get(fd)) {
            println!("  filetype {} flags {}", st.fs_filetype.raw(), st.fs_flags);
        }
        wasi::fd_close(fd).expect("close");

        // Read-only and write-only rights.
        let ro =
            wasi::path_open(dir, 0, "existing.txt", 0, wasi::RIGHTS_FD_READ, 0, 0).expect("ro");
        status("write to read-only fd", write(ro, b"x"));
        status(
            "fd_filestat_set_size on read-only fd",
            wasi::fd_filestat_set_size(ro, 0),
        );
        wasi::fd_close(ro).expect("close");
        let wo = wasi::path_open(dir, 0, "new.txt", 0, wasi::RIGHTS_FD_WRITE, 0, 0).expect("wo");
        status("read from write-only fd", read(wo, 1));
        wasi::fd_close(wo).expect("close");

        // File status and times.
        let fd = open(dir, "existing.txt", 0, 0).expect("open");
        if let Some(st) = status("fd_filestat_get", wasi::fd_filestat_get(fd)) {
            println!(
                "  filetype {} size {} nlink {}",
                st.filetype.raw(),
                st.size,
                st.nlink
            );
        }
        let (atim, mtim) = (1_600_000_000_123_456_789u64, 1_650_000_000_987_654_321u64);
        status(
            "fd_filestat_set_times explicit",
            wasi::fd_filestat_set_times(fd, atim, mtim, wasi::FSTFLAGS_ATIM | wasi::FSTFLAGS_MTIM),
        );
        let st = wasi::fd_filestat_get(fd).expect("stat");
        println!(
            "  atim kept: {} mtim kept: {}",
            st.atim == atim,
            st.mtim == mtim
        );
        status(
            "fd_filestat_set_times ATIM|ATIM_NOW",
            wasi::fd_filestat_set_times(fd, 0, 0, wasi::FSTFLAGS_ATIM | wasi::FSTFLAGS_ATIM_NOW),
        );
        status(
            "path_filestat_set_times mtim",
            wasi::path_filestat_set_times(dir, 0, "existing.txt", 0, mtim + 1, wasi::FSTFLAGS_MTIM),
        );
        status(
            "path_filestat_set_times MTIM_NOW",
            wasi::path_filestat_set_times(dir, 0, "new.txt", 0, 0, wasi::FSTFLAGS_MTIM_NOW),
        );
        let now = wasi::clock_time_get(wasi::CLOCKID_REALTIME, 0).expect("now");
        let st = wasi::path_filestat_get(dir, 0, "new.txt").expect("stat new.txt");
        println!(
            "  MTIM_NOW within a minute: {}",
            st.mtim.abs_diff(now) < 60_000_000_000
        );
        if let Some(st) = status(
            "path_filestat_get existing.txt",
            wasi::path_filestat_get(dir, 0, "existing.txt"),
        ) {
            println!(
                "  filetype {} size {} mtim set: {}",
                st.filetype.raw(),
                st.size,
                st.mtim == mtim + 1
            );
        }
        status(
            "path_filestat_get missing",
            wasi::path_filestat_get(dir, 0, "missing"),
        );
        if let Some(st) = status("path_filestat_get .", wasi::path_filestat_get(dir, 0, ".")) {
            println!("  filetype {}", st.filetype.raw());
        }
        wasi::fd_close(fd).expect("close");

        // Large transfer through several iovecs.
        let fd = open(dir, "big.bin", wasi::OFLAGS_CREAT, 0).expect("big");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let iovs: Vec<_> = data
            .chunks(65_536)
            .map(|c| wasi::Ciovec {
                buf: c.as_ptr(),
                buf_len: c.len(),
            })
            .collect();
        // A gather write may be short; finish with a loop as callers must.
        let mut done =
            show("write 200000 bytes in 4 iovecs", wasi::fd_write(fd, &iovs)).expect("write");
        while done < data.len() {
            done += write(fd, &data[done..]).expect("write rest");
        }
        let mut back = Vec::new();
        while back.len() < data.len() {
            let chunk = pread(fd, 300_000, back.len() as u64).expect("pread big");
            assert!(!chunk.is_empty(), "unexpected end of file");
            back.extend(chunk);
        }
        println!("read back equal: {}", back == data);
        wasi::fd_close(fd).expect("close");
    }
}
