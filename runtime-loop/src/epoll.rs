//! The epoll engine: edge-triggered readiness and plain `read`/`write` on non-blocking
//! sockets, reading straight into each connection's buffer and writing straight from
//! the buffer its driver hands over. The control for the io_uring engine: the same
//! worker loop, driver, buffers, timeouts and wake-ups.
//!
//! Edge-triggered means a socket is reported once per change, so the engine remembers
//! what it was told: `readable` until a read comes back short (a TCP read returns less
//! than asked only when the receive queue is empty, so the read that would return
//! `EAGAIN` is never made), `writable` until a write is cut short.

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_conn::Action;

use crate::sys::{Epoll, Readiness};
use crate::wake::Notifier;
use crate::worker::{Conn, Io, Worker};

const LISTENER: u64 = u64::MAX;
const WAKE: u64 = u64::MAX - 1;

/// What the engine knows about one socket.
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
    notifier: Arc<Notifier>,
    ready: Vec<Readiness>,
    /// The listener reported connections not yet accepted.
    accept_pending: bool,
}

impl EpollEngine {
    /// The engine and its worker, from the worker's share of the server.
    pub(crate) fn new(
        worker: runtime_common::Worker,
        notifier: Arc<Notifier>,
    ) -> io::Result<(Self, Worker<EpollConn>)> {
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
        let engine = Self {
            epoll,
            listener: Some(listener),
            notifier: Arc::clone(&notifier),
            ready: Vec::with_capacity(256),
            accept_pending: false,
        };
        Ok((engine, Worker::new(shared, shutdown, notifier)))
    }

    /// One read into the driver's buffer if the socket is readable and the connection
    /// wants bytes.
    fn read(conn: &mut Conn<EpollConn>, now: Instant) -> ReadResult {
        if !conn.io.readable || conn.io.failed {
            return ReadResult::Nothing;
        }
        let Some(buf) = conn.driver.read_buf() else {
            return ReadResult::NoRoom;
        };
        let asked = buf.len();
        match (&conn.stream).read(buf) {
            Ok(0) => {
                conn.io.readable = false;
                conn.driver.handle_eof();
                ReadResult::Moved
            }
            Ok(n) => {
                conn.driver.commit_read(now, n);
                if n < asked {
                    conn.io.readable = false;
                    if conn.io.hang_up {
                        // The FIN came with this edge: the next read is 0.
                        conn.driver.handle_eof();
                    }
                }
                ReadResult::Moved
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                conn.io.readable = false;
                ReadResult::Nothing
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => ReadResult::Moved,
            Err(_) => {
                conn.io.failed = true;
                ReadResult::Nothing
            }
        }
    }
}

/// What one read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadResult {
    /// Bytes or EOF came in: drive the connection again.
    Moved,
    /// The socket had nothing (or failed).
    Nothing,
    /// The driver lent no buffer although it asked to read: it refused to grow it (the
    /// memory budget) or holds a whole request's worth, and answers that on its next
    /// action.
    NoRoom,
}

impl Io for EpollEngine {
    type Conn = EpollConn;
    type Error = io::Error;

    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let ready = &mut self.ready;
        self.epoll.wait(timeout, |event| ready.push(event))
    }

    fn dispatch(&mut self, worker: &mut Worker<EpollConn>, _now: Instant) -> io::Result<()> {
        for event in self.ready.drain(..) {
            match event.token {
                LISTENER => self.accept_pending = true,
                WAKE => {
                    self.notifier.eventfd().take();
                }
                token => {
                    let index = token as usize;
                    let Some(conn) = worker.get(index) else {
                        continue;
                    };
                    conn.io.readable |= event.readable;
                    conn.io.writable |= event.writable;
                    conn.io.hang_up |= event.hang_up;
                    worker.mark(index);
                }
            }
        }
        Ok(())
    }

    /// Accepts until the queue is empty (the one `EAGAIN` edge-triggered accept needs).
    /// A failed accept (out of descriptors and the like) leaves the flag set: no edge
    /// will say so again, so it is retried after a pause rather than spun on.
    fn accept(&mut self, worker: &mut Worker<EpollConn>, now: Instant) -> io::Result<()> {
        while self.accept_pending && worker.accept_allowed(now) {
            let Some(listener) = self.listener.as_ref() else {
                break;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    let epoll = &self.epoll;
                    worker.admit(stream, Some(peer), now, |index, stream| {
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
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    tracing::warn!(%error, "accept failed; pausing accepts briefly");
                    worker.pause_accept(now);
                }
            }
        }
        Ok(())
    }

    fn stop_accepting(&mut self) -> io::Result<()> {
        if let Some(listener) = self.listener.take() {
            self.epoll.remove(listener.as_raw_fd());
        }
        Ok(())
    }

    fn service(
        &mut self,
        worker: &mut Worker<EpollConn>,
        index: usize,
        now: Instant,
    ) -> io::Result<()> {
        // Every service ends waiting, so on a readable edge the read comes first: it is
        // what the connection waited for (and the driver lends no buffer if it no longer
        // wants bytes). One action fewer per request than asking first.
        if let Some(conn) = worker.get(index) {
            let _ = Self::read(conn, now);
        }
        // The deadline the last wait named; none if the loop ended otherwise.
        let mut waited_until = None;
        loop {
            let Some(conn) = worker.get(index) else {
                return Ok(());
            };
            if conn.io.failed {
                break;
            }
            match conn.poll_action(now) {
                Action::Transmit(transmit) if conn.io.writable => {
                    let written = match (&conn.stream).write(transmit.bytes()) {
                        Ok(n) => {
                            conn.io.writable = n == transmit.len();
                            n
                        }
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            conn.io.writable = false;
                            0
                        }
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => 0,
                        Err(_) => {
                            conn.io.failed = true;
                            0
                        }
                    };
                    conn.driver.transmitted(now, transmit, written);
                }
                Action::Transmit(transmit) => {
                    // Not writable until the next edge; meanwhile read if wanted.
                    conn.driver.transmitted(now, transmit, 0);
                    if Self::read(conn, now) != ReadResult::Moved {
                        break;
                    }
                }
                Action::ShutdownWrite => {
                    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
                }
                Action::Wait {
                    read: true,
                    deadline,
                } if conn.io.readable => {
                    if Self::read(conn, now) == ReadResult::Nothing {
                        // Nothing read changes nothing: the deadline stands.
                        waited_until = Some(deadline);
                        break;
                    }
                }
                Action::Wait { deadline, .. } => {
                    waited_until = Some(deadline);
                    break;
                }
                Action::Close => {
                    conn.io.failed = true;
                    break;
                }
            }
        }
        let Some(conn) = worker.get(index) else {
            return Ok(());
        };
        if conn.io.failed {
            if let Some(conn) = worker.remove(index) {
                let _ = conn.stream.shutdown(std::net::Shutdown::Both);
            }
        } else {
            let deadline = waited_until.unwrap_or_else(|| conn.driver.poll_timeout());
            worker.set_deadline(index, deadline);
        }
        Ok(())
    }

    fn finish(&mut self, worker: &mut Worker<EpollConn>) {
        for index in worker.indices() {
            worker.remove(index);
        }
        self.listener = None;
    }
}
