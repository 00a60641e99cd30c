//! Worker threads, `SO_REUSEPORT` listeners, the start-up report, signals and
//! supervision.
//!
//! Signals: SIGINT and SIGTERM are blocked in every thread (see [`crate::run`]) and
//! received by one small thread with `sigwait`, which tells the main thread; the main
//! thread sets the shared shutdown flag and writes every worker's eventfd. No signal
//! handler runs, so nothing async-signal-unsafe can happen in one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use ingest::startup::{log_listening, Started};
use ingest::{ConnectionLimit, Rejection};

use crate::args::{Engine, LoopArgs, UringFeature};
use crate::epoll::EpollEngine;
use crate::sys::{RingConfig, ShutdownSignals};
use crate::uring::UringEngine;
use crate::wake::Notifier;
use crate::worker::{ExitNotice, Shared};

/// Why the main thread stopped waiting.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wakeup {
    /// SIGINT or SIGTERM: a normal shutdown.
    Signal,
    /// Worker `index` ended (before shutdown was asked for, it failed).
    WorkerExited(usize),
}

/// One listener per worker, all on the same port: the kernel spreads connections.
fn bind_reuse_port(address: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket
        .bind(&address.into())
        .with_context(|| format!("cannot listen on {address}"))?;
    socket.listen(4096)?;
    Ok(socket.into())
}

fn ring_config(args: &LoopArgs) -> RingConfig {
    RingConfig {
        entries: args.gateway.ring_entries,
        multishot_accept: args.uring_has(UringFeature::MultishotAccept),
        multishot_recv: args.uring_has(UringFeature::MultishotRecv),
        buf_ring: args.uring_has(UringFeature::BufRing),
        incremental: args.uring_has(UringFeature::Incremental),
        defer_taskrun: args.uring_has(UringFeature::DeferTaskrun),
        coop_taskrun: args.uring_has(UringFeature::CoopTaskrun),
        single_issuer: args.uring_has(UringFeature::SingleIssuer),
        registered_fd: args.uring_has(UringFeature::RegisteredFd),
        buffers: args.uring_buffers,
        buffer_bytes: args.uring_buffer_bytes,
    }
}

/// The worker threads and their doorbells.
struct Workers {
    threads: Vec<std::thread::JoinHandle<()>>,
    notifiers: Vec<Arc<Notifier>>,
}

/// Starts one thread per listener, each setting up its engine on its own thread, and
/// returns once every engine is set up, or the first set-up error.
fn start_workers(
    args: &LoopArgs,
    listeners: Vec<std::net::TcpListener>,
    shared: &Arc<Shared>,
    exits: &mpsc::Sender<Wakeup>,
) -> (Workers, anyhow::Result<Option<String>>) {
    // Each worker reports its set-up: the io_uring features in effect, or why not.
    let (ready_sender, ready) = mpsc::channel::<std::io::Result<Option<String>>>();
    let mut threads = Vec::with_capacity(listeners.len());
    let mut notifiers = Vec::with_capacity(listeners.len());
    let engine = args.engine;
    let config = ring_config(args);
    for (index, listener) in listeners.into_iter().enumerate() {
        let notifier = match Notifier::new() {
            Ok(notifier) => notifier,
            Err(error) => {
                return (
                    Workers { threads, notifiers },
                    Err(error).context("cannot create an eventfd"),
                )
            }
        };
        notifiers.push(Arc::clone(&notifier));
        let shared = Arc::clone(shared);
        let ready = ready_sender.clone();
        let notice = ExitNotice {
            index,
            exits: exits.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("loop-{index}"))
            .spawn(move || {
                let _notice = notice;
                let result = match engine {
                    Engine::IoUring => {
                        UringEngine::new(listener, config, shared, notifier).map(|engine| {
                            let _ = ready.send(Ok(Some(engine.features())));
                            engine.run()
                        })
                    }
                    Engine::Epoll => EpollEngine::new(listener, shared, notifier).map(|engine| {
                        let _ = ready.send(Ok(None));
                        engine.run()
                    }),
                };
                match result {
                    Err(error) => {
                        let _ = ready.send(Err(error));
                    }
                    Ok(Err(error)) => panic!("worker {index} failed: {error}"),
                    Ok(Ok(())) => {}
                }
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(error) => {
                return (
                    Workers { threads, notifiers },
                    Err(error).context("cannot start worker threads"),
                )
            }
        }
    }
    drop(ready_sender);
    let mut features = None;
    let all_ready = (0..threads.len()).try_for_each(|_| match ready.recv() {
        Ok(Ok(worker_features)) => {
            features = worker_features;
            Ok(())
        }
        Ok(Err(error)) if engine == Engine::IoUring => Err(anyhow!(
            "cannot set up io_uring ({} entries, features {}): {error}. io_uring may be \
             disabled (sysctl kernel.io_uring_disabled), blocked by seccomp or a container \
             policy, limited (RLIMIT_MEMLOCK), or refuse the ring size (see --ring-entries) \
             or a feature (see --uring-disable); run with --engine epoll to serve the same \
             gateway on epoll",
            config.entries,
            describe(&config),
        )),
        Ok(Err(error)) => Err(anyhow!("cannot set up epoll: {error}")),
        Err(_) => Err(anyhow!("a worker thread ended during start-up")),
    });
    (Workers { threads, notifiers }, all_ready.map(|()| features))
}

fn describe(config: &RingConfig) -> String {
    let mut on = Vec::new();
    for (enabled, name) in [
        (config.multishot_accept, "multishot-accept"),
        (config.multishot_recv, "multishot-recv"),
        (config.buf_ring, "buf-ring"),
        (config.incremental, "incremental"),
        (config.defer_taskrun, "defer-taskrun"),
        (config.coop_taskrun, "coop-taskrun"),
        (config.single_issuer, "single-issuer"),
        (config.registered_fd, "registered-fd"),
    ] {
        if enabled {
            on.push(name);
        }
    }
    on.join(",")
}

/// Binds, starts the workers, logs "listening" once all are up, waits for a signal or
/// a worker's end, then drains every worker.
pub(crate) fn serve(
    args: &LoopArgs,
    started: &Started,
    signals: ShutdownSignals,
) -> anyhow::Result<()> {
    let gateway_args = &args.gateway;
    let workers = gateway_args.worker_count();
    let listeners = (0..workers)
        .map(|_| bind_reuse_port(gateway_args.listen))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut too_many_connections = Vec::new();
    let refusal = Rejection::TooManyConnections {
        limit: gateway_args.max_connections,
    };
    started.gateway.reject(&refusal).encode_http1(
        false,
        ingest::HttpVersion::Http11,
        None,
        &mut too_many_connections,
    );
    let config = http_conn::Config::new(
        gateway_args.limits(),
        gateway_args.header_timeout(),
        gateway_args.body_timeout(),
        gateway_args.idle_timeout(),
    );
    let shared = Arc::new(Shared {
        gateway: Arc::clone(&started.gateway),
        config,
        connections: ConnectionLimit::new(gateway_args.max_connections, started.gateway.metrics()),
        too_many_connections,
        grace_period: gateway_args.grace_period(),
        shutdown: AtomicBool::new(false),
    });
    let (wakeup_sender, wakeups) = mpsc::channel();
    let signal_sender = wakeup_sender.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            signals.wait();
            let _ = signal_sender.send(Wakeup::Signal);
        })
        .context("cannot start the signal thread")?;

    let (Workers { threads, notifiers }, all_ready) =
        start_workers(args, listeners, &shared, &wakeup_sender);
    drop(wakeup_sender);
    let engine = match args.engine {
        Engine::IoUring => "io_uring (own loop)",
        Engine::Epoll => "epoll (own loop)",
    };
    let wakeup = all_ready.and_then(|features| {
        log_listening(engine, gateway_args, started);
        if let Some(features) = features {
            tracing::info!(%features, "io_uring features in effect");
        }
        wakeups
            .recv()
            .map_err(|_| anyhow!("every worker and the signal thread ended"))
    });

    // Whatever woke us, stop every worker before returning: a listener nobody serves
    // must not outlive a failed worker.
    shared.gateway.begin_shutdown();
    if matches!(wakeup, Ok(Wakeup::Signal)) {
        tracing::info!("shutdown: not accepting; finishing in-flight requests");
    }
    shared.shutdown.store(true, Ordering::Release);
    for notifier in &notifiers {
        notifier.wake_now();
    }
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
        let (exits, wakeups) = mpsc::channel();
        let notice = ExitNotice { index: 3, exits };
        let worker = std::thread::spawn(move || {
            let _notice = notice;
            panic!("worker failure under test");
        });
        assert!(worker.join().is_err());
        assert_eq!(wakeups.recv().unwrap(), Wakeup::WorkerExited(3));
    }
}
