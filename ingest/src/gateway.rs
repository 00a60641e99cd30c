//! [`Gateway`]: the request-to-reply path every server calls, free of sockets.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use kafka_sink::{FlushReport, Pending, Record, Sink, SinkError};

use crate::cross_site::{Admission, CrossSite};
use crate::policy::{self, Request, RequestHeaders, Route};
use crate::rest_proxy::{self, RestDelivery, RestProxy, RestTicket};
use crate::{json, Cors, GatewaySink, Metrics, Rejection, Reply, RestProxySettings, TopicAccess};

/// Whether 2xx waits for Kafka.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AckMode {
    /// `200` once Kafka acknowledged the record (the default; nothing acknowledged is lost).
    #[default]
    Delivered,
    /// `202` once the record is queued in the producer: lower latency, but a crash loses
    /// queued records. Each such answer is counted in `gateway_acked_before_delivery`.
    Queued,
}

/// A request as either server hands it over: borrowed, already framed.
#[derive(Debug)]
pub struct Incoming<'a, H> {
    /// Method token.
    pub method: &'a str,
    /// The request target's path: up to its first `?`, as sent (the gateway reads no
    /// query parameter). [`http_parse::Request::path`] gives it split already.
    pub path: &'a str,
    /// Header fields in order.
    pub headers: H,
    /// The decoded body.
    pub body: &'a [u8],
    /// Whether the request declared a body (`Content-Length` or chunked).
    pub body_framed: bool,
}

/// Settings of the policy. Start from [`Policy::new`], which has every default, and
/// set what differs: `Policy { max_body_bytes: 4096, ..Policy::new("events") }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Destination topic of `POST /`.
    pub topic: String,
    /// Largest accepted body (413 beyond, on every path).
    pub max_body_bytes: usize,
    /// When `POST /` is answered.
    pub ack_mode: AckMode,
    /// librdkafka's `message.max.bytes` ([`kafka_sink::SinkConfig::max_record_bytes`]):
    /// a record whose value, key and headers take more, as librdkafka counts them, is
    /// 413 on every path instead of a 502 from the producer. With the body limit it
    /// decides the largest record the gateway takes ([`check_record_size`](crate::check_record_size)).
    pub max_message_bytes: usize,
    /// Deepest nesting of arrays and objects in a JSON body (`POST /`) or a JSON key
    /// or value (REST Proxy); deeper is 400 with line and column.
    pub max_json_depth: usize,
    /// Origins (`scheme://host[:port]`, see [`parse_origin`](crate::parse_origin))
    /// whose browser pages may send requests, with CORS; any other `Origin`, or
    /// `Sec-Fetch-Site: cross-site` without an allowed one, is 403. Empty: no browser
    /// page may.
    pub allow_origins: Vec<String>,
}

impl Policy {
    /// The defaults, producing `POST /` to `topic`: the body limit of
    /// [`http_parse::Limits`], [`AckMode::Delivered`], librdkafka's default
    /// `message.max.bytes`, [`DEFAULT_MAX_JSON_DEPTH`](crate::DEFAULT_MAX_JSON_DEPTH),
    /// no allowed origin.
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            max_body_bytes: http_parse::Limits::default().max_body_bytes(),
            ack_mode: AckMode::Delivered,
            max_message_bytes: kafka_sink::SinkConfig::default().max_record_bytes(),
            max_json_depth: crate::DEFAULT_MAX_JSON_DEPTH,
            allow_origins: Vec::new(),
        }
    }
}

/// The gateway of one process: policy, sink and metrics, shared by every connection.
#[derive(Debug)]
pub struct Gateway {
    policy: Policy,
    sink: GatewaySink,
    cross_site: CrossSite,
    rest: RestProxy,
    metrics: Metrics,
    shutting_down: AtomicBool,
}

/// A submitted request whose reply may still wait for Kafka. It no longer borrows the
/// request, so a server can submit several pipelined requests before awaiting any.
#[derive(Debug)]
pub struct Ticket {
    started: Instant,
    state: TicketState,
    /// The CORS headers of the answer, for a request from an allowed browser origin.
    cors: Option<Box<Cors>>,
    _in_flight: InFlightGuard,
}

#[derive(Debug)]
enum TicketState {
    Ready(Reply),
    Delivering {
        pending: Pending,
        queued_at: Instant,
    },
    Rest(Box<RestDelivery>),
    /// The reply was taken by [`Ticket::poll_reply`].
    Replied,
}

impl From<RestTicket> for TicketState {
    fn from(ticket: RestTicket) -> Self {
        match ticket {
            RestTicket::Ready(reply) => Self::Ready(reply),
            RestTicket::Delivering(delivery) => Self::Rest(delivery),
        }
    }
}

#[derive(Debug)]
struct InFlightGuard(prometheus_client::metrics::gauge::Gauge);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Gateway {
    /// A gateway producing through `sink`.
    ///
    /// The REST Proxy API starts with its defaults: only `policy.topic` allowed, the
    /// cluster id [`NULL_CLUSTER_ID`](crate::NULL_CLUSTER_ID),
    /// [`DEFAULT_MAX_BATCH_ENTRIES`](crate::DEFAULT_MAX_BATCH_ENTRIES); see
    /// [`Gateway::with_rest_proxy`].
    pub fn new(policy: Policy, sink: GatewaySink) -> Self {
        let rest = RestProxy::new(RestProxySettings {
            allow_topics: vec![policy.topic.clone()],
            cluster_id: crate::NULL_CLUSTER_ID.to_owned(),
            max_batch_entries: crate::DEFAULT_MAX_BATCH_ENTRIES,
        });
        Self {
            cross_site: CrossSite::new(&policy.allow_origins),
            policy,
            sink,
            rest,
            metrics: Metrics::default(),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// The same gateway with these REST Proxy settings. Until [`Gateway::refresh_topics`]
    /// (or [`TopicAccess::set_known`]) runs, every allowed topic counts as existing.
    pub fn with_rest_proxy(mut self, settings: RestProxySettings) -> Self {
        self.rest = RestProxy::new(settings);
        self
    }

    /// The allowlist and the cache of known topics.
    pub fn topics(&self) -> &TopicAccess {
        self.rest.topics()
    }

    /// The cluster id of the REST Proxy API.
    pub fn cluster_id(&self) -> &str {
        self.rest.cluster_id()
    }

    /// Lists the cluster's topics and replaces the cache (blocking, one metadata
    /// request): call at start-up and then off the request path, e.g. from a thread.
    /// Does nothing without Kafka.
    pub fn refresh_topics(&self) -> Result<(), SinkError> {
        if let GatewaySink::Kafka(sink) = &self.sink {
            self.topics().refresh(sink.topic_partitions()?);
        }
        Ok(())
    }

    /// The policy settings.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The sink.
    pub fn sink(&self) -> &GatewaySink {
        &self.sink
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Routes, validates and (for `POST /` and the REST Proxy's produce paths) queues
    /// the records, without ever waiting: a server calls it from any thread, with or
    /// without an async runtime. The returned ticket resolves to the reply.
    ///
    /// Records are handed to the producer with [`GatewaySink::try_enqueue`]. Past the
    /// in-flight bound the answer is `503` with `Retry-After`; librdkafka's local queue
    /// is sized above that bound (see [`kafka_sink::SinkConfig::queue_max_records`]), so
    /// it is not full first, and if it still is (a delivery freed the bound a moment
    /// before librdkafka freed its queue slot) that is overload too: `503`.
    pub fn submit<'a, H>(&self, incoming: Incoming<'a, H>) -> Ticket
    where
        H: Iterator<Item = (&'a str, &'a [u8])>,
    {
        self.submit_at(incoming, Instant::now())
    }

    /// [`submit`](Self::submit) of a request that was complete at `received`: the
    /// instant its latency is measured from, for a server that read the clock already.
    pub fn submit_at<'a, H>(&self, incoming: Incoming<'a, H>, received: Instant) -> Ticket
    where
        H: Iterator<Item = (&'a str, &'a [u8])>,
    {
        let in_flight = self.metrics.in_flight().clone();
        in_flight.inc();
        let path = incoming.path;
        // Which API a path belongs to decides the error shape of every answer to it.
        let rest = rest_proxy::is_rest_path(path);
        let mut cors = None;
        let state = RequestHeaders::scan(incoming.headers)
            .and_then(|headers| {
                let request = Request {
                    method: incoming.method,
                    path,
                    headers,
                    body: incoming.body,
                    body_framed: incoming.body_framed,
                };
                match self.cross_site.admit(&request)? {
                    Admission::Plain => {}
                    Admission::Allowed(allowed) => cors = Some(Box::new(allowed)),
                    Admission::Preflight { origin, headers } => {
                        let methods = match rest {
                            true => rest_proxy::allowed_method(path),
                            false => policy::allowed_method(path),
                        }?;
                        let cors = Cors::preflight(origin, methods, headers);
                        return Ok(TicketState::Ready(Reply::preflight(cors)));
                    }
                }
                if rest {
                    self.rest.submit(self, &request).map(TicketState::from)
                } else {
                    self.dispatch(&request)
                }
            })
            .unwrap_or_else(|rejection| {
                TicketState::Ready(match rest {
                    true => rest_proxy::rejected(&rejection),
                    false => Reply::rejected(&rejection),
                })
            });
        Ticket {
            started: received,
            state,
            cors,
            _in_flight: InFlightGuard(in_flight),
        }
    }

    fn dispatch(&self, request: &Request<'_>) -> Result<TicketState, Rejection> {
        let reply = match policy::route(request.method, request.path)? {
            Route::Ingest => return self.ingest(request),
            Route::Health => Reply::ok(),
            Route::Ready if self.is_ready() => Reply::ok(),
            Route::Ready => Reply::not_ready(),
            Route::Metrics => Reply::metrics(self.metrics.render(&self.sink.stats())),
        };
        Ok(TicketState::Ready(reply))
    }

    /// What every write (`POST /` and the REST Proxy's produce paths) passes before its
    /// body is read, in this order: not shutting down (503), a declared body (411), the
    /// body limit (413). The one copy, so the paths cannot drift apart.
    pub(crate) fn writable_body<'a>(&self, request: &Request<'a>) -> Result<&'a [u8], Rejection> {
        if self.is_shutting_down() {
            return Err(Rejection::ShuttingDown);
        }
        policy::check_body(
            request.body_framed,
            request.body,
            self.policy.max_body_bytes,
        )?;
        Ok(request.body)
    }

    fn ingest(&self, request: &Request<'_>) -> Result<TicketState, Rejection> {
        let payload = self.writable_body(request)?;
        let parts = policy::record_parts(&request.headers)?;
        json::validate_json(payload, self.policy.max_json_depth)?;
        let headers: Vec<(&str, &[u8])> = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_ref(), *value))
            .collect();
        let mut record = Record::new(&self.policy.topic, payload).with_headers(&headers);
        if let Some(key) = parts.key {
            record = record.with_key(key);
        }
        policy::check_record_size(&record, &self.policy)?;
        let pending = self.sink.try_enqueue(&record).map_err(Rejection::sink)?;
        Ok(match self.policy.ack_mode {
            AckMode::Delivered => TicketState::Delivering {
                pending,
                queued_at: Instant::now(),
            },
            AckMode::Queued => {
                self.metrics.record_early_ack();
                // The record's fate is still counted by the sink when it resolves.
                drop(pending);
                TicketState::Ready(Reply::queued())
            }
        })
    }

    /// The reply for a request the server could not even frame (counted in metrics).
    pub fn reject(&self, rejection: &Rejection) -> Reply {
        let reply = Reply::rejected(rejection);
        self.metrics.record_response(reply.status, Duration::ZERO);
        reply
    }

    /// Ready: not shutting down, brokers reachable, sink under 90% of its bound.
    pub fn is_ready(&self) -> bool {
        !self.is_shutting_down() && self.sink.brokers_reachable() && !self.sink.is_saturated(90)
    }

    /// From now on `/readyz` answers 503 and new records are refused with 503.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Whether [`Gateway::begin_shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// The grace period ended with requests still waiting for Kafka: records the
    /// producer has not sent to any broker yet fail at once (their requests are
    /// answered `503`: never sent, so a retry elsewhere cannot duplicate them), and
    /// records already sent get up to `timeout` for their acknowledgements, answered as
    /// they come. Blocking; the servers keep answering meanwhile.
    pub fn settle_in_flight(&self, timeout: Duration) -> FlushReport {
        let waiting = self.sink.stats().in_flight_records;
        self.sink.purge_queued();
        tracing::warn!(
            waiting,
            "grace period over with requests waiting for Kafka: records not yet sent are \
             refused (503), records sent wait for their acknowledgements"
        );
        self.finish(timeout)
    }

    /// Flushes the producer (blocking) and logs what was and was not delivered.
    pub fn finish(&self, timeout: Duration) -> FlushReport {
        let report = self.sink.flush(timeout);
        let stats = self.sink.stats();
        tracing::info!(
            flushed_delivered = report.delivered,
            flushed_failed = report.failed,
            undelivered = report.undelivered,
            total_delivered = stats.delivered,
            total_failed = stats.failed,
            "producer flushed"
        );
        report
    }
}

impl Ticket {
    /// Records this request still has on their way to Kafka (0 once replied, or for a
    /// request answered without producing): what a connection's in-flight bound counts.
    pub fn records(&self) -> usize {
        match &self.state {
            TicketState::Ready(_) | TicketState::Replied => 0,
            TicketState::Delivering { .. } => 1,
            TicketState::Rest(delivery) => delivery.records(),
        }
    }

    /// Waits for the record's fate (if any) and returns the reply, counting it.
    pub async fn reply(mut self, gateway: &Gateway) -> Reply {
        poll_fn(|cx| self.poll_reply(cx, gateway)).await
    }

    /// The reply once the record's fate is known (at once for errors and probes),
    /// counted in the metrics; until then `Pending`, with `cx`'s waker woken when it is
    /// known. Any executor, or a hand-written event loop with its own `Waker`, can drive
    /// it: the delivery is a plain channel.
    ///
    /// # Panics
    ///
    /// If polled again after it returned `Ready`.
    pub fn poll_reply(&mut self, cx: &mut Context<'_>, gateway: &Gateway) -> Poll<Reply> {
        self.poll_reply_with(cx, gateway, None)
    }

    /// [`poll_reply`](Self::poll_reply) for a server that read the clock already: a reply
    /// ready at `now` is counted as answered then.
    pub fn poll_reply_at(
        &mut self,
        cx: &mut Context<'_>,
        gateway: &Gateway,
        now: Instant,
    ) -> Poll<Reply> {
        self.poll_reply_with(cx, gateway, Some(now))
    }

    fn poll_reply_with(
        &mut self,
        cx: &mut Context<'_>,
        gateway: &Gateway,
        now: Option<Instant>,
    ) -> Poll<Reply> {
        let reply = match &mut self.state {
            TicketState::Ready(_) => {
                let TicketState::Ready(reply) =
                    std::mem::replace(&mut self.state, TicketState::Replied)
                else {
                    unreachable!("matched above")
                };
                reply
            }
            TicketState::Delivering { pending, queued_at } => {
                let outcome = match Pin::new(pending).poll(cx) {
                    Poll::Ready(outcome) => outcome,
                    Poll::Pending => return Poll::Pending,
                };
                let reply = match outcome {
                    Ok(_) => {
                        gateway.metrics.record_delivery(queued_at.elapsed());
                        Reply::received()
                    }
                    Err(error) => Reply::rejected(&Rejection::sink(error)),
                };
                self.state = TicketState::Replied;
                reply
            }
            TicketState::Rest(delivery) => {
                let reply = match delivery.poll_reply(cx, gateway) {
                    Poll::Ready(reply) => reply,
                    Poll::Pending => return Poll::Pending,
                };
                self.state = TicketState::Replied;
                reply
            }
            TicketState::Replied => panic!("Ticket::poll_reply called after its reply"),
        };
        let reply = match self.cors.take() {
            Some(cors) => Reply {
                cors: Some(cors),
                ..reply
            },
            None => reply,
        };
        let answered = now.unwrap_or_else(Instant::now);
        gateway.metrics.record_response(
            reply.status,
            answered.saturating_duration_since(self.started),
        );
        Poll::Ready(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_sink::{MemorySink, SinkError};

    fn gateway(ack_mode: AckMode) -> Gateway {
        Gateway::new(
            Policy {
                max_body_bytes: 1024,
                ack_mode,
                ..Policy::new("t")
            },
            GatewaySink::Memory(MemorySink::default()),
        )
    }

    fn post(
        body: &'static [u8],
        headers: &'static [(&'static str, &'static [u8])],
    ) -> Incoming<'static, impl Iterator<Item = (&'static str, &'static [u8])>> {
        Incoming {
            method: "POST",
            path: "/",
            headers: headers.iter().copied(),
            body,
            body_framed: true,
        }
    }

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn accepted_record_is_produced_verbatim_with_key_and_headers() {
        let gateway = gateway(AckMode::Delivered);
        let reply = run(async {
            let ticket = gateway.submit(post(
                b"{\"a\": 1}",
                &[("X-Kafka-Key", b"k"), ("X-Kafka-Header-Src", b"web")],
            ));
            ticket.reply(&gateway).await
        });
        assert_eq!(reply, Reply::received());
        let GatewaySink::Memory(memory) = gateway.sink() else {
            unreachable!()
        };
        let records = memory.records();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].payload, b"{\"a\": 1}");
        assert_eq!(records[0].key.as_deref(), Some(&b"k"[..]));
        assert_eq!(
            records[0].headers,
            vec![("src".to_owned(), b"web".to_vec())]
        );
        assert_eq!(gateway.metrics().responses(http::StatusCode::OK), 1);
    }

    #[test]
    fn rejected_request_produces_nothing() {
        let gateway = gateway(AckMode::Delivered);
        let reply = run(async { gateway.submit(post(b"{oops", &[])).reply(&gateway).await });
        assert_eq!(reply.status, http::StatusCode::BAD_REQUEST);
        let GatewaySink::Memory(memory) = gateway.sink() else {
            unreachable!()
        };
        assert!(memory.records().is_empty());
    }

    #[test]
    fn sink_failures_become_gateway_statuses() {
        let gateway = gateway(AckMode::Delivered);
        let GatewaySink::Memory(memory) = gateway.sink() else {
            unreachable!()
        };
        for (error, status) in [
            (
                SinkError::Overloaded {
                    in_flight_records: 1,
                    in_flight_bytes: 1,
                },
                503,
            ),
            (SinkError::TimedOut { timeout_ms: 5 }, 504),
            (
                SinkError::Rejected {
                    reason: "no".into(),
                },
                502,
            ),
        ] {
            memory.fail_with(Some(error));
            let reply = run(async { gateway.submit(post(b"{}", &[])).reply(&gateway).await });
            assert_eq!(reply.status.as_u16(), status);
        }
    }

    #[test]
    fn queued_mode_answers_202_and_counts_it() {
        let gateway = gateway(AckMode::Queued);
        let reply = run(async { gateway.submit(post(b"[]", &[])).reply(&gateway).await });
        assert_eq!(reply, Reply::queued());
        assert!(gateway
            .metrics()
            .render(&gateway.sink().stats())
            .contains("gateway_acked_before_delivery_total 1"));
    }

    #[test]
    fn shutdown_turns_readiness_and_ingest_to_503() {
        let gateway = gateway(AckMode::Delivered);
        let ready = |gateway: &Gateway| {
            run(async {
                gateway
                    .submit(Incoming {
                        method: "GET",
                        path: "/readyz",
                        headers: std::iter::empty(),
                        body: b"",
                        body_framed: false,
                    })
                    .reply(gateway)
                    .await
                    .status
            })
        };
        assert_eq!(ready(&gateway), http::StatusCode::OK);
        gateway.begin_shutdown();
        assert_eq!(ready(&gateway), http::StatusCode::SERVICE_UNAVAILABLE);
        let reply = run(async { gateway.submit(post(b"{}", &[])).reply(&gateway).await });
        assert_eq!(reply.status, http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.retry_after_secs(), Some(1));
    }
}
