;; A memory of 0 pages (AssemblyScript emits these): WASI calls that touch
;; no memory work, a pointer into it traps, and after growing from 0 the
;; memory is usable.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 0)
  (func (export "_start")
    (if (call $sched_yield) (then unreachable))
    (drop (memory.grow (i32.const 1)))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (i64.store (i32.const 16) (i64.const 0x0a6f6c6c6568))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (then unreachable))
    (drop (memory.grow (i32.const 2)))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (then unreachable))
    (call $proc_exit (i32.load (i32.const 8)))))
