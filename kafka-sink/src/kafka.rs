//! [`KafkaSink`]: the one shared rdkafka producer of a process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::{FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message};
use tokio::sync::oneshot;

use crate::inflight::{InFlight, Permit};
use crate::sink::{Delivery, Pending, Record};
use crate::{SinkConfig, SinkError, SinkStats};

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
    /// Set by librdkafka's "all brokers down" error, cleared by the next delivery.
    brokers_down: Arc<AtomicBool>,
}

impl ClientContext for SinkContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.brokers_down.store(true, Ordering::Relaxed);
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
                Delivery {
                    partition: message.partition(),
                    offset: message.offset(),
                }
            }),
            Err((error, _)) => Err(delivery_error(
                error,
                ticket.bytes,
                self.delivery_timeout_ms,
            )),
        };
        self.in_flight.record_outcome(&outcome);
        ticket.settle(outcome);
    }
}

fn delivery_error(error: &KafkaError, bytes: usize, timeout_ms: u64) -> SinkError {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageTimedOut) => SinkError::TimedOut { timeout_ms },
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidMessageSize) => {
            SinkError::TooLarge { bytes }
        }
        Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight) => SinkError::Closed,
        _ => SinkError::Rejected {
            reason: error.to_string(),
        },
    }
}

/// The Kafka sink: one `ThreadedProducer` (librdkafka's own threads do the I/O and a
/// polling thread runs delivery callbacks). The [`Pending`] deliveries it returns are
/// plain channel receivers that any executor can await. `enqueue` itself needs a tokio
/// timer when librdkafka's local queue is full (it backs off with
/// `tokio::time::sleep`), so call it inside a tokio runtime with time enabled
/// (tokio-uring runs one).
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

impl KafkaSink {
    /// Builds the producer. Does not contact the cluster; see [`KafkaSink::check_topic`].
    pub fn new(config: SinkConfig) -> Result<Self, SinkError> {
        let in_flight = InFlight::new(config.max_in_flight_records, config.max_in_flight_bytes);
        let brokers_down = Arc::new(AtomicBool::new(false));
        let context = SinkContext {
            in_flight: Arc::clone(&in_flight),
            brokers_down: Arc::clone(&brokers_down),
            delivery_timeout_ms: config.delivery_timeout.as_millis() as u64,
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

    /// Asks the cluster for `topic`'s metadata (blocking, up to the metadata timeout):
    /// the start-up check. Returns the partition count.
    pub fn check_topic(&self, topic: &str) -> Result<usize, SinkError> {
        check_topic(
            self.producer.client(),
            &self.config.brokers,
            topic,
            self.config.metadata_timeout,
        )
    }

    /// Queues `record`, retrying a full local queue per the retry policy, and returns the
    /// pending delivery. The payload is copied into librdkafka's queue here, so the
    /// caller's buffer is free as soon as this returns.
    pub(crate) async fn enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError> {
        let permit = self.in_flight.acquire(record.payload.len())?;
        let (reply, receiver) = oneshot::channel();
        let mut ticket = Box::new(Ticket {
            reply,
            bytes: record.payload.len(),
            _permit: permit,
        });
        let started = Instant::now();
        let max_wait = self.config.retry.max_wait.min(self.config.delivery_timeout);
        let mut attempt = 0;
        loop {
            let mut base = BaseRecord::with_opaque_to(record.topic, ticket).payload(record.payload);
            if let Some(key) = record.key {
                base = base.key(key);
            }
            if !record.headers.is_empty() {
                base = base.headers(headers(record.headers));
            }
            match self.producer.send(base) {
                Ok(()) => {
                    self.in_flight.record_sent();
                    return Ok(Pending::kafka(receiver));
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned))
                    if started.elapsed() < max_wait =>
                {
                    ticket = returned.delivery_opaque;
                    self.in_flight.record_retry();
                    let backoff = self.config.retry.backoff(attempt);
                    attempt += 1;
                    tokio::time::sleep(backoff.min(max_wait.saturating_sub(started.elapsed())))
                        .await;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    return Err(SinkError::QueueFull {
                        waited_ms: started.elapsed().as_millis() as u64,
                    });
                }
                Err((error, _)) => {
                    return Err(match error.rdkafka_error_code() {
                        Some(
                            RDKafkaErrorCode::MessageSizeTooLarge
                            | RDKafkaErrorCode::InvalidMessageSize,
                        ) => SinkError::TooLarge {
                            bytes: record.payload.len(),
                        },
                        Some(
                            RDKafkaErrorCode::UnknownTopic
                            | RDKafkaErrorCode::UnknownTopicOrPartition,
                        ) => SinkError::UnknownTopic {
                            topic: record.topic.to_owned(),
                            brokers: self.config.brokers.clone(),
                        },
                        _ => SinkError::Rejected {
                            reason: error.to_string(),
                        },
                    })
                }
            }
        }
    }

    /// Waits up to `timeout` for every queued record to be delivered or fail (blocking).
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        let before = self.in_flight.stats();
        let _ = self.producer.flush(timeout);
        let after = self.in_flight.stats();
        FlushReport {
            delivered: after.delivered - before.delivered,
            failed: after.failed - before.failed,
            undelivered: self.producer.in_flight_count().max(0) as u64,
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SinkStats {
        self.in_flight.stats()
    }

    pub(crate) fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// False after librdkafka reported every broker down, until a record is delivered.
    pub fn brokers_reachable(&self) -> bool {
        !self.brokers_down.load(Ordering::Relaxed)
    }
}

/// What [`crate::Sink::flush`] achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// The start-up check, shared by the sink and the harness: metadata for `topic`.
pub(crate) fn check_topic<C: ClientContext>(
    client: &rdkafka::client::Client<C>,
    brokers: &str,
    topic: &str,
    timeout: Duration,
) -> Result<usize, SinkError> {
    // Metadata for every topic, never for `topic` alone: a request naming a topic may
    // create it on a broker with `auto.create.topics.enable` (Apache Kafka's default,
    // and librdkafka's mock cluster), so the check would create what it should verify.
    let metadata =
        client
            .fetch_metadata(None, timeout)
            .map_err(|error| SinkError::BrokerUnreachable {
                brokers: brokers.to_owned(),
                reason: error.to_string(),
            })?;
    let unknown = || SinkError::UnknownTopic {
        topic: topic.to_owned(),
        brokers: brokers.to_owned(),
    };
    let found = metadata
        .topics()
        .iter()
        .find(|candidate| candidate.name() == topic)
        .ok_or_else(unknown)?;
    if found.error().is_some() || found.partitions().is_empty() {
        return Err(unknown());
    }
    Ok(found.partitions().len())
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Wake, Waker};

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

        ticket.settle(Ok(Delivery {
            partition: 0,
            offset: 7,
        }));
        assert_eq!(observer.seen_at_wake.load(Ordering::SeqCst), 0);
        assert!(
            in_flight.acquire(2).is_ok(),
            "the bound admits the next record"
        );
    }
}
