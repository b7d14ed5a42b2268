//! System-call helpers every op module shares: interrupted calls retried,
//! `fstat`, and the wire structs written into the scratch area. A leaf:
//! it imports no op module.

use std::os::fd::RawFd;

use wasc_wire::hostop::{Dirent, Stat, DIRENT_HEADER, SCRATCH_LEN};

use crate::{Errno, Failure};

/// Runs a system call until it is not interrupted; a negative result is the
/// thread's errno.
pub(crate) fn retry(mut call: impl FnMut() -> i64) -> Result<i64, Failure> {
    loop {
        let result = call();
        if result >= 0 {
            return Ok(result);
        }
        let errno = crate::errno::last();
        if errno != Errno::INTR {
            return Err(Failure::Host(errno));
        }
    }
}

pub(crate) fn fstat(fd: RawFd) -> Result<libc::stat, Failure> {
    // SAFETY: an all-zero `stat` is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable `stat`.
    retry(|| unsafe { libc::fstat(fd, &mut st) }.into())?;
    Ok(st)
}

/// The WASI filetype of a `st_mode`.
pub(crate) fn filetype(mode: libc::mode_t) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFBLK => 1,
        libc::S_IFCHR => 2,
        libc::S_IFDIR => 3,
        libc::S_IFREG => 4,
        libc::S_IFSOCK => 6,
        libc::S_IFLNK => 7,
        _ => 0,
    }
}

pub(crate) fn stat_to_scratch(st: &libc::stat, scratch: &mut [u8; SCRATCH_LEN]) {
    let nanos = |s: i64, ns: i64| {
        (s as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ns as u64)
    };
    let stat = Stat {
        dev: st.st_dev,
        ino: st.st_ino,
        filetype: filetype(st.st_mode),
        reserved: [0; 7],
        nlink: st.st_nlink,
        size: st.st_size as u64,
        atim: nanos(st.st_atime, st.st_atime_nsec),
        mtim: nanos(st.st_mtime, st.st_mtime_nsec),
        ctim: nanos(st.st_ctime, st.st_ctime_nsec),
    };
    write_struct(scratch, 0, &stat);
}

/// Copies a plain `repr(C)` wire struct into the scratch area at `offset`.
pub(crate) fn write_struct<T: WireStruct>(scratch: &mut [u8], offset: usize, value: &T) {
    let size = std::mem::size_of::<T>();
    // SAFETY: `T: WireStruct` is `repr(C)` plain integers with every byte
    // initialised (explicit reserved fields fill the gaps), so viewing it as
    // bytes is sound.
    let bytes = unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size) };
    scratch[offset..offset + size].copy_from_slice(bytes);
}

/// Wire structs with no padding bytes, safe to view as bytes.
pub(crate) trait WireStruct: Copy {}
impl WireStruct for Stat {}
impl WireStruct for Dirent {}
const _: () = assert!(DIRENT_HEADER == std::mem::size_of::<Dirent>());
