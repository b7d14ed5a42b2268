//! A search tool, as `grep -rc` would be: walks the tree under `argv[2]`
//! (default `/t`), reads every regular file and counts the lines that
//! contain `argv[1]`. Prints `files F bytes B lines L matches M`, the same
//! in every isolation mode. Only std: directory listing, stat, open and
//! read through WASI, as real tools do.
use std::path::PathBuf;

fn count(haystack: &[u8], needle: &[u8]) -> (u64, u64) {
    let (mut lines, mut matches) = (0, 0);
    for line in haystack.split(|&b| b == b'\n') {
        lines += 1;
        if line.windows(needle.len()).any(|w| w == needle) {
            matches += 1;
        }
    }
    (lines, matches)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let needle = args.next().expect("usage: tree_search PATTERN [DIR]");
    let root = PathBuf::from(args.next().unwrap_or_else(|| "/t".into()));
    let (mut files, mut bytes, mut lines, mut matches) = (0u64, 0u64, 0u64, 0u64);
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let Ok(data) = std::fs::read(entry.path()) else {
                    continue;
                };
                let (l, m) = count(&data, needle.as_bytes());
                files += 1;
                bytes += data.len() as u64;
                lines += l;
                matches += m;
            }
        }
    }
    println!("files {files} bytes {bytes} lines {lines} matches {matches}");
}
