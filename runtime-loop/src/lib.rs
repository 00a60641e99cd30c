//! The gateway on a loop it owns: one thread per core, each running one event loop with
//! no async runtime, over the sans-IO connection core [`http_conn`] and the I/O-free
//! policy [`ingest`]. Two engines drive the same loop:
//!
//! - **io_uring** (default): multishot accept, multishot receive into a provided-buffer
//!   ring (consumed incrementally where the kernel supports it), sends from a buffer the
//!   ring owns until the completion, one submit-and-wait per iteration on a ring set up
//!   with `SINGLE_ISSUER` and `DEFER_TASKRUN`. Every feature can be switched off with
//!   `--uring-disable` for an ablation.
//! - **epoll**: edge-triggered, the same loop, buffers, timeouts and wake-ups; the honest
//!   control.
//!
//! Per iteration a worker waits once (until I/O, a Kafka delivery, or the earliest
//! connection deadline), feeds what arrived into each connection, answers what is ready,
//! writes the replies of every connection, and sweeps the deadlines that passed.
//!
//! ```no_run
//! let args = runtime_loop::LoopArgs::parse_from(["runtime-loop", "--engine", "epoll"])?;
//! runtime_loop::run(args)?; // serves until SIGINT/SIGTERM
//! # Ok::<(), anyhow::Error>(())
//! ```
#![deny(unsafe_code)]

mod args;
mod epoll;
mod server;
#[allow(unsafe_code)]
mod sys;
mod uring;
mod wake;
mod worker;

use anyhow::Context;

pub use args::{Engine, LoopArgs, UringFeature, DEFAULTS};

/// Starts the gateway and serves until SIGINT or SIGTERM, then drains and flushes.
///
/// # Errors
///
/// Start-up failures (the sink, the topic, io_uring set-up, the listen address), and a
/// worker that stopped unexpectedly (after the others were stopped and the producer
/// flushed).
pub fn run(args: LoopArgs) -> anyhow::Result<()> {
    let started = gateway_cli::start(&args.gateway).context("cannot start the gateway")?;
    let settings = args.gateway.serve_settings();
    match args.engine {
        Engine::IoUring => runtime_common::serve(server::Uring::new(&args), &settings, &started),
        Engine::Epoll => runtime_common::serve(server::Epoll, &settings, &started),
    }
}
