//! hyper's accept loop on runtime-common's pieces: the listener, the signals, admission
//! with its `503` refusal, the accept back-off and the shutdown sequence are the same
//! as every raw-TCP server's; what is hyper's own is the connection (`http1`) and its
//! graceful shutdown.

use std::convert::Infallible;
use std::sync::Arc;

use gateway_cli::{GatewayArgs, Started};
use http_conn::TlsFailure;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use runtime_common::shutdown::{shut_down, Shutdown};
use runtime_common::{bind_reuse_port, Shared, Signals, StartedGateway, ACCEPT_BACKOFF};
use tokio::net::TcpListener;

use crate::deadline::{now, Clock, TimedStream};

pub(crate) async fn serve(args: &GatewayArgs, started: &Started) -> anyhow::Result<()> {
    let mut signals = Signals::catch()?;
    let settings = args.serve_settings();
    let listener = bind_reuse_port(settings.listen)?;
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    started.log_listening("hyper", listener.local_addr()?, settings.workers);
    let gateway = Arc::clone(&started.gateway);
    let shared = Shared::new(&settings, Arc::clone(&gateway), None);
    // The same rustls configuration the raw-TCP servers' TLS layer uses.
    let tls = started
        .tls
        .as_ref()
        .map(|tls| tokio_rustls::TlsAcceptor::from(tls.server_config()));

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
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = signals.recv(|| started.reload()) => break,
        };
        let slot = match shared.try_admit(Some(peer)) {
            Ok(slot) => slot,
            Err(why) => {
                let _ = stream.try_write(shared.refusal(why));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let metrics_gateway = Arc::clone(&gateway);
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
        match &tls {
            None => {
                let connection =
                    graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    drop(slot);
                });
            }
            Some(acceptor) => {
                // The handshake runs under the clock's header deadline (the stream under
                // TLS sees its first byte), on the connection's own task.
                let accepting = acceptor.accept(stream);
                let (builder, watcher, gateway) =
                    (builder.clone(), graceful.watcher(), metrics_gateway);
                tokio::spawn(async move {
                    match accepting.await {
                        Ok(stream) => {
                            let connection = watcher
                                .watch(builder.serve_connection(TokioIo::new(stream), service));
                            if let Err(error) = connection.await {
                                tracing::debug!(%error, "connection ended with an error");
                            }
                        }
                        Err(error) => {
                            let failure = error
                                .get_ref()
                                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                                .map_or(TlsFailure::Malformed, TlsFailure::of_error);
                            gateway.metrics().record_tls_failure(failure.as_str());
                            tracing::debug!(%error, "TLS handshake failed");
                        }
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    tracing::info!("shutdown: not accepting; finishing in-flight requests");
    // hyper's connections do their own draining (graceful); the signal's stages have
    // no other listener here.
    let (trigger, _stages) = Shutdown::channel();
    let mut connections_closed = std::pin::pin!(graceful.shutdown());
    shut_down(
        &gateway,
        &trigger,
        settings.grace_period,
        async |timeout| {
            tokio::time::timeout(timeout, &mut connections_closed)
                .await
                .is_ok()
        },
        // Blocking: on a thread of its own while hyper goes on answering.
        async |timeout| {
            let gateway = Arc::clone(&gateway);
            let _ = tokio::task::spawn_blocking(move || gateway.settle_in_flight(timeout)).await;
        },
    )
    .await;
    Ok(())
}
