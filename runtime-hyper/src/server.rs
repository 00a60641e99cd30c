//! Accept loop, connection limit, signals and graceful shutdown.

use std::convert::Infallible;
use std::sync::Arc;

use anyhow::Context;
use gateway_cli::{GatewayArgs, Started};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use ingest::{ConnectionLimit, Rejection, Reply};
use tokio::net::TcpListener;

use crate::deadline::{now, Clock, TimedStream};

fn bind(args: &GatewayArgs) -> anyhow::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(args.runtime.listen),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket
        .bind(&args.runtime.listen.into())
        .with_context(|| format!("cannot listen on {}", args.runtime.listen))?;
    socket.listen(4096)?;
    Ok(TcpListener::from_std(socket.into())?)
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

pub(crate) async fn serve(args: &GatewayArgs, started: &Started) -> anyhow::Result<()> {
    let listener = bind(args)?;
    started.log_listening("hyper", listener.local_addr()?, args.runtime.worker_count());
    let gateway = Arc::clone(&started.gateway);
    let connections = ConnectionLimit::new(args.runtime.max_connections, gateway.metrics());
    let mut too_many = Vec::new();
    // Built once, not counted: only refusals actually sent are responses.
    Reply::rejected(&Rejection::TooManyConnections {
        limit: args.runtime.max_connections,
    })
    .encode_http1(false, ingest::HttpVersion::Http11, None, &mut too_many);
    let too_many: Arc<[u8]> = too_many.into();

    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // hyper's header timeout also runs while a keep-alive connection is idle (and
        // defaults to 30 s): off, `TimedStream` enforces the header and idle timeouts.
        .header_read_timeout(None)
        .keep_alive(true)
        .max_headers(args.http.max_headers)
        .max_buf_size(args.http.max_header_bytes.max(8192));
    let limits = args.http.limits();
    let timeouts = args.http.timeouts();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = connections.try_admit() else {
            let _ = stream.try_write(&too_many);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let gateway = Arc::clone(&gateway);
        let clock = Clock::new(timeouts, now());
        let stream = TimedStream::new(stream, clock.clone());
        let service = service_fn(move |request| {
            // hyper calls the service once the head is complete.
            let (gateway, clock) = (Arc::clone(&gateway), clock.clone());
            async move {
                let response = crate::service::handle(&gateway, &limits, &clock, request).await;
                Ok::<_, Infallible>(response)
            }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    gateway.begin_shutdown();
    drop(listener);
    tracing::info!("shutdown: not accepting; finishing in-flight requests");
    if tokio::time::timeout(args.runtime.grace_period(), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over with connections still open");
    }
    Ok(())
}
