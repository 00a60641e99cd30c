//! [`AnySink`]: one of the crate's sinks, chosen at run time, as one type.

use std::time::Duration;

use crate::sink::{Pending, Record, Sealed};
use crate::{FlushReport, KafkaSink, MemorySink, NullSink, Sink, SinkError, SinkStats};

/// One of this crate's sinks, chosen at run time (a service's `--sink` flag, a test's
/// double), as one type that is itself a [`Sink`].
///
/// An enum, so that a call is a `match` and a direct call: no boxing and no dynamic
/// dispatch per record, and the futures stay unboxed. Its [`Sink`] impl passes every
/// call on, and the compiler makes it cover every method of the trait, so the
/// interface is only written once, in [`Sink`]. Its shape is the same whatever
/// features are enabled.
///
/// ```
/// use kafka_sink::{AnySink, NullSink, Record, Sink};
///
/// let sink = AnySink::Null(NullSink::default());
/// let pending = sink.try_enqueue(&Record::new("events", b"{}")).unwrap();
/// # let _ = pending;
/// assert_eq!(sink.stats().delivered, 1);
/// ```
// One value per process: the size difference between the variants costs nothing,
// while boxing the producer would cost an indirection per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum AnySink {
    /// The Kafka producer.
    Kafka(KafkaSink),
    /// Acknowledges at once, keeps nothing.
    Null(NullSink),
    /// Keeps records in memory; can be told to fail.
    Memory(MemorySink),
}

impl Sealed for AnySink {}

impl Sink for AnySink {
    fn try_enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError> {
        match self {
            Self::Kafka(sink) => sink.try_enqueue(record),
            Self::Null(sink) => sink.try_enqueue(record),
            Self::Memory(sink) => sink.try_enqueue(record),
        }
    }

    async fn enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError> {
        match self {
            Self::Kafka(sink) => sink.enqueue(record).await,
            Self::Null(sink) => sink.enqueue(record).await,
            Self::Memory(sink) => sink.enqueue(record).await,
        }
    }

    fn flush(&self, timeout: Duration) -> FlushReport {
        match self {
            Self::Kafka(sink) => sink.flush(timeout),
            Self::Null(sink) => sink.flush(timeout),
            Self::Memory(sink) => sink.flush(timeout),
        }
    }

    fn purge_queued(&self) {
        match self {
            Self::Kafka(sink) => sink.purge_queued(),
            Self::Null(sink) => sink.purge_queued(),
            Self::Memory(sink) => sink.purge_queued(),
        }
    }

    fn stats(&self) -> SinkStats {
        match self {
            Self::Kafka(sink) => sink.stats(),
            Self::Null(sink) => sink.stats(),
            Self::Memory(sink) => sink.stats(),
        }
    }

    fn brokers_reachable(&self) -> bool {
        match self {
            Self::Kafka(sink) => sink.brokers_reachable(),
            Self::Null(sink) => sink.brokers_reachable(),
            Self::Memory(sink) => sink.brokers_reachable(),
        }
    }

    fn is_saturated(&self, percent: usize) -> bool {
        match self {
            Self::Kafka(sink) => sink.is_saturated(percent),
            Self::Null(sink) => sink.is_saturated(percent),
            Self::Memory(sink) => sink.is_saturated(percent),
        }
    }
}
