//! What the cluster's metadata says: which topics exist, with how many partitions.

use std::time::Duration;

use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::{Metadata, MetadataTopic};
use rdkafka::ClientContext;

use crate::SinkError;

/// The cluster's topics as one metadata request listed them
/// ([`KafkaSink::topic_partitions`](crate::KafkaSink::topic_partitions)).
///
/// A topic the cluster does not have, or reports as gone or forbidden (unknown topic,
/// invalid topic, authorization failed), is in neither list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicListing {
    /// Topics to produce to, with their partition counts.
    pub available: Vec<(String, usize)>,
    /// Topics the cluster has whose metadata showed a transient error (leader not
    /// available, a leader election, no partitions listed yet, ...): they are likely
    /// back at the next request, so a cache keeps what it knew about them.
    pub transient: Vec<String>,
}

impl TopicListing {
    pub(crate) fn of(metadata: &Metadata) -> Self {
        let mut listing = Self::default();
        for topic in metadata.topics() {
            match state(topic) {
                TopicState::Available(partitions) => listing
                    .available
                    .push((topic.name().to_owned(), partitions)),
                TopicState::Transient => listing.transient.push(topic.name().to_owned()),
                TopicState::Gone => {}
            }
        }
        listing
    }
}

enum TopicState {
    Available(usize),
    Transient,
    Gone,
}

/// What a listed topic's metadata says. Only errors that say the topic is not there
/// for this client count as gone; a topic listed with any other error exists on the
/// cluster, which is what a topic cache records.
fn state(topic: &MetadataTopic) -> TopicState {
    match topic.error().map(RDKafkaErrorCode::from) {
        None if topic.partitions().is_empty() => TopicState::Transient,
        None => TopicState::Available(topic.partitions().len()),
        Some(
            RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::TopicAuthorizationFailed,
        ) => TopicState::Gone,
        Some(_) => TopicState::Transient,
    }
}

/// Metadata for every topic, never for one alone: a request naming a topic may create
/// it on a broker with `auto.create.topics.enable` (Apache Kafka's default, and
/// librdkafka's mock cluster), so a check would create what it should verify.
pub(crate) fn fetch_metadata<C: ClientContext>(
    client: &rdkafka::client::Client<C>,
    brokers: &str,
    timeout: Duration,
) -> Result<Metadata, SinkError> {
    client
        .fetch_metadata(None, timeout)
        .map_err(|error| SinkError::BrokerUnreachable {
            brokers: brokers.to_owned(),
            reason: error.to_string(),
        })
}

/// `topic`'s partition count in `metadata`, or [`SinkError::UnknownTopic`].
pub(crate) fn find_topic(
    metadata: &Metadata,
    brokers: &str,
    topic: &str,
) -> Result<usize, SinkError> {
    let unknown = || SinkError::UnknownTopic {
        topic: topic.to_owned(),
        brokers: brokers.to_owned(),
    };
    let found = metadata
        .topics()
        .iter()
        .find(|candidate| candidate.name() == topic)
        .ok_or_else(unknown)?;
    if found.error().is_some() || found.partitions().is_empty() {
        return Err(unknown());
    }
    Ok(found.partitions().len())
}
