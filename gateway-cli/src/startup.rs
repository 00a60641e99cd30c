//! Start-up every binary shares: build the sink, check the topic, keep the topic list
//! fresh, say where we produce.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ingest::{Gateway, GatewaySink};
use kafka_sink::{EmbeddedBroker, KafkaSink, NullSink, Sink, SinkError};

use crate::args::{GatewayArgs, KafkaSecurityError, SinkKind};
use crate::tls::{TlsError, TlsSetup};

/// A started gateway and, with `--embedded-broker`, the mock cluster it produces to
/// (kept alive as long as this value).
#[derive(Debug)]
pub struct Started {
    /// The gateway, shared by every worker.
    pub gateway: Arc<Gateway>,
    /// The embedded mock broker, if any.
    pub embedded: Option<EmbeddedBroker>,
    /// The brokers actually produced to (the embedded broker's, with one), for the
    /// start-up line.
    brokers: String,
    /// What those brokers are, for the start-up line.
    broker_kind: &'static str,
    /// HTTPS, if the flags ask for it.
    pub tls: Option<TlsSetup>,
}

impl Started {
    /// The one start-up line: where the gateway listens (`bound`, the address the kernel
    /// gave when `--listen` asked for port 0) and where it produces. Tests and the bench
    /// learn the port from it ("listening on ADDRESS, ...").
    pub fn log_listening(&self, server: &str, bound: SocketAddr, workers: NonZeroUsize) {
        let policy = self.gateway.policy();
        let (topic, brokers, broker_kind) = (&policy.topic, &self.brokers, self.broker_kind);
        tracing::info!(
            server,
            listen = %bound,
            topic = %topic,
            brokers = %brokers,
            broker_kind,
            ack_mode = ?policy.ack_mode,
            workers = workers.get(),
            "listening on {bound}, producing to topic {topic} at {brokers} ({broker_kind})",
        );
    }
}

impl runtime_common::StartedGateway for Started {
    fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    fn log_listening(&self, server: &str, bound: SocketAddr, workers: NonZeroUsize) {
        Started::log_listening(self, server, bound, workers);
    }

    fn tls_config(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.tls.as_ref().map(TlsSetup::server_config)
    }

    fn reload(&self) {
        if let Some(tls) = &self.tls {
            match tls.reload() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                Err(error) => {
                    tracing::error!(%error, "SIGHUP: TLS certificate not reloaded; keeping the one in use")
                }
            }
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// HTTPS could not be set up (a certificate, key or CA file).
    #[error("cannot set up HTTPS: {0}")]
    Tls(#[from] TlsError),
    /// The sink could not be built or the topic check failed.
    #[error("{error}{hint}")]
    Sink {
        /// The underlying error.
        error: SinkError,
        /// What the operator can do about it.
        hint: &'static str,
    },
    /// The secured-Kafka flags do not make a configuration (a secret file that cannot
    /// be read, SASL settings given in part, ...).
    #[error(transparent)]
    KafkaSecurity(#[from] KafkaSecurityError),
}

fn sink_error(error: SinkError) -> StartError {
    let hint = match error {
        SinkError::UnknownTopic { .. } => {
            " (create it first, e.g. `tansu topic create --broker tcp://HOST:PORT --partitions 3 TOPIC`, \
             or pass --create-topic)"
        }
        SinkError::BrokerUnreachable { .. } => {
            " (is the broker running? see --brokers; a broker that wants TLS or SASL: see \
             --kafka-security-protocol)"
        }
        SinkError::Authentication { .. } => {
            " (check --kafka-sasl-mechanism, --kafka-sasl-username and the password)"
        }
        SinkError::Tls { .. } => {
            " (check --kafka-ca-file against the brokers' certificates, and --kafka-cert-file \
             and --kafka-key-file if the brokers want a client certificate)"
        }
        _ => "",
    };
    StartError::Sink { error, hint }
}

/// Builds the sink the flags ask for, checks that the topic exists (or creates it),
/// and returns the gateway. Blocking (the sink's start-up calls block): call before
/// starting the runtime.
pub fn start(args: &GatewayArgs) -> Result<Started, StartError> {
    // Files first: a bad certificate fails start-up before any broker is asked.
    let tls = TlsSetup::from_args(&args.tls)?;
    let kafka = &args.kafka;
    let (sink, embedded, cluster_id, broker_kind) = match kafka.sink {
        SinkKind::Null => {
            tracing::warn!(
                "NULL SINK: records are acknowledged and discarded, nothing reaches Kafka"
            );
            (
                GatewaySink::Null(NullSink::default()),
                None,
                ingest::NULL_CLUSTER_ID.to_owned(),
                "null sink (no Kafka)",
            )
        }
        SinkKind::Kafka => {
            // The one place the secrets are read: from their files, or from the
            // environment, never from the command line.
            let mut config = kafka.sink_config_with_secrets(&|name| std::env::var(name).ok())?;
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
            let broker_kind = if embedded.is_some() {
                "embedded MOCK broker"
            } else {
                "Kafka"
            };
            (GatewaySink::Kafka(sink), embedded, cluster_id, broker_kind)
        }
    };
    let gateway =
        Gateway::new(args.policy(), sink).with_rest_proxy(args.rest_proxy_settings(cluster_id));
    gateway.refresh_topics().map_err(sink_error)?;
    let gateway = Arc::new(gateway);
    spawn_topic_refresh(&gateway, args.rest_proxy.topic_refresh());
    let brokers = embedded
        .as_ref()
        .map_or(kafka.brokers.as_str(), EmbeddedBroker::brokers)
        .to_owned();
    Ok(Started {
        gateway,
        embedded,
        brokers,
        broker_kind,
        tls,
    })
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::Defaults;

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

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_listening_line_names_the_bound_address_first_then_where_records_go() {
        let args = crate::args::parse_without_env(
            Defaults {
                name: "gw",
                about: "test",
                listen: "127.0.0.1:0",
                topic: "events",
            },
            &["--sink", "null", "--brokers", "kafka-1:9092"],
        )
        .unwrap();
        let started = start(&args).unwrap();
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            started.log_listening("test", ([127, 0, 0, 1], 4242).into(), NonZeroUsize::MIN);
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        // e2e's GatewayProcess reads the port from "listening on ADDRESS,".
        assert!(
            log.contains(
                "listening on 127.0.0.1:4242, producing to topic events at kafka-1:9092 \
                 (null sink (no Kafka))"
            ),
            "{log}"
        );
    }
}
