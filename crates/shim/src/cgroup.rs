//! The container's memory limit, as its runtime applied it from the OCI
//! spec (`linux.resources.memory.limit`), read back from the container's
//! own cgroup — runwasi hands the engine only args, env and the
//! entrypoint. It bounds the module's linear memory too.
//!
//! Inside the container the cgroup files are where the spec mounts them
//! (`/sys/fs/cgroup`, as CRI's specs do); `ctr`'s default spec mounts none,
//! so the shim also opens the host's cgroup root before it forks, and the
//! container's process reads its own cgroup (from `/proc/self/cgroup`)
//! beneath that descriptor.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::OnceLock;

/// At or above this, a cgroup v1 limit means "none" (the kernel rounds
/// `PAGE_COUNTER_MAX` to a page: 0x7FFFFFFFFFFFF000 on x86-64).
const V1_UNLIMITED: u64 = 1 << 62;

/// The host's `/sys/fs/cgroup`, opened before the fork.
static HOST_ROOT: OnceLock<Option<RawFd>> = OnceLock::new();

/// Opens the host's cgroup root for the containers this process will fork.
pub fn open_for_containers() {
    HOST_ROOT.get_or_init(|| {
        // SAFETY: a NUL-terminated literal path; the result is checked.
        let fd = unsafe {
            libc::open(
                c"/sys/fs/cgroup".as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        (fd >= 0).then_some(fd)
    });
}

/// The memory limit of the cgroup this process is in, if it has one.
pub fn memory_limit() -> Option<u64> {
    let own = |path: &str| std::fs::read_to_string(Path::new("/sys/fs/cgroup").join(path)).ok();
    if let Some(limit) = limit_from(own) {
        return Some(limit);
    }
    let root = (*HOST_ROOT.get()?)?;
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let (v1, v2) = own_cgroups(&membership);
    let beneath = |path: &str| read_at(root, path);
    let file = |dir: Option<&str>, prefix: &str, name: &str| {
        let dir = dir?.trim_start_matches('/');
        Some(if dir.is_empty() {
            format!("{prefix}{name}")
        } else {
            format!("{prefix}{dir}/{name}")
        })
    };
    if let Some(limit) = file(v1.as_deref(), "memory/", "memory.limit_in_bytes")
        .and_then(|p| beneath(&p))
        .and_then(|text| parse_v1(&text))
    {
        return Some(limit);
    }
    file(v2.as_deref(), "", "memory.max")
        .and_then(|p| beneath(&p))
        .and_then(|text| parse_v2(&text))
}

/// The limit from files found by `read` (paths relative to a cgroup
/// mount): v2's `memory.max`, else v1's `memory/memory.limit_in_bytes`.
fn limit_from(read: impl Fn(&str) -> Option<String>) -> Option<u64> {
    if let Some(text) = read("memory.max") {
        return parse_v2(&text);
    }
    parse_v1(&read("memory/memory.limit_in_bytes")?)
}

/// This process's v1 memory cgroup and v2 cgroup, from `/proc/self/cgroup`.
fn own_cgroups(membership: &str) -> (Option<String>, Option<String>) {
    let mut v1 = None;
    let mut v2 = None;
    for line in membership.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            v2 = Some(path.to_owned());
        } else if controllers.split(',').any(|c| c == "memory") {
            v1 = Some(path.to_owned());
        }
    }
    (v1, v2)
}

/// Reads `path` beneath the directory `root`, never above it.
fn read_at(root: RawFd, path: &str) -> Option<String> {
    if path.split('/').any(|c| c == "..") {
        return None;
    }
    let path = CString::new(path).ok()?;
    // SAFETY: `root` is an open directory descriptor kept for the
    // process's life; the path is NUL-terminated; the result is checked.
    let fd = unsafe { libc::openat(root, path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just opened and is owned here.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    std::io::read_to_string(file).ok()
}

fn parse_v2(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => None,
        n => n.parse().ok(),
    }
}

fn parse_v1(text: &str) -> Option<u64> {
    text.trim().parse().ok().filter(|&n| n < V1_UNLIMITED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_max_is_no_limit_and_numbers_are_bytes() {
        assert_eq!(parse_v2("max\n"), None);
        assert_eq!(parse_v2("67108864\n"), Some(64 << 20));
        assert_eq!(parse_v2("garbage"), None);
    }

    #[test]
    fn v1_page_counter_max_is_no_limit() {
        assert_eq!(parse_v1("9223372036854771712\n"), None);
        assert_eq!(parse_v1("33554432\n"), Some(32 << 20));
    }

    #[test]
    fn v2_is_read_before_v1() {
        fn files(
            v2: Option<&'static str>,
            v1: Option<&'static str>,
        ) -> impl Fn(&str) -> Option<String> {
            move |path: &str| match path {
                "memory.max" => v2.map(str::to_owned),
                "memory/memory.limit_in_bytes" => v1.map(str::to_owned),
                _ => None,
            }
        }
        assert_eq!(
            limit_from(files(Some("1048576\n"), Some("5\n"))),
            Some(1 << 20)
        );
        assert_eq!(limit_from(files(None, Some("2097152\n"))), Some(2 << 20));
        assert_eq!(limit_from(files(None, None)), None);
    }

    #[test]
    fn membership_names_the_memory_cgroup_and_the_unified_one() {
        let hybrid = "9:name=systemd:/\n4:memory:/ns/id\n2:cpu,cpuacct:/ns/id\n0::/\n";
        assert_eq!(
            own_cgroups(hybrid),
            (Some("/ns/id".into()), Some("/".into()))
        );
        let unified = "0::/kubepods/pod1/c1\n";
        assert_eq!(
            own_cgroups(unified),
            (None, Some("/kubepods/pod1/c1".into()))
        );
    }

    #[test]
    fn reads_stay_beneath_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("memory/ns")).expect("mkdir");
        std::fs::write(dir.path().join("memory/ns/memory.limit_in_bytes"), "4096\n")
            .expect("write");
        let root = std::fs::File::open(dir.path()).expect("open");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&root);
        assert_eq!(
            read_at(fd, "memory/ns/memory.limit_in_bytes").as_deref(),
            Some("4096\n")
        );
        assert_eq!(
            read_at(fd, "memory/../memory/ns/memory.limit_in_bytes"),
            None
        );
    }
}
