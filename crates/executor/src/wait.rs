//! `Wait`: block until one of a few handles is ready or a timeout passes,
//! so that sysd never spins while the function waits (`poll_oneoff`,
//! blocking stdin, sockets). Regular files and directories are always
//! ready, as `poll(2)` reports them.

use std::mem::size_of;

use wasc_wire::hostop::{wait, WaitEntry, SCRATCH_LEN};

use crate::handles::{Handle, HandleTable};
use crate::{Failure, Refusal};

pub(crate) fn wait(
    handles: &HandleTable,
    count: u64,
    timeout_ns: u64,
    scratch: &mut [u8; SCRATCH_LEN],
) -> Result<u64, Failure> {
    let count = usize::try_from(count)
        .ok()
        .filter(|&c| c <= wait::MAX_ENTRIES)
        .ok_or(Refusal::TooLong(count))?;
    if count == 0 && timeout_ns == u64::MAX {
        // Nothing to wait for and no end: it would never return.
        return Err(Refusal::BadFlags(timeout_ns).into());
    }
    let mut entries = Vec::with_capacity(count);
    let mut fds = Vec::with_capacity(count);
    for i in 0..count {
        let at = i * size_of::<WaitEntry>();
        let word = |k: usize| {
            u32::from_ne_bytes(scratch[at + 4 * k..at + 4 * k + 4].try_into().expect("4"))
        };
        let entry = WaitEntry {
            handle: word(0),
            interest: word(1),
            ready: word(2),
            nbytes: word(3),
        };
        if entry.ready != 0 || entry.nbytes != 0 {
            return Err(Refusal::NonZeroPadding.into());
        }
        let handle = handles.get(u64::from(entry.handle))?;
        let events = match entry.interest {
            wait::READ if handle.readable() || handle.is_socket() => libc::POLLIN,
            wait::WRITE if handle.writable() || handle.is_socket() => libc::POLLOUT,
            wait::READ | wait::WRITE => {
                return Err(Refusal::WrongKind {
                    handle: u64::from(entry.handle),
                    op: "wait",
                }
                .into())
            }
            other => return Err(Refusal::BadFlags(u64::from(other)).into()),
        };
        fds.push(libc::pollfd {
            fd: handle.fd(),
            events,
            revents: 0,
        });
        // A readable connection also reports how many bytes it holds.
        let counted = entry.interest == wait::READ && matches!(handle, Handle::Stream(_));
        entries.push((entry, counted));
    }
    let timeout = (timeout_ns != u64::MAX).then(|| libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000).min(i64::MAX as u64) as i64,
        tv_nsec: (timeout_ns % 1_000_000_000) as i64,
    });
    // SAFETY: `fds` holds `fds.len()` valid pollfds; the timeout, if any, is
    // a valid timespec; no signal mask is passed.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _),
            std::ptr::null(),
        )
    };
    if n < 0 {
        let errno = crate::errno::last();
        // An interrupted wait reports nothing ready; sysd checks its
        // deadline and waits again.
        return if errno == crate::Errno::INTR {
            Ok(0)
        } else {
            Err(Failure::Host(errno))
        };
    }
    let mut ready = 0;
    for (i, ((entry, counted), fd)) in entries.iter_mut().zip(&fds).enumerate() {
        if fd.revents != 0 {
            entry.ready = wait::READY;
            if fd.revents & libc::POLLHUP != 0 {
                entry.ready |= wait::HANGUP;
            }
            if fd.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
                entry.ready |= wait::ERROR;
            }
            if *counted {
                entry.nbytes = crate::sockets::ready_bytes(fd.fd);
            }
            ready += 1;
        }
        let at = i * size_of::<WaitEntry>();
        scratch[at + 8..at + 12].copy_from_slice(&entry.ready.to_ne_bytes());
        scratch[at + 12..at + 16].copy_from_slice(&entry.nbytes.to_ne_bytes());
    }
    Ok(ready)
}
