//! Start-up every binary shares: build the sink, check the topic, keep the topic list
//! fresh, say where we produce.

use std::sync::Arc;

use kafka_sink::{EmbeddedBroker, KafkaSink, NullSink, SinkError};

use ingest::{Gateway, GatewaySink};

use crate::args::{GatewayArgs, SinkKind};

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
    let kafka = &args.kafka;
    let (sink, embedded, cluster_id) = match kafka.sink {
        SinkKind::Null => {
            tracing::warn!(
                "NULL SINK: records are acknowledged and discarded, nothing reaches Kafka"
            );
            (
                GatewaySink::Null(NullSink::default()),
                None,
                ingest::NULL_CLUSTER_ID.to_owned(),
            )
        }
        SinkKind::Kafka => {
            let mut config = kafka.sink_config();
            let embedded = if kafka.embedded_broker {
                let broker = EmbeddedBroker::start().map_err(sink_error)?;
                broker
                    .create_topic(&kafka.topic, kafka.topic_partitions)
                    .map_err(sink_error)?;
                config.brokers = broker.brokers().to_owned();
                Some(broker)
            } else {
                None
            };
            let sink = KafkaSink::new(config).map_err(sink_error)?;
            if kafka.create_topic && embedded.is_none() {
                sink.create_topic(&kafka.topic, kafka.topic_partitions)
                    .map_err(sink_error)?;
            }
            let partitions = sink.check_topic(&kafka.topic).map_err(sink_error)?;
            tracing::debug!(partitions, "topic found");
            // Every broker reports one; a cluster that does not gets a stable stand-in.
            let cluster_id = sink.cluster_id().unwrap_or_else(|| "unknown".to_owned());
            (GatewaySink::Kafka(sink), embedded, cluster_id)
        }
    };
    let gateway =
        Gateway::new(args.policy(), sink).with_rest_proxy(args.rest_proxy_settings(cluster_id));
    gateway.refresh_topics().map_err(sink_error)?;
    let gateway = Arc::new(gateway);
    spawn_topic_refresh(&gateway, args.rest_proxy.topic_refresh());
    Ok(Started { gateway, embedded })
}

/// Refreshes the topic cache every `period` on a thread of its own (the metadata call
/// blocks), so no request ever waits for it. The thread ends with the gateway.
fn spawn_topic_refresh(gateway: &Arc<Gateway>, period: std::time::Duration) {
    if !matches!(gateway.sink(), GatewaySink::Kafka(_)) {
        return;
    }
    let gateway = Arc::downgrade(gateway);
    let spawned = std::thread::Builder::new()
        .name("topic-refresh".into())
        .spawn(move || loop {
            std::thread::sleep(period);
            let Some(gateway) = gateway.upgrade() else {
                return;
            };
            if gateway.is_shutting_down() {
                return;
            }
            if let Err(error) = gateway.refresh_topics() {
                tracing::warn!(%error, "topic list not refreshed; keeping the last one");
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "no topic refresh thread; the topic list stays as at start-up");
    }
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
        .map_or(args.kafka.brokers.as_str(), EmbeddedBroker::brokers);
    let broker_kind = match (args.kafka.sink, started.embedded.is_some()) {
        (SinkKind::Null, _) => "null sink (no Kafka)",
        (SinkKind::Kafka, true) => "embedded MOCK broker",
        (SinkKind::Kafka, false) => "Kafka",
    };
    tracing::info!(
        server,
        listen = %bound,
        topic = %args.kafka.topic,
        brokers,
        broker_kind,
        ack_mode = ?args.kafka.ack_mode,
        workers = args.runtime.worker_count(),
        "listening on {}, producing to topic {} at {} ({})",
        bound,
        args.kafka.topic,
        brokers,
        broker_kind
    );
}
