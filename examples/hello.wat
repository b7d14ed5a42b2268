;; The bundled example: prints a greeting with fd_write and exits 0.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec { buf = 16, len = 28 } at address 0.
  (data (i32.const 0) "\10\00\00\00\1c\00\00\00")
  (data (i32.const 16) "Hello from a WaSC function!\n")
  (func (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
