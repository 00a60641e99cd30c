//! [`Driver`]: one connection and the application it serves, reduced to the next thing
//! the engine must do ([`Action`]), in the style of rustls's unbuffered API.

use std::collections::VecDeque;
use std::task::{Context, Poll};
use std::time::Instant;

use std::sync::Arc;

use crate::tls::Tls;
use crate::{Event, RequestId, ResponseContext, ServerConnection, TlsFailure, Transmit};

/// What a connection's requests become: the application a [`Driver`] serves, one per
/// connection. It sees every event the connection hands out (requests, and the
/// rejections, timeouts and refusals the connection answers itself) and answers each
/// with a [`Service::Response`], at once or later.
///
/// A call that must wait (for a Kafka acknowledgement, say) is polled with the
/// [`Context`] given to [`Driver::poll_action`]; its waker is how the engine learns that
/// the connection can move again.
pub trait Service {
    /// A request being worked on.
    type Call;
    /// What the client hears.
    type Response;

    /// Whether the service takes another request from this connection now. While it
    /// says no, the connection reads and hands out nothing more (the requests wait in
    /// the kernel): how a service bounds what one connection keeps in flight. It may say
    /// no only while calls of this connection are pending.
    fn poll_ready(&self) -> bool {
        true
    }

    /// Starts work on what the connection handed out at `now`.
    fn call(&mut self, event: Event<'_>, now: Instant) -> Call<Self::Call, Self::Response>;

    /// Polls a pending call at `now` (the instant given to [`Driver::poll_action`]);
    /// `cx`'s waker is woken when it can make progress.
    fn poll_call(
        &mut self,
        call: &mut Self::Call,
        cx: &mut Context<'_>,
        now: Instant,
    ) -> Poll<Self::Response>;

    /// Appends the encoded `response` to `out` (it must only append), as `context` says:
    /// with `Connection: close` unless [`ResponseContext::keep_alive`].
    fn encode(&mut self, response: &Self::Response, context: ResponseContext, out: &mut Vec<u8>);

    /// Whether `response` closes the connection whatever the request asked.
    fn closes(&self, response: &Self::Response) -> bool;

    /// The connection's TLS session failed (and the connection closes): for the
    /// service's metrics. Called at most once per connection; nothing by default.
    fn tls_failed(&mut self, _failure: TlsFailure) {}
}

/// How [`Service::call`] started a request: answered at once, or still working.
#[derive(Debug)]
pub enum Call<C, R> {
    /// The response, already.
    Ready(R),
    /// Work in progress, polled with [`Service::poll_call`].
    Pending(C),
}

/// The next thing the engine must do for a connection, from [`Driver::poll_action`].
#[derive(Debug)]
#[must_use]
pub enum Action {
    /// Write these bytes and give them back with [`Driver::transmitted`] (with the count
    /// written, 0 if none could be). The engine may keep them until the kernel is done;
    /// until they come back, no other transmit is handed out.
    Transmit(Transmit),
    /// Shut the socket's write side down (the client reads the end of the last
    /// response), and keep reading: what still arrives is discarded until
    /// [`Action::Close`].
    ShutdownWrite,
    /// Wait until one of: bytes from the client, if `read` (read them into
    /// [`Driver::read_buf`] or hand them to [`Driver::handle_read`]); the waker of the
    /// context given to [`Driver::poll_action`] (a response is ready); `deadline`, if
    /// any (then call [`Driver::handle_timeout`]). Then ask again. With `read` false the
    /// engine should not read (and may cancel an armed read).
    Wait {
        /// Whether the connection wants bytes.
        read: bool,
        /// When the connection's next deadline expires.
        deadline: Option<Instant>,
    },
    /// Close the socket and drop the driver: nothing more will be said or read.
    Close,
}

/// A [`ServerConnection`] and its [`Service`]: every request goes to the service as soon
/// as it is complete, every response comes back in order, and the engine is told one
/// thing at a time what to do with the socket. An engine is then a short `match` over
/// [`Action`]s, and a layer between the socket and the connection (TLS) slides in here
/// without any engine changing.
///
/// All complete requests already received are handed to the service before any
/// response is awaited, so a pipelined batch shares its Kafka round trips; the responses
/// then come back together and go out in one write.
///
/// ```
/// use std::task::{Context, Poll, Waker};
/// use std::time::Instant;
///
/// use http_conn::{Action, Call, Config, Driver, Event, ResponseContext, ServerConnection, Service};
/// use http_parse::ResponseHead;
///
/// /// Answers every request `204` at once.
/// struct NoContent;
///
/// impl Service for NoContent {
///     type Call = ();
///     type Response = u16;
///     fn call(&mut self, _event: Event<'_>, _now: Instant) -> Call<(), u16> {
///         Call::Ready(204)
///     }
///     fn poll_call(&mut self, _call: &mut (), _cx: &mut Context<'_>, _now: Instant) -> Poll<u16> {
///         unreachable!("every call is ready at once")
///     }
///     fn encode(&mut self, status: &u16, _context: ResponseContext, out: &mut Vec<u8>) {
///         ResponseHead::new(*status).encode(b"", out);
///     }
///     fn closes(&self, _status: &u16) -> bool {
///         false
///     }
/// }
///
/// let now = Instant::now();
/// let mut driver = Driver::new(ServerConnection::new(Config::default(), now), NoContent);
/// let mut cx = Context::from_waker(Waker::noop());
///
/// // A fresh connection waits for bytes, under the idle timeout.
/// assert!(matches!(driver.poll_action(&mut cx, now), Action::Wait { read: true, deadline: Some(_) }));
/// let wire = b"GET /healthz HTTP/1.1\r\n\r\n";
/// let buf = driver.read_buf().unwrap();
/// buf[..wire.len()].copy_from_slice(wire);
/// driver.commit_read(now, wire.len());
///
/// let Action::Transmit(transmit) = driver.poll_action(&mut cx, now) else { panic!() };
/// assert!(transmit.bytes().starts_with(b"HTTP/1.1 204 No Content\r\n"));
/// let written = transmit.len();
/// driver.transmitted(now, transmit, written);
/// assert!(matches!(driver.poll_action(&mut cx, now), Action::Wait { read: true, .. }));
/// ```
#[derive(Debug)]
pub struct Driver<S: Service> {
    conn: ServerConnection,
    service: S,
    /// Calls still working, oldest first, with the request each answers.
    calls: VecDeque<(RequestId, S::Call)>,
    /// The TLS layer between the socket and the connection, if the port speaks HTTPS.
    tls: Option<Tls>,
    /// The connection asked to shut the write side down; with TLS, once the
    /// close_notify is out.
    shutdown_write: bool,
    tls_failure_reported: bool,
}

impl<S: Service> Driver<S> {
    /// Drives `conn` with `service`, in plaintext.
    pub fn new(conn: ServerConnection, service: S) -> Self {
        Self {
            conn,
            service,
            calls: VecDeque::new(),
            tls: None,
            shutdown_write: false,
            tls_failure_reported: false,
        }
    }

    /// Drives `conn` with `service` over TLS: the bytes the engine reads and writes are
    /// TLS records, the handshake included (it counts against the header timeout), as
    /// `config` sets it up (certificates, client authentication, ALPN).
    ///
    /// # Errors
    ///
    /// If rustls refuses `config` for a server connection.
    pub fn with_tls(
        conn: ServerConnection,
        service: S,
        config: Arc<rustls::ServerConfig>,
    ) -> Result<Self, rustls::Error> {
        let mut driver = Self::new(conn, service);
        driver.tls = Some(Tls::new(config)?);
        Ok(driver)
    }

    /// Why the connection's TLS session was given up, if it speaks TLS and was.
    pub fn tls_failure(&self) -> Option<TlsFailure> {
        self.tls.as_ref().and_then(Tls::failure)
    }

    /// The client's certificate chain once the TLS handshake is over, if it sent one.
    pub fn peer_certificates(&self) -> Option<&[rustls::pki_types::CertificateDer<'static>]> {
        self.tls.as_ref().and_then(Tls::peer_certificates)
    }

    /// The connection.
    pub fn connection(&self) -> &ServerConnection {
        &self.conn
    }

    /// The service.
    pub fn service(&self) -> &S {
        &self.service
    }

    /// The service, mutably.
    pub fn service_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// Moves everything that can move without I/O (requests to the service, ready
    /// responses to the connection, with `cx` registered for those still pending) and
    /// returns what the engine must do next.
    pub fn poll_action(&mut self, cx: &mut Context<'_>, now: Instant) -> Action {
        self.process(cx, now);
        let Some(tls) = &mut self.tls else {
            if let Some(transmit) = self.conn.poll_transmit() {
                return Action::Transmit(transmit);
            }
            if self.conn.poll_shutdown_write() {
                return Action::ShutdownWrite;
            }
            if self.conn.is_closed() {
                return Action::Close;
            }
            return Action::Wait {
                read: self.wants_read(),
                deadline: self.conn.poll_timeout(),
            };
        };
        // The responses just supplied become records; a shutdown of the write side is
        // preceded by a close_notify.
        if self.conn.poll_shutdown_write() {
            tls.close_notify();
            self.shutdown_write = true;
        }
        tls.process(&mut self.conn, now);
        if let Some(failure) = tls.failure() {
            if !self.tls_failure_reported {
                self.tls_failure_reported = true;
                self.service.tls_failed(failure);
            }
        }
        if let Some(transmit) = tls.poll_transmit() {
            return Action::Transmit(transmit);
        }
        if tls.has_unsent() {
            // A record is in the engine's hands: wait for it (reading goes on).
            return Action::Wait {
                read: self.wants_read(),
                deadline: self.conn.poll_timeout(),
            };
        }
        if self.shutdown_write && tls.close_notify_queued() {
            self.shutdown_write = false;
            return Action::ShutdownWrite;
        }
        if self.is_closed() {
            return Action::Close;
        }
        Action::Wait {
            read: self.wants_read(),
            deadline: self.conn.poll_timeout(),
        }
    }

    /// Supplies the responses of calls that are ready (oldest first, stopping at the
    /// first still pending, with `cx` registered there): `Ready` if any was supplied.
    /// Cancel-safe: an async engine can race it with its socket and timer, then ask
    /// [`poll_action`](Self::poll_action) what to do.
    pub fn poll_responses(&mut self, cx: &mut Context<'_>, now: Instant) -> Poll<()> {
        if self.supply_ready(cx, now) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Whether the connection wants bytes from the client now: it does, and the service
    /// takes more requests (or the connection is lingering and discards them); with
    /// TLS, also throughout the handshake.
    pub fn wants_read(&self) -> bool {
        let http =
            self.conn.wants_read() && (self.service.poll_ready() || self.conn.is_lingering());
        match &self.tls {
            Some(tls) => tls.wants_read(http),
            None => http,
        }
    }

    /// Whether some call is still working.
    pub fn is_waiting(&self) -> bool {
        !self.calls.is_empty()
    }

    /// Spare space to read the client's bytes into (see
    /// [`ServerConnection::read_buf`]); `None` while no bytes are wanted.
    pub fn read_buf(&mut self) -> Option<&mut [u8]> {
        if !self.wants_read() {
            return None;
        }
        match &mut self.tls {
            Some(tls) => tls.read_buf(),
            None => self.conn.read_buf(),
        }
    }

    /// `n` bytes were read at `now` into [`read_buf`](Self::read_buf).
    pub fn commit_read(&mut self, now: Instant, n: usize) {
        match &mut self.tls {
            Some(tls) => {
                tls.commit(n);
                tls.process(&mut self.conn, now);
            }
            None => self.conn.commit_read(now, n),
        }
    }

    /// `bytes` were read at `now` into the engine's own memory (see
    /// [`ServerConnection::handle_read`]).
    pub fn handle_read(&mut self, now: Instant, bytes: &[u8]) {
        let Some(tls) = &mut self.tls else {
            self.conn.handle_read(now, bytes);
            return;
        };
        let mut rest = bytes;
        while !rest.is_empty() {
            let taken = tls.extend(rest);
            tls.process(&mut self.conn, now);
            if taken == 0 {
                // A full buffer the session could not process: it failed (a record TLS
                // does not allow); the rest is of no use.
                break;
            }
            rest = &rest[taken..];
        }
    }

    /// The client closed its sending side.
    pub fn handle_eof(&mut self) {
        self.conn.handle_eof();
    }

    /// `transmit` comes back at `now` with `n` of its bytes written.
    pub fn transmitted(&mut self, now: Instant, transmit: Transmit, n: usize) {
        match &mut self.tls {
            Some(tls) => tls.transmitted(transmit, n),
            None => self.conn.transmitted(now, transmit, n),
        }
    }

    /// The deadline may have passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
    }

    /// The next deadline (also in [`Action::Wait`]).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    /// Stops taking new requests (see [`ServerConnection::begin_shutdown`]).
    pub fn begin_shutdown(&mut self) {
        self.conn.begin_shutdown();
    }

    /// Whether the connection is finished (the engine closes the socket): the HTTP
    /// connection is, or its TLS session failed and the alert is out.
    pub fn is_closed(&self) -> bool {
        match &self.tls {
            Some(tls) => (self.conn.is_closed() || tls.failure().is_some()) && !tls.has_unsent(),
            None => self.conn.is_closed(),
        }
    }

    fn process(&mut self, cx: &mut Context<'_>, now: Instant) {
        loop {
            while self.service.poll_ready() {
                let Some(event) = self.conn.poll_event() else {
                    break;
                };
                let id = event.id();
                match self.service.call(event, now) {
                    Call::Ready(response) => self.respond(now, id, &response),
                    Call::Pending(call) => self.calls.push_back((id, call)),
                }
            }
            // Supplied responses may lift the pipelining bound or the service's: hand out
            // again until nothing moves.
            if !self.supply_ready(cx, now) {
                return;
            }
        }
    }

    /// Supplies the ready responses, oldest first; whether any was.
    fn supply_ready(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut supplied = false;
        while let Some((id, call)) = self.calls.front_mut() {
            let Poll::Ready(response) = self.service.poll_call(call, cx, now) else {
                break;
            };
            let id = *id;
            self.calls.pop_front();
            self.respond(now, id, &response);
            supplied = true;
        }
        supplied
    }

    fn respond(&mut self, now: Instant, id: RequestId, response: &S::Response) {
        let close = self.service.closes(response);
        let service = &mut self.service;
        let answered = self.conn.respond(now, id, close, |context, out| {
            service.encode(response, context, out);
        });
        // Every id comes from this connection's events and is answered once.
        debug_assert!(answered.is_ok(), "{answered:?}");
    }
}
