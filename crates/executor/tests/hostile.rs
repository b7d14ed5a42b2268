//! Hostile requests: every malformed op is refused with an errno and
//! counted, and nothing happens on the host.

mod common;

use common::{Fixture, DIR};
use wasc_executor::{Errno, MAX_TRANSFER};
use wasc_wire::hostop::{lookup, wait, HostOp, OpCode, SCRATCH_LEN, SECOND_OFFSET, TARGET_MAX};

/// The shared fixture, with a symlink `link` -> `file.txt` beside the file.
fn fixture() -> Fixture {
    let f = common::fixture();
    std::os::unix::fs::symlink("file.txt", f.dir.path().join("link")).expect("symlink");
    f
}

#[test]
fn unknown_op_is_refused() {
    let mut f = fixture();
    let r = f.run_raw(HostOp {
        op: 99,
        ..Default::default()
    });
    assert_eq!(r, Err(Errno::NOSYS));
    assert_eq!(f.executor.refused(), 1);
}

#[test]
fn nonzero_reserved_or_unused_words_are_refused() {
    let mut f = fixture();
    let r = f.run_raw(HostOp {
        op: OpCode::Close as u32,
        reserved: 1,
        args: [DIR, 0, 0, 0, 0, 0],
    });
    assert_eq!(r, Err(Errno::INVAL));
    let r = f.run_raw(HostOp {
        op: OpCode::Close as u32,
        reserved: 0,
        args: [DIR, 0, 0, 0, 0, 7],
    });
    assert_eq!(r, Err(Errno::INVAL));
    assert_eq!(f.executor.refused(), 2);
}

#[test]
fn bad_handles_are_refused() {
    let mut f = fixture();
    for handle in [4, 99, u64::MAX, 1 << 40] {
        assert_eq!(
            f.run(OpCode::Write, &[handle, 0, 1]),
            Err(Errno::BADF),
            "handle {handle}"
        );
    }
    assert_eq!(f.run(OpCode::Close, &[77]), Err(Errno::BADF));
    assert_eq!(f.executor.refused(), 5);
}

#[test]
fn wrong_handle_kinds_are_refused() {
    let mut f = fixture();
    assert_eq!(
        f.run(OpCode::Read, &[1, 0, 1]),
        Err(Errno::BADF),
        "read from stdout"
    );
    assert_eq!(
        f.run(OpCode::Write, &[0, 0, 1]),
        Err(Errno::BADF),
        "write to stdin"
    );
    assert_eq!(
        f.run(OpCode::Write, &[DIR, 0, 1]),
        Err(Errno::BADF),
        "write to a directory"
    );
    assert_eq!(
        f.run(OpCode::Pwrite, &[2, 0, 1, 0]),
        Err(Errno::BADF),
        "pwrite to stderr"
    );
    f.scratch[..1].copy_from_slice(b"x");
    assert_eq!(
        f.run(OpCode::Lookup, &[1, 1, lookup::READ]),
        Err(Errno::BADF),
        "lookup under stdout"
    );
    assert_eq!(f.executor.refused(), 5);
}

#[test]
fn ranges_outside_linear_memory_are_refused() {
    let mut f = fixture();
    let file = f.lookup(b"file.txt", lookup::READ).expect("open");
    for (offset, len) in [(4096, 1), (4000, 97), (u64::MAX, 2), (u64::MAX - 1, 4)] {
        assert_eq!(
            f.run(OpCode::Read, &[file, offset, len]),
            Err(Errno::FAULT),
            "{offset:#x}+{len}"
        );
    }
    assert_eq!(
        f.run(OpCode::Read, &[file, 0, MAX_TRANSFER + 1]),
        Err(Errno::INVAL),
        "huge length"
    );
    assert_eq!(
        f.run(OpCode::Pread, &[file, 0, 1, u64::MAX]),
        Err(Errno::INVAL),
        "position past i64"
    );
    assert_eq!(f.executor.refused(), 6);
    assert!(f.memory.iter().all(|&b| b == 0), "nothing was read");
}

#[test]
fn bad_names_are_refused() {
    let mut f = fixture();
    let long = vec![b'a'; 256];
    for name in [&b".."[..], b"a/b", b"/etc", b"a\0b", &long] {
        assert_eq!(
            f.lookup(name, lookup::READ),
            Err(Errno::INVAL),
            "{:?}",
            String::from_utf8_lossy(name)
        );
    }
    assert_eq!(
        f.run(OpCode::Lookup, &[DIR, 0, lookup::READ]),
        Err(Errno::INVAL),
        "empty name"
    );
    assert_eq!(
        f.run(OpCode::Lookup, &[DIR, SCRATCH_LEN as u64 + 1, lookup::READ]),
        Err(Errno::INVAL),
        "name past scratch"
    );
    assert_eq!(
        f.lookup(b".", lookup::WRITE),
        Err(Errno::INVAL),
        ". for writing"
    );
    assert_eq!(f.executor.refused(), 8);
}

#[test]
fn flags_outside_the_allowed_set_are_refused() {
    let mut f = fixture();
    for flags in [
        1 << 40,
        lookup::ALL + 1,
        lookup::EXCLUSIVE | lookup::WRITE,
        lookup::CREATE | lookup::READ,
        lookup::TRUNCATE,
        lookup::DIRECTORY | lookup::WRITE,
    ] {
        assert_eq!(
            f.lookup(b"new.txt", flags),
            Err(Errno::INVAL),
            "flags {flags:#x}"
        );
    }
    assert_eq!(f.executor.refused(), 6);
    assert!(
        !f.dir.path().join("new.txt").exists(),
        "nothing was created"
    );
}

#[test]
fn symlinks_are_never_followed() {
    let mut f = fixture();
    assert_eq!(f.lookup(b"link", lookup::READ), Err(Errno::LOOP));
    assert_eq!(f.executor.refused(), 0, "a host error, not a refusal");
}

#[test]
fn closed_handles_cannot_be_used() {
    let mut f = fixture();
    let file = f.lookup(b"file.txt", lookup::READ).expect("open");
    assert_eq!(f.run(OpCode::Close, &[file]), Ok(0));
    assert_eq!(f.run(OpCode::Read, &[file, 0, 1]), Err(Errno::BADF));
    assert_eq!(f.executor.refused(), 1);
}

/// Puts `name` at the start of the scratch area and `second` at
/// `SECOND_OFFSET`.
fn names(f: &mut Fixture, name: &[u8], second: &[u8]) {
    f.scratch[..name.len()].copy_from_slice(name);
    f.scratch[SECOND_OFFSET..SECOND_OFFSET + second.len()].copy_from_slice(second);
}

#[test]
fn directory_ops_refuse_bad_names_and_handles() {
    let mut f = fixture();
    let file = f.lookup(b"file.txt", lookup::READ).expect("open file") & 0xffff_ffff;
    names(&mut f, b"..", b"x");
    for op in [OpCode::Mkdir, OpCode::Unlink, OpCode::Rmdir, OpCode::StatAt] {
        assert_eq!(f.run(op, &[DIR, 2]), Err(Errno::INVAL), "{op:?} ..");
    }
    names(&mut f, b"x", b"..");
    assert_eq!(
        f.run(OpCode::Rename, &[DIR, 1, DIR, 2]),
        Err(Errno::INVAL),
        "rename to .."
    );
    names(&mut f, b"file.txt", b"a/b");
    assert_eq!(
        f.run(OpCode::Link, &[DIR, 8, DIR, 3]),
        Err(Errno::INVAL),
        "link to a/b"
    );
    names(&mut f, b".", b"x");
    assert_eq!(
        f.run(OpCode::Mkdir, &[DIR, 1]),
        Err(Errno::INVAL),
        "mkdir ."
    );
    assert_eq!(
        f.run(OpCode::ReadLink, &[DIR, 1]),
        Err(Errno::INVAL),
        "readlink ."
    );
    names(&mut f, b"s", b"a\0b");
    assert_eq!(
        f.run(OpCode::Symlink, &[DIR, 1, 3]),
        Err(Errno::INVAL),
        "symlink target with NUL"
    );
    assert_eq!(
        f.run(OpCode::Symlink, &[DIR, 1, TARGET_MAX as u64]),
        Err(Errno::INVAL),
        "symlink target past the scratch area"
    );
    names(&mut f, b"x", b"");
    assert_eq!(
        f.run(OpCode::Mkdir, &[file, 1]),
        Err(Errno::BADF),
        "mkdir beneath a file handle"
    );
    assert_eq!(
        f.run(OpCode::ReadDir, &[file, 0]),
        Err(Errno::BADF),
        "readdir of a file"
    );
    assert_eq!(
        f.run(OpCode::Truncate, &[DIR, 0]),
        Err(Errno::BADF),
        "truncate a directory"
    );
    assert_eq!(
        f.run(OpCode::Truncate, &[file, u64::MAX]),
        Err(Errno::INVAL),
        "size past i64"
    );
    assert_eq!(
        f.run(OpCode::Sync, &[file, 2]),
        Err(Errno::INVAL),
        "sync mode"
    );
    assert_eq!(
        f.run(OpCode::SetTimes, &[1, 0, 0, 0]),
        Err(Errno::BADF),
        "times of stdout"
    );
    assert_eq!(
        f.run(OpCode::SetTimes, &[file, 0, 0, 1 << 9]),
        Err(Errno::INVAL),
        "undefined time flags"
    );
    assert_eq!(
        f.run(OpCode::SetTimes, &[file, 0, 0, 0b11]),
        Err(Errno::INVAL),
        "ATIM with ATIM_NOW"
    );
    assert_eq!(f.executor.refused(), 18);
    assert!(!f.dir.path().join("x").exists(), "nothing was created");
    assert!(!f.dir.path().join("s").exists(), "nothing was created");
}

#[test]
fn waits_are_bounded_and_checked() {
    let mut f = fixture();
    assert_eq!(
        f.run(OpCode::Wait, &[0, u64::MAX]),
        Err(Errno::INVAL),
        "a wait for nothing, forever"
    );
    assert_eq!(
        f.run(OpCode::Wait, &[wait::MAX_ENTRIES as u64 + 1, 0]),
        Err(Errno::INVAL),
        "too many entries"
    );
    let entry = |f: &mut Fixture, handle: u32, interest: u32, reserved: u32| {
        for (i, word) in [handle, interest, 0, reserved].into_iter().enumerate() {
            f.scratch[4 * i..4 * i + 4].copy_from_slice(&word.to_ne_bytes());
        }
    };
    entry(&mut f, 0, wait::READ, 1);
    assert_eq!(f.run(OpCode::Wait, &[1, 0]), Err(Errno::INVAL), "reserved");
    entry(&mut f, 77, wait::READ, 0);
    assert_eq!(f.run(OpCode::Wait, &[1, 0]), Err(Errno::BADF), "bad handle");
    entry(&mut f, 1, wait::READ, 0);
    assert_eq!(
        f.run(OpCode::Wait, &[1, 0]),
        Err(Errno::BADF),
        "read stdout"
    );
    entry(&mut f, 0, 9, 0);
    assert_eq!(f.run(OpCode::Wait, &[1, 0]), Err(Errno::INVAL), "interest");
    assert_eq!(f.executor.refused(), 6);
    // A sleep with nothing to wait for ends.
    assert_eq!(f.run(OpCode::Wait, &[0, 1_000_000]), Ok(0));
}

#[test]
fn reads_into_scratch_need_a_readable_handle() {
    let mut f = fixture();
    assert_eq!(
        f.run(OpCode::ReadScratch, &[77, 16]),
        Err(Errno::BADF),
        "no handle"
    );
    assert_eq!(
        f.run(OpCode::ReadScratch, &[1, 16]),
        Err(Errno::BADF),
        "stdout"
    );
    assert_eq!(
        f.run(OpCode::ReadScratch, &[DIR, 16]),
        Err(Errno::BADF),
        "a directory"
    );
    assert_eq!(f.executor.refused(), 3);
    // A readable file: at most the scratch area, whatever the length asked.
    let file = f.lookup(b"file.txt", lookup::READ).expect("open") & 0xffff_ffff;
    assert_eq!(f.run(OpCode::ReadScratch, &[file, u64::MAX]), Ok(5));
    assert_eq!(&f.scratch[..5], b"hello");
}

/// `LookupDir` takes only plain relative paths of two or more components:
/// anything that could mean `.`, `..`, the root, or one component (which
/// `Lookup` serves) is refused before any system call.
#[test]
fn lookup_dir_refuses_all_but_plain_relative_paths() {
    let mut f = fixture();
    std::fs::create_dir_all(f.dir.path().join("a/b")).expect("dirs");
    let long = [vec![b'a'; 256], b"/b".to_vec()].concat();
    let refused: [&[u8]; 13] = [
        b"a",
        b"a/..",
        b"../a",
        b"a/../a/b",
        b"./a/b",
        b"a/./b",
        b"/a/b",
        b"a/b/",
        b"a//b",
        b"a/b\0",
        b"",
        b"a/\0/b",
        &long,
    ];
    for path in refused {
        assert_eq!(
            f.at(OpCode::LookupDir, DIR, path, &[]),
            Err(Errno::INVAL),
            "{:?}",
            String::from_utf8_lossy(path)
        );
    }
    assert_eq!(
        f.run(OpCode::LookupDir, &[DIR, SCRATCH_LEN as u64 + 1]),
        Err(Errno::INVAL),
        "past the scratch area"
    );
    assert_eq!(f.executor.refused(), refused.len() as u64 + 1);
    // A file handle is not a directory to look beneath.
    let file = f.lookup(b"file.txt", lookup::READ).expect("open file");
    assert_eq!(f.at(OpCode::LookupDir, file, b"a/b", &[]), Err(Errno::BADF));
}

/// What the kernel refuses for `LookupDir`: a symlink anywhere on the way,
/// even to a directory inside the tree (sysd then walks it itself), a way
/// out through one, and a file at the end.
#[test]
fn lookup_dir_never_follows_a_symlink() {
    let mut f = fixture();
    let root = f.dir.path();
    std::fs::create_dir_all(root.join("a/b/c")).expect("dirs");
    std::os::unix::fs::symlink("a", root.join("to_a")).expect("symlink");
    std::os::unix::fs::symlink("c", root.join("a/b/to_c")).expect("symlink");
    std::os::unix::fs::symlink("/etc", root.join("a/etc")).expect("symlink");
    std::fs::write(root.join("a/b/file"), b"x").expect("file");
    // A symlink on the way is `LOOP`; as the last component (to a
    // directory inside, or out of the tree) `O_NOFOLLOW | O_DIRECTORY`
    // makes it `NOTDIR`.
    for (path, errno) in [
        (&b"to_a/b"[..], Errno::LOOP),
        (b"a/b/to_c", Errno::NOTDIR),
        (b"a/etc", Errno::NOTDIR),
    ] {
        assert_eq!(
            f.at(OpCode::LookupDir, DIR, path, &[]),
            Err(errno),
            "{:?}",
            String::from_utf8_lossy(path)
        );
    }
    assert_eq!(
        f.at(OpCode::LookupDir, DIR, b"a/b/file", &[]),
        Err(Errno::NOTDIR)
    );
    assert_eq!(
        f.at(OpCode::LookupDir, DIR, b"a/missing", &[]),
        Err(Errno::NOENT)
    );
    assert_eq!(f.executor.refused(), 0, "kernel errors, not refusals");
}
