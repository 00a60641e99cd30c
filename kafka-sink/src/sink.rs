//! [`Sink`]: what every sink does, and the types it speaks in. [`NullSink`] lives here
//! too: it is small and runs in production (to measure a service without Kafka).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::inflight::InFlight;
use crate::{FlushReport, SinkError, SinkStats};

/// One record to produce. Everything is borrowed: a sink copies what it keeps, so the
/// caller's buffers are free again as soon as an enqueue returns.
///
/// ```
/// use kafka_sink::Record;
///
/// let headers = [("source", &b"web"[..])];
/// let record = Record::new("events", br#"{"a":1}"#).with_key(b"user-7").with_headers(&headers);
/// assert_eq!(record.key, Some(&b"user-7"[..]));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Record<'a> {
    /// Destination topic.
    pub topic: &'a str,
    /// Optional record key (partitioning).
    pub key: Option<&'a [u8]>,
    /// The record value, produced verbatim.
    pub payload: &'a [u8],
    /// Record headers, in order.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The partition to produce to; `None` lets the producer's partitioner choose
    /// (by key, or sticky without one).
    pub partition: Option<i32>,
    /// The record's timestamp in ms since the Unix epoch; `None` lets the producer set
    /// the current time.
    pub timestamp_ms: Option<i64>,
}

impl<'a> Record<'a> {
    /// A record of `payload` for `topic`, with no key and no headers.
    pub const fn new(topic: &'a str, payload: &'a [u8]) -> Self {
        Self {
            topic,
            key: None,
            payload,
            headers: &[],
            partition: None,
            timestamp_ms: None,
        }
    }

    /// The same record for partition `partition` of its topic. A partition the topic
    /// does not have fails the enqueue ([`SinkError::Rejected`]).
    pub const fn with_partition(self, partition: i32) -> Self {
        Self {
            partition: Some(partition),
            ..self
        }
    }

    /// The same record with timestamp `timestamp_ms` (ms since the Unix epoch).
    pub const fn with_timestamp_ms(self, timestamp_ms: i64) -> Self {
        Self {
            timestamp_ms: Some(timestamp_ms),
            ..self
        }
    }

    /// The same record with `key` (Kafka partitions by it).
    pub const fn with_key(self, key: &'a [u8]) -> Self {
        Self {
            key: Some(key),
            ..self
        }
    }

    /// The same record with `headers`, produced in this order.
    pub const fn with_headers(self, headers: &'a [(&'a str, &'a [u8])]) -> Self {
        Self { headers, ..self }
    }

    /// The record's own bytes: payload, key, and every header's name and value. What
    /// the record counts against the in-flight byte bound
    /// ([`SinkConfig::max_in_flight_bytes`](crate::SinkConfig::max_in_flight_bytes)) in
    /// every sink: a key or headers are copied into the producer's queue like the
    /// payload, so they are not free.
    ///
    /// ```
    /// use kafka_sink::Record;
    ///
    /// let headers = [("source", &b"web"[..])];
    /// let record = Record::new("events", b"{}").with_key(b"k").with_headers(&headers);
    /// assert_eq!(record.size_bytes(), 2 + 1 + 6 + 3);
    /// ```
    pub fn size_bytes(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.len())
            .sum();
        self.payload.len() + self.key.map_or(0, <[u8]>::len) + headers
    }

    /// The record's size as librdkafka counts it against
    /// [`SinkConfig::max_record_bytes`](crate::SinkConfig::max_record_bytes): its
    /// [`size_bytes`](Self::size_bytes), plus the varint length of each header's name
    /// and value, plus 36 bytes, the most framing a record of Kafka's v2 format can
    /// take (`RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD`). librdkafka refuses a record whose
    /// figure is over the limit before queueing it ([`SinkError::TooLarge`]).
    ///
    /// ```
    /// use kafka_sink::Record;
    ///
    /// let headers = [("source", &b"web"[..])];
    /// let record = Record::new("events", b"{}").with_key(b"k").with_headers(&headers);
    /// assert_eq!(record.wire_size_bytes(), 36 + 2 + 1 + (1 + 6) + (1 + 3));
    /// ```
    pub fn wire_size_bytes(&self) -> usize {
        let header_lengths: usize = self
            .headers
            .iter()
            .map(|(name, value)| varint_bytes(name.len()) + varint_bytes(value.len()))
            .sum();
        RECORD_FRAMING_BYTES + self.size_bytes() + header_lengths
    }
}

/// librdkafka's `RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD`: the varints of a v2 record's
/// length (5), timestamp delta (10), offset delta, key length, value length and header
/// count (5 each), and its attributes byte.
const RECORD_FRAMING_BYTES: usize = 5 + 1 + 10 + 5 + 5 + 5 + 5;

/// Bytes of the zigzag varint Kafka encodes a header's name or value length with.
fn varint_bytes(length: usize) -> usize {
    let zigzag = (length as u64) << 1;
    let bits = u64::BITS - zigzag.leading_zeros();
    bits.div_ceil(7).max(1) as usize
}

/// Where Kafka stored an acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// Partition.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// The record's timestamp as stored (ms since the Unix epoch), when the sink knows it.
    pub timestamp_ms: Option<i64>,
}

impl Delivery {
    pub(crate) fn new(partition: i32, offset: i64) -> Self {
        Self {
            partition,
            offset,
            timestamp_ms: None,
        }
    }

    pub(crate) fn with_timestamp_ms(self, timestamp_ms: Option<i64>) -> Self {
        Self {
            timestamp_ms,
            ..self
        }
    }
}

/// A queued record's delivery. Resolves once Kafka acknowledged the record or it failed.
///
/// A plain [`Future`] that needs no runtime: it is woken from librdkafka's delivery
/// callback thread through whatever [`Waker`](std::task::Waker) polled it last, so tokio,
/// another executor, or a hand-written event loop can await it. Dropping it does not
/// cancel the record: it is still delivered (and counted) or fails.
///
/// # Panics
///
/// Polling it again after it returned [`Poll::Ready`] panics, like most futures.
#[derive(Debug)]
pub struct Pending {
    state: PendingState,
}

#[derive(Debug)]
enum PendingState {
    Ready(Option<Result<Delivery, SinkError>>),
    Waiting(oneshot::Receiver<Result<Delivery, SinkError>>),
}

impl Pending {
    pub(crate) fn waiting(receiver: oneshot::Receiver<Result<Delivery, SinkError>>) -> Self {
        Self {
            state: PendingState::Waiting(receiver),
        }
    }

    pub(crate) fn ready(outcome: Result<Delivery, SinkError>) -> Self {
        Self {
            state: PendingState::Ready(Some(outcome)),
        }
    }
}

impl Future for Pending {
    type Output = Result<Delivery, SinkError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            PendingState::Ready(outcome) => {
                Poll::Ready(outcome.take().expect("Pending polled after completion"))
            }
            // A dropped sender means the producer went away without reporting.
            PendingState::Waiting(receiver) => Pin::new(receiver)
                .poll(cx)
                .map(|outcome| outcome.unwrap_or(Err(SinkError::Closed))),
        }
    }
}

mod sealed {
    /// Keeps [`Sink`](super::Sink) implemented by this crate's sinks only, so that it
    /// can grow methods without breaking anyone.
    pub trait Sealed {}
}

/// The sink interface, written once: what [`KafkaSink`](crate::KafkaSink),
/// [`NullSink`] and [`MemorySink`](crate::MemorySink) do, and what
/// [`AnySink`](crate::AnySink) (one of them, chosen at run time) does by passing each
/// call on. Write code generic over `S: Sink`, or hold an `AnySink`, to swap Kafka for
/// a stand-in.
///
/// Every sink admits a record through the same in-flight bound, counted by
/// [`Record::size_bytes`], and keeps the same [`SinkStats`]. The trait is sealed (only
/// this crate implements it), so it can grow methods without breaking callers. Its
/// futures are `Send`.
///
/// ```
/// use kafka_sink::{NullSink, Record, Sink};
///
/// async fn produce_one<S: Sink>(sink: &S) -> i64 {
///     sink.send(&Record::new("events", b"{}")).await.expect("delivered").offset
/// }
///
/// # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// assert_eq!(runtime.block_on(produce_one(&NullSink::default())), 0);
/// ```
pub trait Sink: sealed::Sealed + Send + Sync {
    /// Queues `record` without ever waiting, and returns its pending delivery. Needs no
    /// runtime: for callers that own their event loop (the [`Pending`] is a plain
    /// future for any `Waker`). The sink copies what it keeps, so the caller's buffers
    /// are free as soon as this returns.
    ///
    /// # Errors
    ///
    /// [`SinkError::Overloaded`] past the in-flight bound and [`SinkError::QueueFull`]
    /// (`waited_ms: 0`) when the producer's local queue is full: nothing was queued,
    /// retry later. [`SinkError::TooLarge`], [`SinkError::UnknownTopic`] or
    /// [`SinkError::Rejected`] when the producer refused the record.
    fn try_enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError>;

    /// Queues `record` like [`Sink::try_enqueue`], but retries a full local queue for a
    /// while (for Kafka, per [`SinkConfig::retry`](crate::SinkConfig::retry)) before
    /// failing with [`SinkError::QueueFull`].
    ///
    /// # Panics
    ///
    /// For [`KafkaSink`](crate::KafkaSink): when the local queue is full and this runs
    /// outside a tokio runtime with time enabled (the backoff sleeps on tokio's timer;
    /// use [`Sink::try_enqueue`] elsewhere). The other sinks never wait.
    fn enqueue(
        &self,
        record: &Record<'_>,
    ) -> impl Future<Output = Result<Pending, SinkError>> + Send;

    /// Queues `record` and waits for its acknowledgement: [`Sink::enqueue`], then the
    /// [`Pending`].
    ///
    /// # Errors
    ///
    /// Those of [`Sink::enqueue`], then the record's fate: [`SinkError::TimedOut`],
    /// [`SinkError::TooLarge`], [`SinkError::Rejected`] or [`SinkError::Closed`].
    ///
    /// # Panics
    ///
    /// As [`Sink::enqueue`].
    fn send(
        &self,
        record: &Record<'_>,
    ) -> impl Future<Output = Result<Delivery, SinkError>> + Send {
        async move { self.enqueue(record).await?.await }
    }

    /// Waits up to `timeout` for every queued record to be delivered or to fail.
    /// Blocking: call it at shutdown, outside async tasks.
    fn flush(&self, timeout: Duration) -> FlushReport;

    /// Fails every record not yet sent to a broker, at once, with
    /// [`SinkError::Closed`]: such a record was never written anywhere, so its client
    /// may safely retry it elsewhere. Records already sent keep waiting for their
    /// acknowledgement (purging them would leave their fate unknown). Non-blocking;
    /// records enqueued afterwards are produced as usual. The stand-ins queue nothing.
    ///
    /// For shutdown: stop taking records, purge what is queued, then [`Sink::flush`] to
    /// wait for what is in flight.
    fn purge_queued(&self);

    /// A snapshot of the counters.
    fn stats(&self) -> SinkStats;

    /// Whether the brokers are believed reachable (always true without Kafka).
    fn brokers_reachable(&self) -> bool;

    /// Whether at least `percent`% of either in-flight bound is in use: for readiness
    /// probes.
    fn is_saturated(&self, percent: usize) -> bool;
}

/// Acknowledges every record at once without keeping it, at offsets 0, 1, 2, ...: to
/// measure a service without Kafka. Nothing reaches a broker.
#[derive(Debug)]
pub struct NullSink {
    next_offset: AtomicI64,
    in_flight: Arc<InFlight>,
}

impl Default for NullSink {
    fn default() -> Self {
        Self {
            next_offset: AtomicI64::new(0),
            in_flight: InFlight::new(usize::MAX, usize::MAX),
        }
    }
}

impl sealed::Sealed for NullSink {}

impl Sink for NullSink {
    fn try_enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError> {
        // Admitted and released like any sink's record, so the counters (and what
        // admission costs) are the same as Kafka's.
        let _permit = self.in_flight.admit(record)?;
        self.in_flight.record_sent();
        let outcome = Ok(Delivery::new(
            0,
            self.next_offset.fetch_add(1, Ordering::Relaxed),
        ));
        self.in_flight.record_outcome(&outcome);
        Ok(Pending::ready(outcome))
    }

    fn enqueue(
        &self,
        record: &Record<'_>,
    ) -> impl Future<Output = Result<Pending, SinkError>> + Send {
        std::future::ready(self.try_enqueue(record))
    }

    fn flush(&self, _timeout: Duration) -> FlushReport {
        FlushReport::default()
    }

    fn purge_queued(&self) {}

    fn stats(&self) -> SinkStats {
        self.in_flight.stats()
    }

    fn brokers_reachable(&self) -> bool {
        true
    }

    fn is_saturated(&self, percent: usize) -> bool {
        self.in_flight.is_saturated(percent)
    }
}

pub(crate) use sealed::Sealed;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths_are_zigzag_varints() {
        for (length, bytes) in [(0, 1), (63, 1), (64, 2), (8191, 2), (8192, 3)] {
            assert_eq!(varint_bytes(length), bytes, "{length}");
        }
    }
}
