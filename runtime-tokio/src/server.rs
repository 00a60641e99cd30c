//! The epoll engine: a current-thread tokio runtime per worker thread, accepting on the
//! worker's `SO_REUSEPORT` listener. Threads, signals, admission and shutdown are
//! [`runtime_common`]'s.

use anyhow::Context;
use runtime_common::{accept_loop, Accept, Accepted, Engine, Worker};
use tokio::io::AsyncWriteExt;
use tokio::task::LocalSet;

/// epoll through tokio's current-thread runtime.
pub(crate) struct Epoll;

impl Engine for Epoll {
    type Ready = (tokio::runtime::Runtime, Worker);
    const NAME: &'static str = "epoll";

    fn set_up(&self, worker: Worker) -> anyhow::Result<Self::Ready> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|runtime| (runtime, worker))
            .context("cannot build a tokio runtime for a worker thread")
    }

    fn run(&self, (runtime, worker): Self::Ready) {
        let Worker {
            listener,
            shared,
            shutdown,
            ..
        } = worker;
        // Connections hold their worker's drain count (`Rc`): tasks stay on this thread.
        let tasks = LocalSet::new();
        tasks.block_on(&runtime, async {
            let listener = match listener
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(listener))
            {
                Ok(listener) => Listener(listener),
                // Only without a reactor, which this runtime has: a bug, not an outage.
                Err(error) => panic!("cannot register the listener with epoll: {error}"),
            };
            accept_loop(
                &shared,
                shutdown.clone(),
                listener,
                |accepted| match accepted {
                    Accepted::Admitted { stream, guard } => {
                        let _ = stream.set_nodelay(true);
                        let shared = std::sync::Arc::clone(&shared);
                        let shutdown = shutdown.clone();
                        tokio::task::spawn_local(async move {
                            crate::conn::serve(stream, &shared, shutdown).await;
                            drop(guard);
                        });
                    }
                    Accepted::Refused { mut stream, why } => {
                        let shared = std::sync::Arc::clone(&shared);
                        tokio::task::spawn_local(async move {
                            let _ = stream.write_all(shared.refusal(why)).await;
                        });
                    }
                },
            )
            .await;
        });
    }
}

struct Listener(tokio::net::TcpListener);

impl Accept for Listener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> std::io::Result<(Self::Stream, std::net::SocketAddr)> {
        self.0.accept().await
    }
}
