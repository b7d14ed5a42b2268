;; Writes one byte to stdout 1,000 times; exits 100 + errno at the first
;; failure, 99 if a write moved nothing, else 0. Run with stdout a pipe
;; nobody reads: wasmtime's stdout reports every write as done.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "x")
  (func (export "_start")
    (local $e i32) (local $i i32)
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 1))
    (loop $l
      (local.set $e (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (if (local.get $e) (then (call $proc_exit (i32.add (i32.const 100) (local.get $e)))))
      (if (i32.eqz (i32.load (i32.const 8))) (then (call $proc_exit (i32.const 99))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (call $proc_exit (i32.const 0))))
