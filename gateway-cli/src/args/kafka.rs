//! The Kafka flags: where records go, when the client is answered, and the producer.

use std::time::Duration;

use clap::ValueEnum;
use ingest::AckMode;
use kafka_sink::{Acks, Compression, SinkConfig};

use super::millis;

/// Where records go, when the client hears back, and the producer's settings. The
/// producer's defaults are kafka-sink's own ([`SinkConfig::default`]) and the answer's
/// is ingest's ([`AckMode::default`]); the rest are [`KafkaArgs`]'s constants.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Kafka")]
pub struct KafkaArgs {
    /// Kafka bootstrap servers.
    #[arg(long, env = "GATEWAY_BROKERS", default_value_t = SinkConfig::default().brokers)]
    pub brokers: String,
    /// Topic to produce to; it must exist unless --create-topic is given.
    #[arg(long, env = "GATEWAY_TOPIC")]
    pub topic: String,
    /// Create the topic at start-up if it is missing (admin API).
    #[arg(long, env = "GATEWAY_CREATE_TOPIC")]
    pub create_topic: bool,
    /// Partitions of a topic created by --create-topic or --embedded-broker.
    #[arg(long, env = "GATEWAY_TOPIC_PARTITIONS", default_value_t = Self::DEFAULT_TOPIC_PARTITIONS)]
    pub topic_partitions: i32,
    /// Start librdkafka's in-process MOCK cluster and produce to it (demos, benchmarks;
    /// not a real Kafka: records vanish at exit). Overrides --brokers.
    #[arg(long, env = "GATEWAY_EMBEDDED_BROKER")]
    pub embedded_broker: bool,
    /// Where records go: kafka, or null to measure the HTTP stack alone.
    #[arg(long, env = "GATEWAY_SINK", value_enum, default_value_t = SinkKind::default())]
    pub sink: SinkKind,
    /// When to answer: delivered (200 after Kafka's ack) or queued (202, may lose records on a crash).
    #[arg(long, env = "GATEWAY_ACK_MODE", value_enum, default_value_t = AckModeArg::from(AckMode::default()))]
    pub ack_mode: AckModeArg,
    /// Producer acks.
    #[arg(long, env = "GATEWAY_ACKS", value_enum, default_value_t = twin_of(SinkConfig::default().acks))]
    pub acks: AcksArg,
    /// Producer idempotence (no duplicates from retries).
    #[arg(long, env = "GATEWAY_IDEMPOTENCE", default_value_t = SinkConfig::default().idempotence, action = clap::ArgAction::Set)]
    pub idempotence: bool,
    /// Producer linger in ms (batching delay; 1-5 recommended, never 0 against tansu).
    #[arg(long, env = "GATEWAY_LINGER_MS", default_value_t = millis(SinkConfig::default().linger))]
    pub linger_ms: u64,
    /// Producer batch size in bytes.
    #[arg(long, env = "GATEWAY_BATCH_SIZE_BYTES", default_value_t = SinkConfig::default().batch_size_bytes)]
    pub batch_size_bytes: usize,
    /// Producer compression.
    #[arg(long, env = "GATEWAY_COMPRESSION", value_enum, default_value_t = twin_of(SinkConfig::default().compression))]
    pub compression: CompressionArg,
    /// Delivery timeout in ms: past it a request gets 504.
    #[arg(long, env = "GATEWAY_DELIVERY_TIMEOUT_MS", default_value_t = millis(SinkConfig::default().delivery_timeout))]
    pub delivery_timeout_ms: u64,
    /// Most records in flight; past it requests get 503 with Retry-After.
    #[arg(long, env = "GATEWAY_MAX_IN_FLIGHT_RECORDS", default_value_t = SinkConfig::default().max_in_flight_records)]
    pub max_in_flight_records: usize,
    /// Most records one connection's requests may have in flight; past it the connection
    /// reads no further request until one is answered (its fair share of
    /// --max-in-flight-records).
    #[arg(long, env = "GATEWAY_MAX_IN_FLIGHT_RECORDS_PER_CONNECTION", default_value_t = ingest::DEFAULT_MAX_RECORDS_PER_CONNECTION)]
    pub max_in_flight_records_per_connection: usize,
    /// Most bytes (payload, key and headers) in flight; past it requests get 503 with
    /// Retry-After.
    #[arg(long, env = "GATEWAY_MAX_IN_FLIGHT_BYTES", default_value_t = SinkConfig::default().max_in_flight_bytes)]
    pub max_in_flight_bytes: usize,
    /// Extra librdkafka producer property, KEY=VALUE (repeatable). Properties behind the
    /// gateway's guarantees (acks, enable.idempotence, message.timeout.ms, ...) are
    /// refused unless --allow-unsafe-producer-property is given.
    #[arg(long = "producer-property", value_parser = parse_key_value)]
    pub producer_properties: Vec<(String, String)>,
    /// Let --producer-property override acks, enable.idempotence, message.timeout.ms and
    /// the other properties behind the gateway's guarantees; each is logged as a warning.
    #[arg(long, env = "GATEWAY_ALLOW_UNSAFE_PRODUCER_PROPERTY")]
    pub allow_unsafe_producer_property: bool,
}

impl KafkaArgs {
    /// Partitions of a topic the gateway creates (`--create-topic`, `--embedded-broker`).
    pub const DEFAULT_TOPIC_PARTITIONS: i32 = 3;

    /// The producer configuration these flags stand for.
    pub fn sink_config(&self) -> SinkConfig {
        let mut config = SinkConfig::new(self.brokers.clone());
        config.acks = self.acks.into();
        config.idempotence = self.idempotence;
        config.linger = Duration::from_millis(self.linger_ms);
        config.batch_size_bytes = self.batch_size_bytes;
        config.compression = self.compression.into();
        config.delivery_timeout = Duration::from_millis(self.delivery_timeout_ms);
        config.max_in_flight_records = self.max_in_flight_records;
        config.max_in_flight_bytes = self.max_in_flight_bytes;
        config.extra = self.producer_properties.clone();
        config.allow_unsafe_producer_properties = self.allow_unsafe_producer_property;
        config
    }
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got `{text}`"))
}

/// The flag value that stands for `library`, a library default: the flag then has no
/// default of its own to drift. The library's enums are `#[non_exhaustive]`, so the way
/// back is a search over the flag's values rather than a `match`.
///
/// # Panics
///
/// If no flag value stands for the library's default: a library gained a variant, made
/// it the default, and the command line was not taught it. Every test that builds the
/// command (any parse) finds that out.
fn twin_of<A, L>(library: L) -> A
where
    A: ValueEnum + Copy + Into<L>,
    L: PartialEq + std::fmt::Debug,
{
    A::value_variants()
        .iter()
        .copied()
        .find(|value| (*value).into() == library)
        .unwrap_or_else(|| panic!("no flag value stands for the library default {library:?}"))
}

/// Where accepted records go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SinkKind {
    /// Kafka through librdkafka.
    #[default]
    Kafka,
    /// Nowhere: acknowledged at once. Measures the HTTP stack alone.
    Null,
}

/// When to answer, on the command line: [`AckMode`] itself stays free of clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AckModeArg {
    /// `200` once Kafka acknowledged the record.
    Delivered,
    /// `202` once the record is queued in the producer.
    Queued,
}

impl From<AckModeArg> for AckMode {
    fn from(arg: AckModeArg) -> Self {
        match arg {
            AckModeArg::Delivered => Self::Delivered,
            AckModeArg::Queued => Self::Queued,
        }
    }
}

impl From<AckMode> for AckModeArg {
    fn from(mode: AckMode) -> Self {
        match mode {
            AckMode::Delivered => Self::Delivered,
            AckMode::Queued => Self::Queued,
        }
    }
}

/// Producer acknowledgement level on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AcksArg {
    /// acks=all.
    All,
    /// acks=1.
    Leader,
}

impl From<AcksArg> for Acks {
    fn from(arg: AcksArg) -> Self {
        match arg {
            AcksArg::All => Self::All,
            AcksArg::Leader => Self::Leader,
        }
    }
}

/// Compression on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    /// none.
    None,
    /// gzip.
    Gzip,
    /// lz4.
    Lz4,
    /// snappy.
    Snappy,
}

impl From<CompressionArg> for Compression {
    fn from(arg: CompressionArg) -> Self {
        match arg {
            CompressionArg::None => Self::None,
            CompressionArg::Gzip => Self::Gzip,
            CompressionArg::Lz4 => Self::Lz4,
            CompressionArg::Snappy => Self::Snappy,
        }
    }
}
