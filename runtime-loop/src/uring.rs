//! The io_uring engine: one [`Ring`] per worker. Per iteration one `io_uring_enter`
//! submits everything queued (receives to re-arm, the sends of every connection with
//! something to say) and waits for a completion, a wake-up or the earliest deadline;
//! then every completion is reaped and handed to its connection.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_conn::{Action, Transmit};

use crate::sys::{self, Completion, Ring, RingConfig};
use crate::wake::Notifier;
use crate::worker::{Io, Worker};

/// What the engine knows about one connection beyond what the ring tracks.
#[derive(Debug, Default)]
pub(crate) struct UringConn {
    eof: bool,
    failed: bool,
    /// The driver's transmit, held until the ring's send of it completes.
    sending: Option<Transmit>,
}

/// Set up on the worker's thread (the ring is single-issuer) before it reports ready.
pub(crate) struct UringEngine {
    ring: Ring,
    listener: Option<TcpListener>,
    notifier: Arc<Notifier>,
    /// The eventfd read completed: re-armed after the completions are handled.
    woken: bool,
}

impl UringEngine {
    /// The engine and its worker, from the worker's share of the server.
    pub(crate) fn new(
        worker: runtime_common::Worker,
        config: RingConfig,
        notifier: Arc<Notifier>,
    ) -> io::Result<(Self, Worker<UringConn>)> {
        let runtime_common::Worker {
            listener,
            shared,
            shutdown,
            ..
        } = worker;
        let mut ring = Ring::new(config)?;
        ring.arm_accept(listener.as_raw_fd());
        ring.arm_wake(notifier.eventfd().raw());
        let engine = Self {
            ring,
            listener: Some(listener),
            notifier: Arc::clone(&notifier),
            woken: false,
        };
        Ok((engine, Worker::new(shared, shutdown, notifier)))
    }

    /// The io_uring features in effect.
    pub(crate) fn features(&self) -> String {
        self.ring.features()
    }
}

impl Io for UringEngine {
    type Conn = UringConn;

    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.ring.submit_and_wait(timeout)
    }

    fn dispatch(&mut self, worker: &mut Worker<UringConn>, now: Instant) {
        let woken = &mut self.woken;
        self.ring.complete(|_, completion| match completion {
            Completion::Accepted(Ok(stream)) => {
                worker.admit(stream, now, |_, _| Ok(UringConn::default()));
            }
            Completion::Accepted(Err(error)) => {
                tracing::warn!(%error, "accept failed; pausing accepts briefly");
                worker.pause_accept(now);
            }
            Completion::Received { slot, data } => {
                if let Some(conn) = worker.get(slot) {
                    conn.driver.handle_read(now, data);
                    worker.mark(slot);
                }
            }
            Completion::Eof { slot } => {
                if let Some(conn) = worker.get(slot) {
                    conn.io.eof = true;
                    conn.driver.handle_eof();
                    worker.mark(slot);
                }
            }
            Completion::RecvFailed { slot, error } => {
                tracing::debug!(%error, "receive failed; closing");
                if let Some(conn) = worker.get(slot) {
                    conn.io.failed = true;
                    worker.mark(slot);
                }
            }
            Completion::RecvStopped { slot } => worker.mark(slot),
            Completion::Sent { slot, result } => {
                if let Some(conn) = worker.get(slot) {
                    let transmit = conn.io.sending.take();
                    match (result, transmit) {
                        (Ok(n), Some(transmit)) => conn.driver.transmitted(now, transmit, n),
                        (Err(_), _) => conn.io.failed = true,
                        (Ok(_), None) => {}
                    }
                    worker.mark(slot);
                }
            }
            Completion::Woken => *woken = true,
        });
        if std::mem::take(&mut self.woken) {
            self.ring.arm_wake(self.notifier.eventfd().raw());
        }
    }

    fn accept(&mut self, worker: &mut Worker<UringConn>, now: Instant) {
        let Some(listener) = &self.listener else {
            return;
        };
        if self.ring.accept_armed() {
            return;
        }
        if worker.draining() {
            // The cancelled accept is reaped: close the listener so that new clients
            // are refused rather than left in the backlog.
            self.listener = None;
        } else if worker.accept_allowed(now) {
            self.ring.arm_accept(listener.as_raw_fd());
        }
    }

    fn stop_accepting(&mut self) {
        // The listener closes once the ring gave the accept back (see `accept`); until
        // then a late accept is dropped by the draining worker.
        self.ring.cancel_accept();
    }

    /// A `match` over the connection's next actions: a transmit becomes a send (the
    /// ring holds it until the completion), waiting arms or cancels the receive, and a
    /// finished connection is closed once the ring holds no operation on it.
    fn service(&mut self, worker: &mut Worker<UringConn>, index: usize, now: Instant) {
        let ring = &mut self.ring;
        let Some(conn) = worker.get(index) else {
            return;
        };
        let fd = sys::raw(&conn.stream);
        loop {
            if conn.io.failed {
                break;
            }
            match conn.poll_action(now) {
                Action::Transmit(transmit) => {
                    // The driver lends one transmit at a time: none is in flight.
                    debug_assert!(!ring.sending(index));
                    ring.send(index, fd, transmit.bytes());
                    conn.io.sending = Some(transmit);
                }
                Action::ShutdownWrite => {
                    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
                }
                Action::Wait { read, .. } => {
                    match (read && !conn.io.eof, ring.recv_armed(index)) {
                        (true, false) => ring.arm_recv(index, fd),
                        // Pipelining bound, output piling up, the service's bound: stop
                        // taking bytes until it clears.
                        (false, true) => ring.cancel_recv(index),
                        _ => {}
                    }
                    worker.update_deadline(index);
                    return;
                }
                Action::Close => break,
            }
        }
        // Closed or failed: cancel what the ring holds, and close once it gave it back.
        ring.cancel_recv(index);
        ring.cancel_send(index);
        if !ring.busy(index) {
            if let Some(conn) = worker.remove(index) {
                let _ = conn.stream.shutdown(std::net::Shutdown::Both);
            }
        } else if let Some(conn) = worker.get(index) {
            conn.io.failed = true;
        }
    }

    fn finish(&mut self, worker: &mut Worker<UringConn>) {
        // Every operation ends before any socket closes or buffer is freed.
        if !self.ring.cancel_all_and_reap(Duration::from_secs(5)) {
            tracing::error!(
                in_flight = self.ring.in_flight(),
                "operations left uncancelled"
            );
        }
        for index in worker.indices() {
            worker.remove(index);
        }
        self.listener = None;
    }
}
