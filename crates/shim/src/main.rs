//! `containerd-shim-wasc-v1`: containerd's runtime `io.containerd.wasc.v1`.
//!
//! The shim (`start`, `delete`, and the task service daemon) is runwasi's
//! `containerd-shim-wasm` with [`sandbox::WascSandbox`] as its engine.
//! Inside each container runwasi calls the engine's `run_wasi`, which
//! forks the *function process* (`supervise`): single-threaded, running
//! the module as `wasc run` would, confined before the module's code runs
//! (`function`).
//!
//! `/dev/kvm` is opened here, before the shim forks anything, and reaches
//! the function process as an inherited descriptor (`kvm`).

mod cgroup;
mod function;
mod kvm;
mod sandbox;
mod signals;
mod supervise;

use containerd_shim_wasm::shim::Cli;

fn main() {
    kvm::open_for_containers();
    cgroup::open_for_containers();
    sandbox::WascShim::run(None);
}
