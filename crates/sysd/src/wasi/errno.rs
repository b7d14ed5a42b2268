//! The WASI preview-1 errno values sysd answers with, as the raw `u16`s
//! its answers carry; the values are `wasc_wire::Errno`'s.

use wasc_wire::Errno;

pub(crate) const AGAIN: u16 = Errno::AGAIN.0;
pub(crate) const BADF: u16 = Errno::BADF.0;
pub(crate) const BUSY: u16 = Errno::BUSY.0;
pub(crate) const EXIST: u16 = Errno::EXIST.0;
pub(crate) const ILSEQ: u16 = Errno::ILSEQ.0;
pub(crate) const INTR: u16 = Errno::INTR.0;
pub(crate) const INVAL: u16 = Errno::INVAL.0;
pub(crate) const IO: u16 = Errno::IO.0;
pub(crate) const ISDIR: u16 = Errno::ISDIR.0;
pub(crate) const LOOP: u16 = Errno::LOOP.0;
pub(crate) const MFILE: u16 = Errno::MFILE.0;
pub(crate) const NAMETOOLONG: u16 = Errno::NAMETOOLONG.0;
pub(crate) const NOENT: u16 = Errno::NOENT.0;
pub(crate) const NOMEM: u16 = Errno::NOMEM.0;
pub(crate) const NOSYS: u16 = Errno::NOSYS.0;
pub(crate) const NOTDIR: u16 = Errno::NOTDIR.0;
pub(crate) const NOTSOCK: u16 = Errno::NOTSOCK.0;
pub(crate) const NOTSUP: u16 = Errno::NOTSUP.0;
pub(crate) const OVERFLOW: u16 = Errno::OVERFLOW.0;
pub(crate) const PERM: u16 = Errno::PERM.0;
pub(crate) const PIPE: u16 = Errno::PIPE.0;
pub(crate) const SPIPE: u16 = Errno::SPIPE.0;
pub(crate) const XDEV: u16 = Errno::XDEV.0;
