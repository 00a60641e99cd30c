//! The gateway on tokio's current-thread runtime (epoll): one runtime per worker
//! thread (thread per core), each with its own `SO_REUSEPORT` listener, all sharing one
//! producer.
//!
//! It is the epoll control for `runtime-uring`: the same code apart from the engine.
//! Each connection is an [`http_conn::ServerConnection`] (framing, pipelining, `100
//! Continue`, keep-alive, header/body/idle deadlines) driven by an
//! [`ingest::Dispatcher`] (requests to the gateway, replies back in order); worker
//! threads, signals, the connection limit and shutdown come from [`runtime_common`].
//! What differs is only how bytes move: here the socket reads straight into the
//! connection's buffer and writes straight from its transmit buffer, with no copy.
//!
//! ```no_run
//! let args = gateway_cli::GatewayArgs::parse_from_with(
//!     ["runtime-tokio", "--embedded-broker"],
//!     runtime_tokio::DEFAULTS,
//! )?;
//! runtime_tokio::run(args)?; // serves until SIGINT/SIGTERM
//! # Ok::<(), anyhow::Error>(())
//! ```
#![forbid(unsafe_code)]

mod conn;
mod server;

use anyhow::Context;
use gateway_cli::{Defaults, GatewayArgs};

/// This binary's defaults: port 8082, topic `test_topic_tokio_raw`.
pub const DEFAULTS: Defaults = Defaults {
    name: "runtime-tokio",
    about: "HTTP-to-Kafka gateway on tokio's current-thread runtime (epoll), thread per core",
    listen: "0.0.0.0:8082",
    topic: "test_topic_tokio_raw",
};

/// Starts the gateway and serves until SIGINT or SIGTERM, then drains and flushes.
///
/// # Errors
///
/// If start-up fails (broker, topic, listener, a runtime that cannot be built), or a
/// worker panicked (after the others stopped and the producer flushed).
pub fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let started = gateway_cli::start(&args).context("cannot start the gateway")?;
    runtime_common::serve(server::Epoll, &args.serve_settings(), &started)
}
