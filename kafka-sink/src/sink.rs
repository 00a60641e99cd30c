//! [`Sink`]: where accepted records go. Kafka in production, [`NullSink`] to measure the
//! HTTP layer alone, [`MemorySink`] for unit tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::inflight::InFlight;
use crate::kafka::FlushReport;
use crate::{KafkaSink, SinkError, SinkStats};

/// One record to produce. Everything is borrowed: the sink copies what it keeps.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Destination topic.
    pub topic: &'a str,
    /// Optional record key (partitioning).
    pub key: Option<&'a [u8]>,
    /// The record value, produced verbatim.
    pub payload: &'a [u8],
    /// Record headers, in order.
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// Where Kafka stored an acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Partition.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
}

/// A record's destination. An enum rather than a trait object: three known kinds, no
/// boxing on the hot path, and futures that need no `Send` bound.
#[derive(Debug)]
pub enum Sink {
    /// The real producer.
    Kafka(KafkaSink),
    /// Acknowledges at once, keeps nothing.
    Null(NullSink),
    /// Keeps records in memory; can be told to fail.
    Memory(MemorySink),
}

impl Sink {
    /// Queues `record` and returns its pending delivery. Fails fast with
    /// [`SinkError::Overloaded`] past the in-flight bound. Awaiting the returned
    /// [`Pending`] gives the acknowledgement; dropping it does not cancel the record.
    pub async fn enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError> {
        match self {
            Self::Kafka(sink) => sink.enqueue(record).await,
            Self::Null(sink) => sink.enqueue(record),
            Self::Memory(sink) => sink.enqueue(record),
        }
    }

    /// Queues `record` and waits for its acknowledgement.
    pub async fn send(&self, record: &Record<'_>) -> Result<Delivery, SinkError> {
        self.enqueue(record).await?.await
    }

    /// Waits up to `timeout` for queued records (blocking; call at shutdown).
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        match self {
            Self::Kafka(sink) => sink.flush(timeout),
            Self::Null(_) | Self::Memory(_) => FlushReport::default(),
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SinkStats {
        self.in_flight().stats()
    }

    /// Whether the brokers are believed reachable (always true for Null and Memory).
    pub fn brokers_reachable(&self) -> bool {
        match self {
            Self::Kafka(sink) => sink.brokers_reachable(),
            Self::Null(_) | Self::Memory(_) => true,
        }
    }

    /// Whether the in-flight bound is at least `percent`% used: for readiness probes.
    pub fn is_saturated(&self, percent: usize) -> bool {
        self.in_flight().is_saturated(percent)
    }

    fn in_flight(&self) -> &InFlight {
        match self {
            Self::Kafka(sink) => sink.in_flight(),
            Self::Null(sink) => &sink.in_flight,
            Self::Memory(sink) => &sink.in_flight,
        }
    }
}

/// A record's delivery, in flight. Resolves once Kafka acknowledged or failed it.
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
    pub(crate) fn kafka(receiver: oneshot::Receiver<Result<Delivery, SinkError>>) -> Self {
        Self {
            state: PendingState::Waiting(receiver),
        }
    }

    fn ready(outcome: Result<Delivery, SinkError>) -> Self {
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
            PendingState::Waiting(receiver) => Pin::new(receiver)
                .poll(cx)
                .map(|outcome| outcome.unwrap_or(Err(SinkError::Closed))),
        }
    }
}

/// Acknowledges every record at once without keeping it: isolates the HTTP stack's cost.
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

impl NullSink {
    fn enqueue(&self, _record: &Record<'_>) -> Result<Pending, SinkError> {
        self.in_flight.record_sent();
        let outcome = Ok(Delivery {
            partition: 0,
            offset: self.next_offset.fetch_add(1, Ordering::Relaxed),
        });
        self.in_flight.record_outcome(&outcome);
        Ok(Pending::ready(outcome))
    }
}

/// A record as [`MemorySink`] kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Topic.
    pub topic: String,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub payload: Vec<u8>,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Keeps records in memory for tests; [`MemorySink::fail_with`] makes sends fail.
#[derive(Debug)]
pub struct MemorySink {
    records: Mutex<Vec<StoredRecord>>,
    failure: Mutex<Option<SinkError>>,
    in_flight: Arc<InFlight>,
}

impl Default for MemorySink {
    fn default() -> Self {
        Self {
            records: Mutex::default(),
            failure: Mutex::default(),
            in_flight: InFlight::new(usize::MAX, usize::MAX),
        }
    }
}

impl MemorySink {
    /// From now on, every send fails with `error` (`None` restores success).
    pub fn fail_with(&self, error: Option<SinkError>) {
        *self
            .failure
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = error;
    }

    /// The records kept so far.
    pub fn records(&self) -> Vec<StoredRecord> {
        self.records
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    fn enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError> {
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        if let Some(error) = failure {
            return Err(error);
        }
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        records.push(StoredRecord {
            topic: record.topic.to_owned(),
            key: record.key.map(<[u8]>::to_vec),
            payload: record.payload.to_vec(),
            headers: record
                .headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.to_vec()))
                .collect(),
        });
        self.in_flight.record_sent();
        let outcome = Ok(Delivery {
            partition: 0,
            offset: records.len() as i64 - 1,
        });
        self.in_flight.record_outcome(&outcome);
        Ok(Pending::ready(outcome))
    }
}
