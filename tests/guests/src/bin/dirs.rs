//! Directories under /sandbox (the harness adds `file.txt` and `full/x`):
//! path_create_directory, fd_readdir with cookies, path_remove_directory,
//! path_rename, path_unlink_file, and trailing-slash rules.
use wasc_guests::{open, open_dir, preopen, readdir, sorted_names, status, wasi};

fn main() {
    let dir = preopen("/sandbox");
    // SAFETY: WASI calls on descriptors this guest owns and live buffers.
    unsafe {
        status("mkdir a", wasi::path_create_directory(dir, "a"));
        status("mkdir a again", wasi::path_create_directory(dir, "a"));
        status("mkdir a/b", wasi::path_create_directory(dir, "a/b"));
        status(
            "mkdir x/y (no parent)",
            wasi::path_create_directory(dir, "x/y"),
        );
        status(
            "mkdir over file",
            wasi::path_create_directory(dir, "file.txt"),
        );
        status(
            "mkdir c/ (trailing slash)",
            wasi::path_create_directory(dir, "c/"),
        );
        for i in 0..40 {
            let fd = open(dir, &format!("a/f{i:02}"), wasi::OFLAGS_CREAT, 0).expect("create");
            wasi::fd_close(fd).expect("close");
        }

        // Listing and cookies.
        let a = open_dir(dir, "a").expect("open a");
        let all = readdir(a, 0).expect("readdir");
        println!("readdir a: {:?}", sorted_names(&all));
        let mut resumed_ok = true;
        for (i, entry) in all.iter().enumerate() {
            let rest = readdir(a, entry.2).expect("readdir from cookie");
            resumed_ok &= rest
                .iter()
                .map(|e| &e.0)
                .eq(all[i + 1..].iter().map(|e| &e.0));
        }
        println!("every cookie resumes after its entry: {resumed_ok}");
        // A buffer too small for everything: the caller sees a full buffer and
        // continues from the last whole entry's cookie.
        let mut small = [0u8; 100];
        let used = wasi::fd_readdir(a, small.as_mut_ptr(), small.len(), 0).expect("small readdir");
        println!("small buffer filled: {}", used == small.len());
        let mut seen = Vec::new();
        let mut cookie = 0;
        loop {
            let used = wasi::fd_readdir(a, small.as_mut_ptr(), small.len(), cookie).expect("page");
            let entries = wasc_guests::parse_dirents(&small[..used]);
            if entries.is_empty() {
                assert!(used < small.len(), "entry larger than the page");
                break;
            }
            seen.extend(entries.iter().map(|e| e.0.clone()));
            cookie = entries.last().expect("non-empty").2;
            if used < small.len() {
                break;
            }
        }
        println!(
            "paged listing equals full listing: {}",
            seen == all.iter().map(|e| e.0.clone()).collect::<Vec<_>>()
        );
        let types: Vec<_> = all
            .iter()
            .filter(|e| e.0 == "b" || e.0 == "f00")
            .map(|e| (e.0.clone(), e.1))
            .collect();
        println!("entry types: {types:?}");
        let past_end = readdir(a, u64::MAX).expect("readdir past end");
        println!("readdir from huge cookie: {} entries", past_end.len());
        let file = open(dir, "file.txt", 0, 0).expect("open file");
        status("readdir on a file", readdir(file, 0));
        wasi::fd_close(file).expect("close");
        wasi::fd_close(a).expect("close");

        // Removal.
        status("rmdir non-empty", wasi::path_remove_directory(dir, "full"));
        status("rmdir a file", wasi::path_remove_directory(dir, "file.txt"));
        status("rmdir missing", wasi::path_remove_directory(dir, "nope"));
        status("unlink a directory", wasi::path_unlink_file(dir, "c"));
        status(
            "unlink file.txt/ (trailing slash)",
            wasi::path_unlink_file(dir, "file.txt/"),
        );
        status(
            "rmdir c/ (trailing slash)",
            wasi::path_remove_directory(dir, "c/"),
        );
        status("rmdir .", wasi::path_remove_directory(dir, "."));
        status("unlink full/x", wasi::path_unlink_file(dir, "full/x"));
        status("rmdir full", wasi::path_remove_directory(dir, "full"));

        // Rename.
        status(
            "rename file.txt -> renamed.txt",
            wasi::path_rename(dir, "file.txt", dir, "renamed.txt"),
        );
        status(
            "rename missing",
            wasi::path_rename(dir, "file.txt", dir, "x"),
        );
        status(
            "rename a -> moved",
            wasi::path_rename(dir, "a", dir, "moved"),
        );
        status(
            "rename dir over file",
            wasi::path_rename(dir, "moved", dir, "renamed.txt"),
        );
        status("mkdir empty", wasi::path_create_directory(dir, "empty"));
        status(
            "rename file over dir",
            wasi::path_rename(dir, "renamed.txt", dir, "empty"),
        );
        status(
            "rename dir over non-empty dir",
            wasi::path_rename(dir, "empty", dir, "moved"),
        );
        status(
            "rename dir into itself",
            wasi::path_rename(dir, "moved", dir, "moved/b/inside"),
        );
        status(
            "rename renamed.txt/ (trailing slash)",
            wasi::path_rename(dir, "renamed.txt/", dir, "r2.txt"),
        );
        status(
            "rename empty -> empty2/ (trailing slash)",
            wasi::path_rename(dir, "empty", dir, "empty2/"),
        );
        status("rename file over file", {
            let fd = open(dir, "other.txt", wasi::OFLAGS_CREAT, 0).expect("create");
            wasc_guests::write(fd, b"other").expect("write");
            wasi::fd_close(fd).expect("close");
            wasi::path_rename(dir, "other.txt", dir, "renamed.txt")
        });
        status(
            "open moved/ with trailing slash",
            open_dir(dir, "moved/").map(|fd| wasi::fd_close(fd)),
        );
        status(
            "open renamed.txt/ with trailing slash",
            open(dir, "renamed.txt/", 0, 0),
        );
        status(
            "path_filestat_get renamed.txt/",
            wasi::path_filestat_get(dir, 0, "renamed.txt/").map(|_| ()),
        );
        let root = readdir(dir, 0).expect("readdir root");
        println!("root: {:?}", sorted_names(&root));
    }
}
