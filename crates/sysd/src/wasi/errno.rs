//! The WASI preview-1 errno values sysd answers with.

pub(crate) const AGAIN: u16 = 6;
pub(crate) const BADF: u16 = 8;
pub(crate) const BUSY: u16 = 10;
pub(crate) const EXIST: u16 = 20;
pub(crate) const ILSEQ: u16 = 25;
pub(crate) const INTR: u16 = 27;
pub(crate) const INVAL: u16 = 28;
pub(crate) const IO: u16 = 29;
pub(crate) const ISDIR: u16 = 31;
pub(crate) const LOOP: u16 = 32;
pub(crate) const MFILE: u16 = 33;
pub(crate) const NAMETOOLONG: u16 = 37;
pub(crate) const NOENT: u16 = 44;
pub(crate) const NOMEM: u16 = 48;
pub(crate) const NOSYS: u16 = 52;
pub(crate) const NOTDIR: u16 = 54;
pub(crate) const NOTSOCK: u16 = 57;
pub(crate) const NOTSUP: u16 = 58;
pub(crate) const OVERFLOW: u16 = 61;
pub(crate) const PERM: u16 = 63;
pub(crate) const PIPE: u16 = 64;
pub(crate) const SPIPE: u16 = 70;
pub(crate) const XDEV: u16 = 75;
