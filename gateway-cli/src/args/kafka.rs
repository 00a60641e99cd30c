//! The Kafka flags: where records go, when the client is answered, the producer, and
//! how it reaches a secured cluster.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::error::ErrorKind;
use clap::ValueEnum;
use ingest::AckMode;
use kafka_sink::{
    Acks, Compression, SaslCredentials, SaslMechanism, Secret, SecurityProtocol, SinkConfig,
};

use super::millis;

/// The environment variable that may hold the SASL password instead of
/// `--kafka-sasl-password-file`: a secret is never taken from the command line.
pub(crate) const SASL_PASSWORD_ENV: &str = "GATEWAY_KAFKA_SASL_PASSWORD";

/// The environment variable that may hold the client key's password instead of
/// `--kafka-key-password-file`.
pub(crate) const KEY_PASSWORD_ENV: &str = "GATEWAY_KAFKA_KEY_PASSWORD";

/// Where records go, when the client hears back, and the producer's settings. The
/// producer's defaults are kafka-sink's own ([`SinkConfig::default`]) and the answer's
/// is ingest's ([`AckMode::default`]); the rest are [`KafkaArgs`]'s constants.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Kafka")]
pub struct KafkaArgs {
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
    #[arg(long, env = "GATEWAY_TOPIC_PARTITIONS", default_value_t = Self::DEFAULT_TOPIC_PARTITIONS)]
    pub topic_partitions: i32,
    /// Start librdkafka's in-process MOCK cluster and produce to it (demos, benchmarks;
    /// not a real Kafka: records vanish at exit). Overrides --brokers.
    #[arg(long, env = "GATEWAY_EMBEDDED_BROKER")]
    pub embedded_broker: bool,
    /// Where records go: kafka, or null to measure the HTTP stack alone.
    #[arg(long, env = "GATEWAY_SINK", value_enum, default_value_t = SinkKind::default())]
    pub sink: SinkKind,
    /// When to answer: delivered (200 after Kafka's ack) or queued (202, may lose records on a crash).
    #[arg(long, env = "GATEWAY_ACK_MODE", value_enum, default_value_t = AckModeArg::from(AckMode::default()))]
    pub ack_mode: AckModeArg,
    /// Producer acks.
    #[arg(long, env = "GATEWAY_ACKS", value_enum, default_value_t = twin_of(SinkConfig::default().acks))]
    pub acks: AcksArg,
    /// Producer idempotence (no duplicates from retries).
    #[arg(long, env = "GATEWAY_IDEMPOTENCE", default_value_t = SinkConfig::default().idempotence, action = clap::ArgAction::Set)]
    pub idempotence: bool,
    /// Producer linger in ms (batching delay; 1-5 recommended, never 0 against tansu).
    #[arg(long, env = "GATEWAY_LINGER_MS", default_value_t = millis(SinkConfig::default().linger))]
    pub linger_ms: u64,
    /// Producer batch size in bytes.
    #[arg(long, env = "GATEWAY_BATCH_SIZE_BYTES", default_value_t = SinkConfig::default().batch_size_bytes)]
    pub batch_size_bytes: usize,
    /// Producer compression.
    #[arg(long, env = "GATEWAY_COMPRESSION", value_enum, default_value_t = twin_of(SinkConfig::default().compression))]
    pub compression: CompressionArg,
    /// Delivery timeout in ms: past it a request gets 504.
    #[arg(long, env = "GATEWAY_DELIVERY_TIMEOUT_MS", default_value_t = millis(SinkConfig::default().delivery_timeout))]
    pub delivery_timeout_ms: u64,
    /// Most records in flight; past it requests get 503 with Retry-After.
    #[arg(long, env = "GATEWAY_MAX_IN_FLIGHT_RECORDS", default_value_t = SinkConfig::default().max_in_flight_records)]
    pub max_in_flight_records: usize,
    /// Most records one connection's requests may have in flight; past it the connection
    /// reads no further request until one is answered (its fair share of
    /// --max-in-flight-records).
    #[arg(long, env = "GATEWAY_MAX_IN_FLIGHT_RECORDS_PER_CONNECTION", default_value_t = ingest::DEFAULT_MAX_RECORDS_PER_CONNECTION)]
    pub max_in_flight_records_per_connection: usize,
    /// Most bytes (payload, key and headers) in flight; past it requests get 503 with
    /// Retry-After.
    #[arg(long, env = "GATEWAY_MAX_IN_FLIGHT_BYTES", default_value_t = SinkConfig::default().max_in_flight_bytes)]
    pub max_in_flight_bytes: usize,
    /// Extra librdkafka producer property, KEY=VALUE (repeatable). Properties behind the
    /// gateway's guarantees (acks, enable.idempotence, message.timeout.ms, ...) are
    /// refused unless --allow-unsafe-producer-property is given. Security properties and
    /// secrets (security.protocol, sasl.password, ssl.key.password, ...) are always
    /// refused: the --kafka-* flags below set them, secrets from a file or the
    /// environment.
    #[arg(long = "producer-property", value_parser = ProducerPropertyParser)]
    pub producer_properties: Vec<(String, String)>,
    /// Let --producer-property override acks, enable.idempotence, message.timeout.ms and
    /// the other properties behind the gateway's guarantees; each is logged as a warning.
    #[arg(long, env = "GATEWAY_ALLOW_UNSAFE_PRODUCER_PROPERTY")]
    pub allow_unsafe_producer_property: bool,
    /// How the gateway reaches the brokers: plaintext, ssl (TLS), sasl_plaintext (SASL
    /// without TLS) or sasl_ssl (SASL inside TLS).
    #[arg(long = "kafka-security-protocol", env = "GATEWAY_KAFKA_SECURITY_PROTOCOL", value_enum,
          default_value_t = twin_of(SinkConfig::default().security.protocol))]
    pub security_protocol: SecurityProtocolArg,
    /// SASL mechanism, for sasl_plaintext and sasl_ssl: PLAIN (only inside TLS: it sends
    /// the password), SCRAM-SHA-256 or SCRAM-SHA-512.
    #[arg(
        long = "kafka-sasl-mechanism",
        env = "GATEWAY_KAFKA_SASL_MECHANISM",
        value_enum,
        ignore_case = true
    )]
    pub sasl_mechanism: Option<SaslMechanismArg>,
    /// SASL user name.
    #[arg(long = "kafka-sasl-username", env = "GATEWAY_KAFKA_SASL_USERNAME")]
    pub sasl_username: Option<String>,
    /// File holding the SASL password (a trailing newline is not part of it). Or put the
    /// password itself in GATEWAY_KAFKA_SASL_PASSWORD; it is never taken from the command
    /// line.
    #[arg(
        long = "kafka-sasl-password-file",
        env = "GATEWAY_KAFKA_SASL_PASSWORD_FILE"
    )]
    pub sasl_password_file: Option<PathBuf>,
    /// PEM file of the CA certificates that sign the brokers' certificates, for ssl and
    /// sasl_ssl (by default the system's CA store).
    #[arg(long = "kafka-ca-file", env = "GATEWAY_KAFKA_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) for mutual TLS with the brokers; needs
    /// --kafka-key-file.
    #[arg(long = "kafka-cert-file", env = "GATEWAY_KAFKA_CERT_FILE")]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of --kafka-cert-file.
    #[arg(long = "kafka-key-file", env = "GATEWAY_KAFKA_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// File holding the password of an encrypted --kafka-key-file. Or put the password
    /// itself in GATEWAY_KAFKA_KEY_PASSWORD; it is never taken from the command line.
    #[arg(
        long = "kafka-key-password-file",
        env = "GATEWAY_KAFKA_KEY_PASSWORD_FILE"
    )]
    pub key_password_file: Option<PathBuf>,
}

/// Why the secured-Kafka flags do not make a configuration. No variant carries a
/// secret: a file is named by its path, never by what it holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaSecurityError {
    /// A secret's file could not be read.
    #[error("cannot read the {what} file `{path}` (--{flag}): {reason}")]
    UnreadableSecret {
        /// Which secret.
        what: &'static str,
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why, as the operating system says.
        reason: String,
    },
    /// A secret was given both by its file flag and by its environment variable.
    #[error("the {what} is given twice, by --{flag} and by {env}: give it one way")]
    SecretGivenTwice {
        /// Which secret.
        what: &'static str,
        /// The file flag.
        flag: &'static str,
        /// The environment variable.
        env: &'static str,
    },
    /// Some SASL setting is given, and `missing` is not.
    #[error(
        "SASL needs {missing} (all of --kafka-sasl-mechanism, --kafka-sasl-username, and the \
         password by --kafka-sasl-password-file or {SASL_PASSWORD_ENV})"
    )]
    IncompleteSasl {
        /// What is missing.
        missing: &'static str,
    },
}

/// A secret given by file flag or by environment variable, at most one of them.
struct SecretSource<'a> {
    what: &'static str,
    flag: &'static str,
    file: Option<&'a Path>,
    env: &'static str,
}

impl SecretSource<'_> {
    /// The secret, read from its file or taken from `env`; `None` when neither gives it.
    fn read(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Secret>, KafkaSecurityError> {
        let from_env = env(self.env);
        match (self.file, from_env) {
            (Some(_), Some(_)) => Err(KafkaSecurityError::SecretGivenTwice {
                what: self.what,
                flag: self.flag,
                env: self.env,
            }),
            (None, from_env) => Ok(from_env.map(Secret::new)),
            (Some(path), None) => {
                let text = std::fs::read_to_string(path).map_err(|error| {
                    KafkaSecurityError::UnreadableSecret {
                        what: self.what,
                        flag: self.flag,
                        path: path.to_owned(),
                        reason: error.to_string(),
                    }
                })?;
                // `echo secret > file` ends the file with a newline that is no part of it.
                let secret = text
                    .strip_suffix('\n')
                    .map(|line| line.strip_suffix('\r').unwrap_or(line))
                    .unwrap_or(&text);
                Ok(Some(Secret::new(secret)))
            }
        }
    }
}

impl KafkaArgs {
    /// Partitions of a topic the gateway creates (`--create-topic`, `--embedded-broker`).
    pub const DEFAULT_TOPIC_PARTITIONS: i32 = 3;

    /// The producer configuration these flags stand for, but for the secrets, which only
    /// [`sink_config_with_secrets`](Self::sink_config_with_secrets) reads: what the
    /// policy takes from it (the largest record) needs none, and nothing but start-up
    /// should hold them.
    pub fn sink_config(&self) -> SinkConfig {
        let mut config = SinkConfig::new(self.brokers.clone());
        config.acks = self.acks.into();
        config.idempotence = self.idempotence;
        config.linger = Duration::from_millis(self.linger_ms);
        config.batch_size_bytes = self.batch_size_bytes;
        config.compression = self.compression.into();
        config.delivery_timeout = Duration::from_millis(self.delivery_timeout_ms);
        config.max_in_flight_records = self.max_in_flight_records;
        config.max_in_flight_bytes = self.max_in_flight_bytes;
        config.extra = self.producer_properties.clone();
        config.allow_unsafe_producer_properties = self.allow_unsafe_producer_property;
        config.security.protocol = self.security_protocol.into();
        config.security.tls.ca_file.clone_from(&self.ca_file);
        config.security.tls.cert_file.clone_from(&self.cert_file);
        config.security.tls.key_file.clone_from(&self.key_file);
        config
    }

    /// The producer configuration these flags stand for, with its secrets: the SASL
    /// password and the client key's password, each read from its file flag or taken
    /// from its environment variable (`GATEWAY_KAFKA_SASL_PASSWORD`,
    /// `GATEWAY_KAFKA_KEY_PASSWORD`), looked up with `env` (at start-up, the process
    /// environment). Whether the settings fit together (a SASL protocol with
    /// credentials, TLS files only with TLS, readable files) is kafka-sink's check,
    /// when the producer is built.
    ///
    /// # Errors
    ///
    /// [`KafkaSecurityError`]: a secret file that cannot be read, a secret given both
    /// ways, or SASL settings given in part.
    pub fn sink_config_with_secrets(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SinkConfig, KafkaSecurityError> {
        let mut config = self.sink_config();
        let password = SecretSource {
            what: "SASL password",
            flag: "kafka-sasl-password-file",
            file: self.sasl_password_file.as_deref(),
            env: SASL_PASSWORD_ENV,
        }
        .read(env)?;
        config.security.sasl = match (self.sasl_mechanism, &self.sasl_username, password) {
            (None, None, None) => None,
            (Some(mechanism), Some(username), Some(password)) => {
                Some(SaslCredentials::new(mechanism.into(), username, password))
            }
            (None, _, _) => {
                return Err(KafkaSecurityError::IncompleteSasl {
                    missing: "a mechanism",
                })
            }
            (_, None, _) => {
                return Err(KafkaSecurityError::IncompleteSasl {
                    missing: "a user name",
                })
            }
            (_, _, None) => {
                return Err(KafkaSecurityError::IncompleteSasl {
                    missing: "a password",
                })
            }
        };
        config.security.tls.key_password = SecretSource {
            what: "client key password",
            flag: "kafka-key-password-file",
            file: self.key_password_file.as_deref(),
            env: KEY_PASSWORD_ENV,
        }
        .read(env)?;
        Ok(config)
    }
}

/// Parses `--producer-property KEY=VALUE` and refuses, at once, what kafka-sink never
/// takes as an extra property (security settings and secrets). Its errors never repeat
/// the value, which may be a secret: clap's own message for a refused value would.
#[derive(Debug, Clone, Copy)]
struct ProducerPropertyParser;

impl clap::builder::TypedValueParser for ProducerPropertyParser {
    type Value = (String, String);

    fn parse_ref(
        &self,
        command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let refuse = |message: String| {
            clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).with_cmd(command)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("--producer-property must be UTF-8 KEY=VALUE".to_owned()))?;
        let (key, value) = text.split_once('=').ok_or_else(|| {
            refuse(format!(
                "--producer-property expected KEY=VALUE, got `{text}`"
            ))
        })?;
        SinkConfig::check_extra_property(key).map_err(|error| {
            refuse(format!(
                "--producer-property {key}=... refused: {error}. The Kafka security flags set \
                 these: --kafka-security-protocol, --kafka-sasl-mechanism, \
                 --kafka-sasl-username, --kafka-sasl-password-file (or {SASL_PASSWORD_ENV}), \
                 --kafka-ca-file, --kafka-cert-file, --kafka-key-file, \
                 --kafka-key-password-file (or {KEY_PASSWORD_ENV}); a secret is never taken \
                 from the command line"
            ))
        })?;
        Ok((key.to_owned(), value.to_owned()))
    }
}

/// The flag value that stands for `library`, a library default: the flag then has no
/// default of its own to drift. The library's enums are `#[non_exhaustive]`, so the way
/// back is a search over the flag's values rather than a `match`.
///
/// # Panics
///
/// If no flag value stands for the library's default: a library gained a variant, made
/// it the default, and the command line was not taught it. Every test that builds the
/// command (any parse) finds that out.
fn twin_of<A, L>(library: L) -> A
where
    A: ValueEnum + Copy + Into<L>,
    L: PartialEq + std::fmt::Debug,
{
    A::value_variants()
        .iter()
        .copied()
        .find(|value| (*value).into() == library)
        .unwrap_or_else(|| panic!("no flag value stands for the library default {library:?}"))
}

/// Where accepted records go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SinkKind {
    /// Kafka through librdkafka.
    #[default]
    Kafka,
    /// Nowhere: acknowledged at once. Measures the HTTP stack alone.
    Null,
}

/// When to answer, on the command line: [`AckMode`] itself stays free of clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AckModeArg {
    /// `200` once Kafka acknowledged the record.
    Delivered,
    /// `202` once the record is queued in the producer.
    Queued,
}

impl From<AckModeArg> for AckMode {
    fn from(arg: AckModeArg) -> Self {
        match arg {
            AckModeArg::Delivered => Self::Delivered,
            AckModeArg::Queued => Self::Queued,
        }
    }
}

impl From<AckMode> for AckModeArg {
    fn from(mode: AckMode) -> Self {
        match mode {
            AckMode::Delivered => Self::Delivered,
            AckMode::Queued => Self::Queued,
        }
    }
}

/// Producer acknowledgement level on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AcksArg {
    /// acks=all.
    All,
    /// acks=1.
    Leader,
}

impl From<AcksArg> for Acks {
    fn from(arg: AcksArg) -> Self {
        match arg {
            AcksArg::All => Self::All,
            AcksArg::Leader => Self::Leader,
        }
    }
}

/// Compression on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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

/// The security protocol on the command line, in librdkafka's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityProtocolArg {
    /// Neither TLS nor SASL.
    #[value(name = "plaintext")]
    Plaintext,
    /// TLS.
    #[value(name = "ssl")]
    Ssl,
    /// SASL without TLS.
    #[value(name = "sasl_plaintext")]
    SaslPlaintext,
    /// SASL inside TLS.
    #[value(name = "sasl_ssl")]
    SaslSsl,
}

impl From<SecurityProtocolArg> for SecurityProtocol {
    fn from(arg: SecurityProtocolArg) -> Self {
        match arg {
            SecurityProtocolArg::Plaintext => Self::Plaintext,
            SecurityProtocolArg::Ssl => Self::Ssl,
            SecurityProtocolArg::SaslPlaintext => Self::SaslPlaintext,
            SecurityProtocolArg::SaslSsl => Self::SaslSsl,
        }
    }
}

/// The SASL mechanism on the command line, as Kafka spells it (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaslMechanismArg {
    /// PLAIN.
    #[value(name = "PLAIN")]
    Plain,
    /// SCRAM-SHA-256.
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    /// SCRAM-SHA-512.
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

impl From<SaslMechanismArg> for SaslMechanism {
    fn from(arg: SaslMechanismArg) -> Self {
        match arg {
            SaslMechanismArg::Plain => Self::Plain,
            SaslMechanismArg::ScramSha256 => Self::ScramSha256,
            SaslMechanismArg::ScramSha512 => Self::ScramSha512,
        }
    }
}

impl From<CompressionArg> for Compression {
    fn from(arg: CompressionArg) -> Self {
        match arg {
            CompressionArg::None => Self::None,
            CompressionArg::Gzip => Self::Gzip,
            CompressionArg::Lz4 => Self::Lz4,
            CompressionArg::Snappy => Self::Snappy,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use kafka_sink::{SaslMechanism, Secret, SecurityProtocol};

    use super::*;
    use crate::args::{parse_without_env, GatewayArgs};
    use crate::Defaults;

    const DEFAULTS: Defaults = Defaults {
        name: "gw",
        about: "test",
        listen: "127.0.0.1:0",
        topic: "t",
    };

    fn parse(args: &[&str]) -> Result<GatewayArgs, clap::Error> {
        parse_without_env(DEFAULTS, args)
    }

    /// A fake environment: no test reads or sets the process's own.
    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// A temporary file holding `contents` (removed when the handle is dropped), and
    /// its path.
    fn file_with(contents: &str) -> (tempfile::NamedTempFile, String) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, contents.as_bytes()).unwrap();
        let path = file.path().to_string_lossy().into_owned();
        (file, path)
    }

    #[test]
    fn security_flags_reach_the_sink_config_with_the_password_from_its_file() {
        let (_dir, password_file) = file_with("s3cret-from-file\n");
        let args = parse(&[
            "--kafka-security-protocol",
            "sasl_ssl",
            "--kafka-sasl-mechanism",
            "scram-sha-512",
            "--kafka-sasl-username",
            "gateway",
            "--kafka-sasl-password-file",
            &password_file,
            "--kafka-ca-file",
            "/etc/kafka/ca.pem",
            "--kafka-cert-file",
            "/etc/kafka/client.pem",
            "--kafka-key-file",
            "/etc/kafka/client-key.pem",
        ])
        .unwrap();
        let config = args.kafka.sink_config_with_secrets(&no_env).unwrap();
        let security = &config.security;
        assert_eq!(security.protocol, SecurityProtocol::SaslSsl);
        let sasl = security.sasl.as_ref().unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::ScramSha512);
        assert_eq!(sasl.username, "gateway");
        assert_eq!(
            sasl.password,
            Secret::new("s3cret-from-file"),
            "the trailing newline is not part of it"
        );
        let tls = &security.tls;
        assert_eq!(tls.ca_file.as_deref(), Some(Path::new("/etc/kafka/ca.pem")));
        assert_eq!(
            tls.cert_file.as_deref(),
            Some(Path::new("/etc/kafka/client.pem"))
        );
        assert_eq!(
            tls.key_file.as_deref(),
            Some(Path::new("/etc/kafka/client-key.pem"))
        );
        assert_eq!(tls.key_password, None);
        // What may be logged shows no secret.
        let shown = format!("{args:?} {config:?}");
        assert!(!shown.contains("s3cret-from-file"), "{shown}");
        // Without the secrets, the same settings.
        let without = args.kafka.sink_config();
        assert_eq!(without.security.protocol, SecurityProtocol::SaslSsl);
        assert_eq!(without.security.sasl, None);
    }

    #[test]
    fn the_passwords_may_come_from_the_environment_but_not_both_ways() {
        let args = parse(&[
            "--kafka-security-protocol",
            "sasl_plaintext",
            "--kafka-sasl-mechanism",
            "PLAIN",
            "--kafka-sasl-username",
            "gateway",
        ])
        .unwrap();
        let config = args
            .kafka
            .sink_config_with_secrets(&env(&[
                (SASL_PASSWORD_ENV, "from-env"),
                (KEY_PASSWORD_ENV, "key-from-env"),
            ]))
            .unwrap();
        let sasl = config.security.sasl.unwrap();
        assert_eq!(sasl.mechanism, SaslMechanism::Plain);
        assert_eq!(sasl.password, Secret::new("from-env"));
        assert_eq!(
            config.security.tls.key_password,
            Some(Secret::new("key-from-env"))
        );

        let (_dir, password_file) = file_with("from-file");
        let both = parse(&["--kafka-sasl-password-file", &password_file]).unwrap();
        let error = both
            .kafka
            .sink_config_with_secrets(&env(&[(SASL_PASSWORD_ENV, "from-env")]))
            .unwrap_err();
        assert!(
            matches!(error, KafkaSecurityError::SecretGivenTwice { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("--kafka-sasl-password-file") && message.contains(SASL_PASSWORD_ENV),
            "{message}"
        );
        assert!(!message.contains("from-env") && !message.contains("from-file"));
    }

    #[test]
    fn sasl_given_in_part_and_unreadable_secret_files_are_refused_without_their_contents() {
        for (flags, missing) in [
            (&["--kafka-sasl-username", "gateway"][..], "a mechanism"),
            (
                &["--kafka-sasl-mechanism", "SCRAM-SHA-256"][..],
                "a user name",
            ),
            (
                &[
                    "--kafka-sasl-mechanism",
                    "SCRAM-SHA-256",
                    "--kafka-sasl-username",
                    "gateway",
                ][..],
                "a password",
            ),
        ] {
            let args = parse(flags).unwrap();
            assert_eq!(
                args.kafka.sink_config_with_secrets(&no_env).unwrap_err(),
                KafkaSecurityError::IncompleteSasl { missing },
                "{flags:?}"
            );
        }
        let message = KafkaSecurityError::IncompleteSasl {
            missing: "a password",
        }
        .to_string();
        assert!(
            message.contains("SASL needs a password (all of --kafka-sasl-mechanism")
                && message.contains("and the password by --kafka-sasl-password-file or"),
            "{message}"
        );
        // A password alone, from the environment, is SASL given in part too.
        let args = parse(&[]).unwrap();
        let error = args
            .kafka
            .sink_config_with_secrets(&env(&[(SASL_PASSWORD_ENV, "x")]))
            .unwrap_err();
        assert!(
            matches!(error, KafkaSecurityError::IncompleteSasl { .. }),
            "{error:?}"
        );

        let args = parse(&["--kafka-key-password-file", "/no/such/key-password"]).unwrap();
        let error = args.kafka.sink_config_with_secrets(&no_env).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("/no/such/key-password")
                && message.contains("--kafka-key-password-file"),
            "{message}"
        );
    }

    #[test]
    fn security_properties_and_secrets_are_refused_on_the_command_line_without_their_value() {
        for property in [
            "sasl.password=hunter2",
            "ssl.key.password=hunter2",
            "ssl.keystore.password=hunter2",
            "security.protocol=hunter2",
        ] {
            let error = parse(&["--producer-property", property]).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ValueValidation, "{property}");
            let message = error.to_string();
            let key = property.split('=').next().unwrap();
            assert!(message.contains(key), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
            assert!(
                message.contains("--kafka-sasl-password-file")
                    && message.contains(SASL_PASSWORD_ENV),
                "points to the flags: {message}"
            );
        }
        let fine = parse(&["--producer-property", "client.id=gw"]).unwrap();
        assert_eq!(
            fine.kafka.producer_properties,
            [("client.id".to_owned(), "gw".to_owned())]
        );
    }

    #[test]
    fn every_protocol_and_mechanism_flag_value_has_its_library_twin() {
        for (flag, protocol) in [
            ("plaintext", SecurityProtocol::Plaintext),
            ("ssl", SecurityProtocol::Ssl),
            ("sasl_plaintext", SecurityProtocol::SaslPlaintext),
            ("sasl_ssl", SecurityProtocol::SaslSsl),
        ] {
            let args = parse(&["--kafka-security-protocol", flag]).unwrap();
            assert_eq!(args.kafka.sink_config().security.protocol, protocol);
        }
        for (flag, mechanism) in [
            ("PLAIN", SaslMechanism::Plain),
            ("SCRAM-SHA-256", SaslMechanism::ScramSha256),
            ("scram-sha-512", SaslMechanism::ScramSha512),
        ] {
            let args = parse(&["--kafka-sasl-mechanism", flag]).unwrap();
            let mechanism_arg = args.kafka.sasl_mechanism.unwrap();
            assert_eq!(SaslMechanism::from(mechanism_arg), mechanism);
        }
        assert!(parse(&["--kafka-sasl-mechanism", "GSSAPI"]).is_err());
    }
}
