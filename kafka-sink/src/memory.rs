//! [`MemorySink`]: a test double that keeps records in memory.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::inflight::InFlight;
use crate::sink::{Delivery, Pending, Record, Sealed};
use crate::{FlushReport, Sink, SinkError, SinkStats};

/// A record as [`MemorySink`] kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredRecord {
    /// Topic.
    pub topic: String,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub payload: Vec<u8>,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The partition the record asked for (`None`: the partitioner's choice).
    pub partition: Option<i32>,
    /// The timestamp the record asked for.
    pub timestamp_ms: Option<i64>,
}

/// Keeps records in memory, acknowledged at once at offsets 0, 1, 2, ... of partition
/// 0; [`MemorySink::fail_with`] makes enqueues fail. For tests.
///
/// ```
/// use kafka_sink::{MemorySink, Record, Sink, SinkError};
///
/// let sink = MemorySink::default();
/// sink.try_enqueue(&Record::new("events", b"{}").with_key(b"k")).unwrap();
/// assert_eq!(sink.records()[0].key.as_deref(), Some(&b"k"[..]));
///
/// sink.fail_with(Some(SinkError::Closed));
/// assert_eq!(sink.try_enqueue(&Record::new("events", b"{}")).unwrap_err(), SinkError::Closed);
/// ```
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

/// A test that panicked while holding a lock must not hide its records from the next.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl MemorySink {
    /// From now on, every enqueue fails with `error` (`None` restores success).
    pub fn fail_with(&self, error: Option<SinkError>) {
        *lock(&self.failure) = error;
    }

    /// The records kept so far, in enqueue order.
    pub fn records(&self) -> Vec<StoredRecord> {
        lock(&self.records).clone()
    }
}

impl Sealed for MemorySink {}

impl Sink for MemorySink {
    fn try_enqueue(&self, record: &Record<'_>) -> Result<Pending, SinkError> {
        if let Some(error) = lock(&self.failure).clone() {
            return Err(error);
        }
        let _permit = self.in_flight.admit(record)?;
        let mut records = lock(&self.records);
        records.push(StoredRecord {
            topic: record.topic.to_owned(),
            key: record.key.map(<[u8]>::to_vec),
            payload: record.payload.to_vec(),
            headers: record
                .headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.to_vec()))
                .collect(),
            partition: record.partition,
            timestamp_ms: record.timestamp_ms,
        });
        self.in_flight.record_sent();
        let outcome = Ok(
            Delivery::new(record.partition.unwrap_or(0), records.len() as i64 - 1)
                .with_timestamp_ms(record.timestamp_ms),
        );
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
