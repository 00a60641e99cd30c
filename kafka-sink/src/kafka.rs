//! [`KafkaSink`]: the one shared rdkafka producer of a process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::{FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::metadata::Metadata;
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer,
};
use rdkafka::{ClientContext, Message};
use tokio::sync::oneshot;

use crate::inflight::{InFlight, Permit};
use crate::metadata::{fetch_metadata, find_topic};
use crate::sink::{Delivery, Pending, Record, Sealed};
use crate::{Sink, SinkConfig, SinkError, SinkStats, TopicListing};

/// Where a [`Pending`] learns its record's fate.
type DeliveryReceiver = oneshot::Receiver<Result<Delivery, SinkError>>;

/// What travels with a record through librdkafka and comes back in the delivery callback.
struct Ticket {
    reply: oneshot::Sender<Result<Delivery, SinkError>>,
    bytes: usize,
    _permit: Permit,
}

impl Ticket {
    /// Hands the record's fate to the waiting request. The in-flight slot is freed
    /// first: once a client has its answer, its own record can no longer count against
    /// the bound (a 200 followed by a 503 at the bound for the next request).
    fn settle(self, outcome: Result<Delivery, SinkError>) {
        let Self {
            reply,
            _permit: permit,
            ..
        } = self;
        drop(permit);
        // The waiting request may be gone (client disconnected); the record's fate is
        // already counted, so a closed channel is fine.
        let _ = reply.send(outcome);
    }
}

/// Routes delivery reports to the waiting request and keeps the counters.
struct SinkContext {
    in_flight: Arc<InFlight>,
    delivery_timeout_ms: u64,
    /// The bootstrap servers, for [`SinkError::UnknownTopic`].
    brokers: String,
    /// Set by librdkafka's "all brokers down" error (the fast way down) and by a failed
    /// metadata request; cleared by metadata that came back or by a delivery.
    brokers_down: Arc<AtomicBool>,
    /// The last broker connection that failed for a reason the security settings
    /// decide (TLS, SASL), as the error a failed metadata request reports instead of
    /// its own "timed out": librdkafka tells the cause only to the error callback.
    /// Cleared by metadata that came back.
    security_failure: Mutex<Option<SinkError>>,
}

impl SinkContext {
    /// The one translation of librdkafka's errors into the sink's, for a record of
    /// `bytes` ([`Record::size_bytes`]) for `topic`, whether librdkafka refused it at
    /// enqueue or failed it at delivery.
    fn sink_error(&self, error: &KafkaError, topic: &str, bytes: usize) -> SinkError {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::QueueFull) => SinkError::QueueFull { waited_ms: 0 },
            Some(RDKafkaErrorCode::MessageTimedOut) => SinkError::TimedOut {
                timeout_ms: self.delivery_timeout_ms,
            },
            Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidMessageSize) => {
                SinkError::TooLarge { bytes }
            }
            Some(RDKafkaErrorCode::UnknownTopic | RDKafkaErrorCode::UnknownTopicOrPartition) => {
                SinkError::UnknownTopic {
                    topic: topic.to_owned(),
                    brokers: self.brokers.clone(),
                }
            }
            // Purged from the queue: never sent anywhere.
            Some(RDKafkaErrorCode::PurgeQueue) => SinkError::Closed,
            // Only when the producer is dropped: the broker may have written it already.
            Some(RDKafkaErrorCode::PurgeInflight) => SinkError::Rejected {
                reason: "purged while in flight to a broker: it may or may not be in Kafka".into(),
            },
            _ => SinkError::Rejected {
                reason: error.to_string(),
            },
        }
    }

    /// The sink's error for a broker connection librdkafka reports failed with
    /// `reason`, when the cause is TLS or SASL; `None` for any other cause.
    fn security_failure(&self, error: &KafkaError, reason: &str) -> Option<SinkError> {
        let (brokers, reason) = (self.brokers.clone(), reason.to_owned());
        match error.rdkafka_error_code()? {
            RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed => {
                Some(SinkError::Authentication { brokers, reason })
            }
            RDKafkaErrorCode::SSL => Some(SinkError::Tls { brokers, reason }),
            // In TLS 1.3 the server checks the client's certificate after the client has
            // finished its side of the handshake, so a refused (or missing) client
            // certificate arrives as the server's alert on the first read: librdkafka
            // reports it as a transport failure carrying OpenSSL's error.
            RDKafkaErrorCode::BrokerTransportFailure if is_openssl_error(&reason) => {
                Some(SinkError::Tls { brokers, reason })
            }
            _ => None,
        }
    }

    /// The error for a failed metadata request: the security failure behind it, if a
    /// broker connection failed for one, else `unreachable` as it is.
    fn explain(&self, unreachable: SinkError) -> SinkError {
        self.security_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .unwrap_or(unreachable)
    }

    fn metadata_came_back(&self) {
        *self
            .security_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

/// Whether librdkafka's `reason` carries an OpenSSL error ("error:0A00045C:SSL
/// routines::tlsv13 alert certificate required: SSL alert number 116"), librdkafka's only
/// sign that a transport failure was TLS's.
fn is_openssl_error(reason: &str) -> bool {
    reason.contains("SSL routines") || reason.contains("SSL alert")
}

impl ClientContext for SinkContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.brokers_down.store(true, Ordering::Relaxed);
        }
        if let Some(failure) = self.security_failure(&error, reason) {
            *self
                .security_failure
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(failure);
        }
        tracing::error!(target: "librdkafka", "{error}: {reason}");
    }

    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
        }
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = Box<Ticket>;

    fn delivery(&self, result: &DeliveryResult<'_>, ticket: Box<Ticket>) {
        let outcome = match result {
            Ok(message) => Ok({
                self.brokers_down.store(false, Ordering::Relaxed);
                Delivery::new(message.partition(), message.offset())
                    .with_timestamp_ms(message.timestamp().to_millis())
            }),
            Err((error, message)) => Err(self.sink_error(error, message.topic(), ticket.bytes)),
        };
        self.in_flight.record_outcome(&outcome);
        ticket.settle(outcome);
    }
}

/// The Kafka sink: one librdkafka producer for the whole process, shared by every task
/// and thread that produces.
///
/// Producing (`try_enqueue`, `enqueue`, `send`, `flush`, `purge_queued`, `stats`, ...)
/// is the [`Sink`] interface, shared with the stand-in sinks: bring the trait into
/// scope to call it. The methods here are what only a Kafka cluster has.
///
/// librdkafka's own threads do the network I/O and run the delivery callbacks, so the
/// sink needs no runtime of its own. What each call needs:
///
/// | call | blocks the thread? | needs |
/// |---|---|---|
/// | [`new`](Self::new) | no (does not contact the cluster) | nothing |
/// | [`check_topic`](Self::check_topic), [`create_topic`](Self::create_topic) | yes: start-up calls | nothing |
/// | [`try_enqueue`](Sink::try_enqueue) | never | nothing |
/// | [`enqueue`](Sink::enqueue), [`send`](Sink::send) | no | a tokio runtime with time enabled (only to back off on a full queue) |
/// | awaiting a [`Pending`] | no | any executor, or any `Waker` |
/// | [`flush`](Sink::flush) | yes: shutdown call | nothing |
///
/// Every record takes one slot of the in-flight bound
/// ([`SinkConfig::max_in_flight_records`] and [`SinkConfig::max_in_flight_bytes`]) from
/// its enqueue until its fate is known; past the bound an enqueue fails at once with
/// [`SinkError::Overloaded`] instead of blocking or growing memory. The slot is freed
/// before the waiting [`Pending`] is woken, so a caller that got its answer no longer
/// counts against the bound.
///
/// librdkafka's log lines and client errors are emitted as [`tracing`](https://docs.rs/tracing)
/// events with target `librdkafka`.
///
/// ```
/// use kafka_sink::{EmbeddedBroker, KafkaSink, Record, Sink, SinkConfig};
///
/// # fn main() -> Result<(), kafka_sink::SinkError> {
/// let broker = EmbeddedBroker::start()?; // a mock; use your cluster's "host:9092"
/// broker.create_topic("events", 1)?;
/// let sink = KafkaSink::new(SinkConfig::new(broker.brokers()))?;
/// assert_eq!(sink.check_topic("events")?, 1);
///
/// // Without a runtime: queue now, learn the outcome later.
/// let pending = sink.try_enqueue(&Record::new("events", b"{}"))?;
/// sink.flush(std::time::Duration::from_secs(10));
/// # let _ = pending;
/// # Ok(()) }
/// ```
pub struct KafkaSink {
    producer: ThreadedProducer<SinkContext>,
    in_flight: Arc<InFlight>,
    brokers_down: Arc<AtomicBool>,
    config: SinkConfig,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("brokers", &self.config.brokers)
            .finish_non_exhaustive()
    }
}

/// One try at handing a record to librdkafka.
enum Attempt {
    Queued,
    QueueFull(Box<Ticket>),
    Failed(SinkError),
}

impl KafkaSink {
    /// Builds the producer. Does not contact the cluster; see [`KafkaSink::check_topic`].
    ///
    /// # Errors
    ///
    /// [`SinkError::Config`] when librdkafka refuses the configuration (an unknown
    /// property in [`SinkConfig::extra`], [`Acks::Leader`](crate::Acks::Leader) with
    /// idempotence, ...), an in-flight bound or the delivery timeout is zero, or
    /// [`SinkConfig::extra`] sets a guarded property without
    /// [`SinkConfig::allow_unsafe_producer_properties`].
    pub fn new(config: SinkConfig) -> Result<Self, SinkError> {
        config.validate()?;
        for (property, guarantee) in config.guarded_overrides() {
            // The name only: a value may be a secret.
            tracing::warn!(
                property,
                "producer property overrides what the sink guarantees ({guarantee})"
            );
        }
        let in_flight = InFlight::new(config.max_in_flight_records, config.max_in_flight_bytes);
        let brokers_down = Arc::new(AtomicBool::new(false));
        let context = SinkContext {
            in_flight: Arc::clone(&in_flight),
            brokers_down: Arc::clone(&brokers_down),
            delivery_timeout_ms: config.delivery_timeout.as_millis() as u64,
            brokers: config.brokers.clone(),
            security_failure: Mutex::new(None),
        };
        let producer = ThreadedProducer::from_config_and_context(&config.client_config(), context)
            .map_err(|error| SinkError::Config {
                reason: error.to_string(),
            })?;
        Ok(Self {
            producer,
            in_flight,
            brokers_down,
            config,
        })
    }

    /// The configuration the producer was built from.
    pub fn config(&self) -> &SinkConfig {
        &self.config
    }

    /// The start-up check: asks the cluster for metadata (blocking, up to
    /// [`SinkConfig::metadata_timeout`]) and returns `topic`'s partition count.
    ///
    /// It asks for every topic, never for `topic` alone, because a request naming a
    /// topic can create it on brokers that auto-create: the check never creates a topic.
    /// Like every metadata request of the sink, its outcome updates
    /// [`Sink::brokers_reachable`].
    ///
    /// # Errors
    ///
    /// [`SinkError::UnknownTopic`] when the topic does not exist,
    /// [`SinkError::BrokerUnreachable`] when no metadata came, [`SinkError::Tls`] or
    /// [`SinkError::Authentication`] when none came because TLS or SASL failed.
    pub fn check_topic(&self, topic: &str) -> Result<usize, SinkError> {
        find_topic(&self.metadata()?, &self.config.brokers, topic)
    }

    /// The cluster's topics, from one metadata request (blocking, up to
    /// [`SinkConfig::metadata_timeout`]): for callers that keep a cache of known topics
    /// and refresh it off their request path. A topic whose metadata shows a transient
    /// error (no leader yet, a leader election, ...) is listed as such, so that a cache
    /// can keep what it knew instead of forgetting a topic the cluster still has.
    ///
    /// Called periodically, it is also what brings [`Sink::brokers_reachable`]
    /// back after an outage without any record being sent: metadata that comes back
    /// marks the brokers reachable, a request that fails marks them unreachable.
    ///
    /// # Errors
    ///
    /// [`SinkError::BrokerUnreachable`] when no metadata came, [`SinkError::Tls`] or
    /// [`SinkError::Authentication`] when none came because TLS or SASL failed.
    pub fn topic_partitions(&self) -> Result<TopicListing, SinkError> {
        Ok(TopicListing::of(&self.metadata()?))
    }

    /// Metadata for every topic. Every metadata request of the sink goes through here,
    /// so that reachability is what the cluster last answered: metadata back means a
    /// broker answers, no metadata within the timeout means none does. No metadata
    /// because TLS or SASL failed is reported as that failure
    /// ([`SinkError::Tls`], [`SinkError::Authentication`]).
    fn metadata(&self) -> Result<Metadata, SinkError> {
        let outcome = fetch_metadata(
            self.producer.client(),
            &self.config.brokers,
            self.config.metadata_timeout,
        );
        self.brokers_down.store(outcome.is_err(), Ordering::Relaxed);
        let context = self.producer.context();
        match outcome {
            Ok(metadata) => {
                context.metadata_came_back();
                Ok(metadata)
            }
            Err(unreachable) => Err(context.explain(unreachable)),
        }
    }

    /// The cluster's id as the brokers report it (blocking, up to
    /// [`SinkConfig::metadata_timeout`]); `None` when the cluster did not say.
    pub fn cluster_id(&self) -> Option<String> {
        self.producer
            .client()
            .fetch_cluster_id(self.config.metadata_timeout)
    }

    /// Creates `topic` with `partitions` partitions (replication factor 1) through the
    /// Kafka admin API unless it exists. Blocking, like [`KafkaSink::check_topic`]: a
    /// start-up call. Uses [`SinkConfig::brokers`], [`SinkConfig::security`] and
    /// [`SinkConfig::extra`], through a separate short-lived admin client. It asks the
    /// producer for metadata first, so that brokers that cannot be reached, or refuse
    /// TLS or the credentials, are reported as such within
    /// [`SinkConfig::metadata_timeout`] (an admin request would only time out, after a
    /// minute).
    ///
    /// # Errors
    ///
    /// [`SinkError::Config`] for `partitions < 1`; [`SinkError::BrokerUnreachable`],
    /// [`SinkError::Tls`] or [`SinkError::Authentication`] as for
    /// [`check_topic`](Self::check_topic), and [`SinkError::BrokerUnreachable`] when the
    /// admin request failed; [`SinkError::Rejected`] when the cluster refused
    /// (librdkafka's mock cluster has no admin API: use
    /// [`EmbeddedBroker::create_topic`](crate::EmbeddedBroker::create_topic) there).
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), SinkError> {
        crate::admin::check_partitions(topic, partitions)?;
        self.metadata()?;
        crate::admin::create_topic(&self.config, topic, partitions)
    }

    /// Reserves a slot of the in-flight bound and the channel the delivery comes back on.
    fn ticket(&self, record: &Record<'_>) -> Result<(Box<Ticket>, DeliveryReceiver), SinkError> {
        let permit = self.in_flight.admit(record)?;
        let (reply, receiver) = oneshot::channel();
        let ticket = Box::new(Ticket {
            reply,
            bytes: record.size_bytes(),
            _permit: permit,
        });
        Ok((ticket, receiver))
    }

    fn attempt(&self, record: &Record<'_>, ticket: Box<Ticket>) -> Attempt {
        let mut base = BaseRecord::with_opaque_to(record.topic, ticket).payload(record.payload);
        if let Some(key) = record.key {
            base = base.key(key);
        }
        if let Some(partition) = record.partition {
            base = base.partition(partition);
        }
        if let Some(timestamp_ms) = record.timestamp_ms {
            base = base.timestamp(timestamp_ms);
        }
        if !record.headers.is_empty() {
            base = base.headers(headers(record.headers));
        }
        match self.producer.send(base) {
            Ok(()) => {
                self.in_flight.record_sent();
                Attempt::Queued
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                Attempt::QueueFull(returned.delivery_opaque)
            }
            Err((error, _)) => Attempt::Failed(self.producer.context().sink_error(
                &error,
                record.topic,
                record.size_bytes(),
            )),
        }
    }
}

impl Sealed for KafkaSink {}

/// The Kafka producer behind the [`Sink`] interface. Where the trait leaves room, the
/// Kafka sink does this: an enqueue copies the record into librdkafka's queue (the
/// caller's buffers are free when it returns); [`Sink::enqueue`] retries a full local
/// queue per [`SinkConfig::retry`] on tokio's timer; [`Sink::flush`] and
/// [`Sink::purge_queued`] act on librdkafka's queue; [`Sink::brokers_reachable`] is
/// what the cluster last answered.
impl Sink for KafkaSink {
    fn try_enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError> {
        let (ticket, receiver) = self.ticket(record)?;
        match self.attempt(record, ticket) {
            Attempt::Queued => Ok(Pending::waiting(receiver)),
            Attempt::QueueFull(_) => Err(SinkError::QueueFull { waited_ms: 0 }),
            Attempt::Failed(error) => Err(error),
        }
    }

    /// Retries a full local queue per [`SinkConfig::retry`] (at most its `max_wait`,
    /// and never past the delivery timeout) before failing with
    /// [`SinkError::QueueFull`]; the backoff sleeps on tokio's timer.
    async fn enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError> {
        let (mut ticket, receiver) = self.ticket(record)?;
        let started = Instant::now();
        let max_wait = self.config.retry.max_wait.min(self.config.delivery_timeout);
        let mut attempt = 0;
        loop {
            match self.attempt(record, ticket) {
                Attempt::Queued => return Ok(Pending::waiting(receiver)),
                Attempt::QueueFull(returned) if started.elapsed() < max_wait => {
                    ticket = returned;
                    self.in_flight.record_retry();
                    let backoff = self.config.retry.backoff(attempt);
                    attempt += 1;
                    tokio::time::sleep(backoff.min(max_wait.saturating_sub(started.elapsed())))
                        .await;
                }
                Attempt::QueueFull(_) => {
                    return Err(SinkError::QueueFull {
                        waited_ms: started.elapsed().as_millis() as u64,
                    })
                }
                Attempt::Failed(error) => return Err(error),
            }
        }
    }

    fn flush(&self, timeout: Duration) -> FlushReport {
        let before = self.in_flight.stats();
        crate::ffi::flush(self.producer.client(), timeout);
        let after = self.in_flight.stats();
        FlushReport {
            delivered: after.delivered - before.delivered,
            failed: after.failed - before.failed,
            undelivered: self.producer.in_flight_count().max(0) as u64,
        }
    }

    /// librdkafka's purge of its queue, not of its in-flight requests, without waiting:
    /// the purged records' [`Pending`]s resolve from librdkafka's thread.
    fn purge_queued(&self) {
        self.producer
            .purge(PurgeConfig::default().queue().non_blocking());
    }

    fn stats(&self) -> SinkStats {
        self.in_flight.stats()
    }

    /// False after librdkafka reported every broker down or a metadata request failed;
    /// true again once metadata comes back ([`KafkaSink::topic_partitions`],
    /// [`KafkaSink::check_topic`]) or a record is delivered. Without traffic only a
    /// metadata request can bring it back, so a caller that reports readiness from it
    /// refreshes metadata periodically.
    fn brokers_reachable(&self) -> bool {
        !self.brokers_down.load(Ordering::Relaxed)
    }

    fn is_saturated(&self, percent: usize) -> bool {
        self.in_flight.is_saturated(percent)
    }
}

/// What a flush achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushReport {
    /// Records acknowledged during the flush.
    pub delivered: u64,
    /// Records that failed during the flush.
    pub failed: u64,
    /// Records still not acknowledged when the flush gave up.
    pub undelivered: u64,
}

fn headers(pairs: &[(&str, &[u8])]) -> OwnedHeaders {
    pairs.iter().fold(
        OwnedHeaders::new_with_capacity(pairs.len()),
        |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(*value),
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll, Wake, Waker};

    use super::*;

    /// Records how many records were in flight at the moment the waiter was woken.
    struct Observer {
        in_flight: Arc<InFlight>,
        seen_at_wake: AtomicUsize,
    }

    impl Wake for Observer {
        fn wake(self: Arc<Self>) {
            let in_flight = self.in_flight.stats().in_flight_records;
            self.seen_at_wake.store(in_flight, Ordering::SeqCst);
        }
    }

    #[test]
    fn misconfiguration_is_an_error_at_build_time() {
        let mut no_room = SinkConfig::new("127.0.0.1:1");
        no_room.max_in_flight_records = 0;
        let mut leader_idempotent = SinkConfig::new("127.0.0.1:1");
        leader_idempotent.acks = crate::Acks::Leader;
        let mut no_timeout = SinkConfig::new("127.0.0.1:1");
        no_timeout.delivery_timeout = Duration::ZERO;
        let mut sub_millisecond_timeout = SinkConfig::new("127.0.0.1:1");
        sub_millisecond_timeout.delivery_timeout = Duration::from_micros(999);
        let mut unknown_property = SinkConfig::new("127.0.0.1:1");
        unknown_property
            .extra
            .push(("no.such.property".into(), "1".into()));
        for config in [
            no_room,
            no_timeout,
            sub_millisecond_timeout,
            leader_idempotent,
            unknown_property,
            SinkConfig::new(""),
        ] {
            let error = KafkaSink::new(config.clone()).unwrap_err();
            assert!(
                matches!(error, SinkError::Config { .. }),
                "{config:?}: {error:?}"
            );
        }
    }

    /// Calls `refresh` until `done` holds: the outcome decides, the guard only stops a
    /// hang.
    fn refresh_until(sink: &KafkaSink, what: &str, done: impl Fn(&KafkaSink) -> bool) {
        let guard = Instant::now() + Duration::from_secs(60);
        loop {
            let _ = sink.topic_partitions();
            if done(sink) {
                return;
            }
            assert!(Instant::now() < guard, "never {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn reachability_follows_metadata_with_no_record_produced() {
        let broker = crate::EmbeddedBroker::start().unwrap();
        broker.create_topic("reachability", 1).unwrap();
        let mut config = SinkConfig::new(broker.brokers());
        config.metadata_timeout = Duration::from_millis(500);
        let sink = KafkaSink::new(config).unwrap();
        assert_eq!(sink.check_topic("reachability"), Ok(1));
        assert!(sink.brokers_reachable());

        broker.broker_down().unwrap();
        refresh_until(&sink, "unreachable during the outage", |sink| {
            !sink.brokers_reachable()
        });
        broker.broker_up().unwrap();
        refresh_until(
            &sink,
            "reachable after the outage",
            KafkaSink::brokers_reachable,
        );
        assert_eq!(sink.stats().sent, 0, "no record was produced");
    }

    #[test]
    fn keys_and_headers_count_against_the_in_flight_byte_bound() {
        let broker = crate::EmbeddedBroker::start().unwrap();
        broker.create_topic("bytes", 1).unwrap();
        let mut config = SinkConfig::new(broker.brokers());
        // Room for the first record's 2 + 3 + 4 + 6 bytes, not for a second one.
        config.max_in_flight_bytes = 20;
        // Nothing leaves the producer before the flush: the bytes stay in flight.
        config.linger = Duration::from_secs(600);
        config.delivery_timeout = Duration::from_secs(900);
        let sink = KafkaSink::new(config).unwrap();
        let headers = [("name", &b"value!"[..])];
        let record = Record::new("bytes", b"{}")
            .with_key(b"key")
            .with_headers(&headers);
        let pending = sink.try_enqueue(&record).unwrap();
        assert_eq!(sink.stats().in_flight_bytes, 15);

        // A payload that alone would fit (15 + 2 <= 20) is refused for its headers.
        let error = sink.try_enqueue(&record).unwrap_err();
        assert!(
            matches!(
                error,
                SinkError::Overloaded {
                    in_flight_bytes: 15,
                    ..
                }
            ),
            "{error:?}"
        );
        sink.flush(Duration::from_secs(30));
        assert!(wait_here(pending).is_ok());
        assert_eq!(sink.stats().in_flight_bytes, 0);
    }

    #[test]
    fn purge_fails_queued_records_at_once_as_closed_and_the_sink_goes_on() {
        let broker = crate::EmbeddedBroker::start().unwrap();
        broker.create_topic("purge", 1).unwrap();
        let mut config = SinkConfig::new(broker.brokers());
        // The records stay in librdkafka's queue: none is sent before the purge.
        config.linger = Duration::from_secs(600);
        config.delivery_timeout = Duration::from_secs(900);
        let sink = KafkaSink::new(config).unwrap();
        let queued: Vec<_> = (0..3)
            .map(|i| {
                let payload = format!("{{\"i\":{i}}}");
                sink.try_enqueue(&Record::new("purge", payload.as_bytes()))
                    .unwrap()
            })
            .collect();

        sink.purge_queued();
        for pending in queued {
            assert_eq!(wait_here(pending), Err(SinkError::Closed));
        }
        let stats = sink.stats();
        assert_eq!((stats.failed, stats.in_flight_records), (3, 0));

        let after = sink.try_enqueue(&Record::new("purge", b"{}")).unwrap();
        sink.flush(Duration::from_secs(30));
        assert!(
            wait_here(after).is_ok(),
            "records after the purge are produced"
        );
    }

    #[test]
    fn max_record_bytes_bounds_the_wire_size_exactly() {
        let broker = crate::EmbeddedBroker::start().unwrap();
        broker.create_topic("largest", 1).unwrap();
        let mut config = SinkConfig::new(broker.brokers());
        config
            .extra
            .push(("message.max.bytes".into(), "1000".into()));
        let largest = config.max_record_bytes();
        assert_eq!(largest, 1000);
        let sink = KafkaSink::new(config).unwrap();
        // A 100-byte header value takes a 2-byte length: the varints count too.
        let value = [b'v'; 100];
        let headers = [("h", &value[..])];
        let fixed = Record::new("largest", b"")
            .with_key(b"k")
            .with_headers(&headers);
        let payload = vec![b'x'; largest - fixed.wire_size_bytes()];

        let fits = Record::new("largest", &payload)
            .with_key(b"k")
            .with_headers(&headers);
        assert_eq!(fits.wire_size_bytes(), largest);
        let pending = sink
            .try_enqueue(&fits)
            .expect("a record of exactly the limit");

        let over = [&payload[..], b"x"].concat();
        let too_large = Record::new("largest", &over)
            .with_key(b"k")
            .with_headers(&headers);
        assert_eq!(
            sink.try_enqueue(&too_large).unwrap_err(),
            SinkError::TooLarge {
                bytes: too_large.size_bytes()
            }
        );
        sink.flush(Duration::from_secs(30));
        assert!(wait_here(pending).is_ok());
    }

    #[test]
    fn the_listing_tells_transient_topic_errors_from_missing_topics() {
        use rdkafka::types::RDKafkaRespErr;

        let broker = crate::EmbeddedBroker::start().unwrap();
        for topic in ["ready", "electing", "gone"] {
            broker.create_topic(topic, 2).unwrap();
        }
        let sink = KafkaSink::new(SinkConfig::new(broker.brokers())).unwrap();
        broker.topic_error(
            "electing",
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        );
        broker.topic_error(
            "gone",
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
        );
        let listing = sink.topic_partitions().unwrap();
        assert!(
            listing.available.contains(&("ready".to_owned(), 2)),
            "{listing:?}"
        );
        assert_eq!(listing.transient, ["electing"], "{listing:?}");
        let listed = |name: &str| listing.available.iter().any(|(topic, _)| topic == name);
        assert!(!listed("electing") && !listed("gone"), "{listing:?}");
    }

    #[test]
    fn one_mapping_of_librdkafka_errors_for_enqueue_and_delivery() {
        let context = SinkContext {
            in_flight: InFlight::new(1, 1),
            delivery_timeout_ms: 1500,
            brokers: "kafka:9092".into(),
            brokers_down: Arc::default(),
            security_failure: Mutex::new(None),
        };
        let unknown_topic = SinkError::UnknownTopic {
            topic: "t".into(),
            brokers: "kafka:9092".into(),
        };
        for (code, expected) in [
            (
                RDKafkaErrorCode::QueueFull,
                SinkError::QueueFull { waited_ms: 0 },
            ),
            (
                RDKafkaErrorCode::MessageTimedOut,
                SinkError::TimedOut { timeout_ms: 1500 },
            ),
            (
                RDKafkaErrorCode::MessageSizeTooLarge,
                SinkError::TooLarge { bytes: 7 },
            ),
            (
                RDKafkaErrorCode::InvalidMessageSize,
                SinkError::TooLarge { bytes: 7 },
            ),
            (RDKafkaErrorCode::UnknownTopic, unknown_topic.clone()),
            (RDKafkaErrorCode::UnknownTopicOrPartition, unknown_topic),
            (RDKafkaErrorCode::PurgeQueue, SinkError::Closed),
        ] {
            let error = KafkaError::MessageProduction(code);
            assert_eq!(context.sink_error(&error, "t", 7), expected, "{code:?}");
        }
        for code in [
            RDKafkaErrorCode::PurgeInflight,
            RDKafkaErrorCode::UnknownPartition,
            RDKafkaErrorCode::NotEnoughReplicas,
        ] {
            let error = context.sink_error(&KafkaError::MessageProduction(code), "t", 7);
            assert!(
                matches!(error, SinkError::Rejected { .. }),
                "{code:?}: {error:?}"
            );
            assert!(!error.is_retriable(), "{code:?}: may have been written");
        }
    }

    #[test]
    fn tls_and_sasl_failures_are_told_apart_from_other_connection_failures() {
        let context = SinkContext {
            in_flight: InFlight::new(1, 1),
            delivery_timeout_ms: 1,
            brokers: "kafka:9093".into(),
            brokers_down: Arc::default(),
            security_failure: Mutex::new(None),
        };
        let global = |code| KafkaError::Global(code);
        let failure = |code, reason| context.security_failure(&global(code), reason);
        let sasl = "sasl_ssl://kafka:9093/bootstrap: SASL authentication error: SASL SCRAM \
                    authentication failed: broker responded with invalid-proof";
        assert_eq!(
            failure(RDKafkaErrorCode::Authentication, sasl),
            Some(SinkError::Authentication {
                brokers: "kafka:9093".into(),
                reason: sasl.into(),
            })
        );
        let handshake = "ssl://kafka:9093/bootstrap: SSL handshake failed: \
                         error:0A000086:SSL routines::certificate verify failed";
        assert!(matches!(
            failure(RDKafkaErrorCode::SSL, handshake),
            Some(SinkError::Tls { .. })
        ));
        let refused_certificate = "ssl://kafka:9093/bootstrap: Receive failed: \
            error:0A00045C:SSL routines::tlsv13 alert certificate required: SSL alert number 116";
        assert!(matches!(
            failure(
                RDKafkaErrorCode::BrokerTransportFailure,
                refused_certificate
            ),
            Some(SinkError::Tls { .. })
        ));
        let refused_connection = "kafka:9093/bootstrap: Connect to ipv4#10.0.0.1:9093 failed: \
                                  Connection refused";
        for code in [
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::AllBrokersDown,
        ] {
            assert_eq!(failure(code, refused_connection), None, "{code:?}");
        }

        // A metadata request that failed reports the security failure behind it, until
        // metadata comes back.
        let unreachable = SinkError::BrokerUnreachable {
            brokers: "kafka:9093".into(),
            reason: "Local: Timed out".into(),
        };
        assert_eq!(context.explain(unreachable.clone()), unreachable);
        context.error(global(RDKafkaErrorCode::Authentication), sasl);
        assert!(matches!(
            context.explain(unreachable.clone()),
            SinkError::Authentication { .. }
        ));
        context.metadata_came_back();
        assert_eq!(context.explain(unreachable.clone()), unreachable);
    }

    /// Polls `future` on this thread until it is ready (the delivery callback wakes it);
    /// the guard only stops a hang.
    fn wait_here<F: Future>(future: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut future = std::pin::pin!(future);
        let guard = Instant::now() + Duration::from_secs(60);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
                return output;
            }
            let left = guard.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the future never completed");
            std::thread::park_timeout(left);
        }
    }

    #[test]
    fn the_slot_is_free_before_the_waiter_wakes() {
        let in_flight = InFlight::new(1, 1000);
        let (reply, mut receiver) = oneshot::channel();
        let ticket = Ticket {
            reply,
            bytes: 2,
            _permit: in_flight.acquire(2).unwrap(),
        };
        let observer = Arc::new(Observer {
            in_flight: Arc::clone(&in_flight),
            seen_at_wake: AtomicUsize::new(usize::MAX),
        });
        let waker = Waker::from(Arc::clone(&observer));
        let pending = std::pin::Pin::new(&mut receiver).poll(&mut Context::from_waker(&waker));
        assert!(pending.is_pending());

        ticket.settle(Ok(Delivery::new(0, 7)));
        assert_eq!(observer.seen_at_wake.load(Ordering::SeqCst), 0);
        assert!(
            in_flight.acquire(2).is_ok(),
            "the bound admits the next record"
        );
    }
}
