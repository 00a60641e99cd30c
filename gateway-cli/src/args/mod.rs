//! The command line (and environment) every gateway binary shares; only the defaults in
//! [`Defaults`] differ.

use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use ingest::{Policy, RestProxySettings};

mod http;
mod kafka;
mod rest_proxy;
mod ring;
mod runtime;
mod tls;

pub use http::HttpArgs;
pub use kafka::{
    AckModeArg, AcksArg, CompressionArg, KafkaArgs, KafkaSecurityError, SaslMechanismArg,
    SecurityProtocolArg, SinkKind,
};
pub use rest_proxy::RestProxyArgs;
pub use ring::RingArgs;
pub use runtime::RuntimeArgs;
pub use tls::{ClientAuth, TlsArgs};

/// What differs between the gateway binaries.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// Binary name shown in `--help`.
    pub name: &'static str,
    /// One line about the binary.
    pub about: &'static str,
    /// Default listen address.
    pub listen: &'static str,
    /// Default topic.
    pub topic: &'static str,
}

impl Defaults {
    /// Parses the process arguments into `A` ([`GatewayArgs`], or a binary's own args
    /// with `GatewayArgs` flattened into them) with these defaults; exits on `--help` or
    /// bad flags, as clap does.
    pub fn parse<A: CommandFactory + FromArgMatches>(&self) -> A {
        self.try_parse_from(std::env::args_os())
            .unwrap_or_else(|error| error.exit())
    }

    /// Parses `args` (first item: program name) into `A` with these defaults.
    ///
    /// # Errors
    ///
    /// A flag clap cannot parse, or `--help`.
    pub fn try_parse_from<A, I, T>(&self, args: I) -> Result<A, clap::Error>
    where
        A: CommandFactory + FromArgMatches,
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        A::from_arg_matches(&self.apply(A::command()).try_get_matches_from(args)?)
    }

    /// Applies these defaults (name, about, listen address, topic) to a command that
    /// contains [`GatewayArgs`]: what `--help` shows and what parsing fills in.
    pub fn apply(&self, command: clap::Command) -> clap::Command {
        let (listen, topic) = (self.listen, self.topic);
        command
            .name(self.name)
            .about(self.about)
            .mut_arg("listen", |arg| arg.default_value(listen).required(false))
            .mut_arg("topic", |arg| arg.default_value(topic).required(false))
    }
}

/// Gateway configuration, grouped as `--help` shows it: every flag has an environment
/// variable and a help line, and each group has one place for its defaults (the
/// library's `Default` where there is one).
#[derive(Debug, Clone, PartialEq, Eq, clap::Parser)]
pub struct GatewayArgs {
    /// Listener, workers, connection limit, grace period.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Framing limits and client timeouts.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Sink, topic, acknowledgement and producer.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// The Kafka REST Proxy API.
    #[command(flatten)]
    pub rest_proxy: RestProxyArgs,
    /// HTTPS.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Whole milliseconds of a default duration, for a `_ms` flag.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl GatewayArgs {
    /// Parses the process arguments with this binary's defaults; exits on `--help` or
    /// bad flags, as clap does.
    pub fn parse_with(defaults: Defaults) -> Self {
        defaults.parse()
    }

    /// Parses `args` (first item: program name) with this binary's defaults.
    ///
    /// # Errors
    ///
    /// A flag clap cannot parse, or `--help`.
    pub fn parse_from_with<I, T>(args: I, defaults: Defaults) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        defaults.try_parse_from(args)
    }

    /// The policy these flags stand for. The largest record follows librdkafka's
    /// `message.max.bytes`, set with `--producer-property` like any librdkafka property.
    pub fn policy(&self) -> Policy {
        Policy {
            topic: self.kafka.topic.clone(),
            max_body_bytes: self.http.max_body_bytes,
            ack_mode: self.kafka.ack_mode.into(),
            max_message_bytes: self.kafka.sink_config().max_record_bytes(),
            max_json_depth: self.http.max_json_depth,
            allow_origins: self.http.allow_origins.clone(),
        }
    }

    /// What a raw-TCP server's [`runtime_common::serve`] needs: listener, workers,
    /// connection limit, grace period, each connection's limits and timeouts, and the
    /// memory and fairness bounds.
    pub fn serve_settings(&self) -> runtime_common::ServeSettings {
        runtime_common::ServeSettings {
            listen: self.runtime.listen,
            workers: self.runtime.worker_count(),
            max_connections: self.runtime.max_connections,
            max_connections_per_client: self.runtime.max_connections_per_client(),
            grace_period: self.runtime.grace_period(),
            connection: self.http.connection_config(),
            max_buffered_request_bytes: self.runtime.max_buffered_request_bytes,
            max_records_per_connection: self.kafka.max_in_flight_records_per_connection,
        }
    }

    /// The REST Proxy settings these flags stand for, with the cluster's id.
    pub fn rest_proxy_settings(&self, cluster_id: String) -> RestProxySettings {
        self.rest_proxy.settings(&self.kafka.topic, cluster_id)
    }
}

/// The command a binary with `defaults` parses, reading no environment variable: what
/// a test asserts must not depend on the shell that runs it (and no test sets one).
#[cfg(test)]
pub(crate) fn command_without_env(defaults: Defaults) -> clap::Command {
    defaults
        .apply(GatewayArgs::command())
        .mut_args(|arg| arg.env(None))
}

/// Parses `args` (flags only, no program name) as a binary with `defaults` does, but
/// reading no environment variable (see [`command_without_env`]).
#[cfg(test)]
pub(crate) fn parse_without_env(
    defaults: Defaults,
    args: &[&str],
) -> Result<GatewayArgs, clap::Error> {
    let program = std::iter::once(defaults.name);
    let matches =
        command_without_env(defaults).try_get_matches_from(program.chain(args.iter().copied()))?;
    GatewayArgs::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use clap::parser::ValueSource;
    use ingest::AckMode;
    use kafka_sink::{Acks, Compression, SinkConfig};

    use super::*;

    const DEFAULTS: Defaults = Defaults {
        name: "gw",
        about: "test",
        listen: "0.0.0.0:8081",
        topic: "t_uring",
    };

    fn parse(args: &[&str]) -> Result<GatewayArgs, clap::Error> {
        parse_without_env(DEFAULTS, args)
    }

    #[test]
    fn a_binarys_defaults_give_listen_and_topic() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.runtime.listen, DEFAULTS.listen.parse().unwrap());
        assert_eq!(args.kafka.topic, DEFAULTS.topic);
        let args = parse(&["--listen", "127.0.0.1:9", "--topic", "x"]).unwrap();
        assert_eq!(args.runtime.listen, "127.0.0.1:9".parse().unwrap());
        assert_eq!(args.policy().topic, "x");
    }

    #[test]
    fn producer_flags_reach_the_sink_config() {
        let args = parse(&[
            "--brokers",
            "k1:9092,k2:9092",
            "--acks",
            "leader",
            "--idempotence",
            "false",
            "--compression",
            "lz4",
            "--linger-ms",
            "7",
            "--producer-property",
            "client.id=gw",
            "--producer-property",
            "a=b=c",
        ])
        .unwrap();
        let config = args.kafka.sink_config();
        assert_eq!(config.brokers, "k1:9092,k2:9092");
        assert_eq!(config.acks, Acks::Leader);
        assert!(!config.idempotence);
        assert_eq!(config.compression, Compression::Lz4);
        assert_eq!(config.linger, Duration::from_millis(7));
        assert_eq!(
            config.extra,
            [("client.id", "gw"), ("a", "b=c")].map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn a_producer_property_without_equals_is_refused() {
        let error = parse(&["--producer-property", "client.id"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(error.to_string().contains("expected KEY=VALUE"), "{error}");
    }

    #[test]
    fn policy_flags_reach_the_policy_and_the_limits() {
        let args = parse(&[
            "--ack-mode",
            "queued",
            "--max-body-bytes",
            "100",
            "--sink",
            "null",
        ])
        .unwrap();
        let policy = args.policy();
        assert_eq!(policy.ack_mode, AckMode::Queued);
        assert_eq!(policy.max_body_bytes, 100);
        assert_eq!(args.http.limits().max_body_bytes(), 100);
        assert_eq!(args.kafka.sink, SinkKind::Null);
    }

    #[test]
    fn the_allowlist_defaults_to_the_topic() {
        let args = parse(&["--topic", "x"]).unwrap();
        assert_eq!(args.rest_proxy_settings("c".into()).allow_topics, ["x"]);
    }

    #[test]
    fn allow_topic_repeats_and_keeps_globs_and_the_batch_bound_is_set() {
        let args = parse(&[
            "--allow-topic",
            "a",
            "--allow-topic",
            "logs.*",
            "--max-batch-entries",
            "5",
        ])
        .unwrap();
        let settings = args.rest_proxy_settings("c".into());
        assert_eq!(settings.allow_topics, ["a", "logs.*"]);
        assert_eq!(settings.cluster_id, "c");
        assert_eq!(settings.max_batch_entries, 5);
    }

    #[test]
    fn serve_settings_carry_the_runtime_and_http_flags() {
        let args = parse(&[
            "--listen",
            "127.0.0.1:4000",
            "--workers",
            "3",
            "--max-connections",
            "7",
            "--grace-period-ms",
            "250",
            "--body-timeout-ms",
            "1234",
            "--max-headers",
            "9",
        ])
        .unwrap();
        let settings = args.serve_settings();
        assert_eq!(settings.listen, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(settings.workers.get(), 3);
        assert_eq!(settings.max_connections, 7);
        assert_eq!(settings.grace_period, Duration::from_millis(250));
        assert_eq!(settings.connection, args.http.connection_config());
        assert_eq!(
            settings.connection.timeouts.body,
            Duration::from_millis(1234)
        );
        assert_eq!(settings.connection.limits.max_headers(), 9);
        let zero = parse(&["--workers", "0"]).unwrap();
        assert_eq!(zero.serve_settings().workers.get(), 1, "0 workers means 1");
    }

    #[test]
    fn the_per_client_bound_defaults_to_a_quarter_of_the_limit_and_zero_turns_it_off() {
        let bound = |flags: &[&str]| {
            parse(flags)
                .unwrap()
                .serve_settings()
                .max_connections_per_client
        };
        assert_eq!(
            bound(&[]),
            Some(RuntimeArgs::DEFAULT_MAX_CONNECTIONS / RuntimeArgs::PER_CLIENT_SHARE_DIVISOR)
        );
        assert_eq!(bound(&["--max-connections", "100"]), Some(25));
        assert_eq!(bound(&["--max-connections", "2"]), Some(1), "never 0");
        assert_eq!(bound(&["--max-connections-per-client", "7"]), Some(7));
        assert_eq!(bound(&["--max-connections-per-client", "0"]), None);
    }

    #[test]
    fn origin_and_depth_flags_reach_the_policy_and_bad_values_are_refused() {
        let args = parse(&[
            "--allow-origin",
            "https://App.example.com",
            "--allow-origin",
            "http://localhost:3000",
            "--max-json-depth",
            "8",
        ])
        .unwrap();
        let policy = args.policy();
        assert_eq!(
            policy.allow_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(policy.max_json_depth, 8);
        for refused in [["--allow-origin", "*"], ["--max-json-depth", "0"]] {
            assert!(parse(&refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn ring_entries_is_not_a_shared_flag() {
        let error = parse(&["--ring-entries", "64"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn flag_defaults_are_the_library_defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.http.connection_config(), http_conn::Config::default());
        assert_eq!(
            args.serve_settings().connection,
            http_conn::Config::default()
        );
        // SinkConfig has no PartialEq; its Debug form shows every field.
        assert_eq!(
            format!("{:?}", args.kafka.sink_config()),
            format!("{:?}", SinkConfig::default())
        );
        let policy = args.policy();
        assert_eq!(policy, Policy::new(args.kafka.topic.clone()));
        assert_eq!(policy.ack_mode, AckMode::default());
        assert_eq!(
            policy.max_body_bytes,
            http_parse::Limits::default().max_body_bytes()
        );
        assert_eq!(
            args.rest_proxy_settings("c".into()).max_batch_entries,
            ingest::DEFAULT_MAX_BATCH_ENTRIES
        );
        // Where no library has a default, the group's constant is the one place.
        assert_eq!(
            args.runtime.grace_period(),
            RuntimeArgs::DEFAULT_GRACE_PERIOD
        );
        assert_eq!(
            args.runtime.max_connections,
            RuntimeArgs::DEFAULT_MAX_CONNECTIONS
        );
        assert_eq!(
            args.kafka.topic_partitions,
            KafkaArgs::DEFAULT_TOPIC_PARTITIONS
        );
        assert_eq!(
            args.rest_proxy.topic_refresh(),
            RestProxyArgs::DEFAULT_TOPIC_REFRESH
        );
    }

    /// Each flag's paragraph of the long help, by its `--long` name.
    fn help_paragraphs(help: &str) -> std::collections::HashMap<String, String> {
        let mut paragraphs = std::collections::HashMap::new();
        let mut current: Option<(String, String)> = None;
        for line in help.lines() {
            let trimmed = line.trim_start();
            let starts_flag = trimmed.starts_with("--") && line.len() - trimmed.len() >= 2;
            let is_heading = !line.starts_with(' ') && !line.is_empty();
            if starts_flag || is_heading {
                paragraphs.extend(current.take());
            }
            if starts_flag {
                let long = trimmed.split_whitespace().next().unwrap_or_default();
                current = Some((long.to_owned(), String::new()));
            }
            if let Some((_, text)) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        paragraphs.extend(current);
        paragraphs
    }

    #[test]
    fn help_lists_every_flag_with_its_default() {
        // Flags whose default is not a value: said in words, or nothing unless given.
        const DEFAULT_IN_WORDS: [&str; 8] = [
            "--workers",
            "--max-connections-per-client",
            "--allow-topic",
            "--allow-origin",
            "--kafka-ca-file",
            "--tls-cert",
            "--tls-key",
            "--tls-client-ca",
        ];
        const EMPTY_UNLESS_GIVEN: [&str; 7] = [
            "--producer-property",
            "--kafka-sasl-mechanism",
            "--kafka-sasl-username",
            "--kafka-sasl-password-file",
            "--kafka-cert-file",
            "--kafka-key-file",
            "--kafka-key-password-file",
        ];
        // Repeatable KEY=VALUE pairs have no environment form yet.
        const NO_ENV: [&str; 1] = ["--producer-property"];

        // The help as a binary renders it (env values hidden: the shell's are not the
        // defaults), and the defaults parsing with no flags actually gives.
        let help = DEFAULTS
            .apply(GatewayArgs::command())
            .mut_args(|arg| arg.hide_env_values(true))
            .render_long_help()
            .to_string();
        let paragraphs = help_paragraphs(&help);
        let matches = command_without_env(DEFAULTS)
            .try_get_matches_from(["gw"])
            .unwrap();
        for arg in GatewayArgs::command().get_arguments() {
            let long = arg.get_long().expect("every setting is a --long flag");
            let flag = format!("--{long}");
            let id = arg.get_id().as_str();
            let paragraph = paragraphs
                .get(&flag)
                .unwrap_or_else(|| panic!("{flag} missing from --help:\n{help}"));
            match arg.get_env() {
                Some(env) => {
                    let env = format!("[env: {}]", env.to_string_lossy());
                    assert!(paragraph.contains(&env), "{flag}: no {env} in\n{paragraph}");
                }
                None => assert!(NO_ENV.contains(&flag.as_str()), "{flag} has no env var"),
            }
            if !arg.get_action().takes_values() {
                assert!(
                    !matches.get_flag(id),
                    "{flag} is a switch, off unless given"
                );
            } else if matches.value_source(id) == Some(ValueSource::DefaultValue) {
                let default: Vec<_> = matches
                    .get_raw(id)
                    .unwrap()
                    .map(|value| value.to_string_lossy().into_owned())
                    .collect();
                let shown = format!("[default: {}]", default.join(","));
                assert!(
                    paragraph.contains(&shown),
                    "{flag}: no {shown} in\n{paragraph}"
                );
            } else if DEFAULT_IN_WORDS.contains(&flag.as_str()) {
                assert!(paragraph.to_lowercase().contains("default"), "{paragraph}");
            } else {
                assert!(
                    EMPTY_UNLESS_GIVEN.contains(&flag.as_str()),
                    "{flag} has no default and does not say what it is without one"
                );
            }
        }
    }
}
