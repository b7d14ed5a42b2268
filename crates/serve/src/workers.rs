//! The threads that make and run instances. Requests reach them through a
//! bounded queue: a full queue is the server's 503, never an unbounded
//! backlog. With VM isolation each worker confines itself
//! (`wasc_runtime::confine_worker`) before it takes its first job.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasc_runtime::{FunctionModule, InstanceConfig, Outcome, Runtime};

/// One request's instance: which route's module, and what it gets.
pub(crate) struct Job {
    pub route: usize,
    pub config: InstanceConfig,
    pub done: tokio::sync::oneshot::Sender<Done>,
}

/// How a job ended.
pub(crate) struct Done {
    /// The instance's outcome, or why it could not be made.
    pub outcome: Result<Outcome, wasc_runtime::Error>,
    /// How long making the instance took (VM taken, grants, instance data).
    pub start: Duration,
}

/// The queue is full, or the workers are gone.
#[derive(Debug)]
pub(crate) struct Busy;

pub(crate) struct Workers {
    queue: Option<SyncSender<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl Workers {
    /// Starts `count` workers sharing a queue of `queue` waiting jobs. Each
    /// confines itself first if `confine`; a worker that cannot is an
    /// error here, before anything is served.
    pub(crate) fn start(
        runtime: Arc<Runtime>,
        modules: Arc<Vec<FunctionModule>>,
        count: usize,
        queue: usize,
        confine: bool,
    ) -> Result<Self, wasc_runtime::Error> {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let mut workers = Self {
            queue: Some(sender),
            threads: Vec::with_capacity(count),
        };
        for i in 0..count {
            let (runtime, modules, receiver) = (runtime.clone(), modules.clone(), receiver.clone());
            let ready = ready_tx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("wasc-worker-{i}"))
                .spawn(move || {
                    let confined = if confine {
                        wasc_runtime::confine_worker()
                    } else {
                        Ok(())
                    };
                    let ok = confined.is_ok();
                    let _ = ready.send(confined);
                    if ok {
                        work(&runtime, &modules, &receiver);
                    }
                })
                .map_err(|e| wasc_runtime::Error::Confine(format!("starting a worker: {e}")))?;
            workers.threads.push(thread);
        }
        for _ in 0..count {
            ready_rx
                .recv()
                .unwrap_or_else(|_| Err(wasc_runtime::Error::Confine("a worker ended".into())))?;
        }
        Ok(workers)
    }

    /// Queues `job`; `Busy` (and the job dropped, its pipes closed) if the
    /// queue is full or the workers are gone.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Busy> {
        let queue = self.queue.as_ref().ok_or(Busy)?;
        queue.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) | TrySendError::Disconnected(_) => Busy,
        })
    }

    /// Lets the workers finish the queued jobs, then joins them.
    pub(crate) fn stop(&mut self) {
        self.queue = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop();
    }
}

fn work(runtime: &Runtime, modules: &[FunctionModule], receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
            match receiver.recv() {
                Ok(job) => job,
                // The server stopped and the queue is empty.
                Err(_) => return,
            }
        };
        let started = Instant::now();
        let instance = runtime.instance(&modules[job.route], job.config);
        let start = started.elapsed();
        let (outcome, instance) = match instance {
            Ok(mut instance) => (Ok(instance.run_and_end()), Some(instance)),
            Err(e) => (Err(e), None),
        };
        // The request may have been abandoned (client gone): nothing to do.
        let _ = job.done.send(Done { outcome, start });
        // Answered: now the instance's VM goes back to the pool (reset).
        // Dropping the instance in process closes its stdio too.
        drop(instance);
    }
}
