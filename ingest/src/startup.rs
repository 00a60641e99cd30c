//! Start-up both binaries share: build the sink, check the topic, say where we produce.

use std::sync::Arc;

use kafka_sink::{EmbeddedBroker, KafkaSink, NullSink, SinkError};

use crate::config::{GatewayArgs, SinkKind};
use crate::{Gateway, GatewaySink};

/// A started gateway and, with `--embedded-broker`, the mock cluster it produces to
/// (kept alive as long as this value).
#[derive(Debug)]
pub struct Started {
    /// The gateway, shared by every worker.
    pub gateway: Arc<Gateway>,
    /// The embedded mock broker, if any.
    pub embedded: Option<EmbeddedBroker>,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The sink could not be built or the topic check failed.
    #[error("{error}{hint}")]
    Sink {
        /// The underlying error.
        error: SinkError,
        /// What the operator can do about it.
        hint: &'static str,
    },
}

fn sink_error(error: SinkError) -> StartError {
    let hint = match error {
        SinkError::UnknownTopic { .. } => {
            " (create it first, e.g. `tansu topic create --broker tcp://HOST:PORT --partitions 3 TOPIC`, \
             or pass --create-topic)"
        }
        SinkError::BrokerUnreachable { .. } => " (is the broker running? see --brokers)",
        _ => "",
    };
    StartError::Sink { error, hint }
}

/// Builds the sink the flags ask for, checks that the topic exists (or creates it),
/// and returns the gateway. Blocking (the sink's start-up calls block): call before
/// starting the runtime.
pub fn start(args: &GatewayArgs) -> Result<Started, StartError> {
    let (sink, embedded) = match args.sink {
        SinkKind::Null => {
            tracing::warn!(
                "NULL SINK: records are acknowledged and discarded, nothing reaches Kafka"
            );
            (GatewaySink::Null(NullSink::default()), None)
        }
        SinkKind::Kafka => {
            let mut config = args.sink_config();
            let embedded = if args.embedded_broker {
                let broker = EmbeddedBroker::start().map_err(sink_error)?;
                broker
                    .create_topic(&args.topic, args.topic_partitions)
                    .map_err(sink_error)?;
                config.brokers = broker.brokers().to_owned();
                Some(broker)
            } else {
                None
            };
            let sink = KafkaSink::new(config).map_err(sink_error)?;
            if args.create_topic && embedded.is_none() {
                sink.create_topic(&args.topic, args.topic_partitions)
                    .map_err(sink_error)?;
            }
            let partitions = sink.check_topic(&args.topic).map_err(sink_error)?;
            tracing::debug!(partitions, "topic found");
            (GatewaySink::Kafka(sink), embedded)
        }
    };
    Ok(Started {
        gateway: Arc::new(Gateway::new(args.policy(), sink)),
        embedded,
    })
}

/// The one start-up line: where the gateway listens (`bound`, the address the kernel
/// gave when `--listen` asked for port 0) and where it produces.
pub fn log_listening(
    server: &str,
    bound: std::net::SocketAddr,
    args: &GatewayArgs,
    started: &Started,
) {
    let brokers = started
        .embedded
        .as_ref()
        .map_or(args.brokers.as_str(), EmbeddedBroker::brokers);
    let broker_kind = match (args.sink, started.embedded.is_some()) {
        (SinkKind::Null, _) => "null sink (no Kafka)",
        (SinkKind::Kafka, true) => "embedded MOCK broker",
        (SinkKind::Kafka, false) => "Kafka",
    };
    tracing::info!(
        server,
        listen = %bound,
        topic = %args.topic,
        brokers,
        broker_kind,
        ack_mode = ?args.ack_mode,
        workers = args.worker_count(),
        "listening on {}, producing to topic {} at {} ({})",
        bound,
        args.topic,
        brokers,
        broker_kind
    );
}

/// Structured logs to stderr; `RUST_LOG` filters (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
