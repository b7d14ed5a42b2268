//! WASI errno values the executor answers with, and the mapping from host
//! errors. Unknown host errors become `IO`, never a host number leaking
//! through.

/// A WASI preview-1 errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub u16);

impl Errno {
    pub const ACCES: Errno = Errno(2);
    pub const AGAIN: Errno = Errno(6);
    pub const BADF: Errno = Errno(8);
    pub const CONNABORTED: Errno = Errno(13);
    pub const CONNREFUSED: Errno = Errno(14);
    pub const CONNRESET: Errno = Errno(15);
    pub const EXIST: Errno = Errno(20);
    pub const FAULT: Errno = Errno(21);
    pub const FBIG: Errno = Errno(22);
    pub const HOSTUNREACH: Errno = Errno(23);
    pub const INTR: Errno = Errno(27);
    pub const INVAL: Errno = Errno(28);
    pub const IO: Errno = Errno(29);
    pub const ISDIR: Errno = Errno(31);
    pub const LOOP: Errno = Errno(32);
    pub const MFILE: Errno = Errno(33);
    pub const MLINK: Errno = Errno(34);
    pub const NAMETOOLONG: Errno = Errno(37);
    pub const NETDOWN: Errno = Errno(38);
    pub const NETRESET: Errno = Errno(39);
    pub const NETUNREACH: Errno = Errno(40);
    pub const NFILE: Errno = Errno(41);
    pub const NOBUFS: Errno = Errno(42);
    pub const NOENT: Errno = Errno(44);
    pub const NOMEM: Errno = Errno(48);
    pub const NOSPC: Errno = Errno(51);
    pub const NOSYS: Errno = Errno(52);
    pub const NOTCONN: Errno = Errno(53);
    pub const NOTDIR: Errno = Errno(54);
    pub const NOTEMPTY: Errno = Errno(55);
    pub const NOTSUP: Errno = Errno(58);
    pub const PERM: Errno = Errno(63);
    pub const PIPE: Errno = Errno(64);
    pub const ROFS: Errno = Errno(69);
    pub const SPIPE: Errno = Errno(70);
    pub const TIMEDOUT: Errno = Errno(73);
    pub const XDEV: Errno = Errno(75);

    /// Maps a host `errno` value.
    pub fn from_host(raw: i32) -> Errno {
        match raw {
            libc::EACCES => Self::ACCES,
            libc::EAGAIN => Self::AGAIN,
            libc::EBADF => Self::BADF,
            libc::ECONNABORTED => Self::CONNABORTED,
            libc::ECONNREFUSED => Self::CONNREFUSED,
            libc::ECONNRESET => Self::CONNRESET,
            libc::EEXIST => Self::EXIST,
            libc::EFAULT => Self::FAULT,
            libc::EFBIG => Self::FBIG,
            libc::EHOSTUNREACH => Self::HOSTUNREACH,
            libc::EINTR => Self::INTR,
            libc::EINVAL => Self::INVAL,
            libc::EISDIR => Self::ISDIR,
            libc::ELOOP => Self::LOOP,
            libc::EMFILE => Self::MFILE,
            libc::EMLINK => Self::MLINK,
            libc::ENAMETOOLONG => Self::NAMETOOLONG,
            libc::ENETDOWN => Self::NETDOWN,
            libc::ENETRESET => Self::NETRESET,
            libc::ENETUNREACH => Self::NETUNREACH,
            libc::ENFILE => Self::NFILE,
            libc::ENOBUFS => Self::NOBUFS,
            libc::ENOENT => Self::NOENT,
            libc::ENOMEM => Self::NOMEM,
            libc::ENOSPC => Self::NOSPC,
            libc::ENOSYS => Self::NOSYS,
            libc::ENOTCONN => Self::NOTCONN,
            libc::ENOTDIR => Self::NOTDIR,
            libc::ENOTEMPTY => Self::NOTEMPTY,
            libc::EOPNOTSUPP => Self::NOTSUP,
            libc::EPERM => Self::PERM,
            libc::EPIPE => Self::PIPE,
            libc::EROFS => Self::ROFS,
            libc::ESPIPE => Self::SPIPE,
            libc::ETIMEDOUT => Self::TIMEDOUT,
            libc::EXDEV => Self::XDEV,
            _ => Self::IO,
        }
    }

    /// The errno of the last failed host call on this thread.
    pub(crate) fn last() -> Errno {
        Self::from_host(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_known_errors_and_hides_unknown_ones() {
        assert_eq!(Errno::from_host(libc::ENOENT), Errno::NOENT);
        assert_eq!(Errno::from_host(libc::ELOOP), Errno::LOOP);
        assert_eq!(Errno::from_host(libc::ECONNRESET), Errno::CONNRESET);
        assert_eq!(Errno::from_host(libc::ENOTCONN), Errno::NOTCONN);
        assert_eq!(Errno::from_host(libc::EHWPOISON), Errno::IO);
    }
}
