//! The io_uring engine: a tokio-uring runtime per worker thread, accepting on the
//! worker's `SO_REUSEPORT` listener. Threads, signals, admission and shutdown are
//! [`runtime_common`]'s.

use std::sync::Arc;

use anyhow::anyhow;
use runtime_common::{accept_loop, Accept, Accepted, Engine, Worker};

/// io_uring through tokio-uring, with rings of `ring_entries`.
pub(crate) struct Uring {
    pub(crate) ring_entries: u32,
}

impl Engine for Uring {
    type Ready = (tokio_uring::Runtime, Worker);
    const NAME: &'static str = "io_uring";

    fn set_up(&self, worker: Worker) -> anyhow::Result<Self::Ready> {
        let ring_entries = self.ring_entries;
        let runtime = tokio_uring::Runtime::new(tokio_uring::builder().entries(ring_entries));
        runtime.map(|runtime| (runtime, worker)).map_err(|error| {
            anyhow!(
                "cannot set up io_uring ({ring_entries} entries): {error}. io_uring may be \
                 disabled (sysctl kernel.io_uring_disabled), blocked by seccomp or a container \
                 policy, or refuse the ring size (see --ring-entries); runtime-tokio and \
                 runtime-hyper serve the same gateway on epoll"
            )
        })
    }

    fn run(&self, (runtime, worker): Self::Ready) {
        let Worker {
            listener,
            shared,
            shutdown,
            ..
        } = worker;
        runtime.block_on(async {
            let listener = Listener(tokio_uring::net::TcpListener::from_std(listener));
            accept_loop(
                &shared,
                shutdown.clone(),
                listener,
                |accepted| match accepted {
                    Accepted::Admitted { stream, guard } => {
                        let _ = stream.set_nodelay(true);
                        let shared = Arc::clone(&shared);
                        let shutdown = shutdown.clone();
                        tokio_uring::spawn(async move {
                            crate::conn::serve(stream, &shared, shutdown).await;
                            drop(guard);
                        });
                    }
                    Accepted::Refused { stream, why } => {
                        let refusal = shared.refusal(why).to_vec();
                        tokio_uring::spawn(async move {
                            let _ = stream.write_all(refusal).await;
                        });
                    }
                },
            )
            .await;
        });
    }
}

struct Listener(tokio_uring::net::TcpListener);

impl Accept for Listener {
    type Stream = tokio_uring::net::TcpStream;

    async fn accept(&mut self) -> std::io::Result<(Self::Stream, std::net::SocketAddr)> {
        self.0.accept().await
    }
}
