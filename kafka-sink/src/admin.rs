//! Topic creation through the Kafka admin API (real brokers; the mock has none).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::SinkError;

/// Creates `topic` with `partitions` partitions (replication 1) unless it exists.
/// The returned future is driven by librdkafka's thread: any executor can await it.
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) -> Result<(), SinkError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|error| SinkError::Config {
            reason: error.to_string(),
        })?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = admin
        .create_topics([&new_topic], &options)
        .await
        .map_err(|error| SinkError::BrokerUnreachable {
            brokers: brokers.to_owned(),
            reason: error.to_string(),
        })?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(SinkError::Rejected {
                    reason: format!("cannot create topic `{name}`: {code}"),
                })
            }
        }
    }
    Ok(())
}
