//! Backpressure and counters, shared by every task and thread that sends.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::{Record, SinkError};

/// Counters of one sink; cheap to update from any thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    sent: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    rejected_overloaded: AtomicU64,
    records: AtomicUsize,
    bytes: AtomicUsize,
}

/// A snapshot of a sink's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkStats {
    /// Records accepted into the producer queue.
    pub sent: u64,
    /// Records acknowledged by Kafka.
    pub delivered: u64,
    /// Records that were queued but not delivered (timed out, rejected, purged).
    pub failed: u64,
    /// Enqueue retries after a full local queue.
    pub retried: u64,
    /// Sends refused because the in-flight bound was reached.
    pub rejected_overloaded: u64,
    /// Records queued and not yet acknowledged or failed.
    pub in_flight_records: usize,
    /// Bytes queued and not yet acknowledged or failed, counted by
    /// [`Record::size_bytes`] (payload, key and headers).
    pub in_flight_bytes: usize,
}

/// The in-flight bound plus the counters. One per sink, behind an `Arc`.
#[derive(Debug)]
pub(crate) struct InFlight {
    max_records: usize,
    max_bytes: usize,
    counters: Counters,
}

impl InFlight {
    pub(crate) fn new(max_records: usize, max_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            max_records,
            max_bytes,
            counters: Counters::default(),
        })
    }

    /// Reserves room for `record`, counted by [`Record::size_bytes`]: the one way every
    /// sink admits a record.
    pub(crate) fn admit(self: &Arc<Self>, record: &Record<'_>) -> Result<Permit, SinkError> {
        self.acquire(record.size_bytes())
    }

    /// Reserves room for one record of `bytes`, or fails fast with `Overloaded`.
    pub(crate) fn acquire(self: &Arc<Self>, bytes: usize) -> Result<Permit, SinkError> {
        let c = &self.counters;
        let records = c.records.fetch_add(1, Ordering::AcqRel) + 1;
        let total_bytes = c.bytes.fetch_add(bytes, Ordering::AcqRel) + bytes;
        if records > self.max_records || total_bytes > self.max_bytes {
            c.records.fetch_sub(1, Ordering::AcqRel);
            c.bytes.fetch_sub(bytes, Ordering::AcqRel);
            c.rejected_overloaded.fetch_add(1, Ordering::Relaxed);
            return Err(SinkError::Overloaded {
                in_flight_records: records - 1,
                in_flight_bytes: total_bytes - bytes,
            });
        }
        Ok(Permit {
            in_flight: Arc::clone(self),
            bytes,
        })
    }

    pub(crate) fn record_sent(&self) {
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_retry(&self) {
        self.counters.retried.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_outcome<T>(&self, outcome: &Result<T, SinkError>) {
        let counter = match outcome {
            Ok(_) => &self.counters.delivered,
            Err(_) => &self.counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether at least `percent`% of either bound is in use.
    pub(crate) fn is_saturated(&self, percent: usize) -> bool {
        let c = &self.counters;
        c.records.load(Ordering::Relaxed).saturating_mul(100)
            >= self.max_records.saturating_mul(percent)
            || c.bytes.load(Ordering::Relaxed).saturating_mul(100)
                >= self.max_bytes.saturating_mul(percent)
    }

    pub(crate) fn stats(&self) -> SinkStats {
        let c = &self.counters;
        SinkStats {
            sent: c.sent.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            rejected_overloaded: c.rejected_overloaded.load(Ordering::Relaxed),
            in_flight_records: c.records.load(Ordering::Relaxed),
            in_flight_bytes: c.bytes.load(Ordering::Relaxed),
        }
    }
}

/// Room for one record in flight; released when dropped, i.e. when the record's fate is
/// known (the delivery callback drops it), not when a waiting client goes away.
#[derive(Debug)]
pub(crate) struct Permit {
    in_flight: Arc<InFlight>,
    bytes: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let c = &self.in_flight.counters;
        c.records.fetch_sub(1, Ordering::AcqRel);
        c.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_refuses_past_the_limit_and_frees_on_drop() {
        let in_flight = InFlight::new(2, 1000);
        let first = in_flight.acquire(10).unwrap();
        let _second = in_flight.acquire(10).unwrap();
        assert!(matches!(
            in_flight.acquire(10),
            Err(SinkError::Overloaded {
                in_flight_records: 2,
                in_flight_bytes: 20
            })
        ));
        drop(first);
        assert!(in_flight.acquire(10).is_ok());
        assert_eq!(in_flight.stats().rejected_overloaded, 1);
    }

    #[test]
    fn saturation_is_measured_against_either_bound() {
        let in_flight = InFlight::new(10, 1000);
        let held: Vec<_> = (0..8).map(|_| in_flight.acquire(1).unwrap()).collect();
        assert!(!in_flight.is_saturated(90));
        let _ninth = in_flight.acquire(1).unwrap();
        assert!(in_flight.is_saturated(90));
        drop(held);
        let _big = in_flight.acquire(950).unwrap();
        assert!(in_flight.is_saturated(90), "byte bound");
    }

    #[test]
    fn byte_bound_counts_too() {
        let in_flight = InFlight::new(100, 15);
        let _held = in_flight.acquire(10).unwrap();
        assert!(in_flight.acquire(10).is_err());
        assert_eq!(in_flight.stats().in_flight_bytes, 10);
    }
}
