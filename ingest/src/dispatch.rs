//! [`Dispatcher`]: one connection's requests to the gateway and its replies back, in
//! order, for a raw-TCP server built on [`http_conn::ServerConnection`].

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Instant;

use http_conn::{Event, RequestId, ServerConnection};
use http_parse::Framing;

use crate::{DateCache, Gateway, Incoming, Rejection, Reply, Ticket};

/// The per-connection glue between [`ServerConnection`] and [`Gateway`]: events become
/// submissions, tickets become replies, replies become responses. It owns no socket,
/// no timer and no runtime, so tokio, tokio-uring and a hand-written event loop drive
/// the same code.
///
/// - [`submit`](Self::submit) drains the connection's events: every complete request
///   already received is submitted to the gateway before any delivery is awaited, so a
///   pipelined batch shares Kafka round trips. A request the connection rejected is
///   answered at once with its status ([`Rejection::Frame`]); a body timeout with `408`
///   ([`Rejection::BodyTimeout`]).
/// - [`poll_replies`](Self::poll_replies) supplies the replies of submitted requests as
///   they resolve, oldest first, with the `Date` header; the connection decides
///   keep-alive, `Connection: close`, ordering and `100 Continue`.
///
/// Steady state allocates nothing here: the ticket queue and the scratch buffer for
/// multi-chunk bodies are reused.
///
/// ```
/// use std::time::Instant;
///
/// use http_conn::{Config, ServerConnection};
/// use ingest::{AckMode, Dispatcher, Gateway, GatewaySink, Policy};
/// use kafka_sink::NullSink;
///
/// let gateway = Gateway::new(
///     Policy { max_body_bytes: 1 << 20, ack_mode: AckMode::Delivered, ..Policy::new("events") },
///     GatewaySink::Null(NullSink::default()),
/// );
/// let now = Instant::now();
/// let mut conn = ServerConnection::new(Config::default(), now);
/// let wire = b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
/// conn.handle_read(now, wire);
///
/// let mut dispatcher = Dispatcher::default();
/// dispatcher.submit(&mut conn, &gateway, now);
/// assert!(dispatcher.is_waiting());
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// dispatcher.replies(&mut conn, &gateway).await;
/// # });
/// assert!(!dispatcher.is_waiting());
/// let out = conn.poll_transmit().unwrap();
/// assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// ```
#[derive(Debug, Default)]
pub struct Dispatcher {
    /// Submitted requests whose replies are not yet supplied, oldest first.
    tickets: VecDeque<(RequestId, Ticket)>,
    /// A chunked body of more than one chunk, made contiguous (reused).
    scratch: Vec<u8>,
    date: DateCache,
}

impl Dispatcher {
    /// Submits every request `conn` has to hand out, in order, and answers rejections
    /// and body timeouts at once (`now` is when). Call it after anything was fed to the
    /// connection (a read, EOF, a timeout, shutdown) and after replies were supplied
    /// (which may lift the pipelining bound).
    ///
    /// Never waits ([`Gateway::submit`] does not), so any loop calls it in place, with
    /// or without a runtime.
    pub fn submit(&mut self, conn: &mut ServerConnection, gateway: &Gateway, now: Instant) {
        let body_timeout_ms = conn.config().timeouts.body.as_millis() as u64;
        loop {
            let (id, reply) = match conn.poll_event() {
                None => return,
                Some(Event::Request { id, request }) => {
                    let body = match request.body().as_contiguous() {
                        Some(body) => body,
                        None => {
                            self.scratch.clear();
                            request.body().copy_into(&mut self.scratch);
                            &self.scratch[..]
                        }
                    };
                    let ticket = gateway.submit(Incoming {
                        method: request.method(),
                        target: request.target(),
                        headers: request.headers(),
                        body,
                        body_framed: request.framing() != Framing::None,
                    });
                    self.tickets.push_back((id, ticket));
                    continue;
                }
                Some(Event::Rejected { id, error }) => {
                    (id, gateway.reject(&Rejection::Frame(error)))
                }
                Some(Event::TimedOut { id }) => (
                    id,
                    gateway.reject(&Rejection::BodyTimeout {
                        timeout_ms: body_timeout_ms,
                    }),
                ),
            };
            self.respond(conn, now, id, &reply);
        }
    }

    /// Supplies the replies that are ready, oldest first, stopping at the first still
    /// waiting for Kafka. `Ready` once at least one reply was supplied, or when none is
    /// awaited; `Pending` otherwise, with `cx`'s waker woken when the oldest resolves.
    /// `now` is when the replies are supplied (the client's deadlines restart from it).
    ///
    /// Cancel-safe, and usable with any `Waker`: a hand-written event loop polls it
    /// directly.
    pub fn poll_replies(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut ServerConnection,
        gateway: &Gateway,
        now: Instant,
    ) -> Poll<()> {
        let mut supplied = false;
        while let Some((id, ticket)) = self.tickets.front_mut() {
            let Poll::Ready(reply) = ticket.poll_reply(cx, gateway) else {
                break;
            };
            let id = *id;
            self.tickets.pop_front();
            self.respond(conn, now, id, &reply);
            supplied = true;
        }
        if supplied || self.tickets.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// [`poll_replies`](Self::poll_replies) as a future, reading the clock when replies
    /// are supplied. Cancel-safe.
    pub async fn replies(&mut self, conn: &mut ServerConnection, gateway: &Gateway) {
        poll_fn(|cx| self.poll_replies(cx, conn, gateway, Instant::now())).await;
    }

    /// Whether some submitted request still waits for its reply.
    pub fn is_waiting(&self) -> bool {
        !self.tickets.is_empty()
    }

    fn respond(&self, conn: &mut ServerConnection, now: Instant, id: RequestId, reply: &Reply) {
        let answered = conn.respond(now, id, reply.close, |context, out| {
            self.date.with(|date| {
                reply.encode_http1(context.keep_alive(), context.version(), Some(date), out)
            });
        });
        // Every id comes from this connection's events and is answered once.
        debug_assert!(answered.is_ok(), "{answered:?}");
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;
    use std::time::Duration;

    use http_conn::Config;
    use kafka_sink::MemorySink;

    use super::*;
    use crate::{AckMode, GatewaySink, Policy};

    fn gateway() -> Gateway {
        Gateway::new(
            Policy {
                max_body_bytes: 1024,
                ack_mode: AckMode::Delivered,
                ..Policy::new("t")
            },
            GatewaySink::Memory(MemorySink::default()),
        )
    }

    fn statuses(out: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(out);
        text.match_indices("HTTP/1.1 ")
            .map(|(at, prefix)| text[at + prefix.len()..][..3].to_owned())
            .collect()
    }

    #[test]
    fn pipelined_requests_are_all_submitted_before_replies_and_answered_in_order() {
        let gateway = gateway();
        let now = Instant::now();
        let mut conn = ServerConnection::new(Config::default(), now);
        let post = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        let wire = format!("{post}GET /healthz HTTP/1.1\r\n\r\n{post}");
        conn.handle_read(now, wire.as_bytes());
        let mut dispatcher = Dispatcher::default();
        dispatcher.submit(&mut conn, &gateway, Instant::now());
        let GatewaySink::Memory(memory) = gateway.sink() else {
            unreachable!()
        };
        assert_eq!(memory.records().len(), 2, "both records queued first");
        assert!(dispatcher.is_waiting());

        let mut cx = Context::from_waker(Waker::noop());
        assert!(dispatcher
            .poll_replies(&mut cx, &mut conn, &gateway, now)
            .is_ready());
        assert!(!dispatcher.is_waiting());
        let out = conn.poll_transmit().unwrap();
        assert_eq!(statuses(out), ["200", "200", "200"]);
        assert!(String::from_utf8_lossy(out).contains("\r\ndate: "));
    }

    #[test]
    fn a_framing_error_is_answered_with_its_status_and_closes() {
        let gateway = gateway();
        let now = Instant::now();
        let mut conn = ServerConnection::new(Config::default(), now);
        conn.handle_read(now, b"POST / HTTP/2.0\r\nContent-Length: 2\r\n\r\n{}");
        let mut dispatcher = Dispatcher::default();
        dispatcher.submit(&mut conn, &gateway, Instant::now());
        assert!(!dispatcher.is_waiting());
        let out = conn.poll_transmit().unwrap();
        assert_eq!(statuses(out), ["505"]);
        assert!(String::from_utf8_lossy(out).contains("connection: close"));
        let written = out.len();
        conn.transmitted(written);
        assert!(conn.is_closed());
    }

    #[test]
    fn a_body_timeout_is_answered_408_and_a_header_timeout_silently() {
        let gateway = gateway();
        let now = Instant::now();
        let config = Config::default();
        let mut dispatcher = Dispatcher::default();

        let mut conn = ServerConnection::new(config, now);
        conn.handle_read(now, b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n{");
        dispatcher.submit(&mut conn, &gateway, Instant::now());
        conn.handle_timeout(now + config.timeouts.body);
        dispatcher.submit(&mut conn, &gateway, Instant::now());
        assert_eq!(statuses(conn.poll_transmit().unwrap()), ["408"]);

        let mut conn = ServerConnection::new(config, now);
        conn.handle_read(now, b"POST / HTTP/1.1\r\nContent-");
        conn.handle_timeout(now + config.timeouts.header + Duration::from_millis(1));
        dispatcher.submit(&mut conn, &gateway, Instant::now());
        assert!(conn.is_closed());
        assert_eq!(conn.poll_transmit(), None);
    }
}
