//! `ReadDir`: a directory's entries, from a given index on, packed into the
//! scratch area. `.` and `..` are not entries (sysd adds them). A handle
//! remembers where its last listing stopped, so paging through a directory
//! reads it once; a listing from any other index rescans from the start.

use std::os::fd::AsRawFd;

use wasc_wire::hostop::{Dirent, DIRENT_HEADER, SCRATCH_LEN};

use crate::handles::{DirCursor, Handle, HandleTable};
use crate::sys::{filetype, retry, write_struct};
use crate::{Failure, Refusal};

pub(crate) fn read_dir(
    handles: &mut HandleTable,
    raw: u64,
    index: u64,
    scratch: &mut [u8; SCRATCH_LEN],
) -> Result<u64, Failure> {
    let Handle::Dir { fd, cursor } = handles.get_mut(raw)? else {
        return Err(Refusal::WrongKind {
            handle: raw,
            op: "readdir",
        }
        .into());
    };
    let fd = fd.as_raw_fd();
    let start = if index == cursor.next_index && index != 0 {
        *cursor
    } else {
        DirCursor::default()
    };
    // SAFETY: plain system call on a descriptor we own.
    retry(|| unsafe { libc::lseek(fd, start.offset, libc::SEEK_SET) })?;

    let (mut at, mut offset) = (start.next_index, start.offset);
    let (mut packed, mut count) = (0usize, 0u64);
    let mut buf = vec![0u8; 8192];
    'batches: loop {
        let n = retry(|| {
            // SAFETY: `buf` is writable for its whole length, which is passed.
            unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) }
        })? as usize;
        if n == 0 {
            break;
        }
        let mut pos = 0;
        while pos + 19 < n {
            // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8,
            // then the NUL-terminated name.
            let word = |at: usize| u64::from_ne_bytes(buf[at..at + 8].try_into().expect("8"));
            let ino = word(pos);
            let next_offset = word(pos + 8) as i64;
            let reclen = usize::from(u16::from_ne_bytes([buf[pos + 16], buf[pos + 17]]));
            let d_type = buf[pos + 18];
            if reclen == 0 || pos + reclen > n {
                break;
            }
            let name_bytes = &buf[pos + 19..pos + reclen];
            let name_len = name_bytes.iter().position(|&b| b == 0).unwrap_or(0);
            let name = &name_bytes[..name_len];
            pos += reclen;
            if name == b"." || name == b".." || name.is_empty() {
                offset = next_offset;
                continue;
            }
            if at < index {
                at += 1;
                offset = next_offset;
                continue;
            }
            let size = DIRENT_HEADER + name.len();
            if packed + size > SCRATCH_LEN {
                break 'batches;
            }
            let dirent = Dirent {
                ino,
                filetype: entry_type(fd, d_type, name),
                name_len: name.len() as u8,
                reserved: [0; 6],
            };
            write_struct(scratch, packed, &dirent);
            scratch[packed + DIRENT_HEADER..packed + size].copy_from_slice(name);
            packed += size;
            count += 1;
            at += 1;
            offset = next_offset;
        }
    }
    *cursor = DirCursor {
        next_index: at,
        offset,
    };
    Ok(count)
}

/// The WASI filetype of an entry, from `d_type` or, where the file system
/// does not fill it in, from `fstatat` without following a symlink.
fn entry_type(dir: i32, d_type: u8, name: &[u8]) -> u8 {
    match d_type {
        libc::DT_BLK => 1,
        libc::DT_CHR => 2,
        libc::DT_DIR => 3,
        libc::DT_REG => 4,
        libc::DT_SOCK => 6,
        libc::DT_LNK => 7,
        _ => {
            let Ok(name) = std::ffi::CString::new(name) else {
                return 0;
            };
            // SAFETY: an all-zero `stat` is a valid value to be overwritten.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: `name` is NUL-terminated and `st` writable.
            let r =
                unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
            if r == 0 {
                filetype(st.st_mode)
            } else {
                0
            }
        }
    }
}
