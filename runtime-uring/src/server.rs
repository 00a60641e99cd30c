//! Worker threads, `SO_REUSEPORT` listeners, the connection limit, supervision and
//! shutdown.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use ingest::startup::{log_listening, Started};
use ingest::{ConnectionLimit, ConnectionSlot, Gateway, GatewayArgs, Rejection};
use tokio::sync::{mpsc, watch};

/// What every connection of every worker shares.
pub(crate) struct Shared {
    pub(crate) gateway: Arc<Gateway>,
    pub(crate) limits: http_parse::Limits,
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) date: crate::date::DateCache,
    grace_period: Duration,
    connections: Arc<ConnectionLimit>,
    too_many_connections: Vec<u8>,
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

/// Starts one thread per listener, each with its own io_uring runtime, and returns
/// once every ring is set up, or the first worker's set-up error.
fn start_workers(
    listeners: Vec<std::net::TcpListener>,
    shared: &Arc<Shared>,
    ring_entries: u32,
    shutdown: &watch::Receiver<bool>,
    exits: &mpsc::UnboundedSender<usize>,
) -> (Vec<std::thread::JoinHandle<()>>, anyhow::Result<()>) {
    let (ready_sender, ready) = std::sync::mpsc::channel();
    let mut threads = Vec::with_capacity(listeners.len());
    for (index, listener) in listeners.into_iter().enumerate() {
        let shared = Arc::clone(shared);
        let shutdown = shutdown.clone();
        let ready = ready_sender.clone();
        let notice = ExitNotice {
            index,
            exits: exits.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("uring-{index}"))
            .spawn(move || {
                let _notice = notice;
                let runtime =
                    match tokio_uring::Runtime::new(tokio_uring::builder().entries(ring_entries)) {
                        Ok(runtime) => runtime,
                        Err(error) => {
                            let _ = ready.send(Err(error));
                            return;
                        }
                    };
                let _ = ready.send(Ok(()));
                runtime.block_on(worker(listener, shared, shutdown));
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(error) => return (threads, Err(error).context("cannot start worker threads")),
        }
    }
    drop(ready_sender);
    let all_ready = (0..threads.len()).try_for_each(|_| match ready.recv() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(anyhow!(
            "cannot set up io_uring ({ring_entries} entries): {error}. io_uring may be \
             disabled (sysctl kernel.io_uring_disabled), blocked by seccomp or a container \
             policy, or refuse the ring size (see --ring-entries); runtime-hyper serves the \
             same gateway on epoll"
        )),
        Err(_) => Err(anyhow!("a worker thread ended during start-up")),
    });
    (threads, all_ready)
}

pub(crate) fn serve(args: &GatewayArgs, started: &Started) -> anyhow::Result<()> {
    let workers = args.worker_count();
    let listeners = (0..workers)
        .map(|_| bind_reuse_port(args.listen))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut too_many_connections = Vec::new();
    let refusal = Rejection::TooManyConnections {
        limit: args.max_connections,
    };
    ingest::Reply::rejected(&refusal).encode_http1(
        false,
        ingest::HttpVersion::Http11,
        None,
        &mut too_many_connections,
    );
    let shared = Arc::new(Shared {
        gateway: Arc::clone(&started.gateway),
        limits: args.limits(),
        header_timeout: args.header_timeout(),
        idle_timeout: args.idle_timeout(),
        date: crate::date::DateCache,
        grace_period: args.grace_period(),
        connections: ConnectionLimit::new(args.max_connections, started.gateway.metrics()),
        too_many_connections,
    });
    let (shutdown_sender, shutdown) = watch::channel(false);
    let (exit_sender, mut exits) = mpsc::unbounded_channel();
    let (threads, all_ready) = start_workers(
        listeners,
        &shared,
        args.ring_entries,
        &shutdown,
        &exit_sender,
    );
    drop(exit_sender);
    let wakeup = all_ready.and_then(|()| {
        log_listening("io_uring", args, started);
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

/// A connection's slot in the process-wide limit and in its worker's drain count.
struct ConnectionGuard {
    _slot: ConnectionSlot,
    active: Rc<Cell<usize>>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.active.set(self.active.get() - 1);
    }
}

async fn worker(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let listener = tokio_uring::net::TcpListener::from_std(listener);
    let active = Rc::new(Cell::new(0usize));
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(slot) = shared.connections.try_admit() else {
            let refusal = shared.too_many_connections.clone();
            tokio_uring::spawn(async move {
                let _ = stream.write_all(refusal).await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        active.set(active.get() + 1);
        let guard = ConnectionGuard {
            _slot: slot,
            active: Rc::clone(&active),
        };
        let shared = Arc::clone(&shared);
        let shutdown = shutdown.clone();
        tokio_uring::spawn(async move {
            crate::conn::serve(stream, &shared, shutdown).await;
            drop(guard);
        });
    }
    drop(listener);
    let deadline = Instant::now() + shared.grace_period;
    while active.get() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if active.get() > 0 {
        tracing::warn!(
            open = active.get(),
            "grace period over with connections still open"
        );
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
