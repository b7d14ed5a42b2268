//! The memory file system against a Vec-backed machine.

use super::*;
use crate::wasi::testing::{Machine, NoHost};

/// A machine with 1 MiB of linear memory and a 4 MiB tmpfs region that
/// no op may leave.
type Fake = Machine<NoHost>;

const ROOT: u64 = TMPFS_BIT as u64;

fn fs(quota: u64) -> Fake {
    let mut fake = Machine::new(1 << 20, NoHost);
    fake.region = std::vec![0; 4 << 20];
    fake.preopens = b"/t\0";
    fake.tmpfs = b"1048576\0";
    format(&mut fake, &[quota]);
    fake
}

fn at(fake: &mut Fake, code: OpCode, dir: u64, name: &str, more: &[u64]) -> Result<u64, u16> {
    fake.scratch[..name.len()].copy_from_slice(name.as_bytes());
    let mut args = [0u64; 6];
    args[0] = dir;
    args[1] = name.len() as u64;
    args[2..2 + more.len()].copy_from_slice(more);
    execute(fake, code, &args)
}

fn op(fake: &mut Fake, code: OpCode, args: &[u64]) -> Result<u64, u16> {
    let mut words = [0u64; 6];
    words[..args.len()].copy_from_slice(args);
    execute(fake, code, &words)
}

fn create(fake: &mut Fake, name: &str) -> u64 {
    let flags = lookup::READ | lookup::WRITE | lookup::CREATE;
    at(fake, OpCode::Lookup, ROOT, name, &[flags]).expect("create") & 0xffff_ffff
}

#[test]
fn files_hold_what_was_written_and_holes_read_as_zeros() {
    let mut fake = fs(1 << 20);
    let file = create(&mut fake, "f");
    fake.memory[..5].copy_from_slice(b"hello");
    assert_eq!(op(&mut fake, OpCode::Pwrite, &[file, 0, 5, 10_000]), Ok(5));
    assert_eq!(
        op(&mut fake, OpCode::Pread, &[file, 100, 20_000, 0]),
        Ok(10_005)
    );
    assert!(fake.memory[100..10_100].iter().all(|&b| b == 0), "a hole");
    assert_eq!(&fake.memory[10_100..10_105], b"hello");
    op(&mut fake, OpCode::Truncate, &[file, 3]).expect("truncate");
    op(&mut fake, OpCode::Truncate, &[file, 10_005]).expect("extend");
    assert_eq!(
        op(&mut fake, OpCode::Pread, &[file, 200, 10_005, 0]),
        Ok(10_005)
    );
    assert!(
        fake.memory[200..10_205].iter().all(|&b| b == 0),
        "truncated away"
    );
}

#[test]
fn a_full_mount_answers_nospc_and_keeps_what_fit() {
    let mut fake = fs(64 << 10);
    let file = create(&mut fake, "f");
    let written = op(&mut fake, OpCode::Pwrite, &[file, 0, 128 << 10, 0]);
    let n = written.expect("a partial write");
    assert!(n > 0 && n < 128 << 10, "{n}");
    assert_eq!(
        op(&mut fake, OpCode::Pwrite, &[file, 0, 4096, n]),
        Err(NOSPC)
    );
    // Freeing the file frees its blocks.
    op(&mut fake, OpCode::Close, &[file]).expect("close");
    at(&mut fake, OpCode::Unlink, ROOT, "f", &[]).expect("unlink");
    let file = create(&mut fake, "g");
    assert_eq!(op(&mut fake, OpCode::Pwrite, &[file, 0, 4096, 0]), Ok(4096));
}

#[test]
fn an_unlinked_file_lives_while_open() {
    let mut fake = fs(1 << 20);
    let file = create(&mut fake, "f");
    fake.memory[..3].copy_from_slice(b"abc");
    op(&mut fake, OpCode::Write, &[file, 0, 3]).expect("write");
    at(&mut fake, OpCode::Unlink, ROOT, "f", &[]).expect("unlink");
    assert_eq!(at(&mut fake, OpCode::StatAt, ROOT, "f", &[]), Err(NOENT));
    assert_eq!(op(&mut fake, OpCode::Pread, &[file, 8, 3, 0]), Ok(3));
    assert_eq!(&fake.memory[8..11], b"abc");
}

#[test]
fn directories_rename_and_list() {
    let mut fake = fs(1 << 20);
    at(&mut fake, OpCode::Mkdir, ROOT, "a", &[]).expect("mkdir");
    let a = at(&mut fake, OpCode::Lookup, ROOT, "a", &[lookup::DIRECTORY]).expect("open a")
        & 0xffff_ffff;
    at(&mut fake, OpCode::Mkdir, a, "b", &[]).expect("mkdir a/b");
    // a into a/b: into itself.
    fake.scratch[SECOND_OFFSET..SECOND_OFFSET + 1].copy_from_slice(b"c");
    let b =
        at(&mut fake, OpCode::Lookup, a, "b", &[lookup::DIRECTORY]).expect("open b") & 0xffff_ffff;
    assert_eq!(
        at(&mut fake, OpCode::Rename, ROOT, "a", &[b, 1]),
        Err(INVAL)
    );
    assert_eq!(at(&mut fake, OpCode::Rmdir, ROOT, "a", &[]), Err(NOTEMPTY));
    create(&mut fake, "x");
    assert_eq!(at(&mut fake, OpCode::Mkdir, ROOT, "x", &[]), Err(EXIST));
    assert_eq!(op(&mut fake, OpCode::ReadDir, &[ROOT, 0]), Ok(2));
    assert_eq!(op(&mut fake, OpCode::ReadDir, &[ROOT, 1]), Ok(1));
    assert_eq!(op(&mut fake, OpCode::ReadDir, &[ROOT, 9]), Ok(0));
}

#[test]
fn symlinks_are_never_followed_here() {
    let mut fake = fs(1 << 20);
    fake.scratch[SECOND_OFFSET..SECOND_OFFSET + 1].copy_from_slice(b"f");
    at(&mut fake, OpCode::Symlink, ROOT, "s", &[1]).expect("symlink");
    assert_eq!(
        at(&mut fake, OpCode::Lookup, ROOT, "s", &[lookup::READ]),
        Err(LOOP)
    );
    assert_eq!(
        at(&mut fake, OpCode::Lookup, ROOT, "s", &[lookup::DIRECTORY]),
        Err(NOTDIR)
    );
    assert_eq!(at(&mut fake, OpCode::ReadLink, ROOT, "s", &[]), Ok(1));
    assert_eq!(fake.scratch[SECOND_OFFSET], b'f');
    assert_eq!(at(&mut fake, OpCode::Lookup, ROOT, "..", &[0]), Err(INVAL));
}
