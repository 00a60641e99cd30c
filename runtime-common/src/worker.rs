//! One worker's view: the listener, what every connection shares, the shutdown signal,
//! admission against the connection limit, and the drain at shutdown.

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{ServeSettings, Shutdown};
use http_conn::{Driver, MemoryBudget, ServerConnection};
use ingest::{ConnectionLimit, ConnectionSlot, Dispatcher, Gateway, Refused, Reply};

/// What every connection of every worker shares.
#[derive(Debug)]
pub struct Shared {
    /// The gateway: policy, sink, metrics.
    pub gateway: Arc<Gateway>,
    /// Each connection's framing limits, timeouts and output bounds.
    pub connection: http_conn::Config,
    /// The process-wide bound on buffered request bytes.
    budget: Arc<MemoryBudget>,
    /// Most records one connection keeps in flight.
    max_records_per_connection: usize,
    /// TLS for every connection, or `None` for plain HTTP.
    tls: Option<Arc<rustls::ServerConfig>>,
    connections: Arc<ConnectionLimit>,
    /// `503 Too many connections`, encoded once.
    refusal: Vec<u8>,
    /// `503 Too many connections from your address`, encoded once.
    client_refusal: Vec<u8>,
}

impl Shared {
    /// The shared state of `gateway` served with these settings.
    pub fn new(
        settings: &ServeSettings,
        gateway: Arc<Gateway>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let connections = ConnectionLimit::new(
            settings.max_connections,
            settings.max_connections_per_client,
            gateway.metrics(),
        );
        let encode = |why: Refused| {
            let mut wire = Vec::new();
            Reply::rejected(&why.rejection(connections.bound(why))).encode_http1(
                false,
                ingest::HttpVersion::Http11,
                None,
                &mut wire,
            );
            wire
        };
        let refusal = encode(Refused::Limit);
        let client_refusal = encode(Refused::PerClient);
        Self {
            connections,
            gateway,
            connection: settings.connection,
            budget: MemoryBudget::new(settings.max_buffered_request_bytes),
            max_records_per_connection: settings.max_records_per_connection,
            tls,
            refusal,
            client_refusal,
        }
    }

    /// The driver of a connection accepted at `now`: the connection core within the
    /// process-wide memory budget, serving the gateway, over TLS if the server speaks
    /// HTTPS.
    pub fn driver(&self, now: Instant) -> Driver<Dispatcher> {
        let conn = ServerConnection::with_budget(self.connection, now, Arc::clone(&self.budget));
        let service = Dispatcher::new(Arc::clone(&self.gateway), self.max_records_per_connection);
        match &self.tls {
            Some(config) => Driver::with_tls(conn, service, Arc::clone(config))
                // A server config rustls accepted once is accepted for every connection.
                .expect("the TLS server configuration was checked at start-up"),
            None => Driver::new(conn, service),
        }
    }

    /// Whether connections speak TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The response a connection refused for `why` gets before it is closed (`503`,
    /// `Retry-After`, `Connection: close`).
    pub fn refusal(&self, why: Refused) -> &[u8] {
        match why {
            Refused::Limit => &self.refusal,
            Refused::PerClient => &self.client_refusal,
        }
    }

    /// A slot in the connection limits for a connection from `peer`, or which bound
    /// refused it (then write [`Shared::refusal`] and close). [`accept_loop`] admits
    /// through it, and so does an engine that accepts on its own; `peer` may be `None`
    /// when [`Shared::admits_per_client`] is false (nothing needs it then).
    pub fn try_admit(&self, peer: Option<SocketAddr>) -> Result<ConnectionSlot, Refused> {
        self.connections.try_admit(peer.map(|peer| peer.ip()))
    }

    /// Whether admission counts connections per client address, so an engine needs
    /// each connection's peer address (one more system call per accept for an engine
    /// whose accept does not return it).
    pub fn admits_per_client(&self) -> bool {
        self.connections.per_client().is_some()
    }
}

/// How long every server stops accepting after an accept failed (out of file
/// descriptors and the like), instead of spinning on the same error.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// A listener of one engine, as the shared accept loop needs it.
pub trait Accept {
    /// An accepted connection.
    type Stream;
    /// The next connection and its peer's address. Cancel-safe (the accept loop races
    /// it with shutdown).
    fn accept(&mut self) -> impl Future<Output = std::io::Result<(Self::Stream, SocketAddr)>>;
}

/// What the accept loop hands the engine for each accepted connection.
#[derive(Debug)]
pub enum Accepted<S> {
    /// Serve it; drop the guard once the socket is closed.
    Admitted {
        /// The connection.
        stream: S,
        /// Its slot in the connection limit and in the worker's drain count.
        guard: ConnectionGuard,
    },
    /// Over a limit: write [`Shared::refusal`] for `why` and close it.
    Refused {
        /// The connection.
        stream: S,
        /// Which bound refused it.
        why: Refused,
    },
}

/// A connection's slot in the process-wide limit and in its worker's count of open
/// connections (what shutdown drains). Dropping it frees both.
#[derive(Debug)]
pub struct ConnectionGuard {
    _slot: ConnectionSlot,
    active: Rc<Cell<usize>>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.active.set(self.active.get() - 1);
    }
}

/// One worker thread's share of the server, handed to [`crate::Engine::run`].
#[derive(Debug)]
pub struct Worker {
    /// The worker's position, from 0.
    pub index: usize,
    /// Its own `SO_REUSEPORT` listener (blocking mode).
    pub listener: std::net::TcpListener,
    /// What every connection shares.
    pub shared: Arc<Shared>,
    /// Raised on SIGINT/SIGTERM or when another worker failed.
    pub shutdown: Shutdown,
}

/// A worker's accept loop: accepts on `listener` (the worker's listener in the
/// engine's form) until `shutdown` asks to drain, admits each connection against the
/// connection limits and hands it to `spawn`; then stops accepting and waits for the
/// admitted connections to close, or for the shutdown to ask to stop (what is still
/// open is then dropped with the engine's tasks).
pub async fn accept_loop<L: Accept>(
    shared: &Shared,
    mut shutdown: Shutdown,
    mut listener: L,
    mut spawn: impl FnMut(Accepted<L::Stream>),
) {
    let active = Rc::new(Cell::new(0usize));
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.requested() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        match shared.try_admit(Some(peer)) {
            Ok(slot) => {
                active.set(active.get() + 1);
                let guard = ConnectionGuard {
                    _slot: slot,
                    active: Rc::clone(&active),
                };
                spawn(Accepted::Admitted { stream, guard });
            }
            Err(why) => spawn(Accepted::Refused { stream, why }),
        }
    }
    drop(listener);
    while active.get() > 0 {
        tokio::select! {
            () = shutdown.stop_requested() => break,
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    if active.get() > 0 {
        tracing::warn!(
            open = active.get(),
            "grace period over with connections still open"
        );
    }
}

/// Completes at `deadline` (a connection's [`http_conn::ServerConnection::poll_timeout`]),
/// never when there is none: a connection loop races it with its socket.
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use ingest::{AckMode, GatewaySink, Policy};
    use kafka_sink::NullSink;

    use super::*;

    /// Hands out one numbered connection from each of `peers`, then none.
    struct FakeListener {
        peers: Vec<SocketAddr>,
        next: usize,
    }

    impl Accept for FakeListener {
        type Stream = usize;

        async fn accept(&mut self) -> std::io::Result<(usize, SocketAddr)> {
            let Some(&peer) = self.peers.get(self.next) else {
                return std::future::pending().await;
            };
            self.next += 1;
            Ok((self.next - 1, peer))
        }
    }

    fn shared(max_connections: usize, max_connections_per_client: Option<usize>) -> Shared {
        let settings = ServeSettings {
            listen: ([127, 0, 0, 1], 0).into(),
            workers: std::num::NonZeroUsize::MIN,
            max_connections,
            max_connections_per_client,
            grace_period: Duration::from_millis(1),
            connection: http_conn::Config::default(),
            max_buffered_request_bytes: usize::MAX,
            max_records_per_connection: 1,
        };
        let gateway = Gateway::new(
            Policy {
                max_body_bytes: 1024,
                ack_mode: AckMode::Delivered,
                ..Policy::new("t")
            },
            GatewaySink::Null(NullSink::default()),
        );
        Shared::new(&settings, Arc::new(gateway), None)
    }

    /// Runs the accept loop over connections from `peers` until it has handed out
    /// every one, then shuts it down: the admitted and the refused connections.
    fn accept_all(shared: &Shared, peers: &[&str]) -> (Vec<usize>, Vec<(usize, Refused)>) {
        let (trigger, shutdown) = Shutdown::channel();
        let admitted = RefCell::new(Vec::new());
        let refused = RefCell::new(Vec::new());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = FakeListener {
                peers: peers.iter().map(|peer| peer.parse().unwrap()).collect(),
                next: 0,
            };
            let serving = accept_loop(shared, shutdown, listener, |accepted| match accepted {
                Accepted::Admitted { stream, guard } => admitted.borrow_mut().push((stream, guard)),
                Accepted::Refused { stream, why } => refused.borrow_mut().push((stream, why)),
            });
            let stopping = async {
                tokio::task::yield_now().await;
                trigger.drain();
                // The admitted connections are still open (their guards are held): the
                // drain waits for them until the shutdown asks to stop.
                tokio::task::yield_now().await;
                trigger.stop();
            };
            tokio::join!(serving, stopping);
        });
        let admitted = admitted.into_inner().into_iter().map(|(s, _)| s).collect();
        (admitted, refused.into_inner())
    }

    #[test]
    fn connections_past_the_limit_are_refused_and_shutdown_stops_accepting() {
        let shared = shared(2, None);
        let peers = ["10.0.0.1:1", "10.0.0.1:2", "10.0.0.2:1"];
        let (admitted, refused) = accept_all(&shared, &peers);
        assert_eq!(admitted, [0, 1]);
        assert_eq!(refused, [(2, Refused::Limit)]);
        assert_eq!(shared.connections.open(), 0, "guards dropped, slots freed");
        let refusal = String::from_utf8_lossy(shared.refusal(Refused::Limit)).into_owned();
        assert!(refusal.starts_with("HTTP/1.1 503 "), "{refusal}");
        assert!(refusal.contains("retry-after: 1\r\n"), "{refusal}");
        assert!(refusal.contains("connection: close\r\n"), "{refusal}");
    }

    #[test]
    fn a_client_past_its_bound_is_refused_while_another_is_admitted() {
        let shared = shared(10, Some(1));
        assert!(shared.admits_per_client());
        let peers = ["10.0.0.1:1", "10.0.0.1:2", "10.0.0.2:1"];
        let (admitted, refused) = accept_all(&shared, &peers);
        assert_eq!(admitted, [0, 2]);
        assert_eq!(refused, [(1, Refused::PerClient)]);
        let refusal = String::from_utf8_lossy(shared.refusal(Refused::PerClient)).into_owned();
        assert!(refusal.starts_with("HTTP/1.1 503 "), "{refusal}");
        assert!(refusal.contains("from your address"), "{refusal}");
        assert!(refusal.contains("connection: close\r\n"), "{refusal}");
    }
}
