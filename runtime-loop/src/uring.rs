//! The io_uring engine: the loop over one [`Ring`] per worker. Per iteration one
//! `io_uring_enter` submits everything queued (receives to re-arm, the sends of every
//! connection with something to say) and waits for a completion, a wake-up or the
//! earliest deadline; then every completion is reaped and handled at once.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sys::{self, Completion, Ring, RingConfig, RingError};
use crate::wake::Notifier;
use crate::worker::Worker;

/// What the loop knows about one connection beyond what the ring tracks.
#[derive(Debug, Default)]
pub(crate) struct UringConn {
    eof: bool,
    failed: bool,
    /// The connection's send buffer while no send is in flight (the ring holds it
    /// meanwhile), reused from send to send.
    send_buf: Vec<u8>,
    /// How much of `send_buf` went out: short of its end after a partial send, when
    /// the rest goes next, from the same buffer.
    send_from: usize,
}

impl UringConn {
    /// The buffer and offset to send next: the unsent rest of the last one, or else
    /// `unsent` (what the connection has to say) copied into the reused buffer.
    fn next_send(&mut self, unsent: Option<&[u8]>) -> Option<(Vec<u8>, usize)> {
        if self.send_from < self.send_buf.len() {
            return Some((std::mem::take(&mut self.send_buf), self.send_from));
        }
        let unsent = unsent?;
        let mut buf = std::mem::take(&mut self.send_buf);
        buf.clear();
        buf.extend_from_slice(unsent);
        Some((buf, 0))
    }

    /// A send of `buf[offset..]` wrote `n` bytes: the buffer is ours again.
    fn sent(&mut self, buf: Vec<u8>, offset: usize, n: usize) {
        self.send_from = offset + n;
        self.send_buf = buf;
    }
}

/// Set up on the worker's thread (the ring is single-issuer) before it reports ready.
///
/// Closing depends on order: every operation of the ring is cancelled and reaped
/// before any socket closes, so that none still names a socket (a socket closed while
/// an operation on it is queued but not yet submitted lets its descriptor number be
/// reused, and the operation go to the new owner of that number) and the kernel holds
/// no listener or connection open behind the loop's back. `Drop` does it in that order,
/// after `run` and while unwinding from a panic alike; the fields are declared in the
/// same order (ring, listener, connections), so that drop glue repeats it.
pub(crate) struct UringEngine {
    ring: Ring,
    listener: Option<TcpListener>,
    worker: Worker<UringConn>,
}

impl UringEngine {
    pub(crate) fn new(
        worker: runtime_common::Worker,
        config: RingConfig,
        notifier: Arc<Notifier>,
    ) -> io::Result<Self> {
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
        Ok(Self {
            ring,
            listener: Some(listener),
            worker: Worker::new(shared, shutdown, notifier),
        })
    }

    /// The io_uring features in effect.
    pub(crate) fn features(&self) -> String {
        self.ring.features()
    }

    /// Runs the loop until shutdown drained every connection (or the grace period
    /// ended), then cancels and reaps every operation before the buffers go.
    pub(crate) fn run(mut self) -> Result<(), RingError> {
        let mut serviced = Vec::with_capacity(256);
        loop {
            let now = Instant::now();
            let timeout = self.worker.sleep_for(now);
            let sleeping = timeout != Some(Duration::ZERO) && self.worker.notifier.prepare_sleep();
            let timeout = if sleeping {
                timeout
            } else {
                Some(Duration::ZERO)
            };
            self.ring.submit_and_wait(timeout)?;
            self.worker.notifier.awake();
            let now = Instant::now();
            self.reap(now)?;
            self.worker.collect_woken();
            if self.worker.shutdown_requested() && !self.worker.draining() {
                self.ring.cancel_accept()?;
                self.worker.begin_drain(now);
            }
            if let Some(listener) = &self.listener {
                if !self.worker.draining()
                    && !self.ring.accept_armed()
                    && self.worker.accept_allowed(now)
                {
                    self.ring.arm_accept(listener.as_raw_fd())?;
                } else if self.worker.draining() && !self.ring.accept_armed() {
                    // The accept is reaped: close the listener so that new clients are
                    // refused rather than left in the backlog.
                    self.listener = None;
                }
            }
            self.worker.sweep(now);
            self.worker.take_dirty(&mut serviced);
            for &index in &serviced {
                self.service(index)?;
            }
            if self.worker.drained(now) {
                break;
            }
        }
        if self.worker.open() > 0 {
            tracing::warn!(
                open = self.worker.open(),
                "grace period over with connections still open"
            );
        }
        // `Drop` cancels and reaps every operation, then closes the sockets.
        Ok(())
    }

    fn reap(&mut self, now: Instant) -> Result<(), RingError> {
        let worker = &mut self.worker;
        let listener_open = self.listener.is_some();
        self.ring.complete(|completion| match completion {
            Completion::Accepted(Ok(stream)) => {
                if listener_open && !worker.draining() {
                    worker.admit(stream, now, |_, _| Ok(UringConn::default()));
                }
            }
            Completion::Accepted(Err(error)) => {
                tracing::warn!(%error, "accept failed; pausing accepts briefly");
                worker.pause_accept(now);
            }
            Completion::Received { slot, data } => {
                if let Some(conn) = worker.get(slot) {
                    conn.core.handle_read(now, data);
                    worker.mark(slot);
                }
            }
            Completion::Eof { slot } => {
                if let Some(conn) = worker.get(slot) {
                    conn.io.eof = true;
                    conn.core.handle_eof();
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
                    match result {
                        Ok(n) => {
                            conn.io.sent(buf, offset, n);
                            if !conn.core.is_closed() {
                                conn.core.transmitted(n);
                            }
                        }
                        Err(_) => conn.io.failed = true,
                    }
                    worker.mark(slot);
                }
            }
        })
    }

    /// Drives one connection: events to the gateway, its replies into a send, its
    /// receive (re-)armed or paused; a finished connection is closed once the ring
    /// holds no operation on it.
    fn service(&mut self, index: usize) -> Result<(), RingError> {
        self.worker.drive(index);
        let ring = &mut self.ring;
        let Some(conn) = self.worker.get(index) else {
            return Ok(());
        };
        let fd = sys::raw(&conn.stream);
        let finished = conn.core.is_closed() || conn.io.failed;
        if finished {
            ring.cancel_recv(index)?;
            ring.cancel_send(index)?;
            if !ring.busy(index) {
                if let Some(conn) = self.worker.remove(index) {
                    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
                }
            }
            return Ok(());
        }
        if !ring.sending(index) {
            if let Some((buf, offset)) = conn.io.next_send(conn.core.poll_transmit()) {
                ring.send(index, fd, buf, offset)?;
            }
        }
        let wants_read = conn.core.wants_read() && !conn.io.eof;
        match (wants_read, ring.recv_armed(index)) {
            (true, false) => ring.arm_recv(index, fd)?,
            // Pipelining bound or unsent output: stop taking bytes until it clears.
            (false, true) => ring.cancel_recv(index)?,
            _ => {}
        }
        self.worker.update_deadline(index);
        Ok(())
    }
}

impl Drop for UringEngine {
    fn drop(&mut self) {
        if !self.ring.cancel_all_and_reap(Duration::from_secs(5)) {
            tracing::error!(
                in_flight = self.ring.in_flight(),
                "operations left uncancelled"
            );
        }
        drop(self.listener.take());
        for index in self.worker.indices() {
            self.worker.remove(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_send_sends_the_rest_of_the_same_buffer_without_a_copy() {
        let mut conn = UringConn::default();
        let (buf, offset) = conn.next_send(Some(b"hello world")).unwrap();
        assert_eq!((&buf[..], offset), (&b"hello world"[..], 0));
        let address = buf.as_ptr();
        conn.sent(buf, 0, 6);
        // The connection's unsent bytes start at "world" now and grew meanwhile: the
        // rest of the buffer goes next, not a new copy of them.
        let (buf, offset) = conn.next_send(Some(b"world, and more")).unwrap();
        assert_eq!((&buf[offset..], offset), (&b"world"[..], 6));
        assert_eq!(buf.as_ptr(), address);
        conn.sent(buf, 6, 5);
        // All of it went: the next bytes are copied into the same, reused buffer.
        let (buf, offset) = conn.next_send(Some(b", and more")).unwrap();
        assert_eq!((&buf[..], offset), (&b", and more"[..], 0));
        assert_eq!(buf.as_ptr(), address);
        conn.sent(buf, 0, 10);
        assert!(conn.next_send(None).is_none());
    }
}
