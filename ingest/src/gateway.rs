//! [`Gateway`]: the request-to-reply path both servers call, free of sockets.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use kafka_sink::{FlushReport, Pending, Record, Sink, SinkError};

use crate::policy::{self, Route};
use crate::rest_proxy::{self, Outcome, RecordMeta, RestRoute};
use crate::topics::TopicAccess;
use crate::{GatewaySink, Metrics, Rejection, Reply};

/// The cluster id `GET /v3/clusters` reports when there is no Kafka cluster to ask
/// (null sink), and the one v3 paths must name then.
pub const NULL_CLUSTER_ID: &str = "gateway-null-sink";

/// The default of `--max-batch-entries`.
pub const DEFAULT_MAX_BATCH_ENTRIES: usize = 1000;

/// Settings of the Kafka REST Proxy API.
#[derive(Debug, Clone)]
pub struct RestProxySettings {
    /// Topic names or globs (`*`, `?`) the API may produce to.
    pub allow_topics: Vec<String>,
    /// The cluster id v3 paths name and `GET /v3/clusters` reports.
    pub cluster_id: String,
    /// Most records (v2 records, v3 streamed records, batch entries) in one request;
    /// more get 422.
    pub max_batch_entries: usize,
}

/// Whether 2xx waits for Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AckMode {
    /// `200` once Kafka acknowledged the record (the default; nothing acknowledged is lost).
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
    /// Request target (path and query).
    pub target: &'a str,
    /// Header fields in order.
    pub headers: H,
    /// The decoded body.
    pub body: &'a [u8],
    /// Whether the request declared a body (`Content-Length` or chunked).
    pub body_framed: bool,
}

/// Settings of the policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Destination topic.
    pub topic: String,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// When to answer.
    pub ack_mode: AckMode,
}

/// The gateway of one process: policy, sink and metrics, shared by every connection.
#[derive(Debug)]
pub struct Gateway {
    policy: Policy,
    sink: GatewaySink,
    topics: TopicAccess,
    cluster_id: String,
    max_batch_entries: usize,
    metrics: Metrics,
    shutting_down: AtomicBool,
}

/// A submitted request whose reply may still wait for Kafka. It no longer borrows the
/// request, so a server can submit several pipelined requests before awaiting any.
#[derive(Debug)]
pub struct Ticket {
    started: Instant,
    state: TicketState,
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

/// The records of one REST Proxy request on their way, and what the answer needs.
#[derive(Debug)]
struct RestDelivery {
    api: RestApi,
    slots: Vec<Slot>,
    meta: Vec<RecordMeta>,
    ids: String,
    topic: String,
    queued_at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RestApi {
    V2,
    V3Records,
    V3Batch,
}

/// One record's fate: still pending, or known (delivered, failed, refused at enqueue).
#[derive(Debug)]
enum Slot {
    Pending(Pending),
    Done(Outcome),
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
    /// cluster id [`NULL_CLUSTER_ID`], [`DEFAULT_MAX_BATCH_ENTRIES`]; see
    /// [`Gateway::with_rest_proxy`].
    pub fn new(policy: Policy, sink: GatewaySink) -> Self {
        let topics = TopicAccess::new(vec![policy.topic.clone()]);
        Self {
            policy,
            sink,
            topics,
            cluster_id: NULL_CLUSTER_ID.to_owned(),
            max_batch_entries: DEFAULT_MAX_BATCH_ENTRIES,
            metrics: Metrics::default(),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// The same gateway with these REST Proxy settings. Until [`Gateway::refresh_topics`]
    /// (or [`TopicAccess::set_known`]) runs, every allowed topic counts as existing.
    pub fn with_rest_proxy(mut self, settings: RestProxySettings) -> Self {
        self.topics = TopicAccess::new(settings.allow_topics);
        self.cluster_id = settings.cluster_id;
        self.max_batch_entries = settings.max_batch_entries;
        self
    }

    /// The allowlist and the cache of known topics.
    pub fn topics(&self) -> &TopicAccess {
        &self.topics
    }

    /// The cluster id of the REST Proxy API.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// Lists the cluster's topics and replaces the cache (blocking, one metadata
    /// request): call at start-up and then off the request path, e.g. from a thread.
    /// Does nothing without Kafka.
    pub fn refresh_topics(&self) -> Result<(), SinkError> {
        if let GatewaySink::Kafka(sink) = &self.sink {
            self.topics.refresh(sink.topic_partitions()?);
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

    /// Routes, validates and (for `POST /`) queues the record, without ever waiting: a
    /// server calls it from any thread, with or without an async runtime. The returned
    /// ticket resolves to the reply.
    ///
    /// The record is handed to the producer with [`GatewaySink::try_enqueue`]. Past the
    /// in-flight bound the answer is `503` with `Retry-After`; librdkafka's local queue
    /// is sized above that bound (see [`kafka_sink::SinkConfig::queue_max_records`]), so
    /// it is not full first, and if it still is (a delivery freed the bound a moment
    /// before librdkafka freed its queue slot) that is overload too: `503`.
    pub fn submit<'a, H>(&self, incoming: Incoming<'a, H>) -> Ticket
    where
        H: Iterator<Item = (&'a str, &'a [u8])>,
    {
        let started = Instant::now();
        let in_flight = self.metrics.in_flight().clone();
        in_flight.inc();
        let state = match self.dispatch(incoming) {
            Ok(state) => state,
            Err(rejection) => TicketState::Ready(Reply::rejected(&rejection)),
        };
        Ticket {
            started,
            state,
            _in_flight: InFlightGuard(in_flight),
        }
    }

    fn dispatch<'a, H>(&self, incoming: Incoming<'a, H>) -> Result<TicketState, Rejection>
    where
        H: Iterator<Item = (&'a str, &'a [u8])>,
    {
        let path = incoming
            .target
            .split_once('?')
            .map_or(incoming.target, |(path, _)| path);
        if let Some(route) = rest_proxy::route(incoming.method, path) {
            // REST Proxy clients get the REST Proxy's error shape.
            let result = match route {
                Ok(route) => self.rest(route, incoming),
                Err(rejection) => Err(rejection),
            };
            return Ok(result
                .unwrap_or_else(|rejection| TicketState::Ready(Reply::rest_rejected(&rejection))));
        }
        let reply = match policy::route(incoming.method, incoming.target)? {
            Route::Ingest => return self.ingest(incoming),
            Route::Health => Reply::ok(),
            Route::Ready if self.is_ready() => Reply::ok(),
            Route::Ready => Reply::not_ready(),
            Route::Metrics => Reply::metrics(self.metrics.render(&self.sink.stats())),
        };
        Ok(TicketState::Ready(reply))
    }

    fn ingest<'a, H>(&self, incoming: Incoming<'a, H>) -> Result<TicketState, Rejection>
    where
        H: Iterator<Item = (&'a str, &'a [u8])>,
    {
        if self.is_shutting_down() {
            return Err(Rejection::ShuttingDown);
        }
        let parts = policy::prepare(
            incoming.headers,
            incoming.body_framed,
            incoming.body,
            self.policy.max_body_bytes,
        )?;
        let headers: Vec<(&str, &[u8])> = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_ref(), *value))
            .collect();
        let mut record = Record::new(&self.policy.topic, parts.payload).with_headers(&headers);
        if let Some(key) = parts.key {
            record = record.with_key(key);
        }
        let pending = self.sink.try_enqueue(&record)?;
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

    fn rest<'a, H>(
        &self,
        route: RestRoute<'_>,
        incoming: Incoming<'a, H>,
    ) -> Result<TicketState, Rejection>
    where
        H: Iterator<Item = (&'a str, &'a [u8])>,
    {
        let (topic, partition, api) = match route {
            RestRoute::ListTopics => {
                let body = rest_proxy::render_topics(&self.topics.list());
                return Ok(TicketState::Ready(Reply::rest(
                    http::StatusCode::OK,
                    rest_proxy::V2_CONTENT_TYPE,
                    body,
                )));
            }
            RestRoute::ListClusters => {
                let body = rest_proxy::render_clusters(&self.cluster_id);
                return Ok(TicketState::Ready(Reply::rest(
                    http::StatusCode::OK,
                    "application/json",
                    body,
                )));
            }
            RestRoute::V2Produce { topic, partition } => (topic, partition, RestApi::V2),
            RestRoute::V3Produce {
                cluster_id,
                topic,
                batch,
            } => {
                if cluster_id != self.cluster_id {
                    return Err(Rejection::UnknownCluster {
                        cluster_id: cluster_id.to_owned(),
                    });
                }
                let api = if batch {
                    RestApi::V3Batch
                } else {
                    RestApi::V3Records
                };
                (topic, None, api)
            }
        };
        if self.is_shutting_down() {
            return Err(Rejection::ShuttingDown);
        }
        if !incoming.body_framed {
            return Err(Rejection::LengthRequired);
        }
        if incoming.body.len() > self.policy.max_body_bytes {
            return Err(Rejection::BodyTooLarge {
                limit: self.policy.max_body_bytes,
            });
        }
        let content_type = incoming
            .headers
            .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, value)| value)
            .last();
        // Unknown topics are refused before the body is even parsed: nothing is produced.
        self.topics.check(topic, partition)?;
        let max = self.max_batch_entries;
        let parsed = match api {
            RestApi::V2 => {
                let embedded = rest_proxy::v2_embedded(content_type)?;
                rest_proxy::parse_v2(incoming.body, embedded, partition, max)?
            }
            RestApi::V3Records => {
                rest_proxy::check_v3_content_type(content_type)?;
                rest_proxy::parse_v3_records(incoming.body, max)?
            }
            RestApi::V3Batch => {
                rest_proxy::check_v3_content_type(content_type)?;
                rest_proxy::parse_v3_batch(incoming.body, max)?
            }
        };
        for spec in &parsed.records {
            if spec.partition.is_some() && spec.partition != partition {
                self.topics.check(topic, spec.partition)?;
            }
        }
        let headers = parsed.header_pairs();
        let mut slots = Vec::with_capacity(parsed.records.len());
        for (index, spec) in parsed.records.iter().enumerate() {
            let (key, value, header_range) = parsed.parts(spec);
            let mut record = Record::new(topic, value).with_headers(&headers[header_range]);
            if let Some(key) = key {
                record = record.with_key(key);
            }
            if let Some(partition) = spec.partition {
                record = record.with_partition(partition);
            }
            if let Some(timestamp_ms) = spec.timestamp_ms {
                record = record.with_timestamp_ms(timestamp_ms);
            }
            match self.sink.try_enqueue(&record) {
                Ok(pending) => slots.push(Slot::Pending(pending)),
                // Nothing of the request is queued yet: the whole request gets the
                // overload answer (503, Retry-After) and can be resent as it is.
                Err(error) if index == 0 && error.is_retriable() => return Err(error.into()),
                Err(error) => slots.push(Slot::Done(Err(Rejection::Sink(error)))),
            }
        }
        drop(headers);
        let (meta, ids) = parsed.into_meta();
        // The REST Proxy API reports offsets, so it always waits for Kafka, whatever
        // --ack-mode says.
        Ok(TicketState::Rest(Box::new(RestDelivery {
            api,
            slots,
            meta,
            ids,
            topic: topic.to_owned(),
            queued_at: Instant::now(),
        })))
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
                    Err(error) => Reply::rejected(&Rejection::Sink(error)),
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
        gateway
            .metrics
            .record_response(reply.status, self.started.elapsed());
        Poll::Ready(reply)
    }
}

impl RestDelivery {
    /// The answer once every record's fate is known (in request order; they were all
    /// queued already, so this takes as long as the slowest); until then `Pending`,
    /// with `cx`'s waker woken by the first record still on its way.
    fn poll_reply(&mut self, cx: &mut Context<'_>, gateway: &Gateway) -> Poll<Reply> {
        for slot in &mut self.slots {
            let Slot::Pending(pending) = slot else {
                continue;
            };
            let Poll::Ready(result) = Pin::new(pending).poll(cx) else {
                return Poll::Pending;
            };
            *slot = Slot::Done(match result {
                Ok(delivery) => {
                    gateway.metrics.record_delivery(self.queued_at.elapsed());
                    Ok(delivery)
                }
                Err(error) => Err(Rejection::Sink(error)),
            });
        }
        let outcomes: Vec<Outcome> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(outcome) => outcome,
                Slot::Pending(_) => unreachable!("every slot was settled above"),
            })
            .collect();
        let cluster_id = gateway.cluster_id.as_str();
        Poll::Ready(match self.api {
            RestApi::V2 => Reply::rest(
                http::StatusCode::OK,
                rest_proxy::V2_CONTENT_TYPE,
                rest_proxy::render_v2(&outcomes),
            ),
            RestApi::V3Records => {
                // One record that failed answers with its own status; with several
                // (streaming mode) each report carries its error_code and the
                // status is 200.
                let status = match &outcomes[..] {
                    [Err(rejection)] => rejection.status(),
                    _ => http::StatusCode::OK,
                };
                Reply::rest(
                    status,
                    "application/json",
                    rest_proxy::render_v3_records(cluster_id, &self.topic, &self.meta, &outcomes),
                )
            }
            RestApi::V3Batch => Reply::rest(
                http::StatusCode::MULTI_STATUS,
                "application/json",
                rest_proxy::render_v3_batch(
                    cluster_id,
                    &self.topic,
                    &self.meta,
                    &self.ids,
                    &outcomes,
                ),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_sink::{MemorySink, SinkError};

    fn gateway(ack_mode: AckMode) -> Gateway {
        Gateway::new(
            Policy {
                topic: "t".into(),
                max_body_bytes: 1024,
                ack_mode,
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
            target: "/",
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
                        target: "/readyz",
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
        assert_eq!(reply.retry_after_secs, Some(1));
    }
}
