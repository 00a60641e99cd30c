//! The header and idle timeouts of one connection, enforced where hyper reads.
//!
//! hyper 1.x has one read timeout, `header_read_timeout`, and it starts when hyper
//! begins waiting for a head, so it also runs while a keep-alive connection is idle:
//! it cannot give the header and idle timeouts their separate meanings. So hyper's own
//! is turned off and [`TimedStream`] sits under hyper instead. It owns one deadline and
//! follows the connection's [`Phase`]:
//!
//! - `Idle` (from accept, and again once the service has produced a response): the
//!   idle deadline runs; the first byte read moves the connection to `Head`;
//! - `Head`: the header deadline runs from that first byte;
//! - `Busy` (the service was called, so the head is complete): no deadline here. The
//!   body timeout is the service's (it knows when the body is complete), and while the
//!   gateway itself is working no client timeout applies.
//!
//! A read that passes its deadline fails with [`io::ErrorKind::TimedOut`]; hyper then
//! closes the connection without a response (an I/O error is not a parse error, so
//! hyper writes no automatic 4xx).
//!
//! One known blur: a pipelined head already read into hyper's buffer while the previous
//! request was busy, but incomplete, waits under the idle deadline first and then, once
//! more bytes arrive, the header deadline. It is bounded by their sum.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

const IDLE: u8 = 0;
const HEAD: u8 = 1;
const BUSY: u8 = 2;

/// What one connection waits for, shared by the [`TimedStream`] (which sees bytes
/// arrive) and the service (which sees requests start and end). One allocation per
/// connection; clones are cheap.
#[derive(Debug, Clone, Default)]
pub(crate) struct Phase(Arc<AtomicU8>);

impl Phase {
    /// The service was called: the head is complete, the client timeouts here stop.
    pub(crate) fn request_started(&self) {
        self.0.store(BUSY, Ordering::Relaxed);
    }

    /// The service produced its response: the connection is idle until the next
    /// request's first byte. (hyper writes the response right after; that write
    /// counts as idle time.)
    pub(crate) fn request_finished(&self) {
        self.0.store(IDLE, Ordering::Relaxed);
    }

    fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    fn head_started(&self) {
        self.0.store(HEAD, Ordering::Relaxed);
    }
}

/// The client timeouts this module enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadTimeouts {
    /// From the first byte of a head until the head is complete.
    pub(crate) header: Duration,
    /// From accept, or a response, until the first byte of the next request.
    pub(crate) idle: Duration,
}

/// A socket whose reads fail with `TimedOut` past the header or idle deadline that
/// the connection's [`Phase`] calls for. Writes pass through.
#[derive(Debug)]
pub(crate) struct TimedStream<S> {
    inner: S,
    phase: Phase,
    timeouts: ReadTimeouts,
    /// The phase as of this stream's last look (a read, or a write), to notice a
    /// request that ended since (the idle deadline then starts).
    seen: u8,
    /// When the current header or idle deadline passes.
    deadline: Instant,
    /// The timer for `deadline`, moved there only when a read has to wait: a head
    /// that arrives in one read never touches the timer. Boxed because `Sleep` is
    /// `!Unpin`; one allocation per connection, reset in place.
    timer: Pin<Box<Sleep>>,
}

impl<S> TimedStream<S> {
    /// Wraps a freshly accepted socket: the idle deadline starts now.
    pub(crate) fn new(inner: S, phase: Phase, timeouts: ReadTimeouts) -> Self {
        let deadline = Instant::now() + timeouts.idle;
        Self {
            inner,
            phase,
            timeouts,
            seen: IDLE,
            deadline,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    fn restart(&mut self, timeout: Duration) {
        self.deadline = Instant::now() + timeout;
    }

    /// Whether the deadline has passed; if not, its expiry will wake this task.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.timer.deadline() != self.deadline {
            self.timer.as_mut().reset(self.deadline);
        }
        self.timer.as_mut().poll(cx)
    }

    /// Starts the idle deadline if a request ended since the last look, and makes sure
    /// its expiry wakes the connection. Called from writes too: after writing a response
    /// hyper may not poll a read again until the socket wakes it (its last read poll,
    /// made while busy, is still registered), so only the timer can.
    fn arm_idle_after_response(&mut self, cx: &mut Context<'_>) {
        if self.phase.get() == IDLE && self.seen != IDLE {
            self.seen = IDLE;
            self.restart(self.timeouts.idle);
            // Registers the timer with this task; the read that follows reports expiry.
            let _ = self.poll_deadline(cx);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let phase = this.phase.get();
        if phase == BUSY {
            this.seen = BUSY;
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        this.arm_idle_after_response(cx);
        let filled_before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if phase == IDLE && buf.filled().len() > filled_before {
                    this.phase.head_started();
                    this.seen = HEAD;
                    this.restart(this.timeouts.header);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.poll_deadline(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    if phase == HEAD {
                        "request head not complete within the header timeout"
                    } else {
                        "no request within the idle timeout"
                    },
                ))),
                Poll::Pending => Poll::Pending,
            },
            error => error,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.arm_idle_after_response(cx);
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.arm_idle_after_response(cx);
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TIMEOUTS: ReadTimeouts = ReadTimeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    fn timed() -> (
        TimedStream<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
        Phase,
    ) {
        let (server, client) = tokio::io::duplex(64);
        let phase = Phase::default();
        (
            TimedStream::new(server, phase.clone(), TIMEOUTS),
            client,
            phase,
        )
    }

    async fn read_error(stream: &mut TimedStream<tokio::io::DuplexStream>) -> io::ErrorKind {
        let mut buf = [0u8; 16];
        stream.read(&mut buf).await.expect_err("timed out").kind()
    }

    #[tokio::test(start_paused = true)]
    async fn idle_from_accept_then_header_from_the_first_byte() {
        let (mut stream, mut client, phase) = timed();
        let accepted = Instant::now();
        client.write_all(b"PO").await.unwrap();
        tokio::time::advance(Duration::from_secs(59)).await;
        let mut buf = [0u8; 16];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 2);
        assert_eq!(phase.get(), HEAD);
        assert_eq!(read_error(&mut stream).await, io::ErrorKind::TimedOut);
        // The header deadline counts from the read that saw the first byte.
        assert_eq!(Instant::now() - accepted, Duration::from_secs(59 + 10));
    }

    #[tokio::test(start_paused = true)]
    async fn writing_the_response_starts_the_idle_deadline() {
        let (mut stream, mut client, phase) = timed();
        let request = b"GET / HTTP/1.1\r\n\r\n";
        client.write_all(request).await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(stream.read(&mut buf).await.unwrap(), request.len());
        phase.request_started();
        phase.request_finished();
        let written = Instant::now();
        stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        // hyper may not read again until woken; the idle deadline counts from the write.
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(read_error(&mut stream).await, io::ErrorKind::TimedOut);
        assert_eq!(Instant::now() - written, TIMEOUTS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn busy_has_no_deadline_and_idle_restarts_after_the_response() {
        let (mut stream, mut client, phase) = timed();
        let request = b"GET / HTTP/1.1\r\n\r\n";
        client.write_all(request).await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(stream.read(&mut buf).await.unwrap(), request.len());
        phase.request_started();
        // The server is the slow one: a read now waits past every client timeout.
        let read = tokio::time::timeout(Duration::from_secs(600), stream.read(&mut buf)).await;
        assert!(read.is_err(), "no client timeout while busy");
        phase.request_finished();
        let finished = Instant::now();
        assert_eq!(read_error(&mut stream).await, io::ErrorKind::TimedOut);
        assert_eq!(Instant::now() - finished, TIMEOUTS.idle);
    }
}
