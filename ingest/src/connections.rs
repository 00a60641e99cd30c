//! [`ConnectionLimit`]: the one place that decides whether a new connection is admitted
//! and when its slot is free again, with the metrics that show both.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::Metrics;

/// The process-wide bound on open client connections (`--max-connections`), shared
/// by every worker of every server.
///
/// A slot is taken by [`ConnectionLimit::try_admit`] when a connection is accepted
/// and freed when its [`ConnectionSlot`] drops, which a server does once it has
/// closed the socket. `gateway_connections_open` shows the slots in use and
/// `gateway_connections_refused_total` the connections turned away.
///
/// ```
/// use ingest::{ConnectionLimit, Metrics};
///
/// let metrics = Metrics::default();
/// let limit = ConnectionLimit::new(1, &metrics);
/// let slot = limit.try_admit().expect("the first fits");
/// assert!(limit.try_admit().is_none(), "the second is refused");
/// drop(slot);
/// assert_eq!(limit.open(), 0);
/// assert!(limit.try_admit().is_some());
/// ```
#[derive(Debug)]
pub struct ConnectionLimit {
    max: usize,
    open: AtomicUsize,
    open_gauge: Gauge,
    refused: Counter,
}

/// One admitted connection's slot; dropping it frees the slot.
#[derive(Debug)]
#[must_use = "the slot is freed when dropped"]
pub struct ConnectionSlot {
    limit: Arc<ConnectionLimit>,
}

impl ConnectionLimit {
    /// A limit of `max` connections, reported through `metrics`.
    pub fn new(max: usize, metrics: &Metrics) -> Arc<Self> {
        let (open_gauge, refused) = metrics.connection_handles();
        Arc::new(Self {
            max,
            open: AtomicUsize::new(0),
            open_gauge,
            refused,
        })
    }

    /// Takes a slot for a new connection, or counts a refusal and returns `None`
    /// when `max` connections are open.
    pub fn try_admit(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let admitted = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .is_ok();
        if admitted {
            self.open_gauge.inc();
            Some(ConnectionSlot {
                limit: Arc::clone(self),
            })
        } else {
            self.refused.inc();
            None
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// The bound.
    pub fn max(&self) -> usize {
        self.max
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.limit.open.fetch_sub(1, Ordering::AcqRel);
        self.limit.open_gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_open_slots_show_in_the_metrics() {
        let metrics = Metrics::default();
        let limit = ConnectionLimit::new(2, &metrics);
        let first = limit.try_admit().unwrap();
        let _second = limit.try_admit().unwrap();
        assert!(limit.try_admit().is_none());
        assert!(limit.try_admit().is_none());
        let text = metrics.render(&Default::default());
        assert!(text.contains("gateway_connections_open 2\n"), "{text}");
        assert!(
            text.contains("gateway_connections_refused_total 2\n"),
            "{text}"
        );
        drop(first);
        assert_eq!(limit.open(), 1);
        let text = metrics.render(&Default::default());
        assert!(text.contains("gateway_connections_open 1\n"), "{text}");
    }
}
