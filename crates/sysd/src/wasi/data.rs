//! WASI functions that copy values out of sysd into linear memory:
//! arguments and environment, clocks, random bytes.

use super::memory::{Memory, OutOfBounds};
use super::{clock_ns, InstanceData, System, IO};

/// `*_sizes_get`: the count of strings and their total size with NULs.
pub(super) fn sizes<S: System>(
    memory: &mut Memory<'_, S>,
    pick: impl Fn(InstanceData<'_>) -> &[u8],
    count_out: u64,
    size_out: u64,
) -> Result<u16, OutOfBounds> {
    let (count, size) = {
        let data = pick(memory.sys.instance_data());
        (
            data.iter().filter(|&&b| b == 0).count() as u32,
            data.len() as u32,
        )
    };
    // wiggle stores a function's results last to first.
    memory.write_u32_result(size_out, size)?;
    memory.write_u32_result(count_out, count)?;
    Ok(0)
}

/// `args_get`/`environ_get`: each string's address into `ptrs`, then its
/// bytes into `buf` (wasmtime's order, which decides which bad pointer is
/// reported first).
pub(super) fn strings<S: System>(
    memory: &mut Memory<'_, S>,
    pick: impl Fn(InstanceData<'_>) -> &[u8],
    ptrs: u64,
    buf: u64,
) -> Result<u16, OutOfBounds> {
    let mut offset = 0u64;
    let mut index = 0u64;
    let mut at_string_start = true;
    loop {
        // The data lives in sysd's memory; copy a chunk out before writing
        // it into linear memory.
        let mut chunk = [0u8; 256];
        let n = {
            let data = pick(memory.sys.instance_data());
            let rest = data.get(offset as usize..).unwrap_or(&[]);
            let n = rest.len().min(chunk.len());
            chunk[..n].copy_from_slice(&rest[..n]);
            n
        };
        if n == 0 {
            return Ok(0);
        }
        if at_string_start {
            memory.write_u32(ptrs + 4 * index, (buf + offset) as u32)?;
            index += 1;
        }
        let take = chunk[..n].iter().position(|&b| b == 0).map_or(n, |i| i + 1);
        memory.write(buf + offset, &chunk[..take])?;
        offset += take as u64;
        at_string_start = chunk[take - 1] == 0;
    }
}

/// `clock_res_get` (1 ns: the TSC is finer) or `clock_time_get`.
pub(super) fn clock_value<S: System>(
    memory: &mut Memory<'_, S>,
    resolution: bool,
    monotonic: bool,
    out: u64,
) -> Result<u16, OutOfBounds> {
    memory
        .check_scalar(out, 8)
        .map_err(OutOfBounds::in_result)?;
    let value = if resolution {
        1
    } else {
        let calibration = memory.sys.instance();
        let tsc = memory.sys.rdtsc();
        match clock_ns(&calibration, tsc, monotonic) {
            Some(ns) => ns,
            None => return Ok(IO),
        }
    };
    memory.write_result(out, &value.to_le_bytes())?;
    Ok(0)
}

pub(super) fn random<S: System>(
    memory: &mut Memory<'_, S>,
    buf: u64,
    len: u64,
) -> Result<u16, OutOfBounds> {
    memory.check(buf, len)?;
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u64) as usize;
        memory.sys.random(&mut chunk[..n]);
        memory.write(buf + done, &chunk[..n])?;
        done += n as u64;
    }
    Ok(0)
}
