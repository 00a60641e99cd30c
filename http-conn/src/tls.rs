//! TLS as one more layer of the [`crate::Driver`]: rustls's unbuffered (sans-IO) server
//! connection between the socket and the HTTP connection, so every engine gets HTTPS
//! from one place and still only moves bytes.
//!
//! Ciphertext comes in through the driver's read buffer (or `handle_read`), whole TLS
//! records are decrypted and their plaintext handed to the [`ServerConnection`]; its
//! responses are encrypted into a [`TransmitQueue`] whose buffers the engine sends as it
//! sends plaintext ones. The handshake counts against the header timeout: its first
//! byte starts the connection's header deadline.

use std::sync::Arc;
use std::time::Instant;

use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, InsufficientSizeError};

use crate::transmit::TransmitQueue;
use crate::{ServerConnection, Transmit};

/// Size of a new connection's ciphertext buffer: a ClientHello and a small request fit.
const INITIAL_INCOMING_BYTES: usize = 4 * 1024;

/// Smallest spare space worth lending to a read.
const MIN_READ_BYTES: usize = 2 * 1024;

/// The most ciphertext buffered: one record of the largest size TLS allows (16 KiB of
/// plaintext plus 2 KiB of expansion and a 5-byte header) and one more read. rustls
/// refuses larger records, so a full buffer always holds a whole record to process.
const MAX_INCOMING_BYTES: usize = 16 * 1024 + 2048 + 5 + MIN_READ_BYTES;

/// Why a TLS connection was given up, as the metrics count it (a bounded set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsFailure {
    /// A plaintext HTTP request on the HTTPS port: answered with a plain `400`.
    PlainHttp,
    /// Bytes that are not TLS, or a record TLS does not allow (oversized, malformed).
    Malformed,
    /// The client's certificate was missing where one is required, or refused.
    Certificate,
    /// Anything else that ended the handshake or the session (no common protocol
    /// version, cipher suite or ALPN protocol, an alert from the client, ...).
    Handshake,
}

impl TlsFailure {
    /// The reason's name, for a metric label or a log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlainHttp => "plain_http",
            Self::Malformed => "malformed",
            Self::Certificate => "certificate",
            Self::Handshake => "handshake",
        }
    }

    /// The reason rustls's `error` ended a session (for servers that run rustls
    /// themselves, such as hyper's tokio-rustls).
    pub fn of_error(error: &rustls::Error) -> Self {
        use rustls::Error as E;
        match error {
            E::InvalidMessage(_)
            | E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. }
            | E::DecryptError => Self::Malformed,
            E::NoCertificatesPresented | E::InvalidCertificate(_) => Self::Certificate,
            _ => Self::Handshake,
        }
    }
}

/// The plain answer to a plaintext HTTP request on the HTTPS port (nginx answers the
/// same situation with a 400 too): the client learns its mistake instead of a reset.
fn plain_http_answer(out: &mut Vec<u8>) {
    const BODY: &str = r#"{"error":"this port speaks HTTPS; send the request over TLS"}"#;
    // The length is the body's own: a hand-written one drifted once (62 for 61 bytes).
    let head = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        BODY.len()
    );
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(BODY.as_bytes());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first byte: may still turn out to be plaintext HTTP.
    Fresh,
    Handshaking,
    Open,
    /// Given up: what is queued (an alert) goes out, then the connection closes.
    Failed(TlsFailure),
}

/// One connection's TLS layer.
pub(crate) struct Tls {
    session: UnbufferedServerConnection,
    /// Ciphertext received: `incoming[..received]`.
    incoming: Vec<u8>,
    received: usize,
    /// Ciphertext to send.
    outgoing: TransmitQueue,
    state: State,
    /// The HTTP connection asked to shut the write side down: a close_notify goes first.
    close_notify: CloseNotify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseNotify {
    None,
    Wanted,
    Queued,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("state", &self.state)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl Tls {
    pub(crate) fn new(config: Arc<rustls::ServerConfig>) -> Result<Self, rustls::Error> {
        Ok(Self {
            session: UnbufferedServerConnection::new(config)?,
            incoming: Vec::new(),
            received: 0,
            outgoing: TransmitQueue::default(),
            state: State::Fresh,
            close_notify: CloseNotify::None,
        })
    }

    /// Why the session was given up, if it was.
    pub(crate) fn failure(&self) -> Option<TlsFailure> {
        match self.state {
            State::Failed(failure) => Some(failure),
            _ => None,
        }
    }

    /// The client certificate chain, once the handshake is over (with client
    /// authentication on).
    pub(crate) fn peer_certificates(
        &self,
    ) -> Option<&[rustls::pki_types::CertificateDer<'static>]> {
        self.session.peer_certificates()
    }

    /// Whether ciphertext is wanted: during the handshake always, afterwards when the
    /// HTTP connection wants bytes; never once given up.
    pub(crate) fn wants_read(&self, http_wants: bool) -> bool {
        match self.state {
            State::Fresh | State::Handshaking => true,
            State::Open => http_wants,
            State::Failed(_) => false,
        }
    }

    /// Spare space for ciphertext, or `None` while the buffer is full.
    pub(crate) fn read_buf(&mut self) -> Option<&mut [u8]> {
        if self.incoming.len() - self.received < MIN_READ_BYTES {
            let grown = (self.incoming.len() * 2).clamp(INITIAL_INCOMING_BYTES, MAX_INCOMING_BYTES);
            self.incoming.resize(grown, 0);
        }
        let spare = &mut self.incoming[self.received..];
        (!spare.is_empty()).then_some(spare)
    }

    /// `n` bytes were read into [`Tls::read_buf`].
    pub(crate) fn commit(&mut self, n: usize) {
        self.received = (self.received + n).min(self.incoming.len());
    }

    /// Copies as much of `bytes` (which arrived in the engine's own memory, an
    /// io_uring provided buffer) as the buffer takes; how much it took. A full buffer
    /// holds a whole record: [`Tls::process`] makes room.
    pub(crate) fn extend(&mut self, bytes: &[u8]) -> usize {
        let Some(spare) = self.read_buf() else {
            return 0;
        };
        let n = spare.len().min(bytes.len());
        spare[..n].copy_from_slice(&bytes[..n]);
        self.commit(n);
        n
    }

    /// The HTTP connection shuts its write side down: a close_notify is sent first.
    pub(crate) fn close_notify(&mut self) {
        if self.close_notify == CloseNotify::None {
            self.close_notify = CloseNotify::Wanted;
        }
    }

    /// Whether the close_notify asked for is queued (or TLS is given up, which sends
    /// none): the write side may be shut down once the queue is empty.
    pub(crate) fn close_notify_queued(&self) -> bool {
        self.close_notify == CloseNotify::Queued || matches!(self.state, State::Failed(_))
    }

    /// The next ciphertext to write (see [`crate::Action::Transmit`]).
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outgoing.take()
    }

    /// Ciphertext given back with `n` bytes written.
    pub(crate) fn transmitted(&mut self, transmit: Transmit, n: usize) {
        self.outgoing.give_back(transmit, n);
    }

    /// Whether ciphertext is queued or in the engine's hands.
    pub(crate) fn has_unsent(&self) -> bool {
        self.outgoing.unsent_len() > 0 || self.outgoing.is_lent()
    }

    /// Moves what can move: ciphertext received is decrypted into `http` (at `now`),
    /// handshake records are encoded, `http`'s responses are encrypted once the
    /// handshake is over, and an alert is queued if the session fails.
    pub(crate) fn process(&mut self, http: &mut ServerConnection, now: Instant) {
        if matches!(self.state, State::Failed(_)) {
            return;
        }
        if self.state == State::Fresh && self.received > 0 {
            http.handle_transport_bytes(now);
            if self.incoming[0].is_ascii_uppercase() {
                // A TLS record starts with its content type (22 for a ClientHello); an
                // upper-case letter is a plaintext request line.
                plain_http_answer(self.outgoing.buffer());
                self.state = State::Failed(TlsFailure::PlainHttp);
                self.received = 0;
                return;
            }
            self.state = State::Handshaking;
        }
        let Self {
            session,
            incoming,
            received,
            outgoing,
            state,
            close_notify,
        } = self;
        loop {
            // After a failure, one more round takes out the alert rustls queued (it comes
            // before any new deframing); then the session is never looked at again.
            let fetching_alert = matches!(state, State::Failed(_));
            let status = session.process_tls_records(&mut incoming[..*received]);
            let discard = status.discard;
            let mut done = false;
            match status.state {
                Ok(ConnectionState::ReadTraffic(mut traffic)) => {
                    while let Some(record) = traffic.next_record() {
                        match record {
                            Ok(record) => http.handle_read(now, record.payload),
                            Err(error) => {
                                fail(state, &error);
                                break;
                            }
                        }
                    }
                }
                Ok(ConnectionState::EncodeTlsData(mut encode)) => {
                    append_with(outgoing.buffer(), |out| match encode.encode(out) {
                        Ok(written) => Ok(written),
                        Err(EncodeError::InsufficientSize(InsufficientSizeError {
                            required_size,
                        })) => Err(Some(required_size)),
                        Err(_) => Err(None),
                    });
                }
                // The records are in `outgoing`, which goes out in order: nothing is
                // sent twice or out of turn whenever the engine writes it.
                Ok(ConnectionState::TransmitTlsData(transmit)) => transmit.done(),
                Ok(ConnectionState::BlockedHandshake) => done = true,
                Ok(ConnectionState::WriteTraffic(mut write)) => {
                    if *state == State::Handshaking {
                        *state = State::Open;
                    }
                    while let Some(plaintext) = http.poll_transmit() {
                        let len = plaintext.len();
                        let encrypted = append_with(outgoing.buffer(), |out| {
                            match write.encrypt(plaintext.bytes(), out) {
                                Ok(written) => Ok(written),
                                Err(EncryptError::InsufficientSize(InsufficientSizeError {
                                    required_size,
                                })) => Err(Some(required_size)),
                                Err(_) => Err(None),
                            }
                        });
                        http.transmitted(now, plaintext, if encrypted { len } else { 0 });
                        if !encrypted {
                            break;
                        }
                    }
                    if *close_notify == CloseNotify::Wanted {
                        append_with(outgoing.buffer(), |out| {
                            match write.queue_close_notify(out) {
                                Ok(written) => Ok(written),
                                Err(EncryptError::InsufficientSize(InsufficientSizeError {
                                    required_size,
                                })) => Err(Some(required_size)),
                                Err(_) => Err(None),
                            }
                        });
                        *close_notify = CloseNotify::Queued;
                    }
                    done = true;
                }
                Ok(ConnectionState::PeerClosed) => http.handle_eof(),
                Ok(ConnectionState::Closed) => done = true,
                // Early data is not enabled (the server config's default): never seen.
                Ok(ConnectionState::ReadEarlyData(_)) => done = true,
                // States a later rustls adds: nothing this layer knows to do.
                Ok(_) => done = true,
                Err(error) => fail(state, &error),
            }
            if discard > 0 {
                incoming.copy_within(discard..*received, 0);
                *received -= discard;
            }
            if done || fetching_alert {
                break;
            }
        }
        if matches!(state, State::Failed(_)) {
            // Nothing received from here on matters.
            *received = 0;
        }
    }
}

fn fail(state: &mut State, error: &rustls::Error) {
    if !matches!(state, State::Failed(_)) {
        *state = State::Failed(TlsFailure::of_error(error));
    }
}

/// Appends to `out` what `write` writes into spare space, growing it as `write` asks
/// (`Err(Some(size))`); whether anything was written (`Err(None)`: it refused).
fn append_with(
    out: &mut Vec<u8>,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, Option<usize>>,
) -> bool {
    let start = out.len();
    let mut room = 4 * 1024;
    loop {
        out.resize(start + room, 0);
        match write(&mut out[start..]) {
            Ok(written) => {
                out.truncate(start + written);
                return true;
            }
            Err(Some(required)) if required > room => room = required,
            Err(_) => {
                out.truncate(start);
                return false;
            }
        }
    }
}
