//! The command line (and environment) both gateways share; only defaults differ.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use http_conn::Timeouts;
use kafka_sink::{Acks, Compression, SinkConfig};

use crate::{AckMode, Policy};

/// What differs between the two gateway binaries.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// Binary name shown in `--help`.
    pub name: &'static str,
    /// One line about the binary.
    pub about: &'static str,
    /// Default listen address.
    pub listen: &'static str,
    /// Default topic.
    pub topic: &'static str,
}

impl Defaults {
    /// Applies these defaults (name, about, listen address, topic) to a command that
    /// contains [`GatewayArgs`], e.g. a binary's own clap struct with `GatewayArgs`
    /// flattened into it: `LoopArgs::from_arg_matches(&defaults.apply(LoopArgs::command())
    /// .try_get_matches_from(args)?)`.
    pub fn apply(&self, command: clap::Command) -> clap::Command {
        let (listen, topic) = (self.listen, self.topic);
        command
            .name(self.name)
            .about(self.about)
            .mut_arg("listen", |arg| arg.default_value(listen).required(false))
            .mut_arg("topic", |arg| arg.default_value(topic).required(false))
    }
}

/// Where accepted records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SinkKind {
    /// Kafka through librdkafka.
    Kafka,
    /// Nowhere: acknowledged at once. Measures the HTTP stack alone.
    Null,
}

/// Producer acknowledgement level on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AcksArg {
    /// acks=all.
    All,
    /// acks=1.
    Leader,
}

/// Compression on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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

/// Gateway configuration: every flag has an environment variable and a help line.
#[derive(Debug, Clone, clap::Parser)]
pub struct GatewayArgs {
    /// Address to listen on.
    #[arg(long, env = "GATEWAY_LISTEN")]
    pub listen: SocketAddr,
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
    #[arg(long, env = "GATEWAY_TOPIC_PARTITIONS", default_value_t = 3)]
    pub topic_partitions: i32,
    /// Start librdkafka's in-process MOCK cluster and produce to it (demos, benchmarks;
    /// not a real Kafka: records vanish at exit). Overrides --brokers.
    #[arg(long, env = "GATEWAY_EMBEDDED_BROKER")]
    pub embedded_broker: bool,
    /// Where records go: kafka, or null to measure the HTTP stack alone.
    #[arg(long, env = "GATEWAY_SINK", value_enum, default_value_t = SinkKind::Kafka)]
    pub sink: SinkKind,
    /// When to answer: delivered (200 after Kafka's ack) or queued (202, may lose records on a crash).
    #[arg(long, env = "GATEWAY_ACK_MODE", value_enum, default_value_t = AckMode::Delivered)]
    pub ack_mode: AckMode,
    /// Largest accepted request body in bytes (413 beyond).
    #[arg(long, env = "GATEWAY_MAX_BODY_BYTES", default_value_t = http_parse::Limits::default().max_body_bytes())]
    pub max_body_bytes: usize,
    /// Largest request line plus headers in bytes (431 beyond).
    #[arg(long, env = "GATEWAY_MAX_HEADER_BYTES", default_value_t = http_parse::Limits::default().max_head_bytes())]
    pub max_header_bytes: usize,
    /// Most request headers (431 beyond; at most 128).
    #[arg(long, env = "GATEWAY_MAX_HEADERS", default_value_t = http_parse::Limits::default().max_headers())]
    pub max_headers: usize,
    /// Time from the first byte of a request head until the head is complete, in ms;
    /// past it the connection is closed without a response (slowloris guard).
    #[arg(long, env = "GATEWAY_HEADER_TIMEOUT_MS", default_value_t = millis(Timeouts::default().header))]
    pub header_timeout_ms: u64,
    /// Time from the complete request head until the body is complete, in ms; past it
    /// the client gets 408 Request Timeout and the connection closes.
    #[arg(long, env = "GATEWAY_BODY_TIMEOUT_MS", default_value_t = millis(Timeouts::default().body))]
    pub body_timeout_ms: u64,
    /// Time a connection may wait for the first byte of a request, in ms: from accept,
    /// and on keep-alive from the end of a response; past it the connection is closed
    /// silently. No client timeout runs while the gateway itself is working on a request.
    #[arg(long, env = "GATEWAY_IDLE_TIMEOUT_MS", default_value_t = millis(Timeouts::default().idle))]
    pub idle_timeout_ms: u64,
    /// On SIGINT/SIGTERM, time in-flight requests get to finish, in ms; the producer
    /// flush gets the same again.
    #[arg(long, env = "GATEWAY_GRACE_PERIOD_MS", default_value_t = 10_000)]
    pub grace_period_ms: u64,
    /// Most simultaneous client connections; more are refused.
    #[arg(long, env = "GATEWAY_MAX_CONNECTIONS", default_value_t = 16_384)]
    pub max_connections: usize,
    /// Worker threads (default: available cores).
    #[arg(long, env = "GATEWAY_WORKERS")]
    pub workers: Option<usize>,
    /// Submission-queue entries of each worker's io_uring (io_uring servers only).
    /// The kernel refuses more than 32768; start-up then fails and says so.
    #[arg(long, env = "GATEWAY_RING_ENTRIES", default_value_t = 4096)]
    pub ring_entries: u32,
    /// Producer acks.
    #[arg(long, env = "GATEWAY_ACKS", value_enum, default_value_t = AcksArg::All)]
    pub acks: AcksArg,
    /// Producer idempotence (no duplicates from retries).
    #[arg(long, env = "GATEWAY_IDEMPOTENCE", default_value_t = SinkConfig::default().idempotence, action = clap::ArgAction::Set)]
    pub idempotence: bool,
    /// Producer linger in ms (batching delay; 1-5 recommended, never 0 against tansu).
    #[arg(long, env = "GATEWAY_LINGER_MS", default_value_t = SinkConfig::default().linger.as_millis() as u64)]
    pub linger_ms: u64,
    /// Producer batch size in bytes.
    #[arg(long, env = "GATEWAY_BATCH_SIZE_BYTES", default_value_t = SinkConfig::default().batch_size_bytes)]
    pub batch_size_bytes: usize,
    /// Producer compression.
    #[arg(long, env = "GATEWAY_COMPRESSION", value_enum, default_value_t = CompressionArg::None)]
    pub compression: CompressionArg,
    /// Delivery timeout in ms: past it a request gets 504.
    #[arg(long, env = "GATEWAY_DELIVERY_TIMEOUT_MS", default_value_t = SinkConfig::default().delivery_timeout.as_millis() as u64)]
    pub delivery_timeout_ms: u64,
    /// Most records in flight; past it requests get 503 with Retry-After.
    #[arg(long, env = "GATEWAY_MAX_IN_FLIGHT_RECORDS", default_value_t = SinkConfig::default().max_in_flight_records)]
    pub max_in_flight_records: usize,
    /// Most payload bytes in flight; past it requests get 503 with Retry-After.
    #[arg(long, env = "GATEWAY_MAX_IN_FLIGHT_BYTES", default_value_t = SinkConfig::default().max_in_flight_bytes)]
    pub max_in_flight_bytes: usize,
    /// Topic the Kafka REST Proxy API (`/topics/...`, `/v3/...`) may produce to: a name
    /// or a glob with `*` and `?` (repeatable; comma-separated in the env var). Default:
    /// the --topic. A topic outside the list is answered like a missing one (404).
    #[arg(
        long = "allow-topic",
        env = "GATEWAY_ALLOW_TOPIC",
        value_delimiter = ','
    )]
    pub allow_topics: Vec<String>,
    /// Most records in one REST Proxy request (v2 records, v3 streamed records, batch
    /// entries); more get 422. 1000 keeps one request's answer under ~200 KiB and its
    /// records well under the default in-flight bound, while 1000 records of 1 KiB
    /// already fill the default 1 MiB body limit.
    #[arg(long, env = "GATEWAY_MAX_BATCH_ENTRIES", default_value_t = crate::DEFAULT_MAX_BATCH_ENTRIES)]
    pub max_batch_entries: usize,
    /// How often the list of the cluster's topics (which decides 404 before producing)
    /// is refreshed, in ms; a topic created meanwhile is refused until the next refresh.
    #[arg(long, env = "GATEWAY_TOPIC_REFRESH_MS", default_value_t = 10_000)]
    pub topic_refresh_ms: u64,
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

/// Whole milliseconds of a default duration, for a `_ms` flag.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got `{text}`"))
}

impl GatewayArgs {
    /// Parses the process arguments with this binary's defaults; exits on `--help` or
    /// bad flags, as clap does.
    pub fn parse_with(defaults: Defaults) -> Self {
        Self::parse_from_with(std::env::args_os(), defaults).unwrap_or_else(|error| error.exit())
    }

    /// Parses `args` (first item: program name) with this binary's defaults.
    pub fn parse_from_with<I, T>(args: I, defaults: Defaults) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let command = defaults.apply(Self::command());
        Self::from_arg_matches(&command.try_get_matches_from(args)?)
    }

    /// The producer configuration these flags stand for.
    pub fn sink_config(&self) -> SinkConfig {
        let mut config = SinkConfig::new(self.brokers.clone());
        config.acks = match self.acks {
            AcksArg::All => Acks::All,
            AcksArg::Leader => Acks::Leader,
        };
        config.idempotence = self.idempotence;
        config.linger = Duration::from_millis(self.linger_ms);
        config.batch_size_bytes = self.batch_size_bytes;
        config.compression = match self.compression {
            CompressionArg::None => Compression::None,
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::Snappy => Compression::Snappy,
        };
        config.delivery_timeout = Duration::from_millis(self.delivery_timeout_ms);
        config.max_in_flight_records = self.max_in_flight_records;
        config.max_in_flight_bytes = self.max_in_flight_bytes;
        config.extra = self.producer_properties.clone();
        config.allow_unsafe_producer_properties = self.allow_unsafe_producer_property;
        config
    }

    /// The HTTP framing limits these flags stand for.
    pub fn limits(&self) -> http_parse::Limits {
        http_parse::Limits::default()
            .with_max_headers(self.max_headers)
            .with_max_head_bytes(self.max_header_bytes)
            .with_max_body_bytes(self.max_body_bytes)
    }

    /// The per-connection settings of a raw-TCP server ([`http_conn::ServerConnection`]):
    /// framing limits and the header, body and idle timeouts these flags stand for.
    pub fn connection_config(&self) -> http_conn::Config {
        http_conn::Config::new(
            self.limits(),
            Timeouts::new(
                self.header_timeout(),
                self.body_timeout(),
                self.idle_timeout(),
            ),
        )
    }

    /// The policy these flags stand for.
    pub fn policy(&self) -> Policy {
        Policy {
            topic: self.topic.clone(),
            max_body_bytes: self.max_body_bytes,
            ack_mode: self.ack_mode,
        }
    }

    /// The REST Proxy settings these flags stand for, with the cluster's id.
    pub fn rest_proxy_settings(&self, cluster_id: String) -> crate::RestProxySettings {
        let allow_topics = if self.allow_topics.is_empty() {
            vec![self.topic.clone()]
        } else {
            self.allow_topics.clone()
        };
        crate::RestProxySettings {
            allow_topics,
            cluster_id,
            max_batch_entries: self.max_batch_entries,
        }
    }

    /// How often the topic cache is refreshed.
    pub fn topic_refresh(&self) -> Duration {
        Duration::from_millis(self.topic_refresh_ms)
    }

    /// Header timeout: from the first byte of a request head until the head is complete.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    /// Body timeout: from the complete head until the body is complete (then 408).
    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }

    /// Idle timeout: from accept, or the end of a response, until the first byte of the
    /// next request.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    /// Shutdown grace period.
    pub fn grace_period(&self) -> Duration {
        Duration::from_millis(self.grace_period_ms)
    }

    /// Worker threads to run.
    pub fn worker_count(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: Defaults = Defaults {
        name: "gw",
        about: "test",
        listen: "0.0.0.0:8081",
        topic: "t_uring",
    };

    #[test]
    fn binary_defaults_apply_and_flags_override() {
        let args = GatewayArgs::parse_from_with(["gw"], DEFAULTS).unwrap();
        assert_eq!(args.listen, "0.0.0.0:8081".parse().unwrap());
        assert_eq!(args.topic, "t_uring");
        assert_eq!(args.brokers, "127.0.0.1:9092");
        assert!(args.idempotence);
        let args = GatewayArgs::parse_from_with(
            [
                "gw",
                "--topic",
                "x",
                "--idempotence",
                "false",
                "--producer-property",
                "a=b",
                "--sink",
                "null",
            ],
            DEFAULTS,
        )
        .unwrap();
        assert_eq!(args.topic, "x");
        assert!(!args.sink_config().idempotence);
        assert_eq!(
            args.sink_config().extra,
            vec![("a".to_owned(), "b".to_owned())]
        );
        assert_eq!(args.sink, SinkKind::Null);
        assert_eq!(
            args.rest_proxy_settings("c".into()).allow_topics,
            vec!["x".to_owned()]
        );
        let args = GatewayArgs::parse_from_with(
            [
                "gw",
                "--allow-topic",
                "a",
                "--allow-topic",
                "logs.*",
                "--max-batch-entries",
                "5",
            ],
            DEFAULTS,
        )
        .unwrap();
        let settings = args.rest_proxy_settings("c".into());
        assert_eq!(
            settings.allow_topics,
            vec!["a".to_owned(), "logs.*".to_owned()]
        );
        assert_eq!(settings.max_batch_entries, 5);
    }

    #[test]
    fn unsafe_producer_properties_need_their_flag() {
        let guarded = ["gw", "--producer-property", "acks=1"];
        let args = GatewayArgs::parse_from_with(guarded, DEFAULTS).unwrap();
        assert!(!args.sink_config().allow_unsafe_producer_properties);
        let args = GatewayArgs::parse_from_with(
            guarded
                .into_iter()
                .chain(["--allow-unsafe-producer-property"]),
            DEFAULTS,
        )
        .unwrap();
        assert!(args.sink_config().allow_unsafe_producer_properties);
    }

    #[test]
    fn flag_defaults_are_the_library_defaults() {
        let args = GatewayArgs::parse_from_with(["gw"], DEFAULTS).unwrap();
        assert_eq!(args.limits(), http_parse::Limits::default());
        assert_eq!(args.connection_config(), http_conn::Config::default());
        let (flags, library) = (args.sink_config(), SinkConfig::default());
        assert_eq!(
            (
                flags.brokers,
                flags.acks,
                flags.idempotence,
                flags.linger,
                flags.batch_size_bytes
            ),
            (
                library.brokers,
                library.acks,
                library.idempotence,
                library.linger,
                library.batch_size_bytes
            )
        );
        assert_eq!(
            (
                flags.compression,
                flags.delivery_timeout,
                flags.max_in_flight_records,
                flags.max_in_flight_bytes
            ),
            (
                library.compression,
                library.delivery_timeout,
                library.max_in_flight_records,
                library.max_in_flight_bytes
            )
        );
    }

    #[test]
    fn help_lists_every_flag_with_its_default() {
        let help = GatewayArgs::command()
            .mut_arg("listen", |arg| arg.default_value("0.0.0.0:8081"))
            .mut_arg("topic", |arg| arg.default_value("t"))
            .render_long_help()
            .to_string();
        for flag in [
            "--listen",
            "--brokers",
            "--topic",
            "--embedded-broker",
            "--ack-mode",
            "--max-body-bytes",
            "--header-timeout-ms",
            "--body-timeout-ms",
            "--idle-timeout-ms",
            "--max-connections",
            "--workers",
            "--linger-ms",
            "--allow-topic",
            "--max-batch-entries",
            "--topic-refresh-ms",
        ] {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
        assert!(help.contains("0.0.0.0:8081"));
    }
}
