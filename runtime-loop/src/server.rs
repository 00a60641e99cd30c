//! The two engines as [`runtime_common::Engine`]s: what a worker sets up on its own
//! thread (and the start-up error when it cannot), and the loop it then runs.
//! Listeners, worker threads, the start-up report, signals, supervision and the
//! shutdown sequence are `runtime_common::serve`'s, as for every raw-TCP server.
//!
//! Shutdown reaches a sleeping loop through its doorbell: each worker registers a
//! waker with [`runtime_common::Shutdown::wake_on_request`] that writes its eventfd.

use std::sync::Arc;

use anyhow::{anyhow, Context};
use runtime_common::{Shutdown, Worker};

use crate::args::LoopArgs;
use crate::epoll::{EpollConn, EpollEngine};
use crate::sys::RingConfig;
use crate::uring::{UringConn, UringEngine};
use crate::wake::Notifier;
use crate::worker;

/// The worker's doorbell, rung by its connections' wakers and by shutdown.
fn notifier(shutdown: &Shutdown) -> anyhow::Result<Arc<Notifier>> {
    let notifier = Notifier::new().context("cannot create an eventfd")?;
    shutdown.wake_on_request(notifier.shutdown_waker());
    Ok(notifier)
}

/// The io_uring engine with the ring set-up the flags ask for.
pub(crate) struct Uring {
    config: RingConfig,
}

impl Uring {
    pub(crate) fn new(args: &LoopArgs) -> Self {
        Self {
            config: RingConfig {
                entries: args.ring.ring_entries,
                features: args.uring_features(),
                buffers: args.uring_buffers,
                buffer_bytes: args.uring_buffer_bytes,
                // Admission is process-wide, so one worker may hold every connection.
                max_connections: args.gateway.runtime.max_connections,
            },
        }
    }
}

impl runtime_common::Engine for Uring {
    /// The worker's index (for a failure's message), its engine and its loop.
    type Ready = (usize, UringEngine, worker::Worker<UringConn>);
    const NAME: &'static str = "io_uring (own loop)";
    const THREAD_NAME: &'static str = "loop";

    /// On the worker's thread: the ring is single-issuer.
    fn set_up(&self, worker: Worker) -> anyhow::Result<Self::Ready> {
        let index = worker.index;
        let notifier = notifier(&worker.shutdown)?;
        let config = self.config;
        let (engine, worker) = UringEngine::new(worker, config, notifier).map_err(|error| {
            anyhow!(
                "cannot set up io_uring ({} entries, features {}): {error}. io_uring may be \
                 disabled (sysctl kernel.io_uring_disabled), blocked by seccomp or a container \
                 policy, limited (RLIMIT_MEMLOCK), or refuse the ring size (see --ring-entries) \
                 or a feature (see --uring-disable); run with --engine epoll to serve the same \
                 gateway on epoll",
                config.entries,
                config.features,
            )
        })?;
        Ok((index, engine, worker))
    }

    fn features(&self, (_, engine, _): &Self::Ready) -> Option<String> {
        Some(engine.features())
    }

    fn run(&self, (index, engine, worker): Self::Ready) {
        if let Err(error) = worker::run(engine, worker) {
            panic!("worker {index} failed: {error}");
        }
    }
}

/// The epoll engine: the control.
pub(crate) struct Epoll;

impl runtime_common::Engine for Epoll {
    /// The worker's index (for a failure's message), its engine and its loop.
    type Ready = (usize, EpollEngine, worker::Worker<EpollConn>);
    const NAME: &'static str = "epoll (own loop)";
    const THREAD_NAME: &'static str = "loop";

    fn set_up(&self, worker: Worker) -> anyhow::Result<Self::Ready> {
        let index = worker.index;
        let notifier = notifier(&worker.shutdown)?;
        let (engine, worker) = EpollEngine::new(worker, notifier)
            .map_err(|error| anyhow!("cannot set up epoll: {error}"))?;
        Ok((index, engine, worker))
    }

    fn run(&self, (index, engine, worker): Self::Ready) {
        if let Err(error) = worker::run(engine, worker) {
            panic!("worker {index} failed: {error}");
        }
    }
}
