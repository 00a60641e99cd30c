//! Worker threads: start-up report, supervision, SIGINT/SIGTERM, and the shutdown that
//! stops every worker whatever woke the main thread.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use ingest::Gateway;
use tokio::sync::mpsc;

use crate::worker::{Shared, Shutdown, Worker};
use crate::{bind_workers, ServeSettings};

/// One engine: how a worker thread sets itself up and serves. Everything else about
/// threads, listeners, signals and shutdown is [`serve`]'s.
///
/// An engine may be an async runtime (tokio-uring, tokio's current-thread runtime) or
/// a loop that owns its thread and has none: the trait asks for neither.
pub trait Engine: Send + Sync + 'static {
    /// A worker set up on its thread and ready to serve: say, a tokio-uring runtime
    /// with the [`Worker`], or a loop with its ring or epoll instance.
    type Ready;

    /// The engine's name in the start-up line: `io_uring`, `epoll`.
    const NAME: &'static str;

    /// The worker threads' names are this, `-`, and the worker's index.
    const THREAD_NAME: &'static str = Self::NAME;

    /// Sets `worker` up on its own thread (build a runtime, a ring...). An error fails
    /// start-up before anything is served; its message should say what the operator
    /// can do.
    fn set_up(&self, worker: Worker) -> anyhow::Result<Self::Ready>;

    /// What the start-up log reports about a set-up worker beyond the engine's name
    /// (say, the io_uring features in effect); nothing by default.
    fn features(&self, _ready: &Self::Ready) -> Option<String> {
        None
    }

    /// Serves until [`Worker::shutdown`] is raised, then drains the worker's
    /// connections within the grace period ([`crate::accept_loop`] does both for an
    /// async engine).
    fn run(&self, ready: Self::Ready);
}

/// A gateway that start-up built, as [`serve`] needs it: `gateway_cli::Started` is
/// one. A trait rather than that type, so this crate needs neither the command line nor
/// start-up.
pub trait StartedGateway {
    /// The gateway every worker serves.
    fn gateway(&self) -> &Arc<Gateway>;

    /// Logs the one start-up line: `server` listens on `bound` (the address the kernel
    /// gave, when the settings asked for port 0) with `workers` worker threads.
    fn log_listening(&self, server: &str, bound: SocketAddr, workers: NonZeroUsize);
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

/// SIGINT and SIGTERM, caught from the moment this exists, waited for on the main
/// thread.
///
/// The one signal mechanism of every raw-TCP server, whatever its engine: a small
/// current-thread tokio runtime private to the main thread, not the workers'. A
/// worker that has no runtime (runtime-loop) is not involved: the handler only wakes
/// the main thread, which raises [`Shutdown`] and so wakes the workers. A signal may
/// interrupt a worker's blocking call (`epoll_wait`, `io_uring_enter`) with `EINTR`;
/// a loop treats that as a spurious wake-up.
struct Signals {
    runtime: tokio::runtime::Runtime,
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers. Called before the listeners are bound, so a client that
    /// can connect can also stop the server gracefully.
    fn catch() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let _entered = runtime.enter();
        let interrupt = signal(SignalKind::interrupt())?;
        let terminate = signal(SignalKind::terminate())?;
        drop(_entered);
        Ok(Self {
            runtime,
            interrupt,
            terminate,
        })
    }

    /// Waits on the calling (main) thread for SIGINT, SIGTERM or a worker's end.
    fn wait(&mut self, exits: &mut mpsc::UnboundedReceiver<usize>) -> Wakeup {
        let Self {
            runtime,
            interrupt,
            terminate,
        } = self;
        runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => Wakeup::Signal,
                _ = terminate.recv() => Wakeup::Signal,
                Some(index) = exits.recv() => Wakeup::WorkerExited(index),
            }
        })
    }
}

/// Starts one thread per listener, each setting itself up, and returns once every
/// worker is set up (with what the engine reports about it), or with the first
/// worker's set-up error.
fn start_workers<E: Engine>(
    engine: &Arc<E>,
    listeners: Vec<std::net::TcpListener>,
    shared: &Arc<Shared>,
    shutdown: &Shutdown,
    exits: &mpsc::UnboundedSender<usize>,
) -> (
    Vec<std::thread::JoinHandle<()>>,
    anyhow::Result<Option<String>>,
) {
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
            .name(format!("{}-{index}", E::THREAD_NAME))
            .spawn(move || {
                let _notice = notice;
                let set_up = match engine.set_up(worker) {
                    Ok(set_up) => set_up,
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return;
                    }
                };
                let _ = ready.send(Ok(engine.features(&set_up)));
                engine.run(set_up);
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(error) => return (threads, Err(error).context("cannot start worker threads")),
        }
    }
    drop(ready_sender);
    let mut features = None;
    let all_ready = (0..threads.len()).try_for_each(|_| match ready.recv() {
        Ok(result) => {
            // Every worker is set up alike: any one's report stands for all.
            features = result?.or(features.take());
            Ok(())
        }
        Err(_) => Err(anyhow!("a worker thread ended during start-up")),
    });
    (threads, all_ready.map(|()| features))
}

/// Serves the gateway `started` with `engine` on `settings.workers` worker threads,
/// each with its own `SO_REUSEPORT` listener on `settings.listen`, until SIGINT or SIGTERM;
/// then stops accepting, lets in-flight connections finish within the grace period and
/// returns `Ok`. The caller flushes the producer afterwards.
///
/// # Errors
///
/// If a listener cannot be bound or a worker's runtime cannot be built (nothing is
/// served then), or if a worker ended on its own (it panicked): every other worker is
/// stopped and drained first, so the caller can still flush and exit non-zero.
pub fn serve<E: Engine>(
    engine: E,
    settings: &ServeSettings,
    started: &impl StartedGateway,
) -> anyhow::Result<()> {
    let mut signals = Signals::catch().context("cannot catch SIGINT/SIGTERM")?;
    let (bound, listeners) = bind_workers(settings.listen, settings.workers.get())?;
    let shared = Arc::new(Shared::new(settings, Arc::clone(started.gateway())));
    let (shutdown_trigger, shutdown) = Shutdown::channel();
    let (exit_sender, mut exits) = mpsc::unbounded_channel();
    let engine = Arc::new(engine);
    let (threads, all_ready) = start_workers(&engine, listeners, &shared, &shutdown, &exit_sender);
    drop(exit_sender);
    let wakeup = all_ready.map(|features| {
        started.log_listening(E::NAME, bound, settings.workers);
        if let Some(features) = features {
            tracing::info!(engine = E::NAME, %features, "engine features in effect");
        }
        signals.wait(&mut exits)
    });

    // Whatever woke us, stop every worker before returning: a listener nobody serves
    // must not outlive a failed worker.
    shared.gateway.begin_shutdown();
    if matches!(wakeup, Ok(Wakeup::Signal)) {
        tracing::info!("shutdown: not accepting; finishing in-flight requests");
    }
    shutdown_trigger.raise();
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
            Signals::catch().unwrap().wait(&mut exits),
            Wakeup::WorkerExited(3)
        );
    }
}
