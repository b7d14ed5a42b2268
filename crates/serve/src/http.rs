//! The HTTP side: hyper 1 on tokio, HTTP/1.1 with keep-alive and
//! `TCP_NODELAY`. Each request gets three pipes — its body is written to
//! the instance's stdin, its stdout (the response, capped) and stderr (the
//! server's log, tagged with the request) are read while it runs — and one
//! access-log line. Errors reach the client as short generic bodies; the
//! details go to the log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasc_runtime::{HostConfig, InstanceConfig, Isolation, Outcome, Runtime, Stdio};

use crate::routes::{self, Route};
use crate::workers::{Done, Job, Workers};
use crate::Error;
use wasc_wagi::{self as wagi, RequestInfo, ResponseError, RouteInfo};

/// A line for the server's log (stderr). A log that cannot be written
/// (its reader gone) loses the line; it never stops a request, as
/// `eprintln!`'s panic would.
macro_rules! log {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Everything `wasc serve` is given.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// `HOST:PORT` to listen on.
    pub listen: String,
    pub host: HostConfig,
    pub routes: Vec<Route>,
    /// Threads running instances.
    pub workers: usize,
    /// Requests that may wait for a worker; past it, 503.
    pub queue: usize,
    /// The largest request body; past it, 413.
    pub max_body: usize,
    /// The largest response (headers and body); past it, 500.
    pub max_response: usize,
    /// Confine the network threads, and the thread that calls
    /// [`Server::run`], with the network seccomp policy (`wasc serve`
    /// does; that thread must do nothing else afterwards).
    pub confine: bool,
}

/// What the request handlers share.
struct Shared {
    confine: bool,
    routes: Vec<Route>,
    /// Each route's `--dir`s, opened at start: confined workers cannot
    /// open paths, so every instance gets duplicates of these.
    dirs: Vec<Vec<Arc<OwnedFd>>>,
    workers: Workers,
    max_body: usize,
    max_response: usize,
    port: u16,
    next_id: AtomicU64,
}

/// A bound server, ready to run.
pub struct Server {
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    /// Kept alive while serving: its engine, ticker and pool.
    _runtime: Arc<Runtime>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// Stderr bytes kept per request for the log.
const MAX_LOGGED_STDERR: usize = 16 << 10;

impl Server {
    /// Compiles every route's module, starts the runtime (template, pool,
    /// ticker) and the workers, and binds the listener: every error that
    /// can stop a server is found here, before the first request.
    pub fn bind(config: ServeConfig) -> Result<Self, Error> {
        if config.routes.is_empty() {
            return Err(crate::RoutesError::Empty.into());
        }
        for route in &config.routes {
            routes::check_pattern(&route.pattern)?;
        }
        let isolation = config.host.isolation;
        let runtime = Arc::new(Runtime::new(config.host)?);
        let modules = config
            .routes
            .iter()
            .map(|route| runtime.compile_file(&route.module))
            .collect::<Result<Vec<_>, _>>()?;
        runtime.warm_up(config.workers)?;
        let workers = Workers::start(
            runtime.clone(),
            Arc::new(modules),
            config.workers,
            config.queue,
            isolation == Isolation::Vm,
        )?;
        let listener =
            std::net::TcpListener::bind(&config.listen).map_err(|source| Error::Listen {
                addr: config.listen.clone(),
                source,
            })?;
        let port = listener.local_addr().map_err(Error::Start)?.port();
        let dirs = config
            .routes
            .iter()
            .map(|route| {
                route
                    .dirs
                    .iter()
                    .map(|dir| wasc_runtime::open_dir(dir).map(Arc::new))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            listener,
            shared: Arc::new(Shared {
                confine: config.confine,
                dirs,
                routes: config.routes,
                workers,
                max_body: config.max_body,
                max_response: config.max_response,
                port,
                next_id: AtomicU64::new(1),
            }),
            _runtime: runtime,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGINT or SIGTERM, then stops gracefully.
    pub fn run_until_signal(self) -> Result<(), Error> {
        self.run(async {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                log!("wasc serve: cannot watch SIGINT and SIGTERM; stop it with SIGKILL");
                return std::future::pending().await;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }

    /// Serves until `stop` completes; then accepts nothing more, lets the
    /// requests in flight finish, and stops the workers.
    pub fn run(self, stop: impl std::future::Future<Output = ()>) -> Result<(), Error> {
        let confine = self.shared.confine;
        let network = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("wasc-net")
            .enable_io()
            .enable_time()
            .on_thread_start(move || {
                if confine {
                    confine_network_thread();
                }
            })
            .build()
            .map_err(Error::Start)?;
        let Server {
            listener, shared, ..
        } = self;
        // Before confinement: `FIONBIO` is no call of the network policy.
        listener.set_nonblocking(true).map_err(Error::Start)?;
        let listener = {
            let _context = network.enter();
            tokio::net::TcpListener::from_std(listener).map_err(Error::Start)?
        };
        if confine {
            wasc_seccomp::install(wasc_seccomp::ThreadKind::Network)
                .map_err(|e| Error::Start(std::io::Error::other(e.to_string())))?;
        }
        let serving = shared.clone();
        network.block_on(async move {
            let shared = serving;
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let (stream, peer) = match accepted {
                            Ok(pair) => pair,
                            // Out of descriptors, a reset before accept:
                            // keep serving the others.
                            Err(e) => {
                                log!("wasc serve: accept: {e}");
                                tokio::time::sleep(Duration::from_millis(10)).await;
                                continue;
                            }
                        };
                        let _ = stream.set_nodelay(true);
                        let shared = shared.clone();
                        let service = hyper::service::service_fn(move |req| {
                            let shared = shared.clone();
                            async move { Ok::<_, Infallible>(handle(&shared, peer, req).await) }
                        });
                        let connection = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        let connection = graceful.watch(connection);
                        tokio::spawn(async move {
                            let _ = connection.await;
                        });
                    }
                    () = &mut stop => break,
                }
            }
            drop(listener);
            graceful.shutdown().await;
            drop(shared);
            Ok::<(), Error>(())
        })?;
        // Connection tasks may still hold their clone for a moment.
        drop(network);
        // Every connection has ended: let the workers finish and go.
        match Arc::try_unwrap(shared) {
            Ok(mut shared) => shared.workers.stop(),
            Err(_) => log!("wasc serve: a request outlived the server"),
        }
        Ok(())
    }
}

/// A tokio thread's start: it runs no code of ours before this, so a
/// failure can only end the process, with one line.
fn confine_network_thread() {
    if let Err(e) = wasc_seccomp::install(wasc_seccomp::ThreadKind::Network) {
        log!("wasc serve: confining a network thread: {e}");
        std::process::exit(1);
    }
}

/// One request, start to end, and its access-log line.
async fn handle(
    shared: &Shared,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (response, start) = match serve(shared, id, peer, req).await {
        Ok(served) => served,
        Err(failure) => {
            log!("[req {id}] {}", failure.detail);
            (plain(failure.status), None)
        }
    };
    let bytes = hyper::body::Body::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    log!(
        "{peer} \"{method} {path}\" {} {bytes} {:.3}ms start={}",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1e3,
        start.map_or("-".to_owned(), |d| format!("{}us", d.as_micros())),
    );
    response
}

/// A request that ends in an error status, with what the log says.
struct Failure {
    status: StatusCode,
    detail: String,
}

fn fail(status: StatusCode, detail: impl Into<String>) -> Failure {
    Failure {
        status,
        detail: detail.into(),
    }
}

/// A short, generic body for an error status.
fn plain(status: StatusCode) -> Response<Full<Bytes>> {
    let text = format!("{}\n", status.canonical_reason().unwrap_or("error"));
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    response
}

async fn serve(
    shared: &Shared,
    id: u64,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<(Response<Full<Bytes>>, Option<Duration>), Failure> {
    let path = req.uri().path().to_owned();
    let (index, route) = routes::find(&shared.routes, &path)
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, format!("no route for {path}")))?;
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.max_body as u64) {
        return Err(fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            "declared body over --max-body",
        ));
    }
    let (parts, body) = req.into_parts();
    let body = Limited::new(body, shared.max_body)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                fail(StatusCode::PAYLOAD_TOO_LARGE, "body over --max-body")
            } else {
                fail(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
            }
        })?
        .to_bytes();

    let protocol = format!("{:?}", parts.version);
    let request = RequestInfo {
        method: parts.method.as_str(),
        path: &path,
        query: parts.uri.query().unwrap_or(""),
        protocol: &protocol,
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect(),
        content_length: body.len(),
        remote_addr: peer.ip().to_string(),
        local_port: shared.port,
    };
    let info = RouteInfo {
        pattern: &route.pattern,
        script_name: route.script_name(),
        argv_template: route.argv.as_deref(),
    };
    let internal = |what: &str, e: std::io::Error| {
        fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{what}: {e}"))
    };
    let (stdin_r, stdin_w) = std::io::pipe().map_err(|e| internal("stdin pipe", e))?;
    let (stdout_r, stdout_w) = std::io::pipe().map_err(|e| internal("stdout pipe", e))?;
    let (stderr_r, stderr_w) = std::io::pipe().map_err(|e| internal("stderr pipe", e))?;
    let mut stdin_w = tokio::net::unix::pipe::Sender::from_owned_fd(stdin_w.into())
        .map_err(|e| internal("stdin pipe", e))?;
    let mut stdout_r = tokio::net::unix::pipe::Receiver::from_owned_fd(stdout_r.into())
        .map_err(|e| internal("stdout pipe", e))?;
    let mut stderr_r = tokio::net::unix::pipe::Receiver::from_owned_fd(stderr_r.into())
        .map_err(|e| internal("stderr pipe", e))?;
    let config = InstanceConfig {
        argv: wagi::argv(&request, &info),
        env: wagi::environment(&request, &info, &route.env),
        dirs: route.dirs.clone(),
        opened_dirs: shared.dirs[index].clone(),
        tmpfs: route.tmpfs.clone(),
        tcplisten: Vec::new(),
        stdio: Stdio {
            stdin: Some(OwnedFd::from(stdin_r)),
            stdout: Some(stdout_w.into()),
            stderr: Some(stderr_w.into()),
        },
        limits: route.limits,
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let job = Job {
        route: index,
        config,
        done: done_tx,
    };
    if shared.workers.submit(job).is_err() {
        return Err(fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "every worker busy and the queue full",
        ));
    }

    let write_body = async move {
        // A module that never reads its body closes the pipe: fine.
        let _ = stdin_w.write_all(&body).await;
        drop(stdin_w);
    };
    let max_response = shared.max_response;
    let read_stdout = async move {
        let mut out = Vec::new();
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            match stdout_r.read(&mut chunk).await {
                Ok(0) | Err(_) => return (out, false),
                Ok(n) if out.len() + n > max_response => return (out, true),
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
        }
        // Returning drops the reader: a module still writing gets EPIPE.
    };
    let read_stderr = async move {
        let mut kept = Vec::new();
        let mut chunk = vec![0u8; 16 << 10];
        loop {
            match stderr_r.read(&mut chunk).await {
                Ok(0) | Err(_) => return kept,
                Ok(n) => {
                    let room = MAX_LOGGED_STDERR.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                }
            }
        }
    };
    let ((), (stdout, overflowed), stderr, done) =
        tokio::join!(write_body, read_stdout, read_stderr, done_rx);
    for line in String::from_utf8_lossy(&stderr).lines() {
        log!("[req {id}] stderr: {line}");
    }
    let Ok(Done { outcome, start }) = done else {
        return Err(fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the worker ended without an answer",
        ));
    };
    let outcome =
        outcome.map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, format!("instance: {e}")))?;
    let failed = match outcome {
        Outcome::Exited(0) => None,
        Outcome::TimedOut(limit) => Some(fail(
            StatusCode::GATEWAY_TIMEOUT,
            format!("past its --timeout of {limit:?}"),
        )),
        Outcome::Exited(status) => Some(fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("exited with status {status}"),
        )),
        Outcome::Trapped(e) | Outcome::Failed(e) => {
            Some(fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
        }
        Outcome::NotStarted(e) => Some(fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    };
    if let Some(failure) = failed {
        return Err(failure);
    }
    if overflowed {
        return Err(fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "response over --max-response",
        ));
    }
    let parsed = wagi::parse_response(&stdout).map_err(|e| match e {
        ResponseError::BadStatus => fail(StatusCode::BAD_GATEWAY, e.to_string()),
        ResponseError::NoHeaderBlock(_) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    })?;
    let mut builder = Response::builder().status(parsed.status);
    for (name, value) in &parsed.headers {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let body = Bytes::from(stdout).slice(parsed.body_start..);
    let response = builder.body(Full::new(body)).map_err(|e| {
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("response headers: {e}"),
        )
    })?;
    Ok((response, Some(start)))
}
