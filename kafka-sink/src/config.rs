//! Typed producer configuration with safe defaults.

use std::time::Duration;

use rdkafka::ClientConfig;

use crate::security::extra_property_refusal;
use crate::{RetryPolicy, Security, SinkError};

/// Which replicas must acknowledge a record before it counts as delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Acks {
    /// All in-sync replicas (`acks=all`): the only setting that keeps a "delivered"
    /// promise across a broker failure. Required by idempotence.
    All,
    /// The partition leader only (`acks=1`). Needs `idempotence = false`.
    Leader,
}

/// Record batch compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// LZ4.
    Lz4,
    /// Snappy.
    Snappy,
}

/// Everything [`KafkaSink::new`](crate::KafkaSink::new) needs to build its one shared
/// producer.
///
/// Start from [`SinkConfig::new`] (or [`Default`], which points at `127.0.0.1:9092`) and
/// set the fields you need; the struct is `#[non_exhaustive]`, so new settings can be
/// added without breaking callers. The fields are checked when the producer is built:
/// a bad combination is a [`SinkError::Config`] there, never a panic.
///
/// ```
/// use std::time::Duration;
/// use kafka_sink::SinkConfig;
///
/// let mut config = SinkConfig::new("kafka-1:9092,kafka-2:9092");
/// config.linger = Duration::from_millis(5);
/// config.max_in_flight_records = 10_000;
/// config.extra.push(("client.id".into(), "my-service".into()));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SinkConfig {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Acknowledgement level.
    pub acks: Acks,
    /// `enable.idempotence`: no duplicates from librdkafka's internal retries. Needs
    /// [`Acks::All`].
    pub idempotence: bool,
    /// How long librdkafka waits to fill a batch (`linger.ms`, whole milliseconds). Keep
    /// it small: a caller that awaits its own delivery waits at least this long.
    pub linger: Duration,
    /// Largest batch in bytes.
    pub batch_size_bytes: usize,
    /// Batch compression.
    pub compression: Compression,
    /// Delivery timeout (`message.timeout.ms`, whole milliseconds): after it a record
    /// is reported failed with [`SinkError::TimedOut`]. At least 1 ms: librdkafka reads
    /// 0 as "never time out", so 0 is a [`SinkError::Config`].
    pub delivery_timeout: Duration,
    /// librdkafka's local queue bound, in records; past it an enqueue meets a full
    /// queue (see [`RetryPolicy`]). The producer is built with at least
    /// [`max_in_flight_records`](Self::max_in_flight_records) here, so the in-flight
    /// bound ([`SinkError::Overloaded`]) refuses a record before the local queue can be
    /// full: a caller that never waits ([`Sink::try_enqueue`](crate::Sink::try_enqueue))
    /// meets [`SinkError::QueueFull`] only in the moment between a delivery freeing its
    /// in-flight slot and librdkafka freeing its queue slot.
    pub queue_max_records: usize,
    /// librdkafka's local queue bound, in KiB; raised to at least
    /// [`max_in_flight_bytes`](Self::max_in_flight_bytes) when the producer is built,
    /// for the same reason. (librdkafka counts payload bytes here, the in-flight bound
    /// counts payload, key and headers, so the in-flight bound is still reached first.)
    pub queue_max_kbytes: usize,
    /// The sink's own in-flight bound, in records: past it an enqueue fails at once with
    /// [`SinkError::Overloaded`]. At least 1.
    pub max_in_flight_records: usize,
    /// The sink's own in-flight bound, in bytes as
    /// [`Record::size_bytes`](crate::Record::size_bytes) counts them: payload, key and
    /// headers. At least 1.
    pub max_in_flight_bytes: usize,
    /// How long [`KafkaSink::check_topic`](crate::KafkaSink::check_topic) waits for
    /// cluster metadata.
    pub metadata_timeout: Duration,
    /// How [`Sink::enqueue`](crate::Sink::enqueue) retries a full local queue.
    pub retry: RetryPolicy,
    /// How the producer and the admin client reach the brokers: TLS, SASL, both or
    /// neither (plaintext by default). Checked when the producer is built: a protocol
    /// without what it needs, a setting the protocol would ignore, or a file that cannot
    /// be read is a [`SinkError::Config`] naming it; a TLS or authentication failure
    /// against the brokers is [`SinkError::Tls`] or [`SinkError::Authentication`] from
    /// the first metadata request ([`KafkaSink::check_topic`](crate::KafkaSink::check_topic)).
    pub security: Security,
    /// Extra librdkafka properties (names as in librdkafka's `CONFIGURATION.md`, e.g.
    /// `client.id`), applied last, so they override the fields above. Plain
    /// strings rather than an rdkafka type: the crate's API stays its own, and any
    /// property librdkafka knows can still be set. An unknown name or bad value is a
    /// [`SinkError::Config`] when the producer is built, and so is a property the sink
    /// guards (see [`allow_unsafe_producer_properties`](Self::allow_unsafe_producer_properties))
    /// unless that override is set. Never allowed here, see
    /// [`check_extra_property`](Self::check_extra_property): the properties
    /// [`security`](Self::security) sets, and librdkafka's other secrets.
    pub extra: Vec<(String, String)>,
    /// Lets [`extra`](Self::extra) set the properties the sink guards; each one set is
    /// logged as a warning naming it (never its value: some properties are secrets).
    /// Off by default, so that a property cannot silently weaken what the sink
    /// promises. The guarded properties, with aliases:
    ///
    /// | property | what it would override |
    /// |---|---|
    /// | `acks`, `request.required.acks` | a delivery means every in-sync replica has the record ([`acks`](Self::acks)) |
    /// | `enable.idempotence` | librdkafka's own retries write no duplicates ([`idempotence`](Self::idempotence)) |
    /// | `message.timeout.ms`, `delivery.timeout.ms` | every record's fate is known within [`delivery_timeout`](Self::delivery_timeout) (0 would be never) |
    /// | `allow.auto.create.topics` | a misspelt topic is an error, never a new topic |
    /// | `queue.buffering.max.messages`, `queue.buffering.max.kbytes` | the in-flight bound refuses a record before librdkafka's queue is full ([`queue_max_records`](Self::queue_max_records)) |
    /// | `queue.buffering.max.ms`, `linger.ms` | how long every record waits before it is sent ([`linger`](Self::linger)), kept below the delivery timeout |
    /// | `delivery.report.only.error` | every record's delivery is reported (without it, a delivered record is never answered and holds its in-flight slot for good) |
    ///
    /// Everything else (`client.id`, `batch.size`, `compression.type`,
    /// `message.max.bytes`, ...) may be set without it, but for what
    /// [`check_extra_property`](Self::check_extra_property) refuses whatever this says:
    /// the security properties (set with [`security`](Self::security)) and secrets.
    pub allow_unsafe_producer_properties: bool,
}

/// librdkafka's default `message.max.bytes`.
const LIBRDKAFKA_MESSAGE_MAX_BYTES: usize = 1_000_000;

/// The properties [`SinkConfig::extra`] may set only with
/// [`SinkConfig::allow_unsafe_producer_properties`], with what each would override
/// (the table on that field says the same for readers).
const GUARDED_PROPERTIES: &[(&str, &str)] = &[
    (
        "acks",
        "a delivery means every in-sync replica has the record",
    ),
    (
        "request.required.acks",
        "a delivery means every in-sync replica has the record",
    ),
    (
        "enable.idempotence",
        "librdkafka's own retries write no duplicates",
    ),
    (
        "message.timeout.ms",
        "every record's fate is known within the delivery timeout",
    ),
    (
        "delivery.timeout.ms",
        "every record's fate is known within the delivery timeout",
    ),
    (
        "allow.auto.create.topics",
        "a misspelt topic is an error, never a new topic",
    ),
    (
        "queue.buffering.max.messages",
        "the in-flight bound refuses a record before librdkafka's queue is full",
    ),
    (
        "queue.buffering.max.kbytes",
        "the in-flight bound refuses a record before librdkafka's queue is full",
    ),
    (
        "queue.buffering.max.ms",
        "the linger every record waits, kept below the delivery timeout",
    ),
    (
        "linger.ms",
        "the linger every record waits, kept below the delivery timeout",
    ),
    (
        "delivery.report.only.error",
        "every record's delivery is reported",
    ),
];

impl Default for SinkConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".to_owned(),
            acks: Acks::All,
            idempotence: true,
            linger: Duration::from_millis(1),
            batch_size_bytes: 1_000_000,
            compression: Compression::None,
            delivery_timeout: Duration::from_secs(15),
            queue_max_records: 200_000,
            queue_max_kbytes: 512 * 1024,
            max_in_flight_records: 100_000,
            max_in_flight_bytes: 256 * 1024 * 1024,
            metadata_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            security: Security::default(),
            extra: Vec::new(),
            allow_unsafe_producer_properties: false,
        }
    }
}

impl SinkConfig {
    /// The defaults, producing to `brokers` (`host:port[,host:port...]`).
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            ..Self::default()
        }
    }

    /// What librdkafka cannot check for us.
    pub(crate) fn validate(&self) -> Result<(), SinkError> {
        let invalid = |reason: &str| {
            Err(SinkError::Config {
                reason: reason.to_owned(),
            })
        };
        if self.brokers.trim().is_empty() {
            return invalid("no brokers given");
        }
        if self.max_in_flight_records == 0 || self.max_in_flight_bytes == 0 {
            return invalid("the in-flight bounds must admit at least one record and one byte");
        }
        for (name, _) in &self.extra {
            Self::check_extra_property(name)?;
        }
        self.security.validate()?;
        if !self.allow_unsafe_producer_properties {
            if let Some((name, guarantee)) = self.guarded_overrides().next() {
                // The name only: a value may be a secret.
                return Err(SinkError::Config {
                    reason: format!(
                        "producer property `{name}` would override what the sink guarantees \
                         ({guarantee}); allow unsafe producer properties to set it anyway"
                    ),
                });
            }
        }
        // librdkafka reads `message.timeout.ms=0` as "wait forever": a record that can
        // never be delivered would hold its in-flight slot, and its client, for good.
        if self.delivery_timeout.as_millis() == 0 {
            return invalid(
                "the delivery timeout must be at least 1 ms (librdkafka reads 0 as no timeout at all)",
            );
        }
        Ok(())
    }

    /// Whether [`extra`](Self::extra) may set the librdkafka property `name` at all.
    /// It may not set what [`security`](Self::security) sets (each setting has one
    /// home), nor librdkafka's other secret-bearing properties (`ssl.keystore.password`,
    /// `sasl.oauthbearer.client.secret`, `ssl.key.pem`, ...): `extra` is plain strings,
    /// printed by `Debug` like any setting, and a secret belongs in a [`Secret`](crate::Secret).
    /// Guarded properties are a separate check (they need
    /// [`allow_unsafe_producer_properties`](Self::allow_unsafe_producer_properties)).
    ///
    /// For callers that take properties from users (a command line) and want to refuse
    /// one before anything starts; [`KafkaSink::new`](crate::KafkaSink::new) checks
    /// every property of `extra` this way.
    ///
    /// # Errors
    ///
    /// [`SinkError::Config`] naming the property (never a value) and why.
    ///
    /// ```
    /// use kafka_sink::SinkConfig;
    ///
    /// assert!(SinkConfig::check_extra_property("client.id").is_ok());
    /// assert!(SinkConfig::check_extra_property("sasl.password").is_err());
    /// ```
    pub fn check_extra_property(name: &str) -> Result<(), SinkError> {
        match extra_property_refusal(name) {
            Some(reason) => Err(SinkError::Config { reason }),
            None => Ok(()),
        }
    }

    /// The largest record the producer takes: librdkafka's `message.max.bytes`, as set in
    /// [`extra`](Self::extra) (the last setting wins, as in librdkafka) or its default,
    /// 1,000,000.
    ///
    /// What it bounds, exactly: librdkafka refuses a record at enqueue, before it is
    /// queued or sent, with [`SinkError::TooLarge`], when its
    /// [`Record::wire_size_bytes`](crate::Record::wire_size_bytes) (payload, key, header
    /// names and values with their varint lengths, and 36 bytes of framing) is larger.
    /// So a record fits when `record.wire_size_bytes() <= config.max_record_bytes()`.
    /// The topic's own `max.message.bytes` on the broker (1,048,588 by default) may be
    /// smaller still; a record over that fails at delivery, also as `TooLarge`.
    pub fn max_record_bytes(&self) -> usize {
        self.extra
            .iter()
            .rev()
            .find(|(name, _)| name == "message.max.bytes")
            // An unparsable value never builds a producer (librdkafka refuses it), so
            // the default stands for it.
            .and_then(|(_, value)| value.trim().parse().ok())
            .unwrap_or(LIBRDKAFKA_MESSAGE_MAX_BYTES)
    }

    /// The guarded properties [`SinkConfig::extra`] sets, each with what it would
    /// override, in the order given.
    pub(crate) fn guarded_overrides(&self) -> impl Iterator<Item = (&str, &'static str)> {
        self.extra.iter().filter_map(|(name, _)| {
            GUARDED_PROPERTIES
                .iter()
                .find(|(guarded, _)| guarded == name)
                .map(|&(_, guarantee)| (name.as_str(), guarantee))
        })
    }

    /// The properties an admin client needs: where the cluster is and how to reach it.
    pub(crate) fn admin_client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        self.security.apply(&mut config);
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }

    /// librdkafka's local queue bounds (records, KiB) as the producer gets them: at
    /// least the in-flight bounds, so that the in-flight bound is always reached first,
    /// and at most what librdkafka accepts (`i32::MAX`).
    pub(crate) fn queue_bounds(&self) -> (usize, usize) {
        let limit = i32::MAX as usize;
        let records = self.queue_max_records.max(self.max_in_flight_records);
        let kbytes = self
            .queue_max_kbytes
            .max(self.max_in_flight_bytes.div_ceil(1024));
        (records.min(limit), kbytes.min(limit))
    }

    /// The librdkafka producer properties this config stands for.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let (queue_max_records, queue_max_kbytes) = self.queue_bounds();
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set(
                "acks",
                match self.acks {
                    Acks::All => "all",
                    Acks::Leader => "1",
                },
            )
            .set("enable.idempotence", self.idempotence.to_string())
            // librdkafka's producer default (true) lets a metadata request for a
            // missing topic create it on brokers that allow it: a typo in a topic
            // name must be an error, never a new topic.
            .set("allow.auto.create.topics", "false")
            // librdkafka backs off reconnects up to 10 s by default, so after a long
            // outage a broker that is back would go unnoticed for up to 10 s; at most
            // 1 s between attempts lets reachability (and readiness) follow within
            // about a second, for one connection attempt per second while it is down.
            .set("reconnect.backoff.max.ms", "1000")
            .set("linger.ms", self.linger.as_millis().to_string())
            .set("batch.size", self.batch_size_bytes.to_string())
            .set(
                "compression.type",
                match self.compression {
                    Compression::None => "none",
                    Compression::Gzip => "gzip",
                    Compression::Lz4 => "lz4",
                    Compression::Snappy => "snappy",
                },
            )
            .set(
                "message.timeout.ms",
                self.delivery_timeout.as_millis().to_string(),
            )
            .set(
                "queue.buffering.max.messages",
                queue_max_records.to_string(),
            )
            .set("queue.buffering.max.kbytes", queue_max_kbytes.to_string());
        self.security.apply(&mut config);
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(config: &SinkConfig, name: &str) -> usize {
        config.client_config().get(name).unwrap().parse().unwrap()
    }

    #[test]
    fn guarded_properties_need_the_override_and_are_named_without_their_value() {
        for (name, _) in GUARDED_PROPERTIES {
            let mut config = SinkConfig {
                extra: vec![
                    ("client.id".into(), "fine".into()),
                    ((*name).into(), "secret-value".into()),
                ],
                ..SinkConfig::default()
            };
            let Err(SinkError::Config { reason }) = config.validate() else {
                panic!("`{name}` accepted without the override");
            };
            assert!(reason.contains(&format!("`{name}`")), "{reason}");
            assert!(!reason.contains("secret-value"), "{reason}");

            config.allow_unsafe_producer_properties = true;
            assert_eq!(config.validate(), Ok(()), "{name} with the override");
            let overridden: Vec<_> = config.guarded_overrides().map(|(name, _)| name).collect();
            assert_eq!(overridden, [*name], "what the warning names");
        }
        let unguarded = SinkConfig {
            extra: vec![
                ("client.id".into(), "x".into()),
                ("compression.type".into(), "lz4".into()),
                ("message.max.bytes".into(), "2000000".into()),
            ],
            ..SinkConfig::default()
        };
        assert_eq!(unguarded.validate(), Ok(()));
    }

    #[test]
    fn security_properties_and_secrets_are_refused_in_extra_naming_only_the_property() {
        for name in [
            "security.protocol",
            "sasl.password",
            "ssl.keystore.password",
        ] {
            let config = SinkConfig {
                extra: vec![(name.into(), "secret-value".into())],
                // Not even the override lets them through: it is for guarded properties.
                allow_unsafe_producer_properties: true,
                ..SinkConfig::default()
            };
            let Err(SinkError::Config { reason }) = config.validate() else {
                panic!("`{name}` accepted in extra");
            };
            assert!(reason.contains(&format!("`{name}`")), "{reason}");
            assert!(!reason.contains("secret-value"), "{reason}");
            assert!(SinkConfig::check_extra_property(name).is_err());
        }
    }

    #[test]
    fn the_producer_and_the_admin_client_both_get_the_security_settings() {
        let mut config = SinkConfig::new("kafka:9093");
        config.security.protocol = crate::SecurityProtocol::SaslSsl;
        config.security.sasl = Some(crate::SaslCredentials::new(
            crate::SaslMechanism::ScramSha256,
            "gateway",
            crate::Secret::new("pa55word"),
        ));
        assert_eq!(config.validate(), Ok(()));
        for client in [config.client_config(), config.admin_client_config()] {
            assert_eq!(client.get("security.protocol"), Some("sasl_ssl"));
            assert_eq!(client.get("sasl.mechanism"), Some("SCRAM-SHA-256"));
            assert_eq!(client.get("sasl.username"), Some("gateway"));
            assert_eq!(client.get("sasl.password"), Some("pa55word"));
        }
        let shown = format!("{config:?}");
        assert!(!shown.contains("pa55word"), "{shown}");
    }

    #[test]
    fn the_largest_record_is_message_max_bytes() {
        assert_eq!(SinkConfig::default().max_record_bytes(), 1_000_000);
        let set = SinkConfig {
            extra: vec![
                ("message.max.bytes".into(), "5000".into()),
                ("message.max.bytes".into(), "20000".into()),
            ],
            ..SinkConfig::default()
        };
        assert_eq!(set.max_record_bytes(), 20_000, "the last setting wins");
    }

    #[test]
    fn the_local_queue_is_never_smaller_than_the_in_flight_bound() {
        // The defaults already leave room: 200k records / 512 MiB over 100k / 256 MiB.
        let defaults = SinkConfig::default();
        assert_eq!(property(&defaults, "queue.buffering.max.messages"), 200_000);
        assert_eq!(
            property(&defaults, "queue.buffering.max.kbytes"),
            512 * 1024
        );

        // A larger in-flight bound raises the queue bounds with it.
        let raised = SinkConfig {
            max_in_flight_records: 1_000_000,
            max_in_flight_bytes: 2 * 1024 * 1024 * 1024 + 1,
            ..SinkConfig::default()
        };
        assert_eq!(property(&raised, "queue.buffering.max.messages"), 1_000_000);
        assert_eq!(
            property(&raised, "queue.buffering.max.kbytes"),
            2 * 1024 * 1024 + 1,
            "rounded up to whole KiB"
        );

        // Never past what librdkafka accepts.
        let unbounded = SinkConfig {
            max_in_flight_records: usize::MAX,
            max_in_flight_bytes: usize::MAX,
            ..SinkConfig::default()
        };
        assert_eq!(
            unbounded.queue_bounds(),
            (i32::MAX as usize, i32::MAX as usize)
        );
    }
}
