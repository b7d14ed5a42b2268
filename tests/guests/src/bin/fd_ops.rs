//! Descriptor-table operations: fd_prestat_get, fd_prestat_dir_name,
//! fd_renumber, fd_fdstat_get, fd_fdstat_set_flags, fd_fdstat_set_rights,
//! fd_close on a preopen, and bad descriptors. /sandbox holds `a.txt` = "A"
//! and `b.txt` = "B".
use wasc_guests::{open, preopen, read, show, status, wasi};

fn text(fd: wasi::Fd) -> Result<String, wasi::Errno> {
    // SAFETY: plain WASI call.
    unsafe { wasi::fd_seek(fd, 0, wasi::WHENCE_SET) }?;
    read(fd, 16).map(|v| String::from_utf8_lossy(&v).into_owned())
}

fn main() {
    let dir = preopen("/sandbox");
    println!("sandbox fd is 3: {}", dir == 3);
    // SAFETY: WASI calls on descriptors this guest owns and live buffers.
    unsafe {
        if let Some(p) = status("fd_prestat_get(3)", wasi::fd_prestat_get(dir)) {
            println!("  tag {} name_len {}", p.tag, p.u.dir.pr_name_len);
        }
        let mut name = [0u8; 8];
        show(
            "fd_prestat_dir_name exact",
            wasi::fd_prestat_dir_name(dir, name.as_mut_ptr(), 8)
                .map(|_| String::from_utf8_lossy(&name).into_owned()),
        );
        let mut short = [0u8; 3];
        status(
            "fd_prestat_dir_name short buffer",
            wasi::fd_prestat_dir_name(dir, short.as_mut_ptr(), 3),
        );
        status("fd_prestat_get(1)", wasi::fd_prestat_get(1).map(|_| ()));
        status(
            "fd_prestat_get(4) (not open)",
            wasi::fd_prestat_get(4).map(|_| ()),
        );

        let a = open(dir, "a.txt", 0, 0).expect("a");
        let b = open(dir, "b.txt", 0, 0).expect("b");
        status("fd_prestat_get(file)", wasi::fd_prestat_get(a).map(|_| ()));
        status(
            "fd_prestat_dir_name(file)",
            wasi::fd_prestat_dir_name(a, name.as_mut_ptr(), 8),
        );
        if let Some(st) = status("fd_fdstat_get(dir)", wasi::fd_fdstat_get(dir)) {
            println!("  filetype {} flags {}", st.fs_filetype.raw(), st.fs_flags);
        }
        if let Some(st) = status("fd_fdstat_get(file)", wasi::fd_fdstat_get(a)) {
            println!(
                "  filetype {} flags {} can read {} can write {}",
                st.fs_filetype.raw(),
                st.fs_flags,
                st.fs_rights_base & wasi::RIGHTS_FD_READ != 0,
                st.fs_rights_base & wasi::RIGHTS_FD_WRITE != 0
            );
        }

        // Flags.
        status(
            "fd_fdstat_set_flags APPEND",
            wasi::fd_fdstat_set_flags(a, wasi::FDFLAGS_APPEND),
        );
        status(
            "fd_fdstat_set_flags NONBLOCK",
            wasi::fd_fdstat_set_flags(a, wasi::FDFLAGS_NONBLOCK),
        );
        status(
            "fd_fdstat_set_flags SYNC",
            wasi::fd_fdstat_set_flags(a, wasi::FDFLAGS_SYNC),
        );
        status("fd_fdstat_set_flags 0", wasi::fd_fdstat_set_flags(a, 0));
        status(
            "fd_fdstat_set_flags(badf)",
            wasi::fd_fdstat_set_flags(99, 0),
        );

        // Rights.
        status(
            "fd_fdstat_set_rights shrink",
            wasi::fd_fdstat_set_rights(a, wasi::RIGHTS_FD_READ, 0),
        );
        status(
            "fd_fdstat_set_rights grow",
            wasi::fd_fdstat_set_rights(a, wasc_guests::ALL_RIGHTS, wasc_guests::ALL_RIGHTS),
        );
        status(
            "fd_fdstat_set_rights(badf)",
            wasi::fd_fdstat_set_rights(99, 0, 0),
        );

        // Renumber.
        status("fd_renumber(a, b)", wasi::fd_renumber(a, b));
        show("read via b", text(b));
        status("read via a after renumber", text(a));
        status("fd_renumber(badf, b)", wasi::fd_renumber(99, b));
        status("fd_renumber(b, unopened 40)", wasi::fd_renumber(b, 40));
        status("fd_renumber(b, b)", wasi::fd_renumber(b, b));
        let c = open(dir, "a.txt", 0, 0).expect("c");
        show(
            "new fd reuses the lowest free slot",
            Ok::<_, wasi::Errno>(c == a),
        );

        // Closing a preopen.
        status("fd_close(3) preopen", wasi::fd_close(dir));
        status(
            "fd_prestat_get(3) after close",
            wasi::fd_prestat_get(dir).map(|_| ()),
        );
        status("open under closed preopen", open(dir, "a.txt", 0, 0));
        status("fd_close(99)", wasi::fd_close(99));
        status("fd_fdstat_get(99)", wasi::fd_fdstat_get(99).map(|_| ()));
        status("fd_filestat_get(99)", wasi::fd_filestat_get(99).map(|_| ()));
        status("fd_close(-1)", wasi::fd_close(u32::MAX));

        // Last: renumbering a file onto stdout sends later output to the
        // file, which the harness sees in the directory tree.
        status("fd_renumber(b, stdout)", wasi::fd_renumber(b, 1));
        println!("this line lands in a.txt");
    }
}
