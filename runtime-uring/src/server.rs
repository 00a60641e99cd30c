//! Worker threads, `SO_REUSEPORT` listeners, the connection limit and shutdown.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ingest::startup::{log_listening, Started};
use ingest::{Gateway, GatewayArgs, Rejection};
use tokio::sync::watch;

/// What every connection of every worker shares.
pub(crate) struct Shared {
    pub(crate) gateway: Arc<Gateway>,
    pub(crate) limits: http_parse::Limits,
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) date: crate::date::DateCache,
    grace_period: Duration,
    max_connections: usize,
    connections: AtomicUsize,
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

/// Waits for SIGINT or SIGTERM on the calling (main) thread.
fn wait_for_shutdown_signal() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    })?;
    Ok(())
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
        max_connections: args.max_connections,
        connections: AtomicUsize::new(0),
        too_many_connections,
    });
    let (shutdown_sender, shutdown) = watch::channel(false);
    let threads = listeners
        .into_iter()
        .enumerate()
        .map(|(index, listener)| {
            let shared = Arc::clone(&shared);
            let shutdown = shutdown.clone();
            std::thread::Builder::new()
                .name(format!("uring-{index}"))
                .spawn(move || {
                    tokio_uring::builder()
                        .entries(4096)
                        .start(worker(listener, shared, shutdown))
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .context("cannot start worker threads")?;
    log_listening("io_uring", args, started);

    wait_for_shutdown_signal().context("cannot wait for signals")?;
    shared.gateway.begin_shutdown();
    tracing::info!("shutdown: not accepting; finishing in-flight requests");
    let _ = shutdown_sender.send(true);
    for thread in threads {
        if thread.join().is_err() {
            tracing::error!("a worker thread panicked");
        }
    }
    Ok(())
}

/// Counts a connection in the process-wide limit and in its worker's drain count.
struct ConnectionSlot {
    shared: Arc<Shared>,
    active: Rc<Cell<usize>>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.shared.connections.fetch_sub(1, Ordering::AcqRel);
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
        if shared.connections.fetch_add(1, Ordering::AcqRel) >= shared.max_connections {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
            let refusal = shared.too_many_connections.clone();
            tokio_uring::spawn(async move {
                let _ = stream.write_all(refusal).await;
            });
            continue;
        }
        let _ = stream.set_nodelay(true);
        active.set(active.get() + 1);
        let slot = ConnectionSlot {
            shared: Arc::clone(&shared),
            active: Rc::clone(&active),
        };
        let shutdown = shutdown.clone();
        tokio_uring::spawn(async move {
            crate::conn::serve(stream, &slot.shared, shutdown).await;
            drop(slot);
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
