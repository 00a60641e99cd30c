//! The gateway on tokio-uring (io_uring): one single-threaded runtime per worker
//! thread, each with its own `SO_REUSEPORT` listener, all sharing one producer.
//! HTTP is framed by [`http_parse`] straight out of a per-connection buffer that is
//! reused across requests; pipelined requests are enqueued to Kafka together and
//! answered in order with one write. Policy comes from [`ingest`].
//!
//! ```no_run
//! let args = ingest::GatewayArgs::parse_from_with(
//!     ["runtime-uring", "--embedded-broker"],
//!     runtime_uring::DEFAULTS,
//! )?;
//! runtime_uring::run(args)?; // serves until SIGINT/SIGTERM
//! # Ok::<(), anyhow::Error>(())
//! ```
#![forbid(unsafe_code)]

mod conn;
mod date;
mod server;

use anyhow::Context;
use ingest::{Defaults, GatewayArgs};

/// This binary's defaults: port 8081, topic `test_topic_io_uring`.
pub const DEFAULTS: Defaults = Defaults {
    name: "runtime-uring",
    about: "HTTP-to-Kafka gateway on tokio-uring (io_uring)",
    listen: "0.0.0.0:8081",
    topic: "test_topic_io_uring",
};

/// Starts the gateway and serves until SIGINT or SIGTERM, then drains and flushes.
pub fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let started = ingest::startup::start(&args).context("cannot start the gateway")?;
    let served = server::serve(&args, &started);
    // Flush even when a worker failed: records already queued still deserve delivery.
    started.gateway.finish(args.grace_period());
    served
}
