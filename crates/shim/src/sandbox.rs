//! The engine runwasi drives: `run_wasi` is called in the container's init
//! process, after libcontainer made the container (namespaces, root file
//! system, cgroup, stdio from containerd). It resolves the module and the
//! limits the container was given, then hands over to the function
//! process (`crate::supervise`).

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use containerd_shim_wasm::sandbox::context::{RuntimeContext, Source};
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{version, Shim, Version};

use crate::function::Handoff;

/// containerd's runtime `io.containerd.wasc.v1`.
#[derive(Debug)]
pub struct WascShim;

impl Shim for WascShim {
    type Sandbox = WascSandbox;

    fn name() -> &'static str {
        "wasc"
    }

    fn version() -> Version {
        version!()
    }
}

#[derive(Debug, Default)]
pub struct WascSandbox;

impl Sandbox for WascSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> anyhow::Result<i32> {
        // Whatever stops the handoff is one line on the container's
        // stderr and status 1, as `wasc run` reports a start-up error.
        let started = prepare(ctx)
            .map_err(|error| format!("{error:#}"))
            .and_then(crate::supervise::run);
        match started {
            Ok(status) => Ok(status),
            Err(why) => {
                eprintln!("Error: {why}");
                Ok(1)
            }
        }
    }
}

/// Everything the function process needs, checked before the fork.
fn prepare(ctx: &impl RuntimeContext) -> anyhow::Result<Handoff> {
    let entrypoint = ctx.entrypoint();
    if entrypoint.func != "_start" {
        bail!(
            "`#{}` in the entrypoint: WaSC runs WASI commands, whose entry is `_start`",
            entrypoint.func
        );
    }
    let kvm = crate::kvm::device().map_err(anyhow::Error::msg)?;
    let module = match entrypoint.source {
        Source::File(path) => resolve(&path, ctx.envs())?,
        Source::Oci(_) => {
            let bytes = entrypoint.source.as_bytes()?;
            PathBuf::from(format!("/proc/self/fd/{}", memory_file(&bytes)?))
        }
    };
    Ok(Handoff {
        kvm,
        max_memory: crate::cgroup::memory_limit(),
        module,
        argv: ctx.args().to_vec(),
        env: ctx.envs().to_vec(),
    })
}

/// The module file as the entrypoint names it: a path with a `/` is taken
/// as it is (relative to the container's working directory); a bare name is
/// looked for there, then in the container's `PATH`, as runwasi does.
fn resolve(path: &Path, env: &[String]) -> anyhow::Result<PathBuf> {
    if path.as_os_str().is_empty() {
        bail!("the container has no entrypoint: its first argument must be a .wasm file");
    }
    if path.is_absolute() || path.components().count() > 1 || path.is_file() {
        if path.is_file() {
            return Ok(path.to_owned());
        }
        bail!(
            "the entrypoint `{}` is not a file in the container",
            path.display()
        );
    }
    let search = env
        .iter()
        .find_map(|var| var.strip_prefix("PATH="))
        .unwrap_or_default();
    std::env::split_paths(search)
        .map(|dir| dir.join(path))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!(
                "the entrypoint `{}` is not in the working directory or the container's PATH",
                path.display()
            )
        })
}

/// A memory file with a Wasm layer's bytes, for the function process
/// (which reads it by its `/proc/self/fd` path). It stays open for the
/// life of the container process.
fn memory_file(bytes: &[u8]) -> anyhow::Result<RawFd> {
    // SAFETY: a NUL-terminated name; the result is checked.
    let fd = unsafe { libc::memfd_create(c"wasc-module".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create for the module");
    }
    // SAFETY: `fd` was just created and nothing else owns it.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    std::io::Write::write_all(&mut &file, bytes).context("writing the module to a memory file")?;
    Ok(OwnedFd::from(file).into_raw_fd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_are_found_in_path_and_missing_ones_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("fn.wasm"), b"\0asm").expect("write");
        let path = format!("PATH=/nonexistent:{}", dir.path().display());
        let found = resolve(Path::new("fn.wasm"), std::slice::from_ref(&path)).expect("found");
        assert_eq!(found, dir.path().join("fn.wasm"));
        let missing = resolve(Path::new("other.wasm"), &[path]).expect_err("missing");
        assert!(missing.to_string().contains("other.wasm"), "{missing}");
        let absolute = dir.path().join("fn.wasm");
        assert_eq!(resolve(&absolute, &[]).expect("absolute"), absolute);
        assert!(resolve(&dir.path().join("nope.wasm"), &[]).is_err());
        assert!(resolve(Path::new(""), &[]).is_err());
    }
}
