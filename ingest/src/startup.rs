//! Start-up both binaries share: build the sink, check the topic, say where we produce.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_sink::{EmbeddedBroker, KafkaSink, NullSink, Sink, SinkError};

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
    let (sink, embedded, cluster_id) = match args.sink {
        SinkKind::Null => {
            tracing::warn!(
                "NULL SINK: records are acknowledged and discarded, nothing reaches Kafka"
            );
            (
                GatewaySink::Null(NullSink::default()),
                None,
                crate::NULL_CLUSTER_ID.to_owned(),
            )
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
            // Every broker reports one; a cluster that does not gets a stable stand-in.
            let cluster_id = sink.cluster_id().unwrap_or_else(|| "unknown".to_owned());
            (GatewaySink::Kafka(sink), embedded, cluster_id)
        }
    };
    let gateway =
        Gateway::new(args.policy(), sink).with_rest_proxy(args.rest_proxy_settings(cluster_id));
    gateway.refresh_topics().map_err(sink_error)?;
    let gateway = Arc::new(gateway);
    spawn_topic_refresh(&gateway, args.topic_refresh());
    Ok(Started { gateway, embedded })
}

/// How often the topic refresh looks again while the brokers are unreachable: readiness
/// follows the cluster's own answer within about this long after it answers again,
/// with no traffic needed.
const UNREACHABLE_RETRY: Duration = Duration::from_secs(1);

/// Whether the topic refresh is due, `since_last` after the last one: every `period`,
/// and at every tick of [`UNREACHABLE_RETRY`] while the brokers are unreachable.
fn refresh_due(since_last: Duration, period: Duration, brokers_reachable: bool) -> bool {
    !brokers_reachable || since_last >= period
}

/// Refreshes the topic cache every `period` on a thread of its own (the metadata call
/// blocks), so no request ever waits for it. The same metadata request decides whether
/// the brokers are reachable (and so readiness): while they are not, by a failed
/// refresh or by librdkafka's report that every broker is down, it asks again every
/// [`UNREACHABLE_RETRY`]. The thread ends with the gateway.
fn spawn_topic_refresh(gateway: &Arc<Gateway>, period: Duration) {
    if !matches!(gateway.sink(), GatewaySink::Kafka(_)) {
        return;
    }
    let gateway = Arc::downgrade(gateway);
    let tick = period.min(UNREACHABLE_RETRY);
    let spawned = std::thread::Builder::new()
        .name("topic-refresh".into())
        .spawn(move || {
            let mut last = Instant::now();
            loop {
                std::thread::sleep(tick);
                let Some(gateway) = gateway.upgrade() else {
                    return;
                };
                if gateway.is_shutting_down() {
                    return;
                }
                if !refresh_due(last.elapsed(), period, gateway.sink().brokers_reachable()) {
                    continue;
                }
                last = Instant::now();
                // One warning per outage, not one per retry.
                let was_reachable = gateway.sink().brokers_reachable();
                match gateway.refresh_topics() {
                    Err(error) if was_reachable => {
                        tracing::warn!(%error, "topic list not refreshed; keeping the last one")
                    }
                    Err(error) => tracing::debug!(%error, "brokers still unreachable"),
                    Ok(()) if !was_reachable => tracing::info!("brokers reachable again"),
                    Ok(()) => {}
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_runs_every_period_and_every_tick_while_unreachable() {
        let period = Duration::from_secs(10);
        assert!(!refresh_due(UNREACHABLE_RETRY, period, true));
        assert!(refresh_due(period, period, true));
        assert!(
            refresh_due(UNREACHABLE_RETRY, period, false),
            "unreachable: asks again at the next tick"
        );
    }
}
