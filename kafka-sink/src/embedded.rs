//! The embedded broker: librdkafka's in-process `MockCluster`. A MOCK, not Kafka.
//!
//! It speaks the Kafka protocol well enough for the producer, so the main benchmark
//! and tests run on a machine with no broker. It is not a real broker: records live in
//! memory, vanish at exit, and its performance says nothing about Kafka's.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use crate::SinkError;

/// A running mock cluster; dropped, it stops.
pub struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
    brokers: String,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("brokers", &self.brokers)
            .finish()
    }
}

impl EmbeddedBroker {
    /// Starts a one-broker mock cluster and logs loudly that it is a mock.
    pub fn start() -> Result<Self, SinkError> {
        let cluster = MockCluster::new(1).map_err(|error| SinkError::Config {
            reason: format!("cannot start the mock cluster: {error}"),
        })?;
        let brokers = cluster.bootstrap_servers();
        tracing::warn!(
            %brokers,
            "EMBEDDED MOCK BROKER (librdkafka MockCluster): not a real Kafka; records stay in \
             memory and vanish at exit"
        );
        Ok(Self { cluster, brokers })
    }

    /// Bootstrap servers to give a producer or consumer.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Takes the (only) broker down, as an outage would; for tests.
    pub fn broker_down(&self) -> Result<(), SinkError> {
        self.cluster
            .broker_down(1)
            .map_err(|error| SinkError::Rejected {
                reason: format!("mock broker_down: {error}"),
            })
    }

    /// Brings the broker back after [`EmbeddedBroker::broker_down`].
    pub fn broker_up(&self) -> Result<(), SinkError> {
        self.cluster
            .broker_up(1)
            .map_err(|error| SinkError::Rejected {
                reason: format!("mock broker_up: {error}"),
            })
    }

    /// From now on, metadata responses report `error` for `topic`.
    #[cfg(test)]
    pub(crate) fn topic_error(&self, topic: &str, error: rdkafka::types::RDKafkaRespErr) {
        self.cluster
            .topic_error(topic, error)
            .expect("mock topic error");
    }

    /// Creates `topic` with `partitions` partitions (the mock has no admin API).
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), SinkError> {
        self.cluster
            .create_topic(topic, partitions, 1)
            .map_err(|error| SinkError::Rejected {
                reason: format!("mock cluster cannot create `{topic}`: {error}"),
            })
    }
}
