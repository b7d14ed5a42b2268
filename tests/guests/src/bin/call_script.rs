//! The differential driver: runs a script of raw preview-1 calls, one per
//! argument, and prints what each call answered and wrote, in a form that
//! does not depend on the run. The same script must print the same lines
//! (and end the same way) under every isolation mode; the differential
//! fuzzer (`crates/difftest`) writes such scripts and compares the runs.
//!
//! A script line is a function name and argument tokens:
//! - `12`, `-1`, `0xff`: an integer argument;
//! - `"text"` (escapes `\n`, `\\`, `\"`, `\xNN`): the bytes put in the arena,
//!   two arguments (pointer, length); `'text'`: the same, the pointer only;
//! - `end`, `end-N`: the address N bytes before the end of linear memory;
//! - `u32`, `u64`, `fdstat`, `filestat`, `prestat`, `buf:N`, `dirents:N`,
//!   `events:N`, `secret:N`: a zeroed output area of that shape in the arena
//!   (a pointer); `+K` after it misaligns it by K bytes. After the call each
//!   is printed, with inode and device numbers shown as labels in order of
//!   first appearance (`ino#1`) and times near "now" as `now`;
//! - `iov(ITEM,...)`: an iovec array in the arena, two arguments (pointer,
//!   count); an item is `"text"`, `buf:N` or `@PTR:LEN` (a raw pointer
//!   token and length); the `buf` items are printed after the call;
//! - `sub(...)`: subscriptions, see [`subscriptions`].

use std::collections::HashMap;
use std::fmt::Write as _;

use wasi::wasi_snapshot_preview1 as raw;

/// Where arguments and outputs live: 256 KiB, 16-byte aligned.
const ARENA_LEN: usize = 256 * 1024;

#[repr(C, align(16))]
struct Arena([u8; ARENA_LEN]);
static mut ARENA: Arena = Arena([0; ARENA_LEN]);

fn arena() -> &'static mut [u8; ARENA_LEN] {
    // SAFETY: the driver is single-threaded and no reference outlives a call line.
    unsafe { &mut *core::ptr::addr_of_mut!(ARENA.0) }
}

fn arena_base() -> i64 {
    // SAFETY: only the address is taken.
    unsafe { core::ptr::addr_of!(ARENA.0) as usize as i64 }
}

fn memory_end() -> i64 {
    (core::arch::wasm32::memory_size(0) * 65536) as i64
}

/// An output area to print after the call.
enum Out {
    U32(usize),
    U64(usize),
    Fdstat(usize),
    Filestat(usize),
    Prestat(usize),
    Buf(usize, usize),
    Dirents(usize, usize),
    Events(usize, usize),
    Secret(usize, usize),
}

struct Line {
    args: Vec<i64>,
    outs: Vec<Out>,
    used: usize,
}

impl Line {
    fn alloc(&mut self, len: usize, misalign: usize) -> Result<usize, String> {
        let at = (self.used + 15) & !15;
        let end = at + len + misalign;
        if end > arena().len() {
            return Err("arena full".into());
        }
        arena()[at..end].fill(0);
        self.used = end;
        Ok(at + misalign)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<usize, String> {
        let at = self.alloc(bytes.len(), 0)?;
        arena()[at..at + bytes.len()].copy_from_slice(bytes);
        Ok(at)
    }
}

fn parse_int(token: &str) -> Result<i64, String> {
    let (neg, digits) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let value = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse::<u64>(),
    }
    .map_err(|_| format!("bad number {token}"))?;
    Ok(if neg {
        (value as i64).wrapping_neg()
    } else {
        value as i64
    })
}

/// Splits a line into tokens; quoted strings and parentheses stay whole.
fn tokens(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let mut quote = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), '\\') => {
                cur.push('\\');
                cur.push(chars.next().ok_or("dangling escape")?);
                let _ = q;
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '(') => {
                depth += 1;
                cur.push(c);
            }
            (None, ')') => {
                depth -= 1;
                cur.push(c);
            }
            (None, ',' | ' ') if depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() || depth != 0 {
        return Err("unbalanced token".into());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// The bytes of a quoted token.
fn unquote(token: &str) -> Result<Vec<u8>, String> {
    let inner = &token[1..token.len() - 1];
    let mut out = Vec::new();
    let bytes = inner.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'n' => out.push(b'\n'),
                b'0' => out.push(0),
                b'x' if i + 3 < bytes.len() => {
                    let hex =
                        std::str::from_utf8(&bytes[i + 2..i + 4]).map_err(|e| e.to_string())?;
                    out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                    i += 2;
                }
                other => out.push(other),
            }
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// A pointer token: `end`, `end-N`, a number, or an output area.
fn pointer(line: &mut Line, token: &str) -> Result<i64, String> {
    if let Some(rest) = token.strip_prefix("end") {
        let back = if rest.is_empty() {
            0
        } else {
            parse_int(rest.trim_start_matches('-'))?
        };
        return Ok(memory_end() - back);
    }
    if let Some(out) = output(line, token)? {
        return Ok(out);
    }
    parse_int(token)
}

/// An output-area token, if `token` is one; its address.
fn output(line: &mut Line, token: &str) -> Result<Option<i64>, String> {
    let (shape, misalign) = match token.split_once('+') {
        Some((shape, k)) => (shape, parse_int(k)? as usize),
        None => (token, 0),
    };
    let (name, n) = match shape.split_once(':') {
        Some((name, n)) => (name, parse_int(n)? as usize),
        None => (shape, 0),
    };
    let (len, make): (usize, fn(usize, usize) -> Out) = match name {
        "u32" => (4, |at, _| Out::U32(at)),
        "u64" => (8, |at, _| Out::U64(at)),
        "fdstat" => (24, |at, _| Out::Fdstat(at)),
        "filestat" => (64, |at, _| Out::Filestat(at)),
        "prestat" => (8, |at, _| Out::Prestat(at)),
        "buf" => (n, Out::Buf),
        "dirents" => (n, Out::Dirents),
        "events" => (n * 32, |at, n| Out::Events(at, n / 32)),
        "secret" => (n, Out::Secret),
        _ => return Ok(None),
    };
    let at = line.alloc(len, misalign)?;
    line.outs.push(make(at, len));
    Ok(Some(arena_base() + at as i64))
}

fn iovecs(line: &mut Line, items: &str) -> Result<(i64, i64), String> {
    let mut pairs = Vec::new();
    for item in tokens(items)? {
        if item.starts_with('"') {
            let data = unquote(&item)?;
            let at = line.put(&data)?;
            pairs.push((arena_base() + at as i64, data.len() as i64));
        } else if let Some(raw) = item.strip_prefix('@') {
            let (ptr, len) = raw.rsplit_once(':').ok_or("@PTR:LEN")?;
            pairs.push((pointer(line, ptr)?, parse_int(len)?));
        } else {
            let len = item
                .strip_prefix("buf:")
                .ok_or_else(|| format!("bad iovec {item}"))?;
            let len = parse_int(len)? as usize;
            let ptr = output(line, &item)?.ok_or("bad iovec buffer")?;
            pairs.push((ptr, len as i64));
        }
    }
    let mut bytes = Vec::new();
    for (ptr, len) in &pairs {
        bytes.extend_from_slice(&(*ptr as u32).to_le_bytes());
        bytes.extend_from_slice(&(*len as u32).to_le_bytes());
    }
    let at = line.put(&bytes)?;
    Ok((arena_base() + at as i64, pairs.len() as i64))
}

/// `sub(clock:ID:TIMEOUT:PRECISION:FLAGS, read:FD, write:FD, tag:N, ...)`:
/// 48-byte subscriptions with userdata 1, 2, …; their address (the count is
/// the script's next argument, so it may disagree).
fn subscriptions(line: &mut Line, items: &str) -> Result<i64, String> {
    let mut bytes = Vec::new();
    for (i, item) in tokens(items)?.iter().enumerate() {
        let mut sub = [0u8; 48];
        sub[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        let fields: Vec<&str> = item.split(':').collect();
        let num = |k: usize| fields.get(k).map_or(Ok(0), |f| parse_int(f));
        match fields[0] {
            "clock" => {
                sub[8] = 0;
                sub[16..20].copy_from_slice(&(num(1)? as u32).to_le_bytes());
                sub[24..32].copy_from_slice(&(num(2)? as u64).to_le_bytes());
                sub[32..40].copy_from_slice(&(num(3)? as u64).to_le_bytes());
                sub[40..42].copy_from_slice(&(num(4)? as u16).to_le_bytes());
            }
            "read" | "write" => {
                sub[8] = if fields[0] == "read" { 1 } else { 2 };
                sub[16..20].copy_from_slice(&(num(1)? as u32).to_le_bytes());
            }
            "tag" => sub[8] = num(1)? as u8,
            other => return Err(format!("bad subscription {other}")),
        }
        bytes.extend_from_slice(&sub);
    }
    let at = line.put(&bytes)?;
    Ok(arena_base() + at as i64)
}

fn parse(tokens: &[String]) -> Result<Line, String> {
    let mut line = Line {
        args: Vec::new(),
        outs: Vec::new(),
        used: 0,
    };
    for token in tokens {
        if token.starts_with('"') {
            let data = unquote(token)?;
            let at = line.put(&data)?;
            line.args.push(arena_base() + at as i64);
            line.args.push(data.len() as i64);
        } else if token.starts_with('\'') {
            let data = unquote(token)?;
            let at = line.put(&data)?;
            line.args.push(arena_base() + at as i64);
        } else if let Some(items) = token.strip_prefix("iov(") {
            let (ptr, n) = iovecs(&mut line, items.trim_end_matches(')'))?;
            line.args.extend([ptr, n]);
        } else if let Some(items) = token.strip_prefix("sub(") {
            let ptr = subscriptions(&mut line, items.trim_end_matches(')'))?;
            line.args.push(ptr);
        } else {
            let value = pointer(&mut line, token)?;
            line.args.push(value);
        }
    }
    Ok(line)
}

/// Gives inode and device numbers stable labels within one run.
#[derive(Default)]
struct Labels(HashMap<(u8, u64), usize>);

impl Labels {
    fn name(&mut self, kind: u8, value: u64) -> String {
        let next = self.0.len() + 1;
        let n = *self.0.entry((kind, value)).or_insert(next);
        format!("{}#{n}", if kind == 0 { "ino" } else { "dev" })
    }
}

fn u64_at(at: usize) -> u64 {
    u64::from_le_bytes(arena()[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(at: usize) -> u32 {
    u32::from_le_bytes(arena()[at..at + 4].try_into().expect("4 bytes"))
}

/// A timestamp: exact when a script set it (small), else `now`/`0`.
fn time(ns: u64) -> String {
    if ns < 1 << 40 {
        ns.to_string()
    } else {
        "now".into()
    }
}

fn show(out: &Out, labels: &mut Labels, text: &mut String) {
    let _ = match *out {
        Out::U32(at) => write!(text, " u32={}", u32_at(at)),
        Out::U64(at) => write!(text, " u64={}", u64_at(at)),
        Out::Fdstat(at) => write!(
            text,
            " fdstat(type={} flags={:#x} base={:#x} inh={:#x})",
            arena()[at],
            u16::from_le_bytes([arena()[at + 2], arena()[at + 3]]),
            u64_at(at + 8),
            u64_at(at + 16)
        ),
        Out::Filestat(at) => {
            let (dev, ino) = (u64_at(at), u64_at(at + 8));
            let dev = if dev == 0 {
                "0".into()
            } else {
                labels.name(1, dev)
            };
            let ino = if ino == 0 {
                "0".into()
            } else {
                labels.name(0, ino)
            };
            // A directory's size depends on the file system holding it.
            let kind = arena()[at + 16];
            let size = if kind == 3 {
                "dir".into()
            } else {
                u64_at(at + 32).to_string()
            };
            let _ = write!(
                text,
                " filestat(dev={dev} ino={ino} type={kind} nlink={} size={size} atim={} mtim={})",
                u64_at(at + 24),
                time(u64_at(at + 40)),
                time(u64_at(at + 48)),
            );
            Ok(())
        }
        Out::Prestat(at) => write!(text, " prestat(tag={} len={})", arena()[at], u32_at(at + 4)),
        Out::Buf(at, n) if n > 64 => {
            let data = &arena()[at..at + n];
            let hash = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            write!(text, " buf(len={n} fnv1a={hash:016x})")
        }
        Out::Buf(at, n) => write!(
            text,
            " buf={:?}",
            String::from_utf8_lossy(&arena()[at..at + n])
        ),
        Out::Secret(at, n) => {
            // Random bytes may be zero: only 8 or more say whether they
            // were written (all zero by chance: 2^-64).
            let touched = arena()[at..at + n].iter().any(|b| *b != 0);
            if n >= 8 {
                write!(text, " secret(len={n} filled={touched})")
            } else {
                write!(text, " secret(len={n})")
            }
        }
        Out::Events(at, n) => {
            for i in 0..n {
                let e = at + i * 32;
                let _ = write!(
                    text,
                    " event(ud={} errno={} type={} nbytes={} flags={})",
                    u64_at(e),
                    u16::from_le_bytes([arena()[e + 8], arena()[e + 9]]),
                    arena()[e + 10],
                    u64_at(e + 16),
                    u16::from_le_bytes([arena()[e + 24], arena()[e + 25]])
                );
            }
            Ok(())
        }
        Out::Dirents(at, n) => {
            let mut i = 0;
            let _ = write!(text, " dirents[");
            while i + 24 <= n {
                let e = at + i;
                let namelen = u32_at(e + 16) as usize;
                let end = (e + 24 + namelen).min(at + n);
                let ino = labels.name(0, u64_at(e + 8));
                let _ = write!(
                    text,
                    "(next={} {ino} type={} {:?})",
                    u64_at(e),
                    arena()[e + 20],
                    String::from_utf8_lossy(&arena()[e + 24..end])
                );
                i += 24 + namelen;
            }
            if i < n {
                let _ = write!(text, "(partial {} bytes)", n - i);
            }
            write!(text, "]")
        }
    };
}

macro_rules! calls {
    ($name:expr, $a:expr; $($f:ident($($t:ident),*);)*) => {
        match $name {
            $(stringify!($f) => {
                let arity = <[&str]>::len(&[$(stringify!($t)),*]);
                if $a.len() != arity {
                    return Err(format!("{} takes {arity} arguments, not {}", $name, $a.len()));
                }
                let mut it = $a.iter().copied();
                let mut next = || it.next().unwrap_or(0);
                // SAFETY: a raw import; the script's arguments are the test.
                #[allow(unreachable_code)]
                Ok(unsafe { raw::$f($(next() as $t),*) })
            })*
            other => Err(format!("unknown function {other}")),
        }
    };
}

#[allow(non_camel_case_types)]
type w = i32;
#[allow(non_camel_case_types)]
type d = i64;

fn call(name: &str, a: &[i64]) -> Result<i32, String> {
    // Parameter names say each argument's type: `w` i32, `d` i64.
    calls! { name, a;
        args_get(w, w); args_sizes_get(w, w); environ_get(w, w); environ_sizes_get(w, w);
        clock_res_get(w, w); clock_time_get(w, d, w);
        fd_advise(w, d, d, w); fd_allocate(w, d, d); fd_close(w); fd_datasync(w);
        fd_fdstat_get(w, w); fd_fdstat_set_flags(w, w); fd_fdstat_set_rights(w, d, d);
        fd_filestat_get(w, w); fd_filestat_set_size(w, d); fd_filestat_set_times(w, d, d, w);
        fd_pread(w, w, w, d, w); fd_prestat_get(w, w); fd_prestat_dir_name(w, w, w);
        fd_pwrite(w, w, w, d, w); fd_read(w, w, w, w); fd_readdir(w, w, w, d, w);
        fd_renumber(w, w); fd_seek(w, d, w, w); fd_sync(w); fd_tell(w, w); fd_write(w, w, w, w);
        path_create_directory(w, w, w); path_filestat_get(w, w, w, w, w);
        path_filestat_set_times(w, w, w, w, d, d, w); path_link(w, w, w, w, w, w, w);
        path_open(w, w, w, w, w, d, d, w, w); path_readlink(w, w, w, w, w, w);
        path_remove_directory(w, w, w); path_rename(w, w, w, w, w, w);
        path_symlink(w, w, w, w, w); path_unlink_file(w, w, w); poll_oneoff(w, w, w, w);
        proc_raise(w); sched_yield(); random_get(w, w);
        sock_accept(w, w, w); sock_recv(w, w, w, w, w, w); sock_send(w, w, w, w, w);
        sock_shutdown(w, w); proc_exit(w);
    }
}

/// Prints a line without panicking when stdout is gone (a script may close it).
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn main() {
    let mut labels = Labels::default();
    for (n, script) in std::env::args().skip(1).enumerate() {
        let parsed = tokens(&script).and_then(|t| {
            let (name, rest) = t.split_first().ok_or("empty line")?;
            Ok((name.clone(), parse(rest)?))
        });
        let (name, line) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                say(&format!("{n}: script error: {e}\n"));
                std::process::exit(99);
            }
        };
        let errno = match call(&name, &line.args) {
            Ok(errno) => errno,
            Err(e) => {
                say(&format!("{n}: script error: {e}\n"));
                std::process::exit(99);
            }
        };
        let mut text = format!("{n}: {name} = {errno}");
        for out in &line.outs {
            show(out, &mut labels, &mut text);
        }
        text.push('\n');
        say(&text);
    }
}
