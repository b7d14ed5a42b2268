//! Hard links and symlinks under /sandbox (the harness adds `target.txt` =
//! "target" and a sibling directory `outside` that is NOT granted):
//! path_link, path_symlink, path_readlink, following rules, loops, escapes.
use wasc_guests::{open, preopen, read, show, status, wasi};

fn readlink(dir: wasi::Fd, path: &str, len: usize) -> Result<String, wasi::Errno> {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` is `len` writable bytes.
    let n = unsafe { wasi::path_readlink(dir, path, buf.as_mut_ptr(), len) }?;
    buf.truncate(n);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn main() {
    let dir = preopen("/sandbox");
    let follow = wasi::LOOKUPFLAGS_SYMLINK_FOLLOW;
    // SAFETY: WASI calls on descriptors this guest owns and live buffers.
    unsafe {
        // Hard links.
        status(
            "link target.txt -> hard.txt",
            wasi::path_link(dir, 0, "target.txt", dir, "hard.txt"),
        );
        if let Some(st) = status("stat hard.txt", wasi::path_filestat_get(dir, 0, "hard.txt")) {
            println!("  nlink {} size {}", st.nlink, st.size);
        }
        status(
            "link over existing",
            wasi::path_link(dir, 0, "target.txt", dir, "hard.txt"),
        );
        status(
            "link missing",
            wasi::path_link(dir, 0, "missing", dir, "h2"),
        );
        status("mkdir d", wasi::path_create_directory(dir, "d"));
        status("link a directory", wasi::path_link(dir, 0, "d", dir, "d2"));
        status(
            "link to ../escape",
            wasi::path_link(dir, 0, "target.txt", dir, "../escape"),
        );

        // Symlinks.
        status(
            "symlink target.txt <- sym",
            wasi::path_symlink("target.txt", dir, "sym"),
        );
        status("symlink over existing", wasi::path_symlink("x", dir, "sym"));
        show("readlink sym", readlink(dir, "sym", 64));
        show("readlink sym, 3-byte buffer", readlink(dir, "sym", 3));
        status("readlink a file", readlink(dir, "target.txt", 64));
        status("readlink missing", readlink(dir, "missing", 64));
        if let Some(st) = status("stat sym nofollow", wasi::path_filestat_get(dir, 0, "sym")) {
            println!("  filetype {} size {}", st.filetype.raw(), st.size);
        }
        if let Some(st) = status(
            "stat sym follow",
            wasi::path_filestat_get(dir, follow, "sym"),
        ) {
            println!("  filetype {} size {}", st.filetype.raw(), st.size);
        }
        let fd = wasi::path_open(dir, follow, "sym", 0, wasc_guests::ALL_RIGHTS, 0, 0);
        if let Some(fd) = status("open sym follow", fd) {
            show(
                "  read",
                read(fd, 64).map(|v| String::from_utf8_lossy(&v).into_owned()),
            );
            wasi::fd_close(fd).expect("close");
        }
        status("open sym nofollow", open(dir, "sym", 0, 0));
        status("symlink d <- dsym", wasi::path_symlink("d", dir, "dsym"));
        status(
            "mkdir through dir symlink",
            wasi::path_create_directory(dir, "dsym/sub"),
        );
        status(
            "stat dsym/ (trailing slash)",
            wasi::path_filestat_get(dir, 0, "dsym/").map(|s| s.filetype.raw()),
        );
        status(
            "symlink dangling",
            wasi::path_symlink("nowhere", dir, "dangling"),
        );
        status(
            "open dangling follow",
            wasi::path_open(dir, follow, "dangling", 0, wasc_guests::ALL_RIGHTS, 0, 0),
        );
        status(
            "create through dangling",
            wasi::path_open(
                dir,
                follow,
                "dangling",
                wasi::OFLAGS_CREAT,
                wasc_guests::ALL_RIGHTS,
                0,
                0,
            ),
        );
        status(
            "symlink chain c1 -> sym",
            wasi::path_symlink("sym", dir, "c1"),
        );
        status(
            "open chain follow",
            wasi::path_open(dir, follow, "c1", 0, wasc_guests::ALL_RIGHTS, 0, 0)
                .map(|fd| wasi::fd_close(fd)),
        );

        // Loops.
        status(
            "symlink loop1 -> loop2",
            wasi::path_symlink("loop2", dir, "loop1"),
        );
        status(
            "symlink loop2 -> loop1",
            wasi::path_symlink("loop1", dir, "loop2"),
        );
        status(
            "open loop follow",
            wasi::path_open(dir, follow, "loop1", 0, wasc_guests::ALL_RIGHTS, 0, 0),
        );
        status(
            "stat loop follow",
            wasi::path_filestat_get(dir, follow, "loop1").map(|_| ()),
        );
        status(
            "symlink self -> self",
            wasi::path_symlink("self", dir, "self"),
        );
        status("open self/x", open(dir, "self/x", 0, 0));

        // Escapes.
        status("open ..", open(dir, "..", 0, 0));
        status(
            "open ../outside/secret.txt",
            open(dir, "../outside/secret.txt", 0, 0),
        );
        status(
            "open d/../../outside/secret.txt",
            open(dir, "d/../../outside/secret.txt", 0, 0),
        );
        status(
            "open d/../target.txt",
            open(dir, "d/../target.txt", 0, 0).map(|fd| wasi::fd_close(fd)),
        );
        status("open /etc/passwd", open(dir, "/etc/passwd", 0, 0));
        status(
            "symlink abs -> /etc/passwd",
            wasi::path_symlink("/etc/passwd", dir, "abs"),
        );
        status(
            "open abs follow",
            wasi::path_open(dir, follow, "abs", 0, wasc_guests::ALL_RIGHTS, 0, 0),
        );
        status(
            "symlink up -> ../outside",
            wasi::path_symlink("../outside", dir, "up"),
        );
        status(
            "open up/secret.txt",
            wasi::path_open(
                dir,
                follow,
                "up/secret.txt",
                0,
                wasc_guests::ALL_RIGHTS,
                0,
                0,
            ),
        );
        status(
            "stat up/secret.txt",
            wasi::path_filestat_get(dir, follow, "up/secret.txt").map(|_| ()),
        );
        status("mkdir ../made", wasi::path_create_directory(dir, "../made"));
        status(
            "rename target.txt -> ../stolen",
            wasi::path_rename(dir, "target.txt", dir, "../stolen"),
        );

        // Unlinking a symlink removes the link, not its target.
        status("unlink sym", wasi::path_unlink_file(dir, "sym"));
        status(
            "target still there",
            wasi::path_filestat_get(dir, 0, "target.txt").map(|_| ()),
        );
        status(
            "unlink dsym/ (trailing slash)",
            wasi::path_unlink_file(dir, "dsym/"),
        );
        status(
            "rmdir dsym (symlink)",
            wasi::path_remove_directory(dir, "dsym"),
        );
        status("unlink hard.txt", wasi::path_unlink_file(dir, "hard.txt"));
    }
}
