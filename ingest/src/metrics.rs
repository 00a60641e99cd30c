//! Prometheus metrics of one gateway process, shared by all its threads.

use std::sync::OnceLock;
use std::time::Duration;

use kafka_sink::SinkStats;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The statuses whose series [`Metrics`] keeps at hand.
const STATUS_MIN: u16 = 100;
const STATUS_MAX: u16 = 599;

/// The handles [`crate::ConnectionLimit`] counts with.
pub(crate) struct ConnectionHandles {
    pub(crate) open: Gauge,
    pub(crate) refused_limit: Counter,
    pub(crate) refused_per_client: Counter,
}

/// The gateway's metrics. Handles are cheap clones of shared atomics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<StatusLabel, Counter>,
    /// Each status's series of `requests` once it was first counted, indexed by
    /// `status - 100`: counting a response is then one atomic add, not a hash lookup
    /// under the family's lock. A series still appears only once it was counted.
    by_status: Box<[OnceLock<Counter>]>,
    request_seconds: Histogram,
    delivery_seconds: Histogram,
    in_flight: Gauge,
    acked_before_delivery: Counter,
    connections_open: Gauge,
    connections_refused: Family<ReasonLabel, Counter>,
    tls_failures: Family<ReasonLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<StatusLabel, Counter>::default();
        // 50 µs .. ~26 s in 20 doublings: covers a NullSink answer and a delivery timeout.
        let request_seconds = Histogram::new(exponential_buckets(50e-6, 2.0, 20));
        let delivery_seconds = Histogram::new(exponential_buckets(50e-6, 2.0, 20));
        let in_flight = Gauge::default();
        let acked_before_delivery = Counter::default();
        let connections_open = Gauge::default();
        let connections_refused = Family::<ReasonLabel, Counter>::default();
        let tls_failures = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a complete request to its response",
            request_seconds.clone(),
        );
        registry.register(
            "kafka_delivery_duration_seconds",
            "Time from enqueue to Kafka acknowledgement",
            delivery_seconds.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests being handled",
            in_flight.clone(),
        );
        registry.register(
            "gateway_acked_before_delivery",
            "202 answers given before Kafka acknowledged (queued ack mode: lost on a crash)",
            acked_before_delivery.clone(),
        );
        registry.register(
            "gateway_connections_open",
            "Client connections open (admitted under --max-connections)",
            connections_open.clone(),
        );
        registry.register(
            "gateway_connections_refused",
            "Client connections refused with 503, by the bound that refused them (limit: --max-connections, per_client: --max-connections-per-client)",
            connections_refused.clone(),
        );
        registry.register(
            "gateway_tls_handshake_failures",
            "TLS sessions given up, by reason (plain_http, malformed, certificate, handshake)",
            tls_failures.clone(),
        );
        Self {
            registry,
            requests,
            by_status: (STATUS_MIN..=STATUS_MAX).map(|_| OnceLock::new()).collect(),
            request_seconds,
            delivery_seconds,
            in_flight,
            acked_before_delivery,
            connections_open,
            connections_refused,
            tls_failures,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn record_response(&self, status: http::StatusCode, elapsed: Duration) {
        self.with_requests(status, Counter::inc);
        self.request_seconds.observe(elapsed.as_secs_f64());
    }

    /// `f` of the series of `status` (an `http::StatusCode` is 100..=999; one past 599,
    /// which the gateway never answers, takes the family's lookup).
    fn with_requests<T>(&self, status: http::StatusCode, f: impl FnOnce(&Counter) -> T) -> T {
        let family = || {
            self.requests
                .get_or_create(&StatusLabel {
                    status: status.as_u16(),
                })
                .clone()
        };
        match self
            .by_status
            .get(usize::from(status.as_u16() - STATUS_MIN))
        {
            Some(slot) => f(slot.get_or_init(family)),
            None => f(&family()),
        }
    }

    /// Counts a TLS session given up for `reason` (a bounded set of names).
    pub fn record_tls_failure(&self, reason: &'static str) {
        self.tls_failures
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub(crate) fn record_delivery(&self, elapsed: Duration) {
        self.delivery_seconds.observe(elapsed.as_secs_f64());
    }

    pub(crate) fn record_early_ack(&self) {
        self.acked_before_delivery.inc();
    }

    pub(crate) fn connection_handles(&self) -> ConnectionHandles {
        let refused = |reason| {
            self.connections_refused
                .get_or_create(&ReasonLabel { reason })
                .clone()
        };
        ConnectionHandles {
            open: self.connections_open.clone(),
            refused_limit: refused("limit"),
            refused_per_client: refused("per_client"),
        }
    }

    pub(crate) fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    /// Requests answered with `status` so far.
    pub fn responses(&self, status: http::StatusCode) -> u64 {
        self.with_requests(status, Counter::get)
    }

    /// The text exposition, with the sink's counters added.
    pub fn render(&self, sink: &SinkStats) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        let body_end = text.rfind("# EOF").unwrap_or(text.len());
        text.truncate(body_end);
        let counters = [
            ("sent", sink.sent),
            ("delivered", sink.delivered),
            ("failed", sink.failed),
            ("retried", sink.retried),
            ("rejected_overloaded", sink.rejected_overloaded),
        ];
        text.push_str("# HELP kafka_sink_records Records by sink outcome.\n# TYPE kafka_sink_records counter\n");
        for (outcome, value) in counters {
            text.push_str(&format!(
                "kafka_sink_records_total{{outcome=\"{outcome}\"}} {value}\n"
            ));
        }
        text.push_str(&format!(
            "# HELP kafka_sink_in_flight_records Records queued, not yet acknowledged.\n\
             # TYPE kafka_sink_in_flight_records gauge\nkafka_sink_in_flight_records {}\n\
             # HELP kafka_sink_in_flight_bytes Payload bytes queued, not yet acknowledged.\n\
             # TYPE kafka_sink_in_flight_bytes gauge\nkafka_sink_in_flight_bytes {}\n# EOF\n",
            sink.in_flight_records, sink.in_flight_bytes
        ));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_requests_latency_and_sink_counters() {
        let metrics = Metrics::default();
        metrics.record_response(http::StatusCode::OK, Duration::from_micros(120));
        metrics.record_response(http::StatusCode::OK, Duration::from_micros(80));
        metrics.record_response(http::StatusCode::BAD_REQUEST, Duration::from_micros(10));
        let mut stats = SinkStats::default();
        stats.delivered = 7;
        let text = metrics.render(&stats);
        assert!(
            text.contains("http_requests_total{status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("http_requests_total{status=\"400\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_count 3"),
            "{text}"
        );
        assert!(
            text.contains("kafka_sink_records_total{outcome=\"delivered\"} 7"),
            "{text}"
        );
        assert!(
            !text.contains("status=\"404\""),
            "a status never answered has no series: {text}"
        );
        assert_eq!(metrics.responses(http::StatusCode::OK), 2);
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(text.matches("# EOF").count(), 1);
    }
}
