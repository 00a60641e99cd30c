//! [`Dispatcher`]: the gateway as the [`http_conn::Service`] of one raw-TCP connection.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_conn::{Call, Event, ResponseContext, Service, TlsFailure};
use http_parse::Framing;

use crate::{DateCache, Gateway, Incoming, Rejection, Reply, Ticket};

/// The default bound on records one connection keeps in flight: two REST Proxy batches
/// of [`crate::DEFAULT_MAX_BATCH_ENTRIES`], or 2,000 single-record requests. A few
/// connections can then hold only a small share of the process-wide in-flight bound
/// (100,000 records by default) and cannot turn every other client's request into a 503.
pub const DEFAULT_MAX_RECORDS_PER_CONNECTION: usize = 2 * crate::DEFAULT_MAX_BATCH_ENTRIES;

/// The per-connection glue between [`http_conn`] and [`Gateway`]: events become
/// submissions, tickets become replies, replies become responses. It owns no socket,
/// no timer and no runtime; an [`http_conn::Driver`] drives it, so tokio, tokio-uring
/// and a hand-written event loop run the same code.
///
/// - A request is submitted to the gateway at once ([`Gateway::submit`] never waits); its
///   [`Ticket`] is the call the driver polls. A request the connection rejected is
///   answered at once with its status ([`Rejection::Frame`]); a body timeout with `408`
///   ([`Rejection::BodyTimeout`]); a request the process-wide buffer budget could not
///   hold with `503` ([`Rejection::OutOfBufferSpace`]).
/// - Fair share: while the connection's requests hold `max_records` records in flight,
///   it takes no further request ([`Service::poll_ready`]): the connection stops reading
///   until one is answered.
/// - Replies are encoded with the `Date` header from a [`DateCache`].
///
/// Steady state allocates nothing here: the scratch buffer for multi-chunk bodies is
/// reused (and freed once it grew large and the connection is idle).
///
/// ```
/// use std::sync::Arc;
/// use std::task::{Context, Waker};
/// use std::time::Instant;
///
/// use http_conn::{Action, Config, Driver, ServerConnection};
/// use ingest::{AckMode, Dispatcher, Gateway, GatewaySink, Policy};
/// use kafka_sink::NullSink;
///
/// let gateway = Arc::new(Gateway::new(
///     Policy { max_body_bytes: 1 << 20, ack_mode: AckMode::Delivered, ..Policy::new("events") },
///     GatewaySink::Null(NullSink::default()),
/// ));
/// let now = Instant::now();
/// let conn = ServerConnection::new(Config::default(), now);
/// let mut driver = Driver::new(conn, Dispatcher::new(gateway, 100));
/// let wire = b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
/// driver.handle_read(now, wire);
///
/// let mut cx = Context::from_waker(Waker::noop());
/// let Action::Transmit(transmit) = driver.poll_action(&mut cx, now) else { panic!() };
/// assert!(transmit.bytes().starts_with(b"HTTP/1.1 200 OK\r\n"));
/// ```
#[derive(Debug)]
pub struct Dispatcher {
    gateway: Arc<Gateway>,
    /// A chunked body of more than one chunk, made contiguous (reused).
    scratch: Vec<u8>,
    date: DateCache,
    records_in_flight: usize,
    max_records: usize,
}

/// A scratch buffer larger than this is freed once the connection has no request in
/// flight.
const SCRATCH_KEEP_BYTES: usize = 32 * 1024;

impl Dispatcher {
    /// The service of one connection to `gateway`, keeping at most about `max_records`
    /// records in flight (a request is taken while fewer are; at least one at a time).
    pub fn new(gateway: Arc<Gateway>, max_records: usize) -> Self {
        Self {
            gateway,
            scratch: Vec::new(),
            date: DateCache,
            records_in_flight: 0,
            max_records: max_records.max(1),
        }
    }

    /// Records this connection's requests have in flight.
    pub fn records_in_flight(&self) -> usize {
        self.records_in_flight
    }

    fn reject(&self, rejection: &Rejection) -> Call<Ticket, Reply> {
        Call::Ready(self.gateway.reject(rejection))
    }
}

impl Service for Dispatcher {
    type Call = Ticket;
    type Response = Reply;

    fn poll_ready(&self) -> bool {
        self.records_in_flight < self.max_records
    }

    fn call(&mut self, event: Event<'_>, now: Instant) -> Call<Ticket, Reply> {
        match event {
            Event::Request { request, .. } => {
                let body = match request.body().as_contiguous() {
                    Some(body) => body,
                    None => {
                        self.scratch.clear();
                        request.body().copy_into(&mut self.scratch);
                        &self.scratch[..]
                    }
                };
                let ticket = self.gateway.submit_at(
                    Incoming {
                        method: request.method(),
                        path: request.path(),
                        headers: request.headers(),
                        body,
                        body_framed: request.framing() != Framing::None,
                    },
                    now,
                );
                if self.scratch.capacity() > SCRATCH_KEEP_BYTES {
                    self.scratch = Vec::new();
                }
                self.records_in_flight += ticket.records();
                Call::Pending(ticket)
            }
            Event::Rejected { error, .. } => self.reject(&Rejection::Frame(error)),
            Event::TimedOut { timeout, .. } => self.reject(&Rejection::BodyTimeout {
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
            Event::Overloaded { .. } => self.reject(&Rejection::OutOfBufferSpace),
        }
    }

    fn poll_call(
        &mut self,
        ticket: &mut Ticket,
        cx: &mut Context<'_>,
        now: Instant,
    ) -> Poll<Reply> {
        let records = ticket.records();
        let reply = std::task::ready!(ticket.poll_reply_at(cx, &self.gateway, now));
        self.records_in_flight -= records;
        Poll::Ready(reply)
    }

    fn encode(&mut self, reply: &Reply, context: ResponseContext, out: &mut Vec<u8>) {
        self.date.with_at(context.now(), |date| {
            reply.encode_http1(context.keep_alive(), context.version(), Some(date), out)
        });
    }

    fn closes(&self, reply: &Reply) -> bool {
        reply.close
    }

    fn tls_failed(&mut self, failure: TlsFailure) {
        self.gateway.metrics().record_tls_failure(failure.as_str());
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;
    use std::time::Duration;

    use http_conn::{Action, Config, Driver, ServerConnection};
    use kafka_sink::{MemorySink, Sink};

    use super::*;
    use crate::{AckMode, GatewaySink, Policy};

    fn gateway() -> Arc<Gateway> {
        Arc::new(Gateway::new(
            Policy {
                max_body_bytes: 1024,
                ack_mode: AckMode::Delivered,
                ..Policy::new("t")
            },
            GatewaySink::Memory(MemorySink::default()),
        ))
    }

    fn statuses(out: &[u8]) -> Vec<String> {
        let text = String::from_utf8_lossy(out);
        text.match_indices("HTTP/1.1 ")
            .map(|(at, prefix)| text[at + prefix.len()..][..3].to_owned())
            .collect()
    }

    /// Everything the driver writes until it waits.
    fn written(driver: &mut Driver<Dispatcher>, now: Instant) -> Vec<u8> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = Vec::new();
        while let Action::Transmit(transmit) = driver.poll_action(&mut cx, now) {
            out.extend_from_slice(transmit.bytes());
            let n = transmit.len();
            driver.transmitted(now, transmit, n);
        }
        out
    }

    fn driver(
        gateway: &Arc<Gateway>,
        config: Config,
        max_records: usize,
        now: Instant,
    ) -> Driver<Dispatcher> {
        let conn = ServerConnection::new(config, now);
        Driver::new(conn, Dispatcher::new(Arc::clone(gateway), max_records))
    }

    #[test]
    fn pipelined_requests_are_all_submitted_before_replies_and_answered_in_order() {
        let gateway = gateway();
        let now = Instant::now();
        let mut driver = driver(&gateway, Config::default(), 100, now);
        let post = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        let wire = format!("{post}GET /healthz HTTP/1.1\r\n\r\n{post}");
        driver.handle_read(now, wire.as_bytes());
        let out = written(&mut driver, now);
        let GatewaySink::Memory(memory) = gateway.sink() else {
            unreachable!()
        };
        assert_eq!(memory.records().len(), 2, "both records queued");
        assert_eq!(statuses(&out), ["200", "200", "200"]);
        assert!(String::from_utf8_lossy(&out).contains("\r\ndate: "));
    }

    #[test]
    fn the_query_string_does_not_change_the_route() {
        let gateway = gateway();
        let now = Instant::now();
        let mut driver = driver(&gateway, Config::default(), 100, now);
        let wire = "POST /?source=web HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}\
                    GET /healthz?probe=1 HTTP/1.1\r\n\r\n\
                    GET /nope?x HTTP/1.1\r\n\r\n";
        driver.handle_read(now, wire.as_bytes());
        assert_eq!(statuses(&written(&mut driver, now)), ["200", "200", "404"]);
    }

    #[test]
    fn a_framing_error_is_answered_with_its_status_and_closes() {
        let gateway = gateway();
        let now = Instant::now();
        let mut driver = driver(&gateway, Config::default(), 100, now);
        driver.handle_read(now, b"POST / HTTP/2.0\r\nContent-Length: 2\r\n\r\n{}");
        let out = written(&mut driver, now);
        assert_eq!(statuses(&out), ["505"]);
        assert!(String::from_utf8_lossy(&out).contains("connection: close"));
        assert!(driver.connection().is_lingering());
    }

    #[test]
    fn a_body_timeout_is_answered_408_and_a_header_timeout_silently() {
        let gateway = gateway();
        let now = Instant::now();
        let config = Config::default();

        let mut body = driver(&gateway, config, 100, now);
        body.handle_read(now, b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n{");
        assert!(written(&mut body, now).is_empty());
        body.handle_timeout(now + config.timeouts.body);
        assert_eq!(statuses(&written(&mut body, now)), ["408"]);

        let mut head = driver(&gateway, config, 100, now);
        head.handle_read(now, b"POST / HTTP/1.1\r\nContent-");
        head.handle_timeout(now + config.timeouts.header + Duration::from_millis(1));
        assert!(written(&mut head, now).is_empty());
        assert!(head.is_closed());
    }

    #[test]
    fn a_connection_at_its_record_bound_takes_no_further_request() {
        // Deliveries that wait: the mock cluster behind a producer that lingers until it
        // is flushed.
        let broker = kafka_sink::EmbeddedBroker::start().unwrap();
        broker.create_topic("t", 1).unwrap();
        let mut config = kafka_sink::SinkConfig::new(broker.brokers());
        config.linger = Duration::from_secs(600);
        config.delivery_timeout = Duration::from_secs(900);
        let sink = kafka_sink::KafkaSink::new(config).unwrap();
        let gateway = Arc::new(Gateway::new(
            Policy {
                max_body_bytes: 1024,
                ack_mode: AckMode::Delivered,
                ..Policy::new("t")
            },
            GatewaySink::Kafka(sink),
        ));
        let now = Instant::now();
        let mut driver = driver(&gateway, Config::default(), 2, now);
        let post = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        driver.handle_read(now, post.repeat(3).as_bytes());
        assert!(written(&mut driver, now).is_empty());
        assert_eq!(gateway.sink().stats().sent, 2, "the third waits");
        assert_eq!(driver.service().records_in_flight(), 2);
        assert!(!driver.wants_read(), "and nothing more is read");
        let mut statuses_seen = Vec::new();
        while statuses_seen.len() < 3 {
            gateway.sink().flush(Duration::from_secs(10));
            statuses_seen.extend(statuses(&written(&mut driver, now)));
        }
        assert_eq!(statuses_seen, ["200", "200", "200"]);
        assert_eq!(gateway.sink().stats().sent, 3);
        assert_eq!(driver.service().records_in_flight(), 0);
    }
}
