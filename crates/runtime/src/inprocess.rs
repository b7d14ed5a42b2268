//! `--isolation none`: wasmtime-wasi's preview-1 implementation in this
//! process. This is the reference semantics that sysd is tested against and
//! the baseline of every benchmark, configured as `wasmtime run` configures it.

use wasmtime::{Config, Engine, Linker, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::{load_module, Error, Outcome, RunConfig};

pub(crate) fn run(config: &RunConfig) -> Result<Outcome, Error> {
    let engine = Engine::new(&Config::new()).map_err(Error::CreateEngine)?;
    let module = load_module(&engine, &config.module)?;

    let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |ctx| ctx).map_err(Error::LinkWasi)?;

    let mut store = Store::new(&engine, wasi_context(config)?);
    crate::instantiate_and_start(config, &linker, &mut store, &module)
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
