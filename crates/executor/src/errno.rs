//! WASI errno values the executor answers with, and the mapping from host
//! errors. Unknown host errors become `IO`, never a host number leaking
//! through.

pub use wasc_wire::Errno;

/// Maps a host `errno` value.
pub fn from_host(raw: i32) -> Errno {
    match raw {
        libc::EACCES => Errno::ACCES,
        libc::EAGAIN => Errno::AGAIN,
        libc::EBADF => Errno::BADF,
        libc::ECONNABORTED => Errno::CONNABORTED,
        libc::ECONNREFUSED => Errno::CONNREFUSED,
        libc::ECONNRESET => Errno::CONNRESET,
        libc::EEXIST => Errno::EXIST,
        libc::EFAULT => Errno::FAULT,
        libc::EFBIG => Errno::FBIG,
        libc::EHOSTUNREACH => Errno::HOSTUNREACH,
        libc::EINTR => Errno::INTR,
        libc::EINVAL => Errno::INVAL,
        libc::EISDIR => Errno::ISDIR,
        libc::ELOOP => Errno::LOOP,
        libc::EMFILE => Errno::MFILE,
        libc::EMLINK => Errno::MLINK,
        libc::ENAMETOOLONG => Errno::NAMETOOLONG,
        libc::ENETDOWN => Errno::NETDOWN,
        libc::ENETRESET => Errno::NETRESET,
        libc::ENETUNREACH => Errno::NETUNREACH,
        libc::ENFILE => Errno::NFILE,
        libc::ENOBUFS => Errno::NOBUFS,
        libc::ENOENT => Errno::NOENT,
        libc::ENOMEM => Errno::NOMEM,
        libc::ENOSPC => Errno::NOSPC,
        libc::ENOSYS => Errno::NOSYS,
        libc::ENOTCONN => Errno::NOTCONN,
        libc::ENOTDIR => Errno::NOTDIR,
        libc::ENOTEMPTY => Errno::NOTEMPTY,
        libc::EOPNOTSUPP => Errno::NOTSUP,
        libc::EPERM => Errno::PERM,
        libc::EPIPE => Errno::PIPE,
        libc::EROFS => Errno::ROFS,
        libc::ESPIPE => Errno::SPIPE,
        libc::ETIMEDOUT => Errno::TIMEDOUT,
        libc::EXDEV => Errno::XDEV,
        _ => Errno::IO,
    }
}

/// The errno of the last failed host call on this thread.
pub(crate) fn last() -> Errno {
    from_host(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_known_errors_and_hides_unknown_ones() {
        assert_eq!(from_host(libc::ENOENT), Errno::NOENT);
        assert_eq!(from_host(libc::ELOOP), Errno::LOOP);
        assert_eq!(from_host(libc::ECONNRESET), Errno::CONNRESET);
        assert_eq!(from_host(libc::ENOTCONN), Errno::NOTCONN);
        assert_eq!(from_host(libc::EHWPOISON), Errno::IO);
    }
}
