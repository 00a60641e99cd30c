//! [`ServerConnection`]: every per-connection decision of an HTTP/1.1 server, without I/O.

use std::time::Instant;

use http_parse::{Decoder, FrameError, Request, Status, Version, CONTINUE};

use crate::read::ReadBuffer;
use crate::responses::{ResponseContext, Responses};
use crate::{Config, RequestId, RespondError};

/// Unsent output past which the connection stops reading and handing out requests: a
/// client that pipelines without reading its responses cannot grow the transmit buffer
/// without bound.
const OUTPUT_HIGH_WATER_BYTES: usize = 64 * 1024;

/// What the connection has for the caller, from [`ServerConnection::poll_event`]. Each
/// carries the [`RequestId`] its response must be given to
/// [`ServerConnection::respond`] with; every event must be answered, in any order.
#[derive(Debug)]
pub enum Event<'a> {
    /// A complete request. Its head and body borrow the connection's read buffer until
    /// the next call on the connection: hand it on (or copy what must outlive it) first.
    Request {
        /// Which response answers it.
        id: RequestId,
        /// The request, as framed by `http-parse`.
        request: Request<'a>,
    },
    /// The byte stream is not acceptable HTTP/1.1 at this point. Answer with
    /// [`FrameError::status`]; the connection closes after that response and parses
    /// nothing after the bad request. Earlier requests are still answered first.
    Rejected {
        /// Which response answers it.
        id: RequestId,
        /// What was wrong.
        error: FrameError,
    },
    /// The client did not complete a request body within the body timeout. Answer `408
    /// Request Timeout`; the connection closes after that response. (A head not complete
    /// within the header timeout gets no answer: the connection closes silently.)
    TimedOut {
        /// Which response answers it.
        id: RequestId,
    },
}

/// Whether further requests will be read from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Keep-alive: request after request.
    Open,
    /// Shutting down with a request in progress: that one is the last.
    LastOne,
    /// No further request will be handed out; unread and unparsed bytes are ignored.
    Done,
}

/// Which client deadline applies now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Header,
    Body,
    Idle,
}

/// One HTTP/1.1 server connection as a state machine: bytes and instants in; requests,
/// bytes to write, a deadline and a close decision out. It never reads a clock or
/// touches a socket.
///
/// # Driving it
///
/// After anything is fed in (a read, a response, a timeout, EOF, shutdown, a write that
/// made room), the I/O layer drains [`poll_event`](Self::poll_event) until `None`, writes
/// what
/// [`poll_transmit`](Self::poll_transmit) gives and reports it with
/// [`transmitted`](Self::transmitted), shuts the socket down once
/// [`is_closed`](Self::is_closed), and otherwise waits for the socket or until
/// [`poll_timeout`](Self::poll_timeout), then calls
/// [`handle_timeout`](Self::handle_timeout).
///
/// # Reading
///
/// The connection owns its read buffer. An engine that reads into memory it chooses (a
/// tokio socket, a plain `read(2)`) reads straight into [`read_buf`](Self::read_buf) and
/// reports the count with [`commit_read`](Self::commit_read): no copy. An engine whose
/// kernel fills its own buffers (io_uring provided buffers) hands each completed buffer to
/// [`handle_read`](Self::handle_read), which copies it once, and recycles the buffer at
/// once. `read_buf` returns `None` while the connection wants no bytes (pipelining bound
/// reached, unsent output piling up, last request read, closed); an engine should then
/// not read. Requests are parsed in place: an [`Event::Request`] borrows the buffer.
///
/// # Deadlines and what the client hears
///
/// Only one client deadline applies at a time, and none while a request handed out waits
/// for its response (the server is the slow one then); when the last awaited response is
/// supplied, the client's clock restarts from that instant.
/// - Header timeout, from the read that brought a request's first byte until its head
///   is complete. Reads do not restart it, so a client trickling bytes is still cut.
/// - Body timeout, from the read that completed the head until the body is complete.
/// - Idle timeout, from accept and from the end of the last awaited response until the
///   next request's first byte: while no request is in progress and none awaits its
///   response (also while unsent output waits for a client that does not read). A new
///   connection waits for its first byte under the idle timeout.
///
/// "The read that completed the head" is the last read before the
/// [`poll_event`](Self::poll_event) call that found the head complete, hence the rule to
/// drain `poll_event` after every read. While the connection refuses to read because
/// unsent output piles up, the client's deadlines keep running: the client is the one
/// not reading.
///
/// On a body timeout the client hears `408 Request Timeout` ([`Event::TimedOut`],
/// answered after every earlier response) and the connection closes: the client sent a
/// whole head, so there is a request to answer. On the header timeout and the idle
/// timeout the connection closes silently, dropping unsent output: a client that never
/// finished a head (a slowloris) is owed nothing, and an idle one asked nothing.
///
/// # Keep-alive
///
/// The [`ResponseContext`] given to each response's encoder says whether the connection
/// stays open after it. It is `false` when the request forbids keep-alive (HTTP/1.0
/// without `Connection: keep-alive`, `Connection: close`), when the caller says the
/// response closes, for rejections and timeouts, and for the last request the connection
/// will answer once that is known (EOF, shutdown). Earlier responses keep the connection
/// open, so `Connection: close` is only ever on the last response sent. A response
/// supplied early, ahead of an earlier one, is encoded at once; if the connection learns
/// only later that it was the last (say shutdown began in between), it is sent as
/// encoded and the connection closes after it anyway, which HTTP allows.
///
/// # Shutdown and EOF
///
/// [`begin_shutdown`](Self::begin_shutdown): a connection with nothing in progress
/// closes at once (after unsent output). Requests already handed out are answered and
/// the last carries `Connection: close`. A request partially received is finished
/// (within its deadlines) and answered as the last one: the client already sent part of
/// it and would otherwise have to resend it elsewhere. Nothing after it is parsed.
///
/// [`handle_eof`](Self::handle_eof) (the client half-closed): complete requests already
/// received are handed out and answered, a partial one is dropped (it cannot complete),
/// then the connection closes.
#[derive(Debug)]
pub struct ServerConnection {
    config: Config,
    decoder: Decoder,
    read: ReadBuffer,
    responses: Responses,
    /// Bytes of the request last handed out; dropped from `read` once its borrow ended.
    handed_out_len: usize,
    /// The read that brought the first byte of the request in progress.
    head_started: Option<Instant>,
    /// The read that completed the head of the request in progress (recorded lazily in
    /// `settle`, since the decoder's state cannot be read while a request is lent).
    body_started: Option<Instant>,
    last_read_at: Instant,
    /// When the client last got the floor: the start, or when the last awaited response
    /// was supplied. No client deadline runs from before it.
    resumed_at: Instant,
    /// The request in progress expects `100 Continue`, not yet written because earlier
    /// responses are still awaited.
    continue_wanted: bool,
    timed_out: Option<RequestId>,
    reading: Reading,
    eof: bool,
    closed: bool,
}

impl ServerConnection {
    /// A connection accepted at `now`. The idle timeout runs from `now` until the first
    /// byte arrives; if it expires the connection closes silently.
    pub fn new(config: Config, now: Instant) -> Self {
        Self {
            decoder: Decoder::new(config.limits),
            read: ReadBuffer::new(&config.limits),
            responses: Responses::default(),
            config,
            handed_out_len: 0,
            head_started: None,
            body_started: None,
            last_read_at: now,
            resumed_at: now,
            continue_wanted: false,
            timed_out: None,
            reading: Reading::Open,
            eof: false,
            closed: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Spare space of the read buffer to read into, or `None` while the connection wants
    /// no bytes. Report what was read with [`commit_read`](Self::commit_read). The buffer
    /// grows (bounded by the framing limits) and is compacted here, never per request.
    pub fn read_buf(&mut self) -> Option<&mut [u8]> {
        self.settle();
        if !self.wants_read() {
            return None;
        }
        let spare = self.read.spare();
        if spare.is_empty() {
            None
        } else {
            Some(spare)
        }
    }

    /// Whether the connection wants bytes from the client now (what makes
    /// [`read_buf`](Self::read_buf) return `Some`, give or take a full buffer).
    pub fn wants_read(&self) -> bool {
        !self.closed && !self.eof && self.reading != Reading::Done && !self.is_backpressured()
    }

    /// `n` bytes were read at `now` into the slice [`read_buf`](Self::read_buf) lent.
    /// `n == 0` means nothing was read; report end of stream with
    /// [`handle_eof`](Self::handle_eof).
    ///
    /// # Panics
    ///
    /// If `n` exceeds the length of the slice last lent.
    pub fn commit_read(&mut self, now: Instant, n: usize) {
        self.settle();
        self.read.commit(n);
        self.received(now, n);
    }

    /// `bytes` were read at `now` into memory the I/O layer owns; they are copied into
    /// the read buffer (the one copy of an io_uring provided-buffer engine). They are
    /// taken even while [`wants_read`](Self::wants_read) is false, since they were already
    /// received; an engine should not ask for more then. Bytes arriving after the last
    /// request the connection will read (after `Connection: close`, a rejected request,
    /// EOF) are ignored.
    pub fn handle_read(&mut self, now: Instant, bytes: &[u8]) {
        self.settle();
        if self.closed || self.eof || self.reading == Reading::Done {
            return;
        }
        self.read.extend_from_slice(bytes);
        self.received(now, bytes.len());
    }

    fn received(&mut self, now: Instant, n: usize) {
        if n == 0 {
            return;
        }
        self.last_read_at = now;
        self.skip_empty_lines();
        if self.head_started.is_none() && !self.read.is_empty() {
            self.head_started = Some(now);
        }
    }

    /// Drops empty lines between requests, which HTTP/1.1 servers ignore (RFC 9112
    /// §2.2; some clients send CRLF after a body): they are not the start of a request,
    /// so they neither start the header timeout nor keep an EOF connection open. Only
    /// CRLF pairs, since `http-parse` rejects a bare LF.
    fn skip_empty_lines(&mut self) {
        if !self.decoder.is_idle() {
            return;
        }
        let data = self.read.data();
        let empty_lines = data
            .chunks_exact(2)
            .take_while(|pair| *pair == b"\r\n")
            .count();
        self.read.consume(empty_lines * 2);
    }

    /// The client closed its sending side (a read returned 0). What it sent completely
    /// is still answered; then the connection closes.
    pub fn handle_eof(&mut self) {
        self.settle();
        self.eof = true;
        if self.read.is_empty() {
            self.reading = Reading::Done;
        }
        // Otherwise `poll_event` hands out what is complete and then stops.
        self.update_closed();
    }

    /// The next event, or `None` until more input. Call it until `None` after every
    /// input; also after [`respond`](Self::respond) and
    /// [`transmitted`](Self::transmitted), which may lift the pipelining bound.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        if self.closed {
            return None;
        }
        if let Some(id) = self.timed_out.take() {
            return Some(Event::TimedOut { id });
        }
        self.settle();
        if self.reading == Reading::Done || self.read.is_empty() || self.is_backpressured() {
            self.update_closed();
            return None;
        }
        // Only disjoint fields are touched below: the returned request borrows `read` and
        // `decoder` for as long as the caller holds it.
        match self.decoder.decode(self.read.data()) {
            Ok(Status::Complete(request)) => {
                let keep_alive = request.keep_alive();
                let id = self.responses.push(keep_alive, request.version());
                self.handed_out_len = request.len();
                self.head_started = None;
                self.body_started = None;
                self.continue_wanted = false;
                if !keep_alive || self.reading == Reading::LastOne {
                    self.reading = Reading::Done;
                }
                Some(Event::Request { id, request })
            }
            Ok(Status::Continue) => {
                // Written now if every earlier response is out, else by `respond` when it
                // is; dropped if the body arrives first.
                self.continue_wanted = !self.responses.interim(CONTINUE);
                None
            }
            Ok(Status::Partial { .. }) if self.eof => {
                // The client half-closed inside a request: it cannot complete.
                self.reading = Reading::Done;
                self.continue_wanted = false;
                self.closed = finished(self.reading, &self.responses, self.timed_out);
                None
            }
            Ok(Status::Partial { .. }) if self.read.is_at_limit() => {
                // Heads are bounded by the decoder; only a chunked body's wire form (chunk
                // framing around a body within its limit) can get here.
                let error = FrameError::BodyTooLarge {
                    limit: self.config.limits.max_body_bytes(),
                };
                self.reading = Reading::Done;
                self.continue_wanted = false;
                let id = self.responses.push(false, Version::Http11);
                Some(Event::Rejected { id, error })
            }
            Ok(Status::Partial { .. }) => None,
            Err(error) => {
                self.reading = Reading::Done;
                self.continue_wanted = false;
                let id = self.responses.push(false, Version::Http11);
                Some(Event::Rejected { id, error })
            }
        }
    }

    /// Supplies the response for request `id`, supplied at `now`. `encode` appends the
    /// whole response to the buffer it is given (it must only append), as the
    /// [`ResponseContext`] says: with `Connection: close` unless
    /// [`keep_alive`](ResponseContext::keep_alive). `close` says the response closes the
    /// connection whatever the request asked (e.g. an error the caller treats as fatal).
    ///
    /// Responses go out in request order: one supplied ahead of an earlier one waits.
    /// After a response that closes the connection, responses for later requests are
    /// accepted and dropped (`encode` is not called).
    ///
    /// # Errors
    ///
    /// [`RespondError`] if `id` was never handed out or was already answered; nothing
    /// changes then.
    pub fn respond(
        &mut self,
        now: Instant,
        id: RequestId,
        close: bool,
        encode: impl FnOnce(ResponseContext, &mut Vec<u8>),
    ) -> Result<(), RespondError> {
        self.settle();
        let final_id = match self.reading {
            Reading::Done => self.responses.last_id(),
            Reading::Open | Reading::LastOne => None,
        };
        let was_waiting = self.responses.is_waiting();
        self.responses.answer(id, final_id, close, encode)?;
        if self.responses.is_closing() {
            self.reading = Reading::Done;
            self.continue_wanted = false;
        }
        if was_waiting && !self.responses.is_waiting() {
            self.resumed_at = now;
        }
        if self.continue_wanted && self.responses.interim(CONTINUE) {
            self.continue_wanted = false;
        }
        self.update_closed();
        Ok(())
    }

    /// The bytes to write next, contiguous, or `None` when there are none. The buffer is
    /// reused: it grows to the connection's high-water mark and not per response.
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        let unsent = self.responses.unsent();
        (!self.closed && !unsent.is_empty()).then_some(unsent)
    }

    /// `n` bytes of what [`poll_transmit`](Self::poll_transmit) gave were written.
    pub fn transmitted(&mut self, n: usize) {
        self.responses.transmitted(n);
        self.update_closed();
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout) has
    /// something to do, or `None` (closed, or a response is awaited from the caller).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer().map(|(_, deadline)| deadline)
    }

    /// Acts on the deadline if `now` reached it: a body timeout queues an
    /// [`Event::TimedOut`] (answer `408`, then the connection closes); the header and idle
    /// timeouts close it at once and silently, dropping unsent output. Earlier calls do
    /// nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.settle();
        let Some((timer, deadline)) = self.timer() else {
            return;
        };
        if now < deadline {
            return;
        }
        match timer {
            Timer::Header | Timer::Idle => {
                self.responses.abandon();
                self.reading = Reading::Done;
                self.read.clear();
                self.closed = true;
            }
            Timer::Body => {
                self.timed_out = Some(self.responses.push(false, Version::Http11));
                self.reading = Reading::Done;
                self.read.clear();
                self.head_started = None;
                self.body_started = None;
                self.continue_wanted = false;
            }
        }
    }

    /// Stops taking new requests. An idle connection closes at once (after unsent
    /// output); requests handed out are answered, the last with `Connection: close`; a
    /// request partially received is finished and answered as the last one.
    pub fn begin_shutdown(&mut self) {
        self.settle();
        if self.reading == Reading::Open {
            self.reading = if self.read.is_empty() {
                Reading::Done
            } else {
                Reading::LastOne
            };
        }
        self.update_closed();
    }

    /// Whether the connection is finished: everything to say was transmitted (or dropped
    /// on the idle timeout). The I/O layer shuts the socket down and drops the
    /// connection.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Catches up on what could not be done while a request was lent: drops the bytes
    /// of the request last handed out, and notes when the head of the request in
    /// progress was completed.
    fn settle(&mut self) {
        if self.handed_out_len > 0 {
            self.read.consume(std::mem::take(&mut self.handed_out_len));
            self.skip_empty_lines();
            if !self.read.is_empty() {
                // Pipelined bytes of the next request came with the last read.
                self.head_started = Some(self.last_read_at);
            }
        }
        if self.eof && self.read.is_empty() {
            // Everything received before the half-close was handed out.
            self.reading = Reading::Done;
        }
        if self.reading == Reading::Done {
            self.read.clear();
        }
        if self.body_started.is_none() && !self.decoder.is_idle() {
            self.body_started = Some(self.last_read_at);
        }
    }

    fn is_backpressured(&self) -> bool {
        self.responses.queued() >= self.config.max_pipelined_requests.max(1)
            || self.responses.unsent().len() >= OUTPUT_HIGH_WATER_BYTES
    }

    /// Which client deadline applies, and when it expires. Matches what `settle` would
    /// record, so it needs no `&mut self`.
    fn timer(&self) -> Option<(Timer, Instant)> {
        if self.closed || self.responses.is_waiting() || self.timed_out.is_some() {
            return None;
        }
        let in_progress = self.reading != Reading::Done && self.read.len() > self.handed_out_len;
        let (timer, since, timeout) = if !in_progress {
            (Timer::Idle, self.resumed_at, self.config.timeouts.idle)
        } else if let Some(started) = self
            .body_started
            .or_else(|| (!self.decoder.is_idle()).then_some(self.last_read_at))
        {
            (Timer::Body, started, self.config.timeouts.body)
        } else {
            let started = match self.handed_out_len {
                0 => self.head_started.unwrap_or(self.last_read_at),
                _ => self.last_read_at,
            };
            (Timer::Header, started, self.config.timeouts.header)
        };
        let deadline = since.max(self.resumed_at).checked_add(timeout)?;
        Some((timer, deadline))
    }

    /// Nothing more will be read, answered or written.
    fn update_closed(&mut self) {
        self.closed |= finished(self.reading, &self.responses, self.timed_out);
    }
}

/// Nothing more will be read, answered or written. A free function so that
/// `poll_event` can call it while a request borrows other fields.
fn finished(reading: Reading, responses: &Responses, timed_out: Option<RequestId>) -> bool {
    reading == Reading::Done
        && !responses.is_waiting()
        && timed_out.is_none()
        && responses.unsent().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steady state allocates nothing per request: once a few pipelined rounds (one of
    /// them answered out of order) have grown the buffers, many more leave every
    /// buffer's size unchanged.
    #[test]
    fn steady_state_reuses_every_buffer() {
        let start = Instant::now();
        let mut conn = ServerConnection::new(Config::default(), start);
        let wire = b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}\
                     GET /b HTTP/1.1\r\n\r\n\
                     POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        let round = |conn: &mut ServerConnection| {
            conn.handle_read(start, wire);
            let mut ids = Vec::with_capacity(3);
            while let Some(event) = conn.poll_event() {
                let Event::Request { id, .. } = event else {
                    panic!("{event:?}")
                };
                ids.push(id);
            }
            assert_eq!(ids.len(), 3);
            for &id in ids.iter().rev() {
                conn.respond(start, id, false, |_, out| {
                    out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                })
                .unwrap();
            }
            let sent = conn.poll_transmit().unwrap().len();
            conn.transmitted(sent);
        };
        for _ in 0..4 {
            round(&mut conn);
        }
        let warm = (conn.read.allocated(), conn.responses.capacities());
        for _ in 0..1000 {
            round(&mut conn);
        }
        assert_eq!((conn.read.allocated(), conn.responses.capacities()), warm);
        assert!(!conn.is_closed());
    }
}
