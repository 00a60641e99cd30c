//! What the raw-TCP gateways (`runtime-uring`, `runtime-tokio`, `runtime-loop`) share
//! beyond their engine: one `SO_REUSEPORT` listener per worker thread
//! ([`bind_reuse_port`]), the workers' start-up report and supervision ([`serve`]: a
//! worker that fails to start fails start-up, one that panics takes the process down
//! after stopping the others), SIGINT/SIGTERM, the shutdown signal ([`Shutdown`], for
//! async engines and runtime-less loops alike), connection admission against
//! [`ingest::ConnectionLimit`] with the encoded `503` refusal ([`Shared`]) and, for
//! async engines, the drain within the grace period ([`accept_loop`]). It takes typed
//! [`ServeSettings`] (which `gateway-cli` builds from the flags) and knows no command
//! line.
//!
//! Everything about HTTP and Kafka lives below, in [`http_conn`] and [`ingest`]; an
//! engine only implements [`Engine`] (set a worker up on its thread, run it) and a
//! connection loop that moves bytes between a socket and an
//! [`http_conn::ServerConnection`].
//!
//! ```
//! use std::net::TcpStream;
//!
//! // Two listeners on one port: the kernel spreads connections between them.
//! let first = runtime_common::bind_reuse_port("127.0.0.1:0".parse()?)?;
//! let address = first.local_addr()?;
//! let second = runtime_common::bind_reuse_port(address)?;
//! TcpStream::connect(address)?;
//! # drop(second);
//! # Ok::<(), anyhow::Error>(())
//! ```
#![forbid(unsafe_code)]

mod listen;
mod settings;
pub mod shutdown;
mod supervise;
mod worker;

pub use listen::{bind_reuse_port, bind_workers};
pub use settings::ServeSettings;
pub use shutdown::Shutdown;
pub use supervise::{serve, Engine, Signals, StartedGateway};
pub use worker::{
    accept_loop, sleep_until, Accept, Accepted, ConnectionGuard, Shared, Worker, ACCEPT_BACKOFF,
};
