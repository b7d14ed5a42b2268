//! The directory ops do what they name, on one component each, and never
//! follow a symlink.

mod common;

use common::{fixture, Fixture, DIR};
use wasc_executor::Errno;
use wasc_wire::hostop::{lookup, times, wait, Dirent, OpCode, DIRENT_HEADER, SECOND_OFFSET};

impl Fixture {
    fn second(&mut self, text: &str) -> u64 {
        self.scratch[SECOND_OFFSET..SECOND_OFFSET + text.len()].copy_from_slice(text.as_bytes());
        text.len() as u64
    }

    fn filetype_at(&mut self, name: &str) -> Result<u8, Errno> {
        self.at(OpCode::StatAt, DIR, name.as_bytes(), &[])?;
        Ok(self.scratch[16])
    }

    /// Every entry name from `ReadDir` paged from index 0.
    fn list(&mut self, dir: u64) -> Vec<(String, u8)> {
        let mut out = Vec::new();
        loop {
            let n = self
                .run(OpCode::ReadDir, &[dir, out.len() as u64])
                .expect("readdir");
            if n == 0 {
                return out;
            }
            let mut at = 0;
            for _ in 0..n {
                let kind = self.scratch[at + std::mem::offset_of!(Dirent, filetype)];
                let len = usize::from(self.scratch[at + std::mem::offset_of!(Dirent, name_len)]);
                let name = &self.scratch[at + DIRENT_HEADER..at + DIRENT_HEADER + len];
                out.push((String::from_utf8_lossy(name).into_owned(), kind));
                at += DIRENT_HEADER + len;
            }
        }
    }
}

#[test]
fn create_list_rename_link_and_remove() {
    let mut f = fixture();
    f.at(OpCode::Mkdir, DIR, b"sub", &[]).expect("mkdir");
    assert_eq!(f.at(OpCode::Mkdir, DIR, b"sub", &[]), Err(Errno::EXIST));
    assert_eq!(f.filetype_at("sub"), Ok(3));
    let len = f.second("moved.txt");
    f.at(OpCode::Rename, DIR, b"file.txt", &[DIR, len])
        .expect("rename");
    let len = f.second("hard.txt");
    f.at(OpCode::Link, DIR, b"moved.txt", &[DIR, len])
        .expect("link");
    let len = f.second("moved.txt");
    f.at(OpCode::Symlink, DIR, b"sym", &[len]).expect("symlink");
    assert_eq!(f.filetype_at("sym"), Ok(7), "stat does not follow");
    assert_eq!(f.at(OpCode::ReadLink, DIR, b"sym", &[]), Ok(9));
    assert_eq!(&f.scratch[SECOND_OFFSET..SECOND_OFFSET + 9], b"moved.txt");
    assert_eq!(
        f.at(OpCode::ReadLink, DIR, b"hard.txt", &[]),
        Err(Errno::INVAL)
    );
    assert_eq!(
        f.at(OpCode::Lookup, DIR, b"sym", &[lookup::READ]),
        Err(Errno::LOOP),
        "lookup never follows a symlink"
    );

    let mut names = f.list(DIR);
    names.sort();
    assert_eq!(
        names,
        [
            ("hard.txt".to_owned(), 4),
            ("moved.txt".to_owned(), 4),
            ("sub".to_owned(), 3),
            ("sym".to_owned(), 7)
        ]
    );

    assert_eq!(
        f.at(OpCode::Rmdir, DIR, b"moved.txt", &[]),
        Err(Errno::NOTDIR)
    );
    assert_eq!(f.at(OpCode::Unlink, DIR, b"sub", &[]), Err(Errno::ISDIR));
    f.at(OpCode::Rmdir, DIR, b"sub", &[]).expect("rmdir");
    f.at(OpCode::Unlink, DIR, b"sym", &[]).expect("unlink");
    assert!(f.dir.path().join("moved.txt").exists(), "the target stays");
    assert_eq!(
        std::fs::read(f.dir.path().join("hard.txt")).expect("hard link"),
        b"hello"
    );
}

#[test]
fn listing_pages_through_large_directories() {
    let mut f = fixture();
    for i in 0..300 {
        std::fs::write(
            f.dir
                .path()
                .join(format!("entry-{i:03}-{}", "x".repeat(40))),
            b"",
        )
        .expect("entry");
    }
    let names = f.list(DIR);
    assert_eq!(names.len(), 301, "every entry once, without . and ..");
    let mut unique: Vec<_> = names.iter().map(|(n, _)| n.clone()).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 301);
    // Listing from an index that is not where the last one stopped rescans.
    let again = f
        .run(OpCode::ReadDir, &[DIR, 299])
        .expect("readdir from 299");
    assert_eq!(again, 2);
}

#[test]
fn sizes_times_sync_and_append() {
    let mut f = fixture();
    let file = f
        .at(
            OpCode::Lookup,
            DIR,
            b"file.txt",
            &[lookup::READ | lookup::WRITE],
        )
        .expect("open")
        & 0xffff_ffff;
    f.run(OpCode::Truncate, &[file, 2]).expect("truncate");
    f.memory[..3].copy_from_slice(b"abc");
    assert_eq!(f.run(OpCode::Append, &[file, 0, 3]), Ok(3));
    f.run(OpCode::Sync, &[file, 0]).expect("fsync");
    f.run(OpCode::Sync, &[file, 1]).expect("fdatasync");
    let mtim = 1_650_000_000_123_456_789;
    f.run(OpCode::SetTimes, &[file, 0, mtim, times::MTIM])
        .expect("futimens");
    f.run(OpCode::Stat, &[file]).expect("stat");
    let word = |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().expect("8"));
    assert_eq!(word(&f.scratch, 32), 5, "size");
    assert_eq!(word(&f.scratch, 48), mtim, "mtim");
    f.at(
        OpCode::SetTimesAt,
        DIR,
        b"file.txt",
        &[mtim + 1, 0, times::ATIM],
    )
    .expect("utimensat");
    f.run(OpCode::Stat, &[file]).expect("stat");
    assert_eq!(word(&f.scratch, 40), mtim + 1, "atim");
    assert_eq!(
        std::fs::read(f.dir.path().join("file.txt")).expect("read"),
        b"heabc"
    );
}

#[test]
fn a_wait_reports_a_readable_handle_at_once() {
    let mut f = fixture();
    let file = f
        .at(OpCode::Lookup, DIR, b"file.txt", &[lookup::READ])
        .expect("open")
        & 0xffff_ffff;
    for (i, word) in [file as u32, wait::READ, 0, 0].into_iter().enumerate() {
        f.scratch[4 * i..4 * i + 4].copy_from_slice(&word.to_ne_bytes());
    }
    // A regular file is always ready: an hour's timeout returns at once.
    assert_eq!(f.run(OpCode::Wait, &[1, 3_600_000_000_000]), Ok(1));
    assert_eq!(
        u32::from_ne_bytes(f.scratch[8..12].try_into().expect("4")),
        1
    );
}

/// `LookupDir` opens a directory several components down in one op; the
/// handle serves lookups and listings beneath it like any other.
#[test]
fn lookup_dir_opens_a_directory_several_levels_down() {
    let mut f = fixture();
    std::fs::create_dir_all(f.dir.path().join("a/b/c")).expect("dirs");
    std::fs::write(f.dir.path().join("a/b/c/deep.txt"), b"deep").expect("file");
    let c = f
        .at(OpCode::LookupDir, DIR, b"a/b/c", &[])
        .expect("lookup a/b/c");
    assert_eq!(f.list(c), vec![("deep.txt".to_owned(), 4)]);
    let file = f
        .at(OpCode::Lookup, c, b"deep.txt", &[lookup::READ])
        .expect("open beneath it");
    f.run(OpCode::Read, &[file, 0, 4]).expect("read");
    assert_eq!(&f.memory[..4], b"deep");
    // Read-only: nothing can be written through the directory handle.
    assert_eq!(f.run(OpCode::Write, &[c, 0, 1]), Err(Errno::BADF));
    f.run(OpCode::Close, &[c]).expect("close");
}
