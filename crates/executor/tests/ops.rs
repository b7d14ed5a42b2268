//! Well-formed ops do what they name, straight into linear memory.

use std::os::fd::OwnedFd;

use wasc_executor::{Errno, Executor, LinearMemory};
use wasc_wire::hostop::{lookup, HostOp, OpCode, Stat, SCRATCH_LEN};

const DIR: u64 = 3;

fn run(
    e: &mut Executor,
    memory: &mut [u8],
    scratch: &mut [u8; SCRATCH_LEN],
    op: OpCode,
    args: &[u64],
) -> Result<u64, Errno> {
    let mut raw = HostOp {
        op: op as u32,
        ..Default::default()
    };
    raw.args[..args.len()].copy_from_slice(args);
    // SAFETY: `memory` outlives the view and is not otherwise borrowed.
    let view = unsafe { LinearMemory::new(memory.as_mut_ptr(), memory.len()) };
    e.execute(&raw, &view, scratch)
}

#[test]
fn create_write_read_stat_close() {
    let dir = tempfile::tempdir().expect("temp dir");
    let preopen: OwnedFd = std::fs::File::open(dir.path()).expect("open dir").into();
    let mut e = Executor::new(vec![preopen]);
    let mut memory = vec![0u8; 65536];
    let mut scratch = [0u8; SCRATCH_LEN];

    scratch[..7].copy_from_slice(b"out.txt");
    let flags = lookup::READ | lookup::WRITE | lookup::CREATE | lookup::EXCLUSIVE;
    let file = run(
        &mut e,
        &mut memory,
        &mut scratch,
        OpCode::Lookup,
        &[DIR, 7, flags],
    )
    .expect("create");
    assert_eq!(file, 4, "lowest free handle after stdio and the preopen");
    assert_eq!(
        run(
            &mut e,
            &mut memory,
            &mut scratch,
            OpCode::Lookup,
            &[DIR, 7, flags]
        ),
        Err(Errno::EXIST)
    );

    memory[100..111].copy_from_slice(b"hello world");
    assert_eq!(
        run(
            &mut e,
            &mut memory,
            &mut scratch,
            OpCode::Write,
            &[file, 100, 11]
        ),
        Ok(11)
    );
    assert_eq!(
        run(
            &mut e,
            &mut memory,
            &mut scratch,
            OpCode::Pwrite,
            &[file, 100, 5, 20]
        ),
        Ok(5)
    );
    assert_eq!(
        run(
            &mut e,
            &mut memory,
            &mut scratch,
            OpCode::Pread,
            &[file, 1000, 5, 6]
        ),
        Ok(5)
    );
    assert_eq!(&memory[1000..1005], b"world");

    assert_eq!(
        run(&mut e, &mut memory, &mut scratch, OpCode::Stat, &[file]),
        Ok(0)
    );
    // SAFETY: the executor wrote a whole `Stat` at the start of the scratch
    // area; `read_unaligned` copes with the byte array's alignment.
    let stat: Stat = unsafe { std::ptr::read_unaligned(scratch.as_ptr().cast()) };
    assert_eq!((stat.filetype, stat.size, stat.nlink), (4, 25, 1));

    assert_eq!(
        run(&mut e, &mut memory, &mut scratch, OpCode::Close, &[file]),
        Ok(0)
    );
    let on_disk = std::fs::read(dir.path().join("out.txt")).expect("file on disk");
    assert_eq!(&on_disk[..11], b"hello world");
    assert_eq!(&on_disk[20..25], b"hello");
    assert_eq!(e.refused(), 0);
}

#[test]
fn directories_open_as_directory_handles() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("sub")).expect("subdir");
    std::fs::write(dir.path().join("sub/inner.txt"), b"x").expect("inner file");
    let preopen: OwnedFd = std::fs::File::open(dir.path()).expect("open dir").into();
    let mut e = Executor::new(vec![preopen]);
    let mut memory = vec![0u8; 16];
    let mut scratch = [0u8; SCRATCH_LEN];

    scratch[..3].copy_from_slice(b"sub");
    let sub = run(
        &mut e,
        &mut memory,
        &mut scratch,
        OpCode::Lookup,
        &[DIR, 3, lookup::READ | lookup::DIRECTORY],
    )
    .expect("open sub");
    assert_ne!(sub & lookup::RESULT_DIRECTORY, 0, "reported as a directory");
    let sub = sub & 0xffff_ffff;
    scratch[..9].copy_from_slice(b"inner.txt");
    let inner = run(
        &mut e,
        &mut memory,
        &mut scratch,
        OpCode::Lookup,
        &[sub, 9, lookup::READ],
    )
    .expect("open inner");
    assert_eq!(
        run(
            &mut e,
            &mut memory,
            &mut scratch,
            OpCode::Read,
            &[inner, 0, 16]
        ),
        Ok(1)
    );
    assert_eq!(memory[0], b'x');
    scratch[..9].copy_from_slice(b"inner.txt");
    assert_eq!(
        run(
            &mut e,
            &mut memory,
            &mut scratch,
            OpCode::Lookup,
            &[DIR, 9, lookup::READ]
        ),
        Err(Errno::NOENT),
        "components resolve beneath their own directory only"
    );
}
