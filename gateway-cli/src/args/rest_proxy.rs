//! The Kafka REST Proxy flags: which topics it reaches, how many records a request may
//! carry, and how fresh the list of existing topics is.

use std::time::Duration;

use ingest::RestProxySettings;

use super::millis;

/// The REST Proxy API's settings. The batch bound's default is ingest's
/// ([`ingest::DEFAULT_MAX_BATCH_ENTRIES`]); the refresh period's is
/// [`RestProxyArgs::DEFAULT_TOPIC_REFRESH`].
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "REST Proxy")]
pub struct RestProxyArgs {
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
    #[arg(long, env = "GATEWAY_MAX_BATCH_ENTRIES", default_value_t = ingest::DEFAULT_MAX_BATCH_ENTRIES)]
    pub max_batch_entries: usize,
    /// How often the list of the cluster's topics (which decides 404 before producing)
    /// is refreshed, in ms; a topic created meanwhile is refused until the next refresh.
    #[arg(long, env = "GATEWAY_TOPIC_REFRESH_MS", default_value_t = millis(Self::DEFAULT_TOPIC_REFRESH))]
    pub topic_refresh_ms: u64,
}

impl RestProxyArgs {
    /// How often the topic list is refreshed unless `--topic-refresh-ms` says otherwise.
    pub const DEFAULT_TOPIC_REFRESH: Duration = Duration::from_secs(10);

    /// The REST Proxy settings these flags stand for, given the gateway's `topic` (the
    /// allowlist when none is given) and the cluster's id.
    pub fn settings(&self, topic: &str, cluster_id: String) -> RestProxySettings {
        let allow_topics = if self.allow_topics.is_empty() {
            vec![topic.to_owned()]
        } else {
            self.allow_topics.clone()
        };
        RestProxySettings {
            allow_topics,
            cluster_id,
            max_batch_entries: self.max_batch_entries,
        }
    }

    /// How often the topic cache is refreshed.
    pub fn topic_refresh(&self) -> Duration {
        Duration::from_millis(self.topic_refresh_ms)
    }
}
