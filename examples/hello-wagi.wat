;; A WAGI handler: prints a header block, then a greeting naming the
;; request's method and path (REQUEST_METHOD and PATH_INFO from its
;; environment). `wasc serve examples/hello-wagi.wat`, then
;; `curl http://127.0.0.1:8080/world`.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get"
    (func $environ_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "Content-Type: text/plain\n\nHello from WaSC: ")
  (data (i32.const 96) "\n")

  ;; Writes `len` bytes at `ptr` to stdout (iovec at 0, count at 8).
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; The value of the variable whose `NAME=` is at `name` (`len` bytes),
  ;; written to stdout. Pointers at 4096, strings at 8192.
  (func $write_var (param $name i32) (param $len i32)
    (local $i i32) (local $count i32) (local $p i32) (local $j i32) (local $end i32)
    (drop (call $environ_sizes_get (i32.const 32) (i32.const 36)))
    (drop (call $environ_get (i32.const 4096) (i32.const 8192)))
    (local.set $count (i32.load (i32.const 32)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $p (i32.load (i32.add (i32.const 4096) (i32.shl (local.get $i) (i32.const 2)))))
        ;; Compare the prefix.
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $cmp
            (br_if $mismatch
              (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $j)))
                      (i32.load8_u (i32.add (local.get $name) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $cmp (i32.lt_u (local.get $j) (local.get $len))))
          ;; Found: write up to the NUL.
          (local.set $end (i32.add (local.get $p) (local.get $len)))
          (block $nul
            (loop $scan
              (br_if $nul (i32.eqz (i32.load8_u (local.get $end))))
              (local.set $end (i32.add (local.get $end) (i32.const 1)))
              (br $scan)))
          (call $write (i32.add (local.get $p) (local.get $len))
                       (i32.sub (local.get $end) (i32.add (local.get $p) (local.get $len))))
          (br $done))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  (data (i32.const 128) "REQUEST_METHOD=")
  (data (i32.const 160) "PATH_INFO=")
  (data (i32.const 176) " ")

  (func (export "_start")
    (call $write (i32.const 16) (i32.const 43))
    (call $write_var (i32.const 128) (i32.const 15))
    (call $write (i32.const 176) (i32.const 1))
    (call $write_var (i32.const 160) (i32.const 10))
    (call $write (i32.const 96) (i32.const 1))))
