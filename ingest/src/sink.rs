//! [`GatewaySink`]: the sinks a gateway can produce through, as one type.

use std::time::Duration;

#[cfg(feature = "test-util")]
use kafka_sink::MemorySink;
use kafka_sink::{FlushReport, KafkaSink, NullSink, Pending, Record, Sink, SinkError, SinkStats};

/// Where the gateway's records go: `--sink kafka` or `--sink null` (and, for tests with
/// the `test-util` feature, memory).
///
/// An enum rather than a generic parameter or a trait object: both servers share one
/// `Gateway` type, dispatch is a `match` with no boxing on the hot path, and the
/// futures stay unboxed.
// One value per process, behind the gateway's `Arc`: the size difference costs nothing,
// while boxing the producer would cost an indirection per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum GatewaySink {
    /// The real producer.
    Kafka(KafkaSink),
    /// Acknowledges at once, keeps nothing.
    Null(NullSink),
    /// Keeps records in memory; can be told to fail.
    #[cfg(feature = "test-util")]
    Memory(MemorySink),
}

impl GatewaySink {
    /// Queues `record` without waiting and returns its pending delivery. Fails at once
    /// with [`SinkError::Overloaded`] past the in-flight bound, or with
    /// [`SinkError::QueueFull`] if librdkafka's local queue is full (see
    /// [`KafkaSink::try_enqueue`]; the gateway never retries it: both are overload).
    /// Needs no runtime.
    pub fn try_enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError> {
        match self {
            Self::Kafka(sink) => sink.try_enqueue(record),
            Self::Null(sink) => sink.try_enqueue(record),
            #[cfg(feature = "test-util")]
            Self::Memory(sink) => sink.try_enqueue(record),
        }
    }

    /// Waits up to `timeout` for queued records (blocking; call at shutdown).
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        match self {
            Self::Kafka(sink) => sink.flush(timeout),
            Self::Null(sink) => sink.flush(timeout),
            #[cfg(feature = "test-util")]
            Self::Memory(sink) => sink.flush(timeout),
        }
    }

    /// Fails every record not yet sent to a broker with [`SinkError::Closed`] at once
    /// (never sent: a client may retry it); records in flight keep waiting for their
    /// acknowledgement. Non-blocking: for the shutdown sequence, before the flush. See
    /// [`KafkaSink::purge_queued`].
    pub fn purge_queued(&self) {
        match self {
            Self::Kafka(sink) => sink.purge_queued(),
            Self::Null(sink) => sink.purge_queued(),
            #[cfg(feature = "test-util")]
            Self::Memory(sink) => sink.purge_queued(),
        }
    }

    /// A snapshot of the sink's counters.
    pub fn stats(&self) -> SinkStats {
        match self {
            Self::Kafka(sink) => sink.stats(),
            Self::Null(sink) => sink.stats(),
            #[cfg(feature = "test-util")]
            Self::Memory(sink) => sink.stats(),
        }
    }

    /// Whether the brokers are believed reachable (always true without Kafka).
    pub fn brokers_reachable(&self) -> bool {
        match self {
            Self::Kafka(sink) => sink.brokers_reachable(),
            Self::Null(sink) => sink.brokers_reachable(),
            #[cfg(feature = "test-util")]
            Self::Memory(sink) => sink.brokers_reachable(),
        }
    }

    /// Whether the in-flight bound is at least `percent`% used.
    pub fn is_saturated(&self, percent: usize) -> bool {
        match self {
            Self::Kafka(sink) => sink.is_saturated(percent),
            Self::Null(sink) => sink.is_saturated(percent),
            #[cfg(feature = "test-util")]
            Self::Memory(sink) => sink.is_saturated(percent),
        }
    }
}
