//! Worker threads: start-up report, supervision, SIGINT/SIGTERM, and the shutdown that
//! stops every worker whatever woke the main thread.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use std::time::Duration;

use anyhow::{anyhow, Context};
use ingest::Gateway;
use tokio::sync::mpsc;

use crate::shutdown::shut_down;
use crate::worker::{Shared, Worker};
use crate::{bind_workers, ServeSettings, Shutdown};

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

    /// Serves until [`Worker::shutdown`] asks to drain, then stops accepting and lets
    /// the worker's connections finish until they are all closed or the shutdown asks
    /// to stop ([`crate::accept_loop`] does both for an async engine).
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

    /// The TLS configuration every connection uses, or `None` for plain HTTP.
    fn tls_config(&self) -> Option<Arc<rustls::ServerConfig>> {
        None
    }

    /// SIGHUP: reload what can be reloaded (the TLS certificate); nothing by default.
    fn reload(&self) {}
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

/// SIGINT and SIGTERM (shut down) and SIGHUP (reload), caught from the moment this
/// exists: the one signal mechanism of every server. Create it within a tokio runtime (the raw-TCP servers use a small
/// current-thread runtime private to the main thread, hyper its own), before the
/// listeners are bound, so a client that can connect can also stop the server
/// gracefully.
///
/// A worker that has no runtime (runtime-loop) is not involved: the handler only wakes
/// the thread waiting here, which moves [`Shutdown`] on and so wakes the workers. A
/// signal may interrupt a worker's blocking call (`epoll_wait`, `io_uring_enter`) with
/// `EINTR`; a loop treats that as a spurious wake-up.
#[derive(Debug)]
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hang_up: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers.
    ///
    /// # Errors
    ///
    /// If the handlers cannot be installed.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with its I/O driver enabled.
    pub fn catch() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hang_up: signal(SignalKind::hangup())?,
        })
    }

    /// Completes at the next SIGINT or SIGTERM; runs `reload` at each SIGHUP meanwhile.
    pub async fn recv(&mut self, mut reload: impl FnMut()) {
        loop {
            tokio::select! {
                _ = self.interrupt.recv() => return,
                _ = self.terminate.recv() => return,
                _ = self.hang_up.recv() => reload(),
            }
        }
    }

    /// Waits for SIGINT, SIGTERM or a worker's end, running `reload` at each SIGHUP.
    async fn wait(
        &mut self,
        exits: &mut mpsc::UnboundedReceiver<usize>,
        reload: impl FnMut(),
    ) -> Wakeup {
        tokio::select! {
            () = self.recv(reload) => Wakeup::Signal,
            Some(index) = exits.recv() => Wakeup::WorkerExited(index),
        }
    }
}

/// The worker threads' ends, as the main thread counts them during the drain.
struct Exits {
    receiver: mpsc::UnboundedReceiver<usize>,
    live: usize,
}

impl Exits {
    /// Waits up to `timeout` for every live worker to end; whether they all did.
    async fn all(&mut self, timeout: Duration) -> bool {
        let all_ended = async {
            while self.live > 0 && self.receiver.recv().await.is_some() {
                self.live -= 1;
            }
        };
        let _ = tokio::time::timeout(timeout, all_ended).await;
        self.live == 0
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
/// each with its own `SO_REUSEPORT` listener on `settings.listen`, until SIGINT or
/// SIGTERM; then shuts down in the order that loses no answer (see [`crate::shutdown`]'s
/// steps: drain within the grace period, settle what still waits for Kafka, close) and
/// flushes the producer.
///
/// # Errors
///
/// If a listener cannot be bound or a worker's runtime cannot be built (nothing is
/// served then), or if a worker ended on its own (it panicked): every other worker is
/// stopped and drained first, and the producer flushed, before the error returns.
pub fn serve<E: Engine>(
    engine: E,
    settings: &ServeSettings,
    started: &impl StartedGateway,
) -> anyhow::Result<()> {
    // The main thread's own runtime: signals, and the timing of the shutdown.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot build the main thread's runtime")?;
    let mut signals = {
        let _entered = runtime.enter();
        Signals::catch().context("cannot catch SIGINT/SIGTERM")?
    };
    let (bound, listeners) = bind_workers(settings.listen, settings.workers.get())?;
    let gateway = started.gateway();
    let shared = Arc::new(Shared::new(
        settings,
        Arc::clone(gateway),
        started.tls_config(),
    ));
    let (trigger, shutdown) = Shutdown::channel();
    let (exit_sender, exits) = mpsc::unbounded_channel();
    let engine = Arc::new(engine);
    let (threads, all_ready) = start_workers(&engine, listeners, &shared, &shutdown, &exit_sender);
    drop(exit_sender);
    let mut exits = Exits {
        receiver: exits,
        live: threads.len(),
    };
    let wakeup = all_ready.map(|features| {
        started.log_listening(E::NAME, bound, settings.workers);
        if let Some(features) = features {
            tracing::info!(engine = E::NAME, %features, "engine features in effect");
        }
        runtime.block_on(signals.wait(&mut exits.receiver, || started.reload()))
    });
    if let Ok(Wakeup::WorkerExited(_)) = wakeup {
        exits.live -= 1;
    }

    // Whatever woke us, stop every worker before returning: a listener nobody serves
    // must not outlive a failed worker.
    if matches!(wakeup, Ok(Wakeup::Signal)) {
        tracing::info!("shutdown: not accepting; finishing in-flight requests");
    }
    runtime.block_on(shut_down(
        gateway,
        &trigger,
        settings.grace_period,
        async |timeout| exits.all(timeout).await,
        // Blocking, on this thread: the workers go on answering meanwhile.
        async |timeout| {
            gateway.settle_in_flight(timeout);
        },
    ));
    let mut panicked = 0;
    for thread in threads {
        panicked += usize::from(thread.join().is_err());
    }
    // Flush even when a worker failed: records already queued still deserve delivery.
    gateway.finish(settings.grace_period);
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let wakeup = runtime.block_on(async {
            let mut signals = Signals::catch().unwrap();
            signals.wait(&mut exits, || {}).await
        });
        assert_eq!(wakeup, Wakeup::WorkerExited(3));
    }
}
