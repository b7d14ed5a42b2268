//! `wasc serve`: WAGI HTTP functions, a fresh instance per request.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use wasc_runtime::{HostConfig, Transport, VmSource};
use wasc_serve::{Route, ServeConfig, Server};

use super::flags::InstanceFlags;

/// Serves WebAssembly command modules over HTTP (WAGI): every request runs
/// in a fresh instance, its body on stdin, its response on stdout.
#[derive(Debug, Args)]
pub struct ServeCommand {
    /// The address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    listen: String,

    /// Routes from a TOML file (`[[route]]` with `path`, `module` and the
    /// per-request flags), instead of one MODULE at every path. The flags
    /// given here are every route's defaults for limits.
    #[arg(long, value_name = "FILE", conflicts_with = "module")]
    routes: Option<PathBuf>,

    #[command(flatten)]
    instance: InstanceFlags,

    /// Threads running instances [default: two per core with the sync
    /// transport, one per two cores with poll]
    #[arg(long, value_name = "N")]
    workers: Option<usize>,

    /// Requests that may wait for a worker; past it the server answers 503.
    #[arg(long, value_name = "N", default_value = "256")]
    queue: usize,

    /// The largest request body (K, M or G); past it, 413.
    #[arg(long, value_name = "SIZE", default_value = "1M", value_parser = wasc_runtime::parse_size)]
    max_body: u64,

    /// The largest response, headers and body (K, M or G); past it, 500.
    #[arg(long, value_name = "SIZE", default_value = "8M", value_parser = wasc_runtime::parse_size)]
    max_response: u64,

    /// The module served at every path (`/...`).
    #[arg(value_name = "MODULE", required_unless_present = "routes")]
    module: Option<PathBuf>,
}

/// Sync: two workers per core, since a worker runs sysd itself and waits
/// for host I/O. Poll: one worker per two cores, since a running instance
/// keeps two threads busy (its own and its vCPU's, each spinning while the
/// other works); more starve each other (docs/design.md, "Serving").
fn default_workers(transport: Transport) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match transport {
        Transport::Sync => 2 * cores,
        Transport::Poll => (cores / 2).max(1),
    }
}

impl ServeCommand {
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let flags = &self.instance;
        // Measured: with more instances than cores, poll's spinning vCPU
        // threads starve the rest (docs/design.md, "Serving").
        let transport = flags.transport.unwrap_or(Transport::Sync);
        let workers = self.workers.unwrap_or_else(|| default_workers(transport));
        if workers == 0 {
            bail!("--workers must be at least 1");
        }
        let limits = flags.limits(Some(wasc_serve::routes::DEFAULT_TIMEOUT));
        let routes = match (&self.routes, &self.module) {
            (Some(file), _) => wasc_serve::routes::read(file, limits)?,
            (None, Some(module)) => vec![Route {
                pattern: "/...".into(),
                module: module.clone(),
                dirs: flags.dirs.clone(),
                tmpfs: flags.tmpfs.clone(),
                env: wasc_serve::routes::resolve_env(&flags.env).map_err(anyhow::Error::msg)?,
                limits,
                argv: None,
            }],
            (None, None) => bail!("give a MODULE or --routes FILE"),
        };
        let config = ServeConfig {
            listen: self.listen.clone(),
            host: HostConfig {
                isolation: flags.isolation,
                transport,
                poll_spin_limit: wasc_runtime::POLL_SPIN_LIMIT_SERVING,
                kvm_device: flags.kvm_device.clone().into(),
                vm_source: VmSource::Pool,
                pooling: true,
                single_thread: false,
            },
            routes,
            workers,
            queue: self.queue,
            max_body: usize::try_from(self.max_body).context("--max-body")?,
            max_response: usize::try_from(self.max_response).context("--max-response")?,
            confine: true,
        };
        let server = Server::bind(config)?;
        eprintln!("wasc serve: listening on http://{}", server.local_addr()?);
        server.run_until_signal()?;
        // The log may be gone (its reader closed): the stop still succeeds.
        let _ = writeln!(std::io::stderr(), "wasc serve: stopped");
        Ok(ExitCode::SUCCESS)
    }
}
