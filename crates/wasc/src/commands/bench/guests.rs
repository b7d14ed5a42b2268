//! The benchmark guests, generated as WebAssembly text with the number of
//! calls baked in (no toolchain needed, no argument parsing in the loop).
//! Each opens what it needs under the preopen at fd 3 first, then makes
//! its one call `count` times; any errno ends it with status 1.

/// One WASI call a guest repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `args_sizes_get` (the start-up guest makes it once).
    Args,
    /// `clock_time_get` on the monotonic clock.
    Clock,
    /// `fd_write` of one byte to a file in the granted directory.
    WriteFile,
    /// `fd_write` of one byte to a file on the memory file system (fd 4).
    WriteTmpfs,
    /// `fd_pread` of 4 KiB from a file in the granted directory.
    Pread,
    /// `path_open` of a file, then `fd_close`.
    OpenClose,
    /// `fd_readdir` of a 16-entry directory into a 4 KiB buffer.
    Readdir,
}

impl Call {
    pub fn label(self) -> &'static str {
        match self {
            Call::Args => "args_sizes_get",
            Call::Clock => "clock_time_get",
            Call::WriteFile => "fd_write 1 B to a host file",
            Call::WriteTmpfs => "fd_write 1 B to a tmpfs file",
            Call::Pread => "fd_pread 4 KiB from a file",
            Call::OpenClose => "path_open + fd_close",
            Call::Readdir => "fd_readdir (16 entries)",
        }
    }

    /// The setup before the loop and the loop body.
    fn code(self) -> (&'static str, &'static str) {
        // Memory: 0 results, 8 a new fd, 16 iovec {64, 1}, 32 iovec
        // {4096, 4096}, 128 "data.bin", 144 "out.bin", 160 "dir",
        // 4096.. a 4 KiB buffer.
        const OPEN_DATA: &str = "(call $check (call $open (i32.const 3) (i32.const 0) (i32.const 128) (i32.const 8) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 8)))";
        match self {
            Call::Args => ("", "(call $check (call $args (i32.const 0) (i32.const 4)))"),
            Call::Clock => (
                "",
                "(call $check (call $clock (i32.const 1) (i64.const 1) (i32.const 0)))",
            ),
            Call::WriteFile => (
                "(call $check (call $open (i32.const 3) (i32.const 0) (i32.const 144) (i32.const 7) (i32.const 0) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 8)))",
                "(call $check (call $write (i32.load (i32.const 8)) (i32.const 16) (i32.const 1) (i32.const 0)))",
            ),
            Call::WriteTmpfs => (
                "(call $check (call $open (i32.const 4) (i32.const 0) (i32.const 144) (i32.const 7) (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 8)))",
                "(call $check (call $write (i32.load (i32.const 8)) (i32.const 16) (i32.const 1) (i32.const 0)))",
            ),
            Call::Pread => (
                OPEN_DATA,
                "(call $check (call $pread (i32.load (i32.const 8)) (i32.const 32) (i32.const 1) (i64.const 0) (i32.const 0)))",
            ),
            Call::OpenClose => (
                "",
                "(call $check (call $open (i32.const 3) (i32.const 0) (i32.const 128) (i32.const 8) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 8))) (call $check (call $close (i32.load (i32.const 8))))",
            ),
            Call::Readdir => (
                "(call $check (call $open (i32.const 3) (i32.const 0) (i32.const 160) (i32.const 3) (i32.const 2) (i64.const 16384) (i64.const 0) (i32.const 0) (i32.const 8)))",
                "(call $check (call $readdir (i32.load (i32.const 8)) (i32.const 4096) (i32.const 4096) (i64.const 0) (i32.const 0)))",
            ),
        }
    }
}

/// A guest that makes `call` `count` times.
pub fn module(call: Call, count: u64) -> String {
    let (setup, body) = call.code();
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pread" (func $pread (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir" (func $readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\40\00\00\00\01\00\00\00")
  (data (i32.const 32) "\00\10\00\00\00\10\00\00")
  (data (i32.const 128) "data.bin")
  (data (i32.const 144) "out.bin")
  (data (i32.const 160) "dir")
  (func $check (param i32) (if (local.get 0) (then (call $exit (i32.const 1)))))
  (func (export "_start") (local $i i64)
    {setup}
    (block $done (loop $next
      (br_if $done (i64.ge_u (local.get $i) (i64.const {count})))
      {body}
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $next)))))
"#
    )
}

/// Fills `dir` with what the guests open: `data.bin` (4 KiB), an empty
/// `out.bin`, and `dir/` with 16 files.
pub fn prepare_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::write(dir.join("data.bin"), vec![7u8; 4096])?;
    std::fs::write(dir.join("out.bin"), b"")?;
    std::fs::create_dir_all(dir.join("dir"))?;
    for i in 0..16 {
        std::fs::write(dir.join(format!("dir/entry-{i:02}")), b"")?;
    }
    Ok(())
}
