//! The client timeouts of one hyper connection, from the same sans-IO clock the raw-TCP
//! servers use ([`http_conn::ClientClock`]): one definition of the header, body and idle
//! timeouts for every server.
//!
//! hyper 1.x has one read timeout, `header_read_timeout`, and it starts when hyper
//! begins waiting for a head, so it also runs while a keep-alive connection is idle: it
//! cannot give the header and idle timeouts their separate meanings. So hyper's own is
//! turned off, and the clock is driven from two places that together see what
//! `http_conn::ServerConnection` sees:
//!
//! - [`TimedStream`], under hyper, reports the bytes it reads (the first byte of a head
//!   starts the header deadline) and fails a read that waits past the deadline with
//!   [`io::ErrorKind::TimedOut`]; hyper then closes the connection without a response
//!   (an I/O error is not a parse error, so hyper writes no automatic 4xx);
//! - the service, which hyper calls once a head is complete, reports the head complete
//!   at the read that brought its end (the body deadline runs from there, and the
//!   service enforces it while it collects the body), the request received (no client
//!   deadline while the gateway works), and the response supplied (the idle deadline
//!   runs from there).
//!
//! One blur remains: a pipelined head that hyper already read into its own buffer while
//! the previous request was being served, but that is incomplete, waits under the idle
//! deadline until more of it arrives, then under the header deadline (bounded by their
//! sum). The raw-TCP servers see every byte as it arrives and have no such blur.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use http_conn::{ClientClock, ClientTimer, Timeouts};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// tokio's clock (the same as `Instant::now()`, but paused in tests).
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

#[derive(Debug)]
struct State {
    clock: ClientClock,
    /// The last read that brought bytes: when hyper calls the service, the read that
    /// completed the head.
    last_read_at: Instant,
}

/// The clock of one connection, shared by the [`TimedStream`] (which sees bytes arrive)
/// and the service (which sees requests start and end). One allocation per connection;
/// clones are cheap; the lock is never contended (one connection is one task).
#[derive(Debug, Clone)]
pub(crate) struct Clock(Arc<Mutex<State>>);

impl Clock {
    /// The clock of a connection accepted at `now`: the idle deadline runs.
    pub(crate) fn new(timeouts: Timeouts, now: Instant) -> Self {
        Self(Arc::new(Mutex::new(State {
            clock: ClientClock::new(timeouts, now),
            last_read_at: now,
        })))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The timeouts this clock applies.
    pub(crate) fn timeouts(&self) -> Timeouts {
        self.state().clock.timeouts()
    }

    /// hyper called the service: the head is complete, as of the last read. Returns
    /// when the body must be complete (the body deadline), if it applies.
    pub(crate) fn head_complete(&self) -> Option<Instant> {
        let mut state = self.state();
        let at = state.last_read_at;
        state.clock.head_complete(at);
        state.clock.deadline().map(|(_, deadline)| deadline)
    }

    /// The request is received whole: no client deadline runs while the gateway works.
    pub(crate) fn request_received(&self) {
        self.state().clock.request_received();
    }

    /// The response was supplied at `now`: the idle deadline runs from `now`. (hyper
    /// writes it right after; that write counts as idle time.)
    pub(crate) fn response_supplied(&self, now: Instant) {
        self.state().clock.responses_supplied(now);
    }

    fn bytes_read(&self, now: Instant) {
        let mut state = self.state();
        state.last_read_at = now;
        state.clock.request_bytes(now);
    }

    fn deadline(&self) -> Option<(ClientTimer, Instant)> {
        self.state().clock.deadline()
    }
}

/// A socket whose reads fail with `TimedOut` past the header or idle deadline the
/// connection's [`Clock`] calls for. Writes pass through.
#[derive(Debug)]
pub(crate) struct TimedStream<S> {
    inner: S,
    clock: Clock,
    /// The timer, armed at or before the clock's header or idle deadline when a read
    /// has to wait or a response is written. It only moves earlier; an expiry before
    /// the deadline re-arms it. Boxed because `Sleep` is `!Unpin`; one allocation per
    /// connection, reset in place.
    timer: Pin<Box<Sleep>>,
    /// The waker the armed timer was last polled with (it wakes that task when it
    /// expires); `None` once it was reset or found expired.
    registered: Option<Waker>,
}

impl<S> TimedStream<S> {
    /// Wraps a freshly accepted socket.
    pub(crate) fn new(inner: S, clock: Clock) -> Self {
        let first = clock
            .deadline()
            .map_or_else(tokio::time::Instant::now, |(_, deadline)| deadline.into());
        Self {
            inner,
            clock,
            timer: Box::pin(tokio::time::sleep_until(first)),
            registered: None,
        }
    }

    /// Polls the timer set to the clock's header or idle deadline: `Ready` with the
    /// timer once it passed; otherwise its expiry will wake this task. The body deadline
    /// is the service's (it knows when the body is complete).
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<ClientTimer> {
        let Some((timer, deadline)) = self.clock.deadline() else {
            return Poll::Pending;
        };
        if timer == ClientTimer::Body {
            return Poll::Pending;
        }
        let deadline = tokio::time::Instant::from(deadline);
        // The timer only ever moves earlier here. A later deadline (the idle deadline
        // moves with every response) waits for the armed expiry, which re-arms it: one
        // timer-wheel update per timeout period, not one per request.
        if deadline < self.timer.deadline() {
            self.timer.as_mut().reset(deadline);
            self.registered = None;
        }
        // Armed no later than the deadline, not expired, and registered with this
        // task: its expiry will wake the task, which then re-arms or reports it. No
        // need to poll it on every read and write until then.
        if !self.timer.is_elapsed()
            && self
                .registered
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                self.registered = Some(cx.waker().clone());
                return Poll::Pending;
            }
            self.registered = None;
            if self.timer.deadline() >= deadline {
                return Poll::Ready(timer);
            }
            self.timer.as_mut().reset(deadline);
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
        let filled_before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > filled_before {
                    this.clock.bytes_read(now());
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.poll_deadline(cx) {
                Poll::Ready(timer) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    match timer {
                        ClientTimer::Header => {
                            "request head not complete within the header timeout"
                        }
                        _ => "no request within the idle timeout",
                    },
                ))),
                Poll::Pending => Poll::Pending,
            },
            error => error,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedStream<S> {
    /// Also arms the timer: after writing a response hyper may not poll a read again
    /// until the socket wakes it (its last read poll, made while busy, is still
    /// registered), so only the timer can.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let _ = this.poll_deadline(cx);
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let _ = this.poll_deadline(cx);
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
    use std::time::Duration;

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn timeouts() -> Timeouts {
        Timeouts::default()
    }

    fn timed() -> (
        TimedStream<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
        Clock,
    ) {
        let (server, client) = tokio::io::duplex(64);
        let clock = Clock::new(timeouts(), now());
        (TimedStream::new(server, clock.clone()), client, clock)
    }

    async fn read_error(stream: &mut TimedStream<tokio::io::DuplexStream>) -> io::ErrorKind {
        let mut buf = [0u8; 16];
        stream.read(&mut buf).await.expect_err("timed out").kind()
    }

    #[tokio::test(start_paused = true)]
    async fn idle_from_accept_then_header_from_the_first_byte() {
        let (mut stream, mut client, _clock) = timed();
        let accepted = now();
        client.write_all(b"PO").await.unwrap();
        tokio::time::advance(Duration::from_secs(59)).await;
        let mut buf = [0u8; 16];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 2);
        assert_eq!(read_error(&mut stream).await, io::ErrorKind::TimedOut);
        // The header deadline counts from the read that saw the first byte.
        assert_eq!(
            now() - accepted,
            Duration::from_secs(59) + timeouts().header
        );
    }

    #[tokio::test(start_paused = true)]
    async fn writing_the_response_starts_the_idle_deadline() {
        let (mut stream, mut client, clock) = timed();
        let request = b"GET / HTTP/1.1\r\n\r\n";
        client.write_all(request).await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(stream.read(&mut buf).await.unwrap(), request.len());
        clock.head_complete();
        clock.request_received();
        let answered = now();
        clock.response_supplied(answered);
        stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        // hyper may not read again until woken; the idle deadline counts from the answer.
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(read_error(&mut stream).await, io::ErrorKind::TimedOut);
        assert_eq!(now() - answered, timeouts().idle);
    }

    #[tokio::test(start_paused = true)]
    async fn no_deadline_while_busy_and_idle_restarts_after_the_response() {
        let (mut stream, mut client, clock) = timed();
        let request = b"GET / HTTP/1.1\r\n\r\n";
        client.write_all(request).await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(stream.read(&mut buf).await.unwrap(), request.len());
        clock.head_complete();
        clock.request_received();
        // The server is the slow one: a read now waits past every client timeout.
        let read = tokio::time::timeout(Duration::from_secs(600), stream.read(&mut buf)).await;
        assert!(read.is_err(), "no client timeout while busy");
        let answered = now();
        clock.response_supplied(answered);
        assert_eq!(read_error(&mut stream).await, io::ErrorKind::TimedOut);
        assert_eq!(now() - answered, timeouts().idle);
    }

    #[tokio::test(start_paused = true)]
    async fn the_body_deadline_runs_from_the_read_that_completed_the_head() {
        let (mut stream, mut client, clock) = timed();
        let (first, rest) = (b"POST / HTTP/1.1\r\n", b"Content-Length: 9\r\n\r\n");
        client.write_all(first).await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(stream.read(&mut buf).await.unwrap(), first.len());
        tokio::time::advance(Duration::from_secs(3)).await;
        client.write_all(rest).await.unwrap();
        assert_eq!(stream.read(&mut buf).await.unwrap(), rest.len());
        let head_done = now();
        // hyper calls the service a little later, within the same poll in practice.
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(clock.head_complete(), Some(head_done + timeouts().body));
    }
}
