//! What one VM instance is granted, made ready before its VM is taken:
//! the directories opened, the listeners bound, and the instance data sysd
//! reads at start (arguments, environment, preopen names, tmpfs quotas).

use std::os::fd::{AsRawFd, OwnedFd};

use wasc_executor::StdioFd;

use crate::{Error, InstanceConfig};

/// The instance's directory handles: duplicates of the ones opened in
/// advance (`InstanceConfig::opened_dirs`), or the `--dir` paths opened
/// now.
pub(super) fn open_dirs(config: &InstanceConfig) -> Result<Vec<OwnedFd>, Error> {
    if !config.opened_dirs.is_empty() {
        return config
            .opened_dirs
            .iter()
            .zip(&config.dirs)
            .map(|(dir, mapping)| {
                dir.try_clone().map_err(|source| Error::OpenDir {
                    host: mapping.host.clone(),
                    source,
                })
            })
            .collect();
    }
    config.dirs.iter().map(crate::open_dir).collect()
}

/// Binds and listens on every `--tcplisten` address, in order (the
/// executor makes each non-blocking). All of this happens before
/// confinement: the policy has no `socket`, `bind` or `listen`.
pub(super) fn listen(config: &InstanceConfig) -> Result<Vec<OwnedFd>, Error> {
    config
        .tcplisten
        .iter()
        .map(|addr| {
            std::net::TcpListener::bind(addr.0.as_str())
                .map(OwnedFd::from)
                .map_err(|source| Error::Listen {
                    addr: addr.0.clone(),
                    source,
                })
        })
        .collect()
}

/// What sysd reads at start, each a run of NUL-terminated strings.
pub(super) struct Strings {
    pub(super) args: Vec<u8>,
    pub(super) env: Vec<u8>,
    /// Guest names of the preopened directories, in handle order, then of
    /// the memory file systems.
    pub(super) preopens: Vec<u8>,
    /// Each memory file system's quota in decimal.
    pub(super) tmpfs: Vec<u8>,
}

/// Which of the instance's stdin, stdout and stderr (bits 0, 1, 2) are
/// terminals: the module sees those as character devices, as with wasmtime.
pub(super) fn terminals(stdio: &[StdioFd; 3]) -> u32 {
    let mut bits = 0;
    for (i, fd) in stdio.iter().enumerate() {
        let raw = match fd {
            StdioFd::Inherited(raw) => *raw,
            StdioFd::Owned(fd) => fd.as_raw_fd(),
        };
        // SAFETY: isatty only inspects the descriptor.
        if unsafe { libc::isatty(raw) } == 1 {
            bits |= 1 << i;
        }
    }
    bits
}

pub(super) fn instance_data(config: &InstanceConfig) -> Result<Strings, Error> {
    let mut args = Vec::new();
    for arg in &config.argv {
        args.extend_from_slice(arg.as_bytes());
        args.push(0);
    }
    let mut env = Vec::new();
    for (name, value) in &config.env {
        env.extend_from_slice(format!("{name}={value}").as_bytes());
        env.push(0);
    }
    let mut preopens = Vec::new();
    for dir in &config.dirs {
        preopens.extend_from_slice(dir.guest.as_bytes());
        preopens.push(0);
    }
    let mut tmpfs = Vec::new();
    let mut total = 0u64;
    for mount in &config.tmpfs {
        preopens.extend_from_slice(mount.guest.as_bytes());
        preopens.push(0);
        tmpfs.extend_from_slice(mount.size.to_string().as_bytes());
        tmpfs.push(0);
        total = total.saturating_add(mount.size);
    }
    if wasc_wire::layout::tmpfs_region(total) >= wasc_wire::layout::TMPFS_MAX
        || config.tmpfs.len() > 16
    {
        return Err(Error::TmpfsTooLarge(total));
    }
    Ok(Strings {
        args,
        env,
        preopens,
        tmpfs,
    })
}
