//! What [`crate::serve`] needs to know beyond the engine, as typed values: the command
//! line (`gateway-cli`) builds them, so this crate knows no flags.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

/// Where and how the raw-TCP servers serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSettings {
    /// The address every worker's `SO_REUSEPORT` listener binds (port 0: one the kernel
    /// picks, shared by every worker).
    pub listen: SocketAddr,
    /// Worker threads, each with its own listener.
    pub workers: NonZeroUsize,
    /// Most simultaneous client connections, across every worker; more get the `503`
    /// refusal and are closed.
    pub max_connections: usize,
    /// Most simultaneous connections from one client address (an IPv4 address or an
    /// IPv6 /64), or `None` for no bound; more get the `503` refusal and are closed.
    pub max_connections_per_client: Option<usize>,
    /// How long in-flight connections get to finish after shutdown begins.
    pub grace_period: Duration,
    /// Each connection's framing limits, client timeouts and output bounds.
    pub connection: http_conn::Config,
    /// Most request bytes all connections together may buffer beyond their small
    /// initial read buffers ([`http_conn::MemoryBudget`]).
    pub max_buffered_request_bytes: usize,
    /// Most records one connection's requests keep in flight (the fair share of the
    /// sink's in-flight bound, [`ingest::Dispatcher`]).
    pub max_records_per_connection: usize,
}
