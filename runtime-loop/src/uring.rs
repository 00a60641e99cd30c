//! The io_uring engine: one [`Ring`] per worker. Per iteration one `io_uring_enter`
//! submits everything queued (receives to re-arm, the sends of every connection with
//! something to say) and waits for a completion, a wake-up or the earliest deadline;
//! then every completion is reaped and handed to its connection.
//!
//! Sends take the buffer the connection's driver hands over ([`Transmit`]) and the ring
//! holds it until the completion gives it back: no response is copied to be sent, and a
//! partial send resends the rest of the same buffer.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_conn::{Action, Transmit};

use crate::args::UringFeature;
use crate::sys::{self, Completion, Ring, RingConfig, RingError};
use crate::wake::Notifier;
use crate::worker::{Io, Worker};

/// What the engine knows about one connection beyond what the ring tracks.
#[derive(Debug, Default)]
pub(crate) struct UringConn {
    eof: bool,
    failed: bool,
    /// Without `owned-send`: the driver's transmit, held while the ring sends a copy.
    held: Option<Transmit>,
    /// Without `owned-send`: the engine's buffer the copies go into (reused).
    copy: Vec<u8>,
}

/// Set up on the worker's thread (the ring is single-issuer) before it reports ready.
///
/// Closing depends on order: every operation of the ring is cancelled and reaped
/// before any socket closes, so that none still names a socket (a socket closed while
/// an operation on it is queued but not yet submitted lets its descriptor number be
/// reused, and the operation go to the new owner of that number) and the kernel holds
/// no listener or connection open behind the loop's back. [`Io::finish`] does it in that
/// order, and `worker::run` calls it when the loop ends, also while unwinding from a
/// panic.
pub(crate) struct UringEngine {
    ring: Ring,
    listener: Option<TcpListener>,
    /// Send the driver's own buffers (`owned-send`), or copies of them.
    owned_send: bool,
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
        ring.arm_accept(listener.as_raw_fd())
            .map_err(io::Error::other)?;
        ring.arm_wake(notifier.eventfd().raw())
            .map_err(io::Error::other)?;
        let engine = Self {
            ring,
            listener: Some(listener),
            owned_send: config.features.has(UringFeature::OwnedSend),
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
    type Error = RingError;

    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), RingError> {
        self.ring.submit_and_wait(timeout)
    }

    fn dispatch(&mut self, worker: &mut Worker<UringConn>, now: Instant) -> Result<(), RingError> {
        self.ring.complete(|completion| match completion {
            Completion::Accepted(Ok(stream)) => {
                // The multishot accept returns no peer address: `admit` asks the
                // socket for it when it needs it.
                worker.admit(stream, None, now, |_, _| Ok(UringConn::default()));
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
            Completion::Sent {
                slot,
                buf,
                offset,
                result,
            } => {
                if let Some(conn) = worker.get(slot) {
                    let transmit = match conn.io.held.take() {
                        // A copy went out: the engine's buffer comes back, and the
                        // driver's own transmit with the count.
                        Some(held) => {
                            conn.io.copy = buf;
                            held
                        }
                        None => Transmit::from_parts(buf, offset),
                    };
                    match result {
                        Ok(n) => conn.driver.transmitted(now, transmit, n),
                        Err(_) => {
                            conn.driver.transmitted(now, transmit, 0);
                            conn.io.failed = true;
                        }
                    }
                    worker.mark(slot);
                }
            }
        })
    }

    fn accept(&mut self, worker: &mut Worker<UringConn>, now: Instant) -> Result<(), RingError> {
        let Some(listener) = &self.listener else {
            return Ok(());
        };
        if self.ring.accept_armed() {
            return Ok(());
        }
        if worker.draining() {
            // The cancelled accept is reaped: close the listener so that new clients
            // are refused rather than left in the backlog.
            self.listener = None;
        } else if worker.accept_allowed(now) {
            self.ring.arm_accept(listener.as_raw_fd())?;
        }
        Ok(())
    }

    fn stop_accepting(&mut self) -> Result<(), RingError> {
        // The listener closes once the ring gave the accept back (see `accept`); until
        // then a late accept is dropped by the draining worker.
        self.ring.cancel_accept()
    }

    /// A `match` over the connection's next actions: a transmit becomes a send (the
    /// ring holds its buffer until the completion), waiting arms or cancels the
    /// receive, and a finished connection is closed once the ring holds no operation
    /// on it.
    fn service(
        &mut self,
        worker: &mut Worker<UringConn>,
        index: usize,
        now: Instant,
    ) -> Result<(), RingError> {
        let ring = &mut self.ring;
        let Some(conn) = worker.get(index) else {
            return Ok(());
        };
        let fd = sys::raw(&conn.stream);
        while !conn.io.failed {
            match conn.poll_action(now) {
                Action::Transmit(transmit) => {
                    let (buf, offset) = if self.owned_send {
                        transmit.into_parts()
                    } else {
                        let mut copy = std::mem::take(&mut conn.io.copy);
                        copy.clear();
                        copy.extend_from_slice(transmit.bytes());
                        conn.io.held = Some(transmit);
                        (copy, 0)
                    };
                    if let Err(refused) = ring.send(index, fd, buf, offset) {
                        // The driver lends one transmit at a time, so the slot is free:
                        // a refusal is the ring's own trouble (a stuck queue).
                        let transmit = conn
                            .io
                            .held
                            .take()
                            .unwrap_or_else(|| Transmit::from_parts(refused.buf, offset));
                        conn.driver.transmitted(now, transmit, 0);
                        return Err(refused.error);
                    }
                }
                Action::ShutdownWrite => {
                    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
                }
                Action::Wait { read, deadline } => {
                    match (read && !conn.io.eof, ring.recv_armed(index)) {
                        (true, false) => ring.arm_recv(index, fd)?,
                        // Pipelining bound, output piling up, the service's bound: stop
                        // taking bytes until it clears.
                        (false, true) => ring.cancel_recv(index)?,
                        _ => {}
                    }
                    worker.set_deadline(index, deadline);
                    return Ok(());
                }
                Action::Close => conn.io.failed = true,
            }
        }
        // Closed or failed: cancel what the ring holds, and close once it gave it back.
        ring.cancel_recv(index)?;
        ring.cancel_send(index)?;
        if !ring.busy(index) {
            if let Some(conn) = worker.remove(index) {
                let _ = conn.stream.shutdown(std::net::Shutdown::Both);
            }
        }
        Ok(())
    }

    fn finish(&mut self, worker: &mut Worker<UringConn>) {
        if !self.ring.cancel_all_and_reap(Duration::from_secs(5)) {
            tracing::error!(
                in_flight = self.ring.in_flight(),
                "operations left uncancelled"
            );
        }
        self.listener = None;
        for index in worker.indices() {
            worker.remove(index);
        }
    }
}
