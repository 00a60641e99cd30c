//! The one error type of the bench library: what went wrong, with what a reader needs to
//! find out why. The bench targets and examples print it with its source chain.

use std::net::SocketAddr;
use std::path::PathBuf;

use kafka_sink::SinkError;

/// Why a comparison run, a report or a probe could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The broker of one server run could not be set up (the mock's start, or the
    /// topic on it or on `KAFKA_BROKERS`).
    #[error("cannot set up the broker of run {run}")]
    BrokerSetup {
        /// The run (1-based, counted over the whole comparison).
        run: usize,
        /// What the sink said.
        #[source]
        source: SinkError,
    },
    /// A gateway exited during start-up or never answered `/healthz`.
    #[error("gateway {server} did not start; its log:\n{log}")]
    GatewayStart {
        /// The server (a bench arm's name, or the binary a probe was given).
        server: String,
        /// Why, with everything the gateway logged.
        log: String,
    },
    /// A server started under `strace` has no traced child, so nothing can be read
    /// from `/proc` about it.
    #[error("no gateway found under strace (looked in {children})")]
    NotTraced {
        /// The `/proc` file that lists the tracer's children.
        children: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {path}")]
    File {
        /// What was attempted: "read", "write", "create".
        action: &'static str,
        /// On which file or directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Talking to a gateway over TCP failed.
    #[error("cannot {action} {address}")]
    Connection {
        /// What was attempted: "connect to", "send to", "read from".
        action: &'static str,
        /// The gateway's address.
        address: SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A gateway under a probe exited before the probe was done.
    #[error("the gateway (pid {pid}) exited during the probe")]
    Exited {
        /// Its process id.
        pid: u32,
    },
    /// A gateway answered a request the probe depends on with something else than it
    /// needs.
    #[error("{request} answered {status}: {body}")]
    UnexpectedAnswer {
        /// The request, e.g. `GET /v3/clusters`.
        request: String,
        /// The status it got (0: the connection closed without an answer).
        status: u16,
        /// The answer's body, or why there was none.
        body: String,
    },
    /// The load generator was given a TLS server name that is neither a DNS name nor an
    /// IP address.
    #[error("{name:?} is not a TLS server name (a DNS name or an IP address)")]
    ServerName {
        /// The name as given.
        name: String,
    },
    /// A PEM file the load generator was to trust holds no certificate rustls takes.
    #[error("cannot trust the certificates in {path}: {reason}")]
    TrustAnchor {
        /// The PEM file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// An [`Error::File`] for `action` on `path`.
    pub(crate) fn file(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::File {
            action,
            path,
            source,
        }
    }

    /// An [`Error::Connection`] for `action` on `address`.
    pub(crate) fn connection(
        action: &'static str,
        address: SocketAddr,
    ) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Connection {
            action,
            address,
            source,
        }
    }
}
