//! WASI calls with arguments a host must not trust: pointers or lengths
//! outside linear memory, invalid UTF-8, enum values and flags outside their
//! types. argv[1] names the case; each case runs in its own process because
//! wasmtime answers some with an errno and ends the run on others. The
//! harness records which.
use wasc_guests::preopen;
use wasc_guests::wasi::wasi_snapshot_preview1 as raw;

/// Valid rights, so a path_open case fails only on what it tests.
const RIGHTS: i64 = wasc_guests::ALL_RIGHTS as i64;

/// Far past the end of any memory this guest has.
const FAR: i32 = 0xFFFF_FF00u32 as i32;

fn memory_end() -> i32 {
    (core::arch::wasm32::memory_size(0) * 65536) as i32
}

fn main() {
    let case = std::env::args().nth(1).expect("usage: bad_pointers CASE");
    let end = memory_end();
    let mut word = [0u32; 8];
    let words = word.as_mut_ptr();
    let ok = words as i32;
    // SAFETY: index 4 is inside the 8-word array.
    let ok2 = unsafe { words.add(4) } as i32;
    // Writes an iovec {buf, len} at `ok`, through the same pointer the host
    // will read it from.
    // SAFETY: `words` points at 8 live u32s.
    let set_iov = |buf: u32, len: u32| unsafe {
        words.write_volatile(buf);
        words.add(1).write_volatile(len);
    };
    // SAFETY: the pointers are deliberately bad; the host must check them
    // against the memory size, which is what this guest tests.
    let ret = unsafe {
        match case.as_str() {
            "args_sizes_get" => raw::args_sizes_get(FAR, ok),
            "args_get" => raw::args_get(FAR, FAR),
            "environ_sizes_get" => raw::environ_sizes_get(ok, FAR),
            "environ_get" => raw::environ_get(FAR, FAR),
            "clock_time_get" => raw::clock_time_get(1, 0, FAR),
            "clock_res_get_straddle" => raw::clock_res_get(1, end - 4),
            "random_get" => raw::random_get(FAR, 16),
            "random_get_straddle" => raw::random_get(end - 4, 8),
            "random_get_huge_len" => raw::random_get(ok, i32::MAX),
            "fd_write_iovs" => raw::fd_write(1, FAR, 1, ok),
            "fd_write_buf" => {
                set_iov(FAR as u32, 16);
                raw::fd_write(1, ok, 1, ok2)
            }
            "fd_write_nwritten" => {
                static MSG: &[u8] = b"x\n";
                set_iov(MSG.as_ptr() as u32, 2);
                raw::fd_write(1, ok, 1, FAR)
            }
            "fd_write_many_iovs" => raw::fd_write(1, ok, i32::MAX, ok2),
            "fd_read_buf" => {
                set_iov(FAR as u32, 16);
                raw::fd_read(0, ok, 1, ok2)
            }
            "fd_fdstat_get" => raw::fd_fdstat_get(1, FAR),
            "fd_filestat_get" => raw::fd_filestat_get(preopen("/sandbox") as i32, FAR),
            "fd_prestat_get" => raw::fd_prestat_get(preopen("/sandbox") as i32, FAR),
            "fd_prestat_dir_name" => raw::fd_prestat_dir_name(preopen("/sandbox") as i32, FAR, 8),
            "fd_readdir" => raw::fd_readdir(preopen("/sandbox") as i32, FAR, 4096, 0, ok),
            "path_open_path" => raw::path_open(
                preopen("/sandbox") as i32,
                0,
                FAR,
                8,
                0,
                RIGHTS,
                RIGHTS,
                0,
                ok,
            ),
            "path_open_bad_utf8" => {
                static BAD: &[u8] = b"\xff\xfe.txt";
                raw::path_open(
                    preopen("/sandbox") as i32,
                    0,
                    BAD.as_ptr() as i32,
                    BAD.len() as i32,
                    0,
                    RIGHTS,
                    RIGHTS,
                    0,
                    ok,
                )
            }
            "path_open_result" => {
                static NAME: &[u8] = b"f.txt";
                raw::path_open(
                    preopen("/sandbox") as i32,
                    0,
                    NAME.as_ptr() as i32,
                    5,
                    0,
                    RIGHTS,
                    RIGHTS,
                    0,
                    FAR,
                )
            }
            "path_create_directory" => {
                raw::path_create_directory(preopen("/sandbox") as i32, FAR, 4)
            }
            "poll_oneoff_in" => raw::poll_oneoff(FAR, ok, 1, ok2),
            "poll_oneoff_out" => {
                // One relative clock subscription of 1 ns.
                let mut sub = [0u8; 48];
                sub[8] = 0; // clock
                sub[16..20].copy_from_slice(&1u32.to_le_bytes());
                sub[24..32].copy_from_slice(&1u64.to_le_bytes());
                raw::poll_oneoff(sub.as_ptr() as i32, FAR, 1, ok2)
            }
            "clock_res_get_bad_id" => raw::clock_res_get(4, ok),
            "clock_time_get_bad_id" => raw::clock_time_get(99, 0, ok),
            "fd_seek_bad_whence" => raw::fd_seek(1, 0, 7, ok),
            "fd_advise_bad_advice" => raw::fd_advise(preopen("/sandbox") as i32, 0, 1, 9),
            "fd_fdstat_set_flags_undefined_bits" => raw::fd_fdstat_set_flags(1, 0x100),
            "path_open_undefined_oflags" => {
                static NAME: &[u8] = b"f.txt";
                raw::path_open(
                    preopen("/sandbox") as i32,
                    0,
                    NAME.as_ptr() as i32,
                    5,
                    0x10,
                    RIGHTS,
                    RIGHTS,
                    0,
                    ok,
                )
            }
            "poll_oneoff_bad_tag" => {
                let mut sub = [0u8; 48];
                sub[8] = 9;
                raw::poll_oneoff(sub.as_ptr() as i32, ok, 1, ok2)
            }
            // Arguments wider than their 8- or 16-bit types.
            "fd_seek_wide_whence" => raw::fd_seek(1, 0, 0x100, ok),
            "fd_advise_wide_advice" => raw::fd_advise(1, 0, 1, -1),
            "fd_fdstat_set_flags_wide" => raw::fd_fdstat_set_flags(1, 0x1_0000),
            "fd_filestat_set_times_wide_flags" => raw::fd_filestat_set_times(1, 0, 0, 0x1_0000),
            "proc_raise_bad_signal" => raw::proc_raise(31),
            "proc_raise_wide_signal" => raw::proc_raise(0x100),
            "sock_accept_wide_flags" => raw::sock_accept(1, 0x1_0000, ok),
            "sock_recv_wide_flags" => raw::sock_recv(1, ok, 0, 0x1_0000, ok, ok2),
            "sock_send_undefined_flags" => raw::sock_send(1, ok, 0, 0xffff, ok),
            "sock_send_wide_flags" => raw::sock_send(1, ok, 0, 0x1_0000, ok),
            "sock_shutdown_wide_flags" => raw::sock_shutdown(1, 0x100),
            "path_open_wide_oflags" => {
                static NAME: &[u8] = b"f.txt";
                let dir = preopen("/sandbox") as i32;
                raw::path_open(
                    dir,
                    0,
                    NAME.as_ptr() as i32,
                    5,
                    0x1_0000,
                    RIGHTS,
                    RIGHTS,
                    0,
                    ok,
                )
            }
            other => panic!("unknown case {other}"),
        }
    };
    println!("{case}: returned errno {ret}");
}
