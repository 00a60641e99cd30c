//! The runtime flags: where the gateway listens, on how many threads, how many clients
//! (and how many connections of one client) it takes at once, and how long shutdown
//! waits.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use super::millis;

/// Listener, workers, connection limit and grace period. No library has defaults for
/// these; [`RuntimeArgs`]'s constants are theirs (the listen address is a binary's
/// [`Defaults`](crate::Defaults)).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Runtime")]
pub struct RuntimeArgs {
    /// Address to listen on.
    #[arg(long, env = "GATEWAY_LISTEN")]
    pub listen: SocketAddr,
    /// Worker threads (default: available cores).
    #[arg(long, env = "GATEWAY_WORKERS")]
    pub workers: Option<usize>,
    /// Most simultaneous client connections; more are refused.
    #[arg(long, env = "GATEWAY_MAX_CONNECTIONS", default_value_t = Self::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Most simultaneous connections from one client address (an IPv4 address or an
    /// IPv6 /64); more are refused with 503. Default: a quarter of --max-connections
    /// (at least 1), so one host cannot hold every slot; 0: no per-client bound (for
    /// clients that all come through one proxy or NAT address).
    #[arg(long, env = "GATEWAY_MAX_CONNECTIONS_PER_CLIENT")]
    pub max_connections_per_client: Option<usize>,
    /// Most request bytes all connections together may buffer beyond their small
    /// initial read buffers (a process-wide memory bound); a request that does not fit
    /// is answered 503 with Retry-After and its connection closed.
    #[arg(long, env = "GATEWAY_MAX_BUFFERED_REQUEST_BYTES", default_value_t = Self::DEFAULT_MAX_BUFFERED_REQUEST_BYTES)]
    pub max_buffered_request_bytes: usize,
    /// On SIGINT/SIGTERM, time in-flight requests get to finish, in ms; the producer
    /// flush gets the same again.
    #[arg(long, env = "GATEWAY_GRACE_PERIOD_MS", default_value_t = millis(Self::DEFAULT_GRACE_PERIOD))]
    pub grace_period_ms: u64,
}

impl RuntimeArgs {
    /// Most simultaneous connections unless `--max-connections` says otherwise.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

    /// One client address may hold at most `1 / PER_CLIENT_SHARE_DIVISOR` of
    /// `--max-connections` unless `--max-connections-per-client` says otherwise: enough
    /// for a busy producer with a large pool, while three quarters stay for everyone
    /// else.
    pub const PER_CLIENT_SHARE_DIVISOR: usize = 4;

    /// The process-wide bound on buffered request bytes unless
    /// `--max-buffered-request-bytes` says otherwise: 256 bodies of the default 1 MiB
    /// limit at once, while 16,384 idle connections hold 64 MiB outside it.
    pub const DEFAULT_MAX_BUFFERED_REQUEST_BYTES: usize = 256 * 1024 * 1024;

    /// Shutdown grace period unless `--grace-period-ms` says otherwise.
    pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

    /// The bound on one client address's connections: `--max-connections-per-client`
    /// (0: none), else a quarter of `--max-connections`, at least 1.
    pub fn max_connections_per_client(&self) -> Option<usize> {
        match self.max_connections_per_client {
            Some(0) => None,
            Some(bound) => Some(bound),
            None => Some((self.max_connections / Self::PER_CLIENT_SHARE_DIVISOR).max(1)),
        }
    }

    /// Shutdown grace period.
    pub fn grace_period(&self) -> Duration {
        Duration::from_millis(self.grace_period_ms)
    }

    /// Worker threads to run: `--workers` (0 counts as 1), else one per available core.
    pub fn worker_count(&self) -> NonZeroUsize {
        match self.workers {
            Some(workers) => NonZeroUsize::new(workers).unwrap_or(NonZeroUsize::MIN),
            None => std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
        }
    }
}
