//! args_sizes_get, args_get, environ_sizes_get, environ_get.
use std::ffi::CStr;
use wasc_guests::{show, wasi};

fn decode(ptrs: &[*mut u8]) -> Vec<String> {
    ptrs.iter()
        // SAFETY: WASI filled each pointer with a NUL-terminated string in our buffer.
        .map(|p| {
            unsafe { CStr::from_ptr(*p as *const _) }
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn main() {
    // SAFETY: raw WASI calls on buffers sized from the *_sizes_get answers.
    unsafe {
        let (argc, argv_len) = show("args_sizes_get", wasi::args_sizes_get()).expect("sizes");
        let mut ptrs = vec![std::ptr::null_mut(); argc];
        let mut buf = vec![0u8; argv_len];
        show(
            "args_get",
            wasi::args_get(ptrs.as_mut_ptr(), buf.as_mut_ptr()),
        );
        for (i, arg) in decode(&ptrs).iter().enumerate() {
            println!("argv[{i}] = {arg:?}");
        }

        let (envc, env_len) = show("environ_sizes_get", wasi::environ_sizes_get()).expect("sizes");
        let mut ptrs = vec![std::ptr::null_mut(); envc];
        let mut buf = vec![0u8; env_len];
        show(
            "environ_get",
            wasi::environ_get(ptrs.as_mut_ptr(), buf.as_mut_ptr()),
        );
        for var in decode(&ptrs) {
            println!("env {var:?}");
        }
    }
}
