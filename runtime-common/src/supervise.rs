//! Worker threads: start-up report, supervision, SIGINT/SIGTERM, and the shutdown that
//! stops every worker whatever woke the main thread.

use std::sync::Arc;

use anyhow::{anyhow, Context};
use ingest::startup::{log_listening, Started};
use ingest::GatewayArgs;
use tokio::sync::mpsc;

use crate::bind_reuse_port;
use crate::worker::{Shared, Shutdown, Worker};

/// One engine: how a worker thread gets its runtime and runs on it. Everything else
/// about threads, listeners, signals and shutdown is [`serve`]'s.
pub trait Engine: Send + Sync + 'static {
    /// What one worker thread runs on (say, a tokio-uring runtime or a current-thread
    /// tokio runtime).
    type Runtime;

    /// The engine's name in the start-up line and in thread names: `io_uring`, `epoll`.
    const NAME: &'static str;

    /// Builds a worker's runtime, on that worker's thread. An error fails start-up
    /// before anything is served; its message should say what the operator can do.
    fn build_runtime(&self) -> anyhow::Result<Self::Runtime>;

    /// Serves `worker` on `runtime` until [`Worker::shutdown`] is raised, then drains
    /// its connections within the grace period ([`crate::accept_loop`] does both).
    fn run(&self, runtime: Self::Runtime, worker: Worker);
}

/// Why the main thread stopped waiting.
#[derive(Debug, PartialEq, Eq)]
enum Wakeup {
    /// SIGINT or SIGTERM: a normal shutdown.
    Signal,
    /// Worker `index` ended before shutdown was asked for (it panicked).
    WorkerExited(usize),
}

/// Tells the main thread when a worker thread ends, however it ends: dropped on
/// return and while unwinding from a panic.
struct ExitNotice {
    index: usize,
    exits: mpsc::UnboundedSender<usize>,
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        let _ = self.exits.send(self.index);
    }
}

/// Waits on the calling (main) thread for SIGINT, SIGTERM or a worker's end.
fn wait_for_shutdown(exits: &mut mpsc::UnboundedReceiver<usize>) -> anyhow::Result<Wakeup> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        Ok(tokio::select! {
            result = tokio::signal::ctrl_c() => result.map(|()| Wakeup::Signal)?,
            _ = terminate.recv() => Wakeup::Signal,
            Some(index) = exits.recv() => Wakeup::WorkerExited(index),
        })
    })
}

/// Starts one thread per listener, each building its own runtime, and returns once
/// every runtime is built, or with the first worker's set-up error.
fn start_workers<E: Engine>(
    engine: &Arc<E>,
    listeners: Vec<std::net::TcpListener>,
    shared: &Arc<Shared>,
    shutdown: &Shutdown,
    exits: &mpsc::UnboundedSender<usize>,
) -> (Vec<std::thread::JoinHandle<()>>, anyhow::Result<()>) {
    let (ready_sender, ready) = std::sync::mpsc::channel();
    let mut threads = Vec::with_capacity(listeners.len());
    for (index, listener) in listeners.into_iter().enumerate() {
        let engine = Arc::clone(engine);
        let worker = Worker {
            index,
            listener,
            shared: Arc::clone(shared),
            shutdown: shutdown.clone(),
        };
        let ready = ready_sender.clone();
        let notice = ExitNotice {
            index,
            exits: exits.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("{}-{index}", E::NAME))
            .spawn(move || {
                let _notice = notice;
                let runtime = match engine.build_runtime() {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                engine.run(runtime, worker);
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(error) => return (threads, Err(error).context("cannot start worker threads")),
        }
    }
    drop(ready_sender);
    let all_ready = (0..threads.len()).try_for_each(|_| match ready.recv() {
        Ok(result) => result,
        Err(_) => Err(anyhow!("a worker thread ended during start-up")),
    });
    (threads, all_ready)
}

/// Serves the gateway `started` with `engine` on `args.worker_count()` worker threads,
/// each with its own `SO_REUSEPORT` listener on `args.listen`, until SIGINT or SIGTERM;
/// then stops accepting, lets in-flight connections finish within the grace period and
/// returns `Ok`. The caller flushes the producer afterwards.
///
/// # Errors
///
/// If a listener cannot be bound or a worker's runtime cannot be built (nothing is
/// served then), or if a worker ended on its own (it panicked): every other worker is
/// stopped and drained first, so the caller can still flush and exit non-zero.
pub fn serve<E: Engine>(engine: E, args: &GatewayArgs, started: &Started) -> anyhow::Result<()> {
    let listeners = (0..args.worker_count())
        .map(|_| bind_reuse_port(args.listen))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let shared = Arc::new(Shared::new(args, Arc::clone(&started.gateway)));
    let (shutdown_sender, shutdown) = Shutdown::channel();
    let (exit_sender, mut exits) = mpsc::unbounded_channel();
    let engine = Arc::new(engine);
    let (threads, all_ready) = start_workers(&engine, listeners, &shared, &shutdown, &exit_sender);
    drop(exit_sender);
    let wakeup = all_ready.and_then(|()| {
        log_listening(E::NAME, args, started);
        wait_for_shutdown(&mut exits).context("cannot wait for signals")
    });

    // Whatever woke us, stop every worker before returning: a listener nobody serves
    // must not outlive a failed worker.
    shared.gateway.begin_shutdown();
    if matches!(wakeup, Ok(Wakeup::Signal)) {
        tracing::info!("shutdown: not accepting; finishing in-flight requests");
    }
    let _ = shutdown_sender.send(true);
    let mut panicked = 0;
    for thread in threads {
        panicked += usize::from(thread.join().is_err());
    }
    match wakeup? {
        Wakeup::Signal if panicked == 0 => Ok(()),
        Wakeup::Signal => Err(anyhow!("{panicked} worker thread(s) panicked")),
        Wakeup::WorkerExited(index) => Err(anyhow!(
            "worker {index} stopped unexpectedly (panicked); the gateway shut down"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_panics_wakes_the_main_thread() {
        let (exit_sender, mut exits) = mpsc::unbounded_channel();
        let notice = ExitNotice {
            index: 3,
            exits: exit_sender,
        };
        let worker = std::thread::spawn(move || {
            let _notice = notice;
            panic!("worker failure under test");
        });
        assert!(worker.join().is_err());
        assert_eq!(
            wait_for_shutdown(&mut exits).unwrap(),
            Wakeup::WorkerExited(3)
        );
    }
}
