//! Typed producer configuration with safe defaults.

use std::time::Duration;

use rdkafka::ClientConfig;

use crate::RetryPolicy;

/// Which replicas must acknowledge a record before it counts as delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// All in-sync replicas (`acks=all`): the only setting that keeps the gateway's
    /// promise across a broker failure. Required by idempotence.
    All,
    /// The partition leader only.
    Leader,
}

/// Record batch compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// LZ4.
    Lz4,
    /// Snappy.
    Snappy,
}

/// Everything the sink needs to build its one shared producer.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Acknowledgement level.
    pub acks: Acks,
    /// `enable.idempotence`: no duplicates from librdkafka's internal retries.
    pub idempotence: bool,
    /// How long librdkafka waits to fill a batch. Small: a handler that awaits its own
    /// delivery is bounded by concurrency / linger. Never 0 against tansu (measured
    /// ~10k msg/s).
    pub linger: Duration,
    /// Largest batch in bytes.
    pub batch_size_bytes: usize,
    /// Batch compression.
    pub compression: Compression,
    /// Delivery timeout (`message.timeout.ms`): after it a record is reported failed.
    pub delivery_timeout: Duration,
    /// librdkafka queue bound, in records.
    pub queue_max_records: usize,
    /// librdkafka queue bound, in KiB.
    pub queue_max_kbytes: usize,
    /// The sink's own in-flight bound, in records; past it `send` fails fast.
    pub max_in_flight_records: usize,
    /// The sink's own in-flight bound, in payload bytes.
    pub max_in_flight_bytes: usize,
    /// How long start-up waits for cluster metadata.
    pub metadata_timeout: Duration,
    /// Retry policy for a full local queue.
    pub retry: RetryPolicy,
    /// Extra librdkafka properties, applied last.
    pub extra: Vec<(String, String)>,
}

impl Default for SinkConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".to_owned(),
            acks: Acks::All,
            idempotence: true,
            linger: Duration::from_millis(1),
            batch_size_bytes: 1_000_000,
            compression: Compression::None,
            delivery_timeout: Duration::from_secs(15),
            queue_max_records: 200_000,
            queue_max_kbytes: 512 * 1024,
            max_in_flight_records: 100_000,
            max_in_flight_bytes: 256 * 1024 * 1024,
            metadata_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            extra: Vec::new(),
        }
    }
}

impl SinkConfig {
    /// The librdkafka properties this config stands for.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set(
                "acks",
                match self.acks {
                    Acks::All => "all",
                    Acks::Leader => "1",
                },
            )
            .set("enable.idempotence", self.idempotence.to_string())
            // librdkafka's producer default (true) lets a metadata request for a
            // missing topic create it on brokers that allow it: a typo in a topic
            // name must be an error, never a new topic.
            .set("allow.auto.create.topics", "false")
            .set("linger.ms", self.linger.as_millis().to_string())
            .set("batch.size", self.batch_size_bytes.to_string())
            .set(
                "compression.type",
                match self.compression {
                    Compression::None => "none",
                    Compression::Gzip => "gzip",
                    Compression::Lz4 => "lz4",
                    Compression::Snappy => "snappy",
                },
            )
            .set(
                "message.timeout.ms",
                self.delivery_timeout.as_millis().to_string(),
            )
            .set(
                "queue.buffering.max.messages",
                self.queue_max_records.to_string(),
            )
            .set(
                "queue.buffering.max.kbytes",
                self.queue_max_kbytes.to_string(),
            );
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }
}
