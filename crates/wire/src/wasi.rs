//! WASI preview-1 function ids: a WASI call crosses into sysd as
//! `(function id, raw arguments)`. Ids are the functions' positions in
//! [`NAMES`], the order of the preview-1 witx.

/// Every `wasi_snapshot_preview1` function; the id of a function is its index.
pub const NAMES: [&str; 46] = [
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "fd_write",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "poll_oneoff",
    "proc_exit",
    "proc_raise",
    "random_get",
    "sched_yield",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

/// Parameter types of each function, in [`NAMES`] order: `i` is `i32`, `I`
/// is `i64`. Every function returns an `i32` errno except `proc_exit`,
/// which returns nothing.
pub const SIGNATURES: [&str; 46] = [
    "ii",
    "ii",
    "ii",
    "ii",
    "ii",
    "iIi",
    "iIIi",
    "iII",
    "i",
    "i",
    "ii",
    "ii",
    "iII",
    "ii",
    "iI",
    "iIIi",
    "iiiIi",
    "ii",
    "iii",
    "iiiIi",
    "iiii",
    "iiiIi",
    "ii",
    "iIii",
    "i",
    "ii",
    "iiii",
    "iii",
    "iiiii",
    "iiiiIIi",
    "iiiiiii",
    "iiiiiIIii",
    "iiiiii",
    "iii",
    "iiiiii",
    "iiiii",
    "iii",
    "iiii",
    "i",
    "i",
    "ii",
    "",
    "iii",
    "iiiiii",
    "iiiii",
    "ii",
];

/// The id of the function called `name`.
pub fn id(name: &str) -> Option<u32> {
    NAMES.iter().position(|n| *n == name).map(|i| i as u32)
}

/// Every function's id by name, for sysd's dispatch.
pub mod ids {
    pub const ARGS_GET: u32 = 0;
    pub const ARGS_SIZES_GET: u32 = 1;
    pub const ENVIRON_GET: u32 = 2;
    pub const ENVIRON_SIZES_GET: u32 = 3;
    pub const CLOCK_RES_GET: u32 = 4;
    pub const CLOCK_TIME_GET: u32 = 5;
    pub const FD_ADVISE: u32 = 6;
    pub const FD_ALLOCATE: u32 = 7;
    pub const FD_CLOSE: u32 = 8;
    pub const FD_DATASYNC: u32 = 9;
    pub const FD_FDSTAT_GET: u32 = 10;
    pub const FD_FDSTAT_SET_FLAGS: u32 = 11;
    pub const FD_FDSTAT_SET_RIGHTS: u32 = 12;
    pub const FD_FILESTAT_GET: u32 = 13;
    pub const FD_FILESTAT_SET_SIZE: u32 = 14;
    pub const FD_FILESTAT_SET_TIMES: u32 = 15;
    pub const FD_PREAD: u32 = 16;
    pub const FD_PRESTAT_GET: u32 = 17;
    pub const FD_PRESTAT_DIR_NAME: u32 = 18;
    pub const FD_PWRITE: u32 = 19;
    pub const FD_READ: u32 = 20;
    pub const FD_READDIR: u32 = 21;
    pub const FD_RENUMBER: u32 = 22;
    pub const FD_SEEK: u32 = 23;
    pub const FD_SYNC: u32 = 24;
    pub const FD_TELL: u32 = 25;
    pub const FD_WRITE: u32 = 26;
    pub const PATH_CREATE_DIRECTORY: u32 = 27;
    pub const PATH_FILESTAT_GET: u32 = 28;
    pub const PATH_FILESTAT_SET_TIMES: u32 = 29;
    pub const PATH_LINK: u32 = 30;
    pub const PATH_OPEN: u32 = 31;
    pub const PATH_READLINK: u32 = 32;
    pub const PATH_REMOVE_DIRECTORY: u32 = 33;
    pub const PATH_RENAME: u32 = 34;
    pub const PATH_SYMLINK: u32 = 35;
    pub const PATH_UNLINK_FILE: u32 = 36;
    pub const POLL_ONEOFF: u32 = 37;
    pub const PROC_EXIT: u32 = 38;
    pub const PROC_RAISE: u32 = 39;
    pub const RANDOM_GET: u32 = 40;
    pub const SCHED_YIELD: u32 = 41;
    pub const SOCK_ACCEPT: u32 = 42;
    pub const SOCK_RECV: u32 = 43;
    pub const SOCK_SEND: u32 = 44;
    pub const SOCK_SHUTDOWN: u32 = 45;
}

/// Why sysd ended a WASI call instead of returning an errno
/// (`Status::Trap`); the host reports it as wasmtime does.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    /// A pointer or length outside linear memory; the detail is
    /// `start << 32 | len`.
    PointerOutOfBounds = 1,
    /// `proc_exit` with a status outside `[0, 126)`.
    InvalidExitStatus = 2,
    /// A clock id outside the four preview-1 clocks.
    InvalidClockId = 3,
    /// An enum argument outside its type; the detail is a [`ValueType`].
    InvalidEnum = 4,
    /// A flags argument with undefined bits; the detail is a [`ValueType`].
    InvalidFlags = 5,
    /// Like `PointerOutOfBounds`, for the pointer where the call's result
    /// goes (wasmtime names the result in its error; see [`result_name`]).
    ResultOutOfBounds = 6,
    /// `random_get` asked for more than [`RANDOM_LIMIT`] bytes; the detail
    /// is the length.
    RandomTooLong = 7,
    /// An argument wider than its 8- or 16-bit type (wiggle's `Int
    /// conversion error`); the detail is a [`ValueType`].
    IntConversion = 8,
    /// A pointer to a scalar (or a struct's scalar field) that is not a
    /// multiple of the scalar's size; the detail is `start << 32 | len`, and
    /// the alignment wasmtime names is `len`.
    PointerNotAligned = 9,
    /// Like `PointerNotAligned`, for the call's result pointer.
    ResultNotAligned = 10,
}

/// The size of sysd's descriptor table: stdio, the `--tcplisten`
/// listeners, the preopened directories and memory file systems, and every
/// descriptor the module opens must fit in it.
pub const MAX_FDS: usize = 256;

/// The most bytes one `random_get` may ask for (wasmtime's limit).
pub const RANDOM_LIMIT: u64 = 64 << 20;

/// The bytes of guest memory one call may move or copy before it fails
/// with `NOMEM` (wasmtime's per-call "hostcall fuel").
pub const CALL_FUEL: u64 = 128 << 20;

/// The name wasmtime's error gives the result of function `id` when its
/// result pointer is bad.
pub fn result_name(id: u32) -> Option<&'static str> {
    Some(match NAMES.get(id as usize)? {
        &"args_sizes_get" | &"environ_sizes_get" | &"fd_pread" | &"fd_pwrite" | &"fd_read"
        | &"fd_readdir" | &"fd_write" | &"path_readlink" | &"poll_oneoff" | &"sock_send" => "size",
        &"clock_res_get" | &"clock_time_get" => "timestamp",
        &"fd_fdstat_get" => "fdstat",
        &"fd_filestat_get" | &"path_filestat_get" => "filestat",
        &"fd_prestat_get" => "prestat",
        &"fd_seek" | &"fd_tell" => "filesize",
        &"path_open" | &"sock_accept" => "fd",
        &"sock_recv" => "size",
        _ => return None,
    })
}

/// The preview-1 types whose invalid values end a call, named as wasmtime
/// names them in its error.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Whence = 0,
    Advice = 1,
    Fdflags = 2,
    Oflags = 3,
    Lookupflags = 4,
    Fstflags = 5,
    Rights = 6,
    Eventtype = 7,
    Subclockflags = 8,
    Riflags = 9,
    /// A plain `u16` (`siflags` is one: any value that fits is accepted).
    U16 = 10,
    Sdflags = 11,
    Clockid = 12,
    Signal = 13,
}

impl ValueType {
    const ALL: [ValueType; 14] = [
        ValueType::Whence,
        ValueType::Advice,
        ValueType::Fdflags,
        ValueType::Oflags,
        ValueType::Lookupflags,
        ValueType::Fstflags,
        ValueType::Rights,
        ValueType::Eventtype,
        ValueType::Subclockflags,
        ValueType::Riflags,
        ValueType::U16,
        ValueType::Sdflags,
        ValueType::Clockid,
        ValueType::Signal,
    ];

    pub fn from_raw(raw: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|t| *t as u64 == raw)
    }

    pub fn name(self) -> &'static str {
        match self {
            ValueType::Whence => "Whence",
            ValueType::Advice => "Advice",
            ValueType::Fdflags => "Fdflags",
            ValueType::Oflags => "Oflags",
            ValueType::Lookupflags => "Lookupflags",
            ValueType::Fstflags => "Fstflags",
            ValueType::Rights => "Rights",
            ValueType::Eventtype => "Eventtype",
            ValueType::Subclockflags => "Subclockflags",
            ValueType::Riflags => "Riflags",
            ValueType::U16 => "u16",
            ValueType::Sdflags => "Sdflags",
            ValueType::Clockid => "Clockid",
            ValueType::Signal => "Signal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_ids_match_the_table() {
        for (name, id_) in [
            ("args_get", ids::ARGS_GET),
            ("environ_sizes_get", ids::ENVIRON_SIZES_GET),
            ("clock_res_get", ids::CLOCK_RES_GET),
            ("clock_time_get", ids::CLOCK_TIME_GET),
            ("fd_close", ids::FD_CLOSE),
            ("fd_fdstat_get", ids::FD_FDSTAT_GET),
            ("fd_prestat_dir_name", ids::FD_PRESTAT_DIR_NAME),
            ("fd_read", ids::FD_READ),
            ("fd_seek", ids::FD_SEEK),
            ("fd_tell", ids::FD_TELL),
            ("fd_write", ids::FD_WRITE),
            ("proc_exit", ids::PROC_EXIT),
            ("random_get", ids::RANDOM_GET),
            ("sched_yield", ids::SCHED_YIELD),
            ("sock_shutdown", ids::SOCK_SHUTDOWN),
        ] {
            assert_eq!(id(name), Some(id_), "{name}");
        }
        assert_eq!(id("not_a_function"), None);
    }

    #[test]
    fn signatures_take_at_most_nine_parameters() {
        assert!(SIGNATURES
            .iter()
            .all(|s| s.len() <= 9 && s.bytes().all(|b| b == b'i' || b == b'I')));
        assert_eq!(
            SIGNATURES[id("path_open").expect("id") as usize],
            "iiiiiIIii"
        );
        assert_eq!(SIGNATURES[id("fd_seek").expect("id") as usize], "iIii");
        assert_eq!(SIGNATURES[id("sched_yield").expect("id") as usize], "");
    }
}
