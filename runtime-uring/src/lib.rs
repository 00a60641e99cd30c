//! The gateway on tokio-uring (io_uring): one single-threaded runtime per worker
//! thread, each with its own `SO_REUSEPORT` listener, all sharing one producer.
//!
//! This crate is only the engine: sockets, buffers, tasks. Each connection is an
//! [`http_conn::ServerConnection`] (framing, pipelining, `100 Continue`, keep-alive,
//! header/body/idle deadlines) driven by an [`ingest::Dispatcher`] (requests to the
//! gateway, replies back in order); worker threads, signals, the connection limit and
//! shutdown come from [`runtime_common`]. `runtime-tokio` is the same code on epoll.
//!
//! ```no_run
//! let args = runtime_uring::UringArgs::parse_from(["runtime-uring", "--embedded-broker"])?;
//! runtime_uring::run(args)?; // serves until SIGINT/SIGTERM
//! # Ok::<(), anyhow::Error>(())
//! ```
#![forbid(unsafe_code)]

mod args;
mod conn;
mod server;

use anyhow::Context;

pub use args::{UringArgs, DEFAULTS};

/// Starts the gateway and serves until SIGINT or SIGTERM, then drains and flushes.
///
/// # Errors
///
/// If start-up fails (broker, topic, listener, an io_uring the kernel refuses), or a
/// worker panicked (after the others stopped and the producer flushed).
pub fn run(args: UringArgs) -> anyhow::Result<()> {
    let started = gateway_cli::start(&args.gateway).context("cannot start the gateway")?;
    let engine = server::Uring {
        ring_entries: args.ring.ring_entries,
    };
    runtime_common::serve(engine, &args.gateway.serve_settings(), &started)
}
