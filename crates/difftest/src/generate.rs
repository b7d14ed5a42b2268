//! Writes call scripts from arbitrary bytes.
//!
//! Every byte of the input picks one choice; when the input runs out the
//! script ends. Choices are drawn from small alphabets that reach the
//! corners where implementations differ: paths built from the fixture's
//! names, `.`, `..`, symlinks, leading and trailing slashes; descriptors that
//! exist, were just opened, or never were; flags, rights, whences and clock
//! ids in and out of range; result pointers aligned, misaligned, at the end
//! of memory and past it; zero and large lengths.

/// The input, one choice per byte.
struct Source<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Source<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.at).copied();
        self.at += 1;
        b
    }

    /// One of `choices` (the first when the input is used up).
    fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        let b = self.byte().unwrap_or(0) as usize;
        choices[b % choices.len()]
    }

    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }
}

const NAMES: &[&str] = &[
    "file", "dir", "empty", "lfile", "ldir", "ldangle", "lloop", "lout", "new", "new2", "inner",
    "sub", "deep", "up", ".", "..",
];

fn path(s: &mut Source<'_>) -> String {
    match s.pick(&[0u8, 0, 0, 0, 0, 0, 1, 2, 3]) {
        1 => return "\"\"".into(),
        2 => return "end-3 8".into(),
        3 => return "\"fi\\xffle\"".into(),
        _ => {}
    }
    let n = s.pick(&[1usize, 1, 1, 2, 2, 3, 3, 4]);
    let mut p = String::new();
    if s.pick(&[false, false, false, false, false, false, false, true]) {
        p.push('/');
    }
    for i in 0..n {
        if i > 0 {
            p.push('/');
        }
        let name = s.pick(NAMES);
        // `name/.` at the end is a known difference (docs/wasi-reference.md:
        // wasmtime's non-following stat of `link/.` stats the link).
        p.push_str(if i > 0 && i == n - 1 && name == "." {
            ".."
        } else {
            name
        });
    }
    if s.pick(&[false, false, false, true]) {
        p.push('/');
    }
    format!("\"{p}\"")
}

fn fd(s: &mut Source<'_>) -> &'static str {
    s.pick(&["3", "3", "4", "5", "5", "6", "7", "0", "1", "2", "99", "-1"])
}

fn dirfd(s: &mut Source<'_>) -> &'static str {
    s.pick(&["3", "3", "3", "4", "4", "5", "6", "1", "99"])
}

fn out(s: &mut Source<'_>, shape: &'static str) -> String {
    match s.pick(&[0u8, 0, 0, 0, 0, 0, 1, 2, 3]) {
        1 => format!("{shape}+1"),
        2 => "end-2".into(),
        3 => "end".into(),
        _ => shape.into(),
    }
}

fn iov(s: &mut Source<'_>, write: bool) -> String {
    let n = s.pick(&[1usize, 1, 1, 2, 3, 0]);
    let items: Vec<String> = (0..n)
        .map(|_| match s.pick(&[0u8, 0, 0, 1, 2]) {
            1 => "\"\"".into(),
            2 => format!("@end-4:{}", s.pick(&["0", "4", "100"])),
            _ if write => s.pick(&["\"abc\"", "\"hello world\\n\"", "\"x\""]).into(),
            _ => format!("buf:{}", s.pick(&["1", "4", "16", "64"])),
        })
        .collect();
    format!("iov({})", items.join(","))
}

fn time(s: &mut Source<'_>) -> &'static str {
    s.pick(&["0", "5", "1000000000", "1700000000000000000", "-1"])
}

/// One call line.
fn call(s: &mut Source<'_>) -> String {
    let f = s.pick(&[
        "path_open",
        "path_open",
        "path_open",
        "fd_write",
        "fd_read",
        "fd_pread",
        "fd_pwrite",
        "fd_seek",
        "fd_tell",
        "fd_close",
        "fd_renumber",
        "fd_filestat_get",
        "fd_fdstat_get",
        "fd_fdstat_set_flags",
        "fd_filestat_set_size",
        "fd_filestat_set_times",
        "fd_readdir",
        "fd_prestat_get",
        "fd_prestat_dir_name",
        "fd_sync",
        "fd_advise",
        "fd_allocate",
        "path_filestat_get",
        "path_filestat_set_times",
        "path_create_directory",
        "path_remove_directory",
        "path_unlink_file",
        "path_rename",
        "path_link",
        "path_symlink",
        "path_readlink",
        "clock_time_get",
        "clock_res_get",
        "random_get",
        "poll_oneoff",
        "args_sizes_get",
        "environ_sizes_get",
        "sched_yield",
    ]);
    let mut a: Vec<String> = Vec::new();
    match f {
        "path_open" => {
            a.push(dirfd(s).into());
            a.push(s.pick(&["0", "1", "1", "2"]).into());
            a.push(path(s));
            a.push(
                s.pick(&["0", "0", "1", "2", "3", "5", "8", "9", "13", "0x10"])
                    .into(),
            );
            a.push(
                s.pick(&["0x1fffffff", "0x1fffffff", "2", "0x40", "0", "0x20000000"])
                    .into(),
            );
            a.push(s.pick(&["0x1fffffff", "0"]).into());
            a.push(
                s.pick(&["0", "0", "0", "1", "4", "2", "0x10", "0x100"])
                    .into(),
            );
            a.push(out(s, "u32"));
        }
        "fd_write" | "fd_read" => {
            a.push(fd(s).into());
            a.push(iov(s, f == "fd_write"));
            a.push(out(s, "u32"));
        }
        "fd_pread" | "fd_pwrite" => {
            a.push(fd(s).into());
            a.push(iov(s, f == "fd_pwrite"));
            a.push(s.pick(&["0", "3", "8", "100", "-1"]).into());
            a.push(out(s, "u32"));
        }
        "fd_seek" => {
            a.push(fd(s).into());
            a.push(
                s.pick(&["0", "2", "-3", "100", "0x7fffffffffffffff", "-1"])
                    .into(),
            );
            a.push(s.pick(&["0", "1", "2", "3", "-1"]).into());
            a.push(out(s, "u64"));
        }
        "fd_tell" => {
            a.push(fd(s).into());
            a.push(out(s, "u64"));
        }
        "fd_close" | "fd_sync" => a.push(fd(s).into()),
        "fd_renumber" => {
            a.push(fd(s).into());
            a.push(fd(s).into());
        }
        "fd_filestat_get" => {
            a.push(fd(s).into());
            a.push(out(s, "filestat"));
        }
        "fd_fdstat_get" => {
            a.push(fd(s).into());
            a.push(out(s, "fdstat"));
        }
        "fd_fdstat_set_flags" => {
            a.push(fd(s).into());
            a.push(s.pick(&["0", "1", "4", "5", "0x10", "0x10000"]).into());
        }
        "fd_filestat_set_size" => {
            a.push(fd(s).into());
            a.push(s.pick(&["0", "3", "20", "-1"]).into());
        }
        "fd_filestat_set_times" | "path_filestat_set_times" => {
            if f == "path_filestat_set_times" {
                a.push(dirfd(s).into());
                a.push(s.pick(&["0", "1"]).into());
                a.push(path(s));
            } else {
                a.push(fd(s).into());
            }
            a.push(time(s).into());
            a.push(time(s).into());
            a.push(
                s.pick(&["0", "1", "2", "3", "4", "5", "8", "10", "0x10"])
                    .into(),
            );
        }
        "fd_readdir" => {
            a.push(fd(s).into());
            let n = s.pick(&["0", "24", "30", "64", "512"]);
            a.push(format!("dirents:{n}"));
            a.push(n.into());
            a.push(s.pick(&["0", "1", "2", "3", "100"]).into());
            a.push(out(s, "u32"));
        }
        "fd_prestat_get" => {
            a.push(fd(s).into());
            a.push(out(s, "prestat"));
        }
        "fd_prestat_dir_name" => {
            a.push(fd(s).into());
            let n = s.pick(&["0", "4", "8", "20"]);
            a.push(format!("buf:{n}"));
            a.push(n.into());
        }
        "fd_advise" => {
            a.push(fd(s).into());
            a.push(s.pick(&["0", "5"]).into());
            a.push(s.pick(&["0", "10"]).into());
            a.push(s.pick(&["0", "3", "5", "6"]).into());
        }
        "fd_allocate" => {
            a.push(fd(s).into());
            a.push("0".into());
            a.push(s.pick(&["0", "10"]).into());
        }
        "path_filestat_get" => {
            a.push(dirfd(s).into());
            a.push(s.pick(&["0", "1"]).into());
            a.push(path(s));
            a.push(out(s, "filestat"));
        }
        "path_create_directory" | "path_remove_directory" | "path_unlink_file" => {
            a.push(dirfd(s).into());
            a.push(path(s));
        }
        // Both names beneath one directory, or a bad second descriptor:
        // between the tmpfs and the host directory a VM answers XDEV where
        // the in-process stand-in (a host directory) moves the file.
        "path_rename" | "path_link" => {
            let dir = dirfd(s);
            a.push(dir.into());
            if f == "path_link" {
                a.push(s.pick(&["0", "0", "1"]).into());
            }
            a.push(path(s));
            a.push(s.pick(&[dir, dir, dir, "99"]).into());
            a.push(path(s));
        }
        "path_symlink" => {
            a.push(
                s.pick(&[
                    "\"file\"", "\"dir\"", "\"../x\"", "\"/abs\"", "\"\"", "\"new\"",
                ])
                .into(),
            );
            a.push(dirfd(s).into());
            a.push(path(s));
        }
        "path_readlink" => {
            a.push(dirfd(s).into());
            a.push(path(s));
            let n = s.pick(&["0", "2", "64"]);
            a.push(format!("buf:{n}"));
            a.push(n.into());
            a.push(out(s, "u32"));
        }
        "clock_time_get" | "clock_res_get" => {
            a.push(s.pick(&["0", "1", "2", "3", "4"]).into());
            if f == "clock_time_get" {
                a.push("1".into());
            }
            a.push(match s.pick(&[0u8, 0, 1, 2]) {
                1 => "secret:8+4".into(),
                2 => "end-4".into(),
                _ => "secret:8".into(),
            });
        }
        "random_get" => {
            let n = s.pick(&["0", "1", "16"]);
            a.push(match s.pick(&[0u8, 0, 1, 2]) {
                1 => "end-4".into(),
                2 => "end".into(),
                _ => format!("secret:{n}"),
            });
            a.push(n.into());
        }
        "poll_oneoff" => {
            // Timeouts are 0 or far off (20 ms): a poll that sees one clock
            // fire and another not yet must not depend on how fast each
            // implementation is. Stdin is polled alone: wasmtime reads it
            // on a thread of its own, so it turns ready a little later.
            let sub = s.pick(&[
                "sub(clock:1:0:0:0)",
                "sub(clock:1:20000000:0:0)",
                "sub(clock:0:1000:0:1)",
                "sub(clock:2:0:0:0)",
                "sub(clock:3:0:0:0)",
                "sub(read:0)",
                "sub(write:1)",
                "sub(read:3)",
                "sub(read:5,clock:1:0:0:0)",
                "sub(write:1,clock:1:20000000:0:0)",
                "sub(write:99)",
                "sub(tag:7)",
                "sub(clock:7:0:0:0)",
                "sub()",
            ]);
            let n = if sub == "sub()" {
                0
            } else {
                sub.matches(',').count() + 1
            };
            a.push(sub.into());
            a.push("events:2".into());
            a.push(n.to_string());
            a.push(out(s, "u32"));
        }
        "args_sizes_get" | "environ_sizes_get" => {
            a.push(out(s, "u32"));
            a.push(out(s, "u32"));
        }
        _ => {}
    }
    let mut line = f.to_string();
    for arg in a {
        line.push(' ');
        line.push_str(&arg);
    }
    line
}

/// The script `bytes` describe: at most 16 calls.
pub fn generate(bytes: &[u8]) -> Vec<String> {
    let mut s = Source { bytes, at: 0 };
    let mut script = Vec::new();
    while !s.done() && script.len() < 16 {
        script.push(call(&mut s));
    }
    script
}

/// `len` bytes from a seed (xorshift64*), for seeded runs without a fuzzer.
pub fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_give_the_same_script() {
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        let a = generate(&bytes);
        assert_eq!(a, generate(&bytes));
        assert!(!a.is_empty() && a.len() <= 16);
        assert!(generate(&[]).is_empty());
    }

    #[test]
    fn every_line_names_a_function_first() {
        for seed in 0..50u8 {
            let bytes: Vec<u8> = (0..64u8)
                .map(|i| i.wrapping_mul(seed).wrapping_add(seed))
                .collect();
            for line in generate(&bytes) {
                let name = line.split(' ').next().expect("a name");
                assert!(
                    name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{line}"
                );
            }
        }
    }
}
