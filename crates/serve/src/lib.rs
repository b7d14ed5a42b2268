//! `wasc serve`: HTTP functions under the WAGI contract, every request in a
//! fresh instance (a VM from the pool, fresh linear memory, descriptor
//! table and tmpfs).
//!
//! Untrusted input: requests from the network (parsed by hyper; the
//! contract in the `wasc-wagi` crate, re-exported as [`wagi`]) and
//! everything a module prints (parsed by [`wagi::parse_response`],
//! fuzzed). The pieces: [`routes`] (the route
//! table and its TOML file), `workers` (threads that make and run
//! instances, confined), `http` (the hyper server, per-request pipes,
//! statuses, the access log).

mod http;
pub mod routes;
mod workers;

pub use http::{ServeConfig, Server};
pub use routes::{Route, RoutesError};

/// Errors found before serving starts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Runtime(#[from] wasc_runtime::Error),
    #[error(transparent)]
    Routes(#[from] RoutesError),
    #[error("failed to listen on `{addr}`: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("failed to start the server: {0}")]
    Start(std::io::Error),
}
