//! The KVM device every container of this shim gets.
//!
//! A container's `/dev` has no `kvm` node, and its device cgroup would
//! refuse to open one, so the shim opens `/dev/kvm` before it forks
//! anything: runwasi's zygote, and the container processes forked from
//! it, inherit the descriptor. libcontainer marks inherited descriptors
//! close-on-exec, so a Linux container that runs through this shim never
//! keeps it; a Wasm container's function process uses it.
//! The device is the whole capability the function process needs: KVM's
//! own ioctls then make VMs without touching a path.

use std::os::fd::{BorrowedFd, RawFd};
use std::sync::OnceLock;

/// `/dev/kvm` as opened at start, or why it could not be.
static DEVICE: OnceLock<Result<RawFd, String>> = OnceLock::new();

/// KVM's fixed misc device number (10:232).
const KVM_MAJOR: u32 = 10;
const KVM_MINOR: u32 = 232;

/// Where the KVM device is: `/dev/kvm`, or `$WASC_KVM_DEVICE` (containerd
/// passes its environment to shims), as `wasc --kvm-device` does.
pub const DEVICE_ENV: &str = "WASC_KVM_DEVICE";

/// Opens the KVM device for the containers this process will fork. A
/// failure is kept and reported by each Wasm container, as one line.
pub fn open_for_containers() {
    DEVICE.get_or_init(|| {
        let path = std::env::var_os(DEVICE_ENV).unwrap_or_else(|| "/dev/kvm".into());
        let shown = path.to_string_lossy().into_owned();
        std::ffi::CString::new(path.into_encoded_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
            .and_then(|path| {
                // SAFETY: a NUL-terminated path; the result is checked.
                let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(fd)
            })
            .map_err(|e| format!("KVM is not available to the shim: {shown}: {e}"))
    });
}

/// The inherited KVM device, checked to still be KVM's character device.
pub fn device() -> Result<BorrowedFd<'static>, String> {
    let fd = match DEVICE.get() {
        Some(Ok(fd)) => *fd,
        Some(Err(why)) => return Err(why.clone()),
        None => return Err("KVM is not available: the shim did not open /dev/kvm".into()),
    };
    check(fd)?;
    // SAFETY: `fd` was opened by `open_for_containers` and is never closed
    // in this process (the static keeps it for the process's life).
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// Whether `fd` is KVM's character device.
fn check(fd: RawFd) -> Result<(), String> {
    // SAFETY: `stat` is a plain output buffer for fstat.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat only writes `stat`; a closed `fd` fails with EBADF.
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        return Err(format!(
            "KVM is not available: the inherited device is gone: {}",
            std::io::Error::last_os_error()
        ));
    }
    let is_kvm = stat.st_mode & libc::S_IFMT == libc::S_IFCHR
        && libc::major(stat.st_rdev) == KVM_MAJOR
        && libc::minor(stat.st_rdev) == KVM_MINOR;
    if !is_kvm {
        return Err(format!(
            "KVM is not available: descriptor {fd} is not /dev/kvm"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn only_kvm_passes_and_failures_name_kvm() {
        let null = std::fs::File::open("/dev/null").expect("/dev/null");
        let why = check(null.as_raw_fd()).expect_err("/dev/null is not KVM");
        assert!(why.starts_with("KVM is not available"), "{why}");
        let gone = check(-1).expect_err("no descriptor");
        assert!(gone.starts_with("KVM is not available"), "{gone}");
        let kvm = std::fs::File::open("/dev/kvm").expect("/dev/kvm must exist for this test");
        assert_eq!(check(kvm.as_raw_fd()), Ok(()));
    }
}
