;; Writes 65 MiB + 7 bytes in ONE fd_write to stdout, then the same to a
;; new file in the granted directory (fd 3) with fd_write and fd_pwrite;
;; traps unless every call wrote everything. More than the executor's
;; 64 MiB per op: sysd must split the transfer, invisibly.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite" (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1100)
  (data (i32.const 32) "big")
  (func $check (param $errno i32)
    (if (i32.ne (local.get $errno) (i32.const 0)) (then unreachable))
    (if (i32.ne (i32.load (i32.const 8)) (i32.const 68157447)) (then unreachable)))
  (func (export "_start")
    (local $fd i32)
    ;; The data: a byte pattern, so a lost or repeated chunk shows.
    (local $i i32)
    (loop $fill
      (i32.store8 (i32.add (i32.const 64) (local.get $i)) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 4093)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 68157447))))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 68157447))
    (call $check (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    ;; path_open(3, 0, "big", O_CREAT, all rights, all rights, 0, &fd at 16)
    (if (i32.ne (call $path_open (i32.const 3) (i32.const 0) (i32.const 32) (i32.const 3)
          (i32.const 1) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 16))
          (i32.const 0))
      (then unreachable))
    (local.set $fd (i32.load (i32.const 16)))
    (call $check (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $check (call $fd_pwrite (local.get $fd) (i32.const 0) (i32.const 1) (i64.const 3) (i32.const 8)))))
