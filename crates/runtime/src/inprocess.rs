//! `--isolation none`: wasmtime-wasi's preview-1 implementation in this
//! process. This is the reference semantics that sysd is tested against and
//! the baseline of every benchmark, configured as `wasmtime run` configures it.

use wasmtime::{Config, Engine, Linker, Store, StoreLimits};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::limits::{Deadline, HasLimits};
use crate::{load_module, Error, Outcome, RunConfig};

pub(crate) fn run(config: &RunConfig) -> Result<Outcome, Error> {
    let mut engine_config = Config::new();
    engine_config.epoch_interruption(true);
    let engine = Engine::new(&engine_config).map_err(Error::CreateEngine)?;
    let module = load_module(&engine, &config.module)?;

    let mut linker: Linker<InProcess> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |data| &mut data.wasi)
        .map_err(Error::LinkWasi)?;

    let data = InProcess {
        wasi: wasi_context(config)?,
        limits: config.limits.store_limits(),
    };
    let mut store = Store::new(&engine, data);
    let deadline = Deadline::arm(&engine, config.limits.timeout)?;
    crate::instantiate_and_start(config, &linker, &mut store, &module, &deadline)
}

/// The store's data: the WASI context and the run's limits.
struct InProcess {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

impl HasLimits for InProcess {
    fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }
}

fn wasi_context(config: &RunConfig) -> Result<WasiP1Ctx, Error> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .inherit_stdio()
        .allow_blocking_current_thread(true)
        .args(&config.argv()?)
        .envs(&config.environment()?);
    for dir in &config.dirs {
        builder
            .preopened_dir(&dir.host, &dir.guest, FsPerms::ReadWrite)
            .map_err(|source| Error::OpenDir {
                host: dir.host.clone(),
                source: into_io_error(source),
            })?;
    }
    Ok(builder.build_p1())
}

fn into_io_error(error: wasmtime::Error) -> std::io::Error {
    match error.downcast::<std::io::Error>() {
        Ok(io) => io,
        Err(other) => std::io::Error::other(format!("{other:#}")),
    }
}
