//! The one error type of the crate.

/// Why a record was not (or may not have been) delivered, or why the sink could not start.
///
/// The variants say what happened, not what to do about it; [`SinkError::is_retriable`]
/// tells whether the same record may be offered again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The in-flight bound is reached; nothing was queued. Retry later.
    #[error("overloaded: {in_flight_records} records / {in_flight_bytes} bytes already in flight")]
    Overloaded {
        /// Records in flight when the send was refused.
        in_flight_records: usize,
        /// Bytes in flight when the send was refused.
        in_flight_bytes: usize,
    },
    /// librdkafka's local queue was full (and, for the retrying enqueue, stayed full until
    /// its deadline); nothing was queued. Retry later.
    #[error("producer queue full for {waited_ms} ms")]
    QueueFull {
        /// How long the sink retried: 0 from `try_enqueue`.
        waited_ms: u64,
    },
    /// No acknowledgement within the delivery timeout. The record may or may not be in
    /// Kafka; the client must treat it as not delivered.
    #[error("not acknowledged by Kafka within {timeout_ms} ms")]
    TimedOut {
        /// The configured delivery timeout.
        timeout_ms: u64,
    },
    /// The record is larger than the producer or broker accepts.
    #[error("record of {bytes} bytes is larger than Kafka accepts")]
    TooLarge {
        /// The record's size, [`Record::size_bytes`](crate::Record::size_bytes).
        bytes: usize,
    },
    /// The topic does not exist on the cluster.
    #[error("topic `{topic}` does not exist on {brokers}")]
    UnknownTopic {
        /// The topic.
        topic: String,
        /// The bootstrap servers asked.
        brokers: String,
    },
    /// The cluster could not be reached (start-up metadata request failed).
    #[error("cannot reach Kafka at {brokers}: {reason}")]
    BrokerUnreachable {
        /// The bootstrap servers.
        brokers: String,
        /// librdkafka's explanation.
        reason: String,
    },
    /// The brokers refused the client's SASL credentials (wrong password, unknown user,
    /// a mechanism the broker does not offer), seen when a metadata request got no
    /// answer. The reason is librdkafka's, naming the broker it tried; it never
    /// contains the password.
    #[error("cannot authenticate to Kafka at {brokers}: {reason}")]
    Authentication {
        /// The bootstrap servers.
        brokers: String,
        /// librdkafka's explanation, with the broker it concerns.
        reason: String,
    },
    /// TLS with the brokers failed: the broker's certificate is not signed by the CA
    /// trusted (or names another host), the broker refused the client's certificate
    /// (or wanted one), or the broker does not speak TLS. Seen when a metadata request
    /// got no answer; the reason is librdkafka's (OpenSSL's), naming the broker.
    #[error("TLS with Kafka at {brokers} failed: {reason}")]
    Tls {
        /// The bootstrap servers.
        brokers: String,
        /// librdkafka's explanation, with the broker it concerns.
        reason: String,
    },
    /// Kafka or librdkafka refused the record for another, non-retriable reason.
    #[error("Kafka rejected the record: {reason}")]
    Rejected {
        /// librdkafka's explanation.
        reason: String,
    },
    /// The producer configuration is invalid.
    #[error("invalid producer configuration: {reason}")]
    Config {
        /// librdkafka's explanation.
        reason: String,
    },
    /// The sink is shutting down or its producer is gone, and the record was never sent
    /// to a broker (e.g. purged from the queue by
    /// [`Sink::purge_queued`](crate::Sink::purge_queued)): a retry elsewhere
    /// cannot duplicate it.
    #[error("the sink is closed")]
    Closed,
}

impl SinkError {
    /// Whether retrying the same send later can succeed (the record was not queued).
    /// Failures after queueing are never retried by the sink: a second copy could
    /// duplicate a record the first attempt actually wrote.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Overloaded { .. } | Self::QueueFull { .. })
    }
}
