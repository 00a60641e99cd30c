//! The gateway on hyper 1.x (`http1` server, `hyper-util` graceful shutdown) and a
//! multi-threaded tokio runtime (epoll). Thin glue: HTTP semantics come from hyper,
//! everything the gateway decides comes from [`ingest`].
//!
//! ```no_run
//! let args = gateway_cli::GatewayArgs::parse_from_with(
//!     ["runtime-hyper", "--embedded-broker"],
//!     runtime_hyper::DEFAULTS,
//! )?;
//! runtime_hyper::run(args)?; // serves until SIGINT/SIGTERM
//! # Ok::<(), anyhow::Error>(())
//! ```
#![forbid(unsafe_code)]

mod deadline;
mod server;
mod service;

use anyhow::Context;
use gateway_cli::{Defaults, GatewayArgs};

/// This binary's defaults: port 8080, topic `test_topic_tokio`.
pub const DEFAULTS: Defaults = Defaults {
    name: "runtime-hyper",
    about: "HTTP-to-Kafka gateway on hyper 1.x and tokio (epoll)",
    listen: "0.0.0.0:8080",
    topic: "test_topic_tokio",
};

/// Starts the gateway and serves until SIGINT or SIGTERM, then drains and flushes.
pub fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let started = gateway_cli::start(&args).context("cannot start the gateway")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.runtime.worker_count().get())
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;
    runtime.block_on(server::serve(&args, &started))?;
    started.gateway.finish(args.runtime.grace_period());
    Ok(())
}
