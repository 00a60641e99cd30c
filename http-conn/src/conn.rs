//! [`ServerConnection`]: every per-connection decision of an HTTP/1.1 server, without I/O.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_parse::{Decoder, FrameError, Request, Status, Version, CONTINUE};

use crate::clock::{ClientClock, ClientTimer};
use crate::read::ReadBuffer;
use crate::responses::{ResponseContext, Responses};
use crate::transmit::Transmit;
use crate::{Config, MemoryBudget, RequestId, RespondError};

/// What the connection has for the caller, from [`ServerConnection::poll_event`]. Each
/// carries the [`RequestId`] its response must be given to
/// [`ServerConnection::respond`] with; every event must be answered, in any order.
///
/// Exhaustive on purpose: a new kind of event needs an answer from every caller, and
/// should fail to compile until it has one.
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
        /// The body timeout that expired.
        timeout: Duration,
    },
    /// The process-wide budget of buffered request bytes ([`MemoryBudget`]) refused the
    /// room the request in progress needs. Answer `503` with `Retry-After`; the
    /// connection closes after that response (part of the request was dropped).
    Overloaded {
        /// Which response answers it.
        id: RequestId,
    },
}

impl Event<'_> {
    /// The id the response to this event must carry.
    pub fn id(&self) -> RequestId {
        match self {
            Self::Request { id, .. }
            | Self::Rejected { id, .. }
            | Self::TimedOut { id, .. }
            | Self::Overloaded { id } => *id,
        }
    }
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

/// How far the connection is from its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Serving.
    Open,
    /// The last response is written; what the client still sends is read and discarded
    /// until it closes its side or `until`.
    Lingering {
        until: Instant,
        /// Whether the engine was told to shut its write side down yet.
        write_shut: bool,
    },
    /// Nothing more to read, answer or write: the engine closes the socket.
    Closed,
}

/// A trigger to end the connection that is not a response being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// Nothing.
    None,
    /// A body timeout: [`Event::TimedOut`] is due.
    TimedOut,
}

/// One HTTP/1.1 server connection as a state machine: bytes and instants in; requests,
/// bytes to write, a deadline and a close decision out. It never reads a clock or
/// touches a socket.
///
/// Most servers drive it through a [`crate::Driver`], which adds the application
/// ([`crate::Service`]) and reduces the loop to a `match` over the next action. Driving
/// it directly:
///
/// # Driving it
///
/// After anything is fed in (a read, a response, a timeout, EOF, shutdown, a write that
/// finished), the I/O layer drains [`poll_event`](Self::poll_event) until `None`, writes
/// what [`poll_transmit`](Self::poll_transmit) hands over and gives it back with
/// [`transmitted`](Self::transmitted), shuts its write side down when
/// [`poll_shutdown_write`](Self::poll_shutdown_write) says so, closes the socket once
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
/// reached, output piling up, last request read, closed); an engine should then not
/// read. Requests are parsed in place: an [`Event::Request`] borrows the buffer.
///
/// # Memory
///
/// What one client can make a connection hold is bounded: the read buffer by the
/// framing limits (one request's worth) and by the process-wide [`MemoryBudget`]
/// (growth past a few KiB is reserved from it; a refusal is answered `503`,
/// [`Event::Overloaded`]); output by [`Config::max_pending_output_bytes`] (past it no
/// further request is read or handed out until the client reads) and
/// [`Config::max_pipelined_requests`]. Once the connection is idle, buffers that grew
/// large are freed.
///
/// # Writing
///
/// [`poll_transmit`](Self::poll_transmit) hands over the bytes to write as an owned
/// [`Transmit`]: an engine may keep it until the kernel is done with it (an io_uring
/// send) and gives it back with the count written; meanwhile new responses are encoded
/// into a second buffer. Nothing is copied to be sent. One transmit is out at a time.
///
/// # Deadlines and what the client hears
///
/// Only one client deadline applies at a time, and none while a request handed out waits
/// for its response (the server is the slow one then); when the last awaited response is
/// supplied, the client's clock restarts from that instant. [`ClientClock`] holds these
/// rules; the connection reports to it.
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
/// output piles up, the client's deadlines keep running: the client is the one not
/// reading.
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
/// # Closing
///
/// After its last response is written, a connection whose client has not closed its
/// side lingers ([`Config::linger`]): the engine shuts its write side down
/// ([`poll_shutdown_write`](Self::poll_shutdown_write), so the client reads the end of
/// the response), and the connection reads and discards what the client still sends
/// until the client closes or the linger ends. Closing a socket with unread bytes makes
/// the kernel send a reset, which can destroy the response before the client read it (a
/// `413` for a body still on its way, say).
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
    clock: ClientClock,
    /// Bytes of the request last handed out; dropped from `read` once its borrow ended.
    handed_out_len: usize,
    last_read_at: Instant,
    /// The request in progress expects `100 Continue`, not yet written because earlier
    /// responses are still awaited.
    continue_wanted: bool,
    pending: Pending,
    reading: Reading,
    eof: bool,
    ending: Ending,
}

impl ServerConnection {
    /// A connection accepted at `now`, with no bound on buffered request bytes beyond
    /// the framing limits. The idle timeout runs from `now` until the first byte
    /// arrives; if it expires the connection closes silently.
    pub fn new(config: Config, now: Instant) -> Self {
        Self::with_budget(config, now, MemoryBudget::unbounded())
    }

    /// A connection accepted at `now` whose read buffer grows only within `budget`,
    /// shared with the process's other connections.
    pub fn with_budget(config: Config, now: Instant, budget: Arc<MemoryBudget>) -> Self {
        Self {
            decoder: Decoder::new(config.limits),
            read: ReadBuffer::new(&config.limits, budget),
            responses: Responses::default(),
            clock: ClientClock::new(config.timeouts, now),
            config,
            handed_out_len: 0,
            last_read_at: now,
            continue_wanted: false,
            pending: Pending::None,
            reading: Reading::Open,
            eof: false,
            ending: Ending::Open,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Spare space of the read buffer to read into, or `None` while the connection wants
    /// no bytes. Report what was read with [`commit_read`](Self::commit_read). The buffer
    /// grows (bounded by the framing limits and the budget) and is compacted here, never
    /// per request.
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
        match self.ending {
            Ending::Closed => false,
            Ending::Lingering { .. } => !self.eof,
            Ending::Open => {
                !self.eof
                    && self.reading != Reading::Done
                    && self.pending == Pending::None
                    && !self.read.is_refused()
                    && !self.is_backpressured()
            }
        }
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
        if self.ending != Ending::Open
            || self.eof
            || self.reading == Reading::Done
            || self.pending != Pending::None
        {
            return;
        }
        self.read.extend_from_slice(bytes);
        self.received(now, bytes.len());
    }

    /// Bytes of the next request arrived at `now` in a layer below HTTP (a TLS
    /// handshake, before any plaintext): the header timeout runs from `now` if no
    /// request is in progress, so a handshake counts against it.
    pub fn handle_transport_bytes(&mut self, now: Instant) {
        self.settle();
        if self.ending == Ending::Open && self.reading != Reading::Done {
            self.clock.request_bytes(now);
        }
    }

    fn received(&mut self, now: Instant, n: usize) {
        if n == 0 {
            return;
        }
        if matches!(self.ending, Ending::Lingering { .. }) {
            // Lingering: what the client still sends is discarded.
            self.read.clear();
            return;
        }
        self.last_read_at = now;
        self.skip_empty_lines();
        if !self.read.is_empty() {
            self.clock.request_bytes(now);
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
        let empty_lines = leading_empty_lines(self.read.data());
        self.read.consume(empty_lines * 2);
    }

    /// The client closed its sending side (a read returned 0). What it sent completely
    /// is still answered; then the connection closes.
    pub fn handle_eof(&mut self) {
        self.settle();
        self.eof = true;
        if matches!(self.ending, Ending::Lingering { .. }) {
            self.ending = Ending::Closed;
            return;
        }
        if self.read.is_empty() {
            self.stop_reading();
        }
        // Otherwise `poll_event` hands out what is complete and then stops.
        self.update_closed(None);
    }

    /// The next event, or `None` until more input. Call it until `None` after every
    /// input; also after [`respond`](Self::respond) and
    /// [`transmitted`](Self::transmitted), which may lift the pipelining bound.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        if self.ending != Ending::Open {
            return None;
        }
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => {}
            Pending::TimedOut => {
                let id = self.owe_response(false);
                let timeout = self.config.timeouts.body;
                return Some(Event::TimedOut { id, timeout });
            }
        }
        self.settle();
        if self.read.is_refused() && self.reading != Reading::Done {
            // The budget refused room for the request in progress: part of it was
            // dropped, so it cannot be framed; the client hears 503.
            self.stop_reading();
            let id = self.owe_response(false);
            return Some(Event::Overloaded { id });
        }
        if self.reading == Reading::Done || self.read.is_empty() || self.is_backpressured() {
            self.update_closed(None);
            return None;
        }
        // Only disjoint fields are touched below: the returned request borrows `read` and
        // `decoder` for as long as the caller holds it. (That the head of a request in
        // progress is complete is noted by `settle`, which can read the decoder.)
        match self.decoder.decode(self.read.data()) {
            Ok(Status::Complete(request)) => {
                let keep_alive = request.keep_alive();
                let id = self.responses.push(keep_alive, request.version());
                self.clock.request_received();
                self.handed_out_len = request.len();
                if has_request_bytes(&self.read.data()[request.len()..]) {
                    // Pipelined bytes of the next request came with the last read.
                    self.clock.request_bytes(self.last_read_at);
                }
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
                self.clock.request_abandoned();
                if finished(self.reading, &self.responses, self.pending) {
                    self.ending = Ending::Closed;
                }
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
                self.clock.request_received();
                let id = self.responses.push(false, Version::Http11);
                Some(Event::Rejected { id, error })
            }
            Ok(Status::Partial { .. }) => None,
            Err(error) => {
                self.reading = Reading::Done;
                self.continue_wanted = false;
                self.clock.request_received();
                let id = self.responses.push(false, Version::Http11);
                Some(Event::Rejected { id, error })
            }
        }
    }

    /// Reserves the response slot for an event the connection makes up itself (a
    /// rejection, a timeout): HTTP/1.1, closing.
    fn owe_response(&mut self, keep_alive: bool) -> RequestId {
        self.clock.request_received();
        self.responses.push(keep_alive, Version::Http11)
    }

    /// No further request will be read: what is buffered or in progress is dropped.
    fn stop_reading(&mut self) {
        self.reading = Reading::Done;
        self.continue_wanted = false;
        self.clock.request_abandoned();
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
        self.responses.answer(now, id, final_id, close, encode)?;
        if was_waiting && !self.responses.is_waiting() {
            self.clock.responses_supplied(now);
        }
        if self.responses.is_closing() {
            self.reading = Reading::Done;
            self.continue_wanted = false;
        }
        if was_waiting && !self.responses.is_waiting() {
            self.went_idle();
        }
        if self.continue_wanted && self.responses.interim(CONTINUE) {
            self.continue_wanted = false;
        }
        self.update_closed(Some(now));
        Ok(())
    }

    /// The bytes to write next, handed over, or `None` when there are none or the
    /// engine still holds the last ones. Give them back with
    /// [`transmitted`](Self::transmitted), whatever happened to them.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.ending == Ending::Closed {
            return None;
        }
        self.responses.take_transmit()
    }

    /// The engine gives back `transmit` at `now` with `n` of its bytes written (0 if
    /// none could be). The rest goes out again first.
    pub fn transmitted(&mut self, now: Instant, transmit: Transmit, n: usize) {
        self.responses.transmitted(transmit, n);
        if self.responses.unsent_len() == 0 {
            self.went_idle();
        }
        self.update_closed(Some(now));
    }

    /// Whether the engine should shut the socket's write side down now: `true` once,
    /// when the last response is written and the connection starts to linger. The
    /// engine keeps reading (the bytes are discarded) until
    /// [`is_closed`](Self::is_closed).
    pub fn poll_shutdown_write(&mut self) -> bool {
        match &mut self.ending {
            Ending::Lingering { write_shut, .. } if !*write_shut => {
                *write_shut = true;
                true
            }
            _ => false,
        }
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout) has
    /// something to do, or `None` (closed, or a response is awaited from the caller).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.ending {
            Ending::Closed => None,
            Ending::Lingering { until, .. } => Some(until),
            Ending::Open => self.timer().map(|(_, deadline)| deadline),
        }
    }

    /// Acts on the deadline if `now` reached it: a body timeout queues an
    /// [`Event::TimedOut`] (answer `408`, then the connection closes); the header and idle
    /// timeouts close it at once and silently, dropping unsent output; the end of the
    /// linger closes it. Earlier calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.settle();
        if let Ending::Lingering { until, .. } = self.ending {
            if now >= until {
                self.ending = Ending::Closed;
            }
            return;
        }
        let Some((timer, deadline)) = self.timer() else {
            return;
        };
        if now < deadline {
            return;
        }
        match timer {
            ClientTimer::Header | ClientTimer::Idle => {
                self.responses.abandon();
                self.stop_reading();
                self.read.clear();
                self.ending = Ending::Closed;
            }
            ClientTimer::Body => {
                self.pending = Pending::TimedOut;
                self.stop_reading();
                self.read.clear();
            }
        }
    }

    /// Stops taking new requests. An idle connection closes at once (after unsent
    /// output); requests handed out are answered, the last with `Connection: close`; a
    /// request partially received is finished and answered as the last one.
    pub fn begin_shutdown(&mut self) {
        self.settle();
        if self.reading == Reading::Open {
            if self.read.is_empty() {
                self.stop_reading();
            } else {
                self.reading = Reading::LastOne;
            }
        }
        self.update_closed(None);
    }

    /// Whether the connection is finished: everything to say was transmitted (or dropped
    /// on the idle timeout), and the linger is over. The I/O layer closes the socket and
    /// drops the connection.
    pub fn is_closed(&self) -> bool {
        self.ending == Ending::Closed
    }

    /// Whether the last response is written and the connection is discarding what the
    /// client still sends (see [`poll_shutdown_write`](Self::poll_shutdown_write)).
    pub fn is_lingering(&self) -> bool {
        matches!(self.ending, Ending::Lingering { .. })
    }

    /// Catches up on what could not be done while a request was lent: drops the bytes
    /// of the request last handed out.
    fn settle(&mut self) {
        if self.handed_out_len > 0 {
            self.read.consume(std::mem::take(&mut self.handed_out_len));
            self.skip_empty_lines();
        }
        if self.eof && self.read.is_empty() && self.reading != Reading::Done {
            // Everything received before the half-close was handed out.
            self.stop_reading();
        }
        if self.reading == Reading::Done {
            self.read.clear();
        }
        if !self.decoder.is_idle() {
            // The read that completed the head of the request in progress.
            self.clock.head_complete(self.last_read_at);
        }
    }

    /// No request is awaited and none is in progress: buffers that grew large go back.
    fn went_idle(&mut self) {
        if !self.responses.is_waiting() && !self.clock.is_request_in_progress() {
            self.read.shrink_if_idle();
            self.responses.shrink_if_idle();
        }
    }

    fn is_backpressured(&self) -> bool {
        self.responses.queued() >= self.config.max_pipelined_requests.max(1)
            || self.responses.pending_output_len() >= self.config.max_pending_output_bytes.max(1)
    }

    /// Which client deadline applies, and when it expires. Notes what `settle` would,
    /// on a copy, so it needs no `&mut self`.
    fn timer(&self) -> Option<(ClientTimer, Instant)> {
        if self.ending != Ending::Open || self.pending != Pending::None {
            return None;
        }
        let mut clock = self.clock;
        if !self.decoder.is_idle() {
            clock.head_complete(self.last_read_at);
        }
        clock.deadline()
    }

    /// Closes or starts lingering once nothing more will be read, answered or written.
    /// `now` is when the caller learnt it; without one (EOF, shutdown) there is no
    /// linger.
    fn update_closed(&mut self, now: Option<Instant>) {
        if self.ending != Ending::Open || !finished(self.reading, &self.responses, self.pending) {
            return;
        }
        self.ending = match now {
            Some(now)
                if !self.eof && self.responses.wrote_any() && !self.config.linger.is_zero() =>
            {
                match now.checked_add(self.config.linger) {
                    Some(until) => Ending::Lingering {
                        until,
                        write_shut: false,
                    },
                    None => Ending::Closed,
                }
            }
            _ => Ending::Closed,
        };
    }
}

/// Nothing more will be read, answered or written.
fn finished(reading: Reading, responses: &Responses, pending: Pending) -> bool {
    reading == Reading::Done
        && !responses.is_waiting()
        && pending == Pending::None
        && responses.unsent_len() == 0
        && !responses.is_lent()
}

/// How many CRLF pairs `data` starts with.
fn leading_empty_lines(data: &[u8]) -> usize {
    data.chunks_exact(2)
        .take_while(|pair| *pair == b"\r\n")
        .count()
}

/// Whether `data` holds more than empty lines (or half of one): the start of a request.
fn has_request_bytes(data: &[u8]) -> bool {
    let rest = &data[leading_empty_lines(data) * 2..];
    !(rest.is_empty() || rest == b"\r")
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
            let transmit = conn.poll_transmit().unwrap();
            let sent = transmit.len();
            conn.transmitted(start, transmit, sent);
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

    #[test]
    fn a_large_request_leaves_no_large_buffer_behind_once_idle() {
        let start = Instant::now();
        let budget = MemoryBudget::new(1 << 30);
        let mut conn = ServerConnection::with_budget(Config::default(), start, Arc::clone(&budget));
        let body = vec![b'x'; 900_000];
        let head = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len());
        conn.handle_read(start, head.as_bytes());
        conn.handle_read(start, &body);
        let id = match conn.poll_event() {
            Some(Event::Request { id, .. }) => id,
            other => panic!("{other:?}"),
        };
        assert!(
            budget.in_use() > body.len() / 2,
            "the body's bytes are reserved"
        );
        conn.respond(start, id, false, |_, out| {
            out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        })
        .unwrap();
        let transmit = conn.poll_transmit().unwrap();
        let sent = transmit.len();
        conn.transmitted(start, transmit, sent);
        assert!(conn.read.allocated() <= crate::read::INITIAL_BYTES);
        assert_eq!(
            budget.in_use(),
            0,
            "the idle connection holds no reservation"
        );
    }

    #[test]
    fn a_request_the_budget_cannot_hold_is_answered_503_and_closes() {
        let start = Instant::now();
        let budget = MemoryBudget::new(64 * 1024);
        let mut first =
            ServerConnection::with_budget(Config::default(), start, Arc::clone(&budget));
        let mut second =
            ServerConnection::with_budget(Config::default(), start, Arc::clone(&budget));
        let head = b"POST / HTTP/1.1\r\nContent-Length: 60000\r\n\r\n";
        for conn in [&mut first, &mut second] {
            conn.handle_read(start, head);
            assert!(conn.poll_event().is_none());
            conn.handle_read(start, &[b'x'; 50_000]);
        }
        assert!(
            first.poll_event().is_none(),
            "the first fits and waits for its body"
        );
        let id = match second.poll_event() {
            Some(Event::Overloaded { id }) => id,
            other => panic!("{other:?}"),
        };
        assert!(!second.wants_read());
        second
            .respond(
                start,
                id,
                false,
                |context, _| assert!(!context.keep_alive()),
            )
            .unwrap();
        assert!(second.is_closed(), "nothing was written: closed at once");
        drop(second);
        assert!(budget.in_use() <= 64 * 1024);
    }
}
