//! The epoll engine: edge-triggered readiness and plain `read`/`write` on non-blocking
//! sockets, reading straight into each connection's buffer. The control for the
//! io_uring engine: the same loop, connection core, buffers, timeouts and wake-ups.
//!
//! Edge-triggered means a socket is reported once per change, so the loop remembers
//! what it was told: `readable` until a read comes back short (a TCP read returns less
//! than asked only when the receive queue is empty, so the read that would return
//! `EAGAIN` is never made), `writable` until a write is cut short.

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use crate::sys::{Epoll, Readiness};
use crate::wake::Notifier;
use crate::worker::Worker;

const LISTENER: u64 = u64::MAX;
const WAKE: u64 = u64::MAX - 1;

/// What the loop knows about one socket.
#[derive(Debug)]
pub(crate) struct EpollConn {
    readable: bool,
    writable: bool,
    hang_up: bool,
    failed: bool,
}

/// Set up on the worker's thread before it reports ready.
pub(crate) struct EpollEngine {
    epoll: Epoll,
    listener: Option<TcpListener>,
    worker: Worker<EpollConn>,
}

impl EpollEngine {
    pub(crate) fn new(worker: runtime_common::Worker, notifier: Arc<Notifier>) -> io::Result<Self> {
        let runtime_common::Worker {
            listener,
            shared,
            shutdown,
            ..
        } = worker;
        let epoll = Epoll::new(1024)?;
        listener.set_nonblocking(true)?;
        epoll.add(listener.as_raw_fd(), LISTENER)?;
        epoll.add(notifier.eventfd().raw(), WAKE)?;
        Ok(Self {
            epoll,
            listener: Some(listener),
            worker: Worker::new(shared, shutdown, notifier),
        })
    }

    /// Runs the loop until shutdown drained every connection (or the grace period
    /// ended).
    pub(crate) fn run(mut self) -> io::Result<()> {
        let mut ready = Vec::with_capacity(256);
        let mut accept = false;
        let mut serviced = Vec::with_capacity(256);
        loop {
            let now = Instant::now();
            let timeout = self.worker.sleep_for(now);
            let sleeping =
                timeout != Some(std::time::Duration::ZERO) && self.worker.notifier.prepare_sleep();
            let timeout = if sleeping {
                timeout
            } else {
                Some(std::time::Duration::ZERO)
            };
            self.epoll.wait(timeout, |event| ready.push(event))?;
            self.worker.notifier.awake();
            let now = Instant::now();
            for event in ready.drain(..) {
                let Readiness { token, .. } = event;
                match token {
                    LISTENER => accept = true,
                    WAKE => {
                        self.worker.notifier.eventfd().take();
                    }
                    _ => self.note(token as usize, event),
                }
            }
            if accept && self.listener.is_some() && self.worker.accept_allowed(now) {
                // Stays set if accepting failed: retried after the pause.
                accept = !self.accept_all(now);
            }
            self.worker.collect_woken();
            if self.worker.shutdown_requested() && !self.worker.draining() {
                if let Some(listener) = self.listener.take() {
                    self.epoll.remove(listener.as_raw_fd());
                }
                self.worker.begin_drain(now);
            }
            self.worker.sweep(now);
            self.worker.take_dirty(&mut serviced);
            for &index in &serviced {
                self.service(index, now);
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
        Ok(())
    }

    fn note(&mut self, index: usize, event: Readiness) {
        let Some(conn) = self.worker.get(index) else {
            return;
        };
        conn.io.readable |= event.readable;
        conn.io.writable |= event.writable;
        conn.io.hang_up |= event.hang_up;
        self.worker.mark(index);
    }

    /// Accepts until the queue is empty (the one `EAGAIN` edge-triggered accept needs).
    /// Returns `false` if an accept failed (accepting then pauses briefly).
    fn accept_all(&mut self, now: Instant) -> bool {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return true;
            };
            match listener.accept() {
                Ok((stream, _)) => {
                    let epoll = &self.epoll;
                    self.worker.admit(stream, now, |index, stream| {
                        stream.set_nonblocking(true)?;
                        epoll.add(stream.as_raw_fd(), index as u64)?;
                        Ok(EpollConn {
                            // Not assumed: adding a socket that already has data reports
                            // it at once, so a client that has sent nothing yet costs
                            // no read that could only return EAGAIN.
                            readable: false,
                            writable: true,
                            hang_up: false,
                            failed: false,
                        })
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return true,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    // Out of descriptors and the like: the queue is not empty, but no
                    // edge will say so again; retry after a pause rather than spin.
                    tracing::warn!(%error, "accept failed; pausing accepts briefly");
                    self.worker.pause_accept(now);
                    return false;
                }
            }
        }
    }

    /// Drives one connection: events to the gateway, replies out, bytes in, until
    /// nothing moves; then closes it or records its deadline.
    fn service(&mut self, index: usize, now: Instant) {
        loop {
            self.worker.drive(index);
            let Some(conn) = self.worker.get(index) else {
                return;
            };
            while conn.io.writable && !conn.io.failed {
                let Some(out) = conn.core.poll_transmit() else {
                    break;
                };
                match (&conn.stream).write(out) {
                    Ok(n) => {
                        let short = n < out.len();
                        conn.core.transmitted(n);
                        conn.io.writable = !short;
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        conn.io.writable = false;
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => conn.io.failed = true,
                }
            }
            let mut read_any = false;
            if conn.io.readable && !conn.io.failed {
                if let Some(buf) = conn.core.read_buf() {
                    let asked = buf.len();
                    match (&conn.stream).read(buf) {
                        Ok(0) => {
                            conn.io.readable = false;
                            conn.core.handle_eof();
                        }
                        Ok(n) => {
                            conn.core.commit_read(now, n);
                            read_any = true;
                            if n < asked {
                                conn.io.readable = false;
                                if conn.io.hang_up {
                                    // The FIN came with this edge: the next read is 0.
                                    conn.core.handle_eof();
                                }
                            }
                        }
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            conn.io.readable = false;
                        }
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => conn.io.failed = true,
                    }
                }
            }
            if !read_any {
                break;
            }
        }
        let Some(conn) = self.worker.get(index) else {
            return;
        };
        if conn.core.is_closed() || conn.io.failed {
            if let Some(conn) = self.worker.remove(index) {
                let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            }
        } else {
            self.worker.update_deadline(index);
        }
    }
}
