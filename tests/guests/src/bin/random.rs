//! random_get: empty, small and large buffers.
use wasc_guests::{status, wasi};

fn fill(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` is `len` writable bytes.
    status(&format!("random_get({len})"), unsafe {
        wasi::random_get(buf.as_mut_ptr(), len)
    });
    buf
}

fn main() {
    fill(0);
    let a = fill(32);
    let b = fill(32);
    println!("two draws differ: {}", a != b);
    let big = fill(256 * 1024);
    let zeros = big.iter().filter(|&&x| x == 0).count();
    // About 1/256 of the bytes should be zero.
    println!("large draw looks random: {}", zeros > 500 && zeros < 1600);
}
