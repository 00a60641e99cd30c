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

pub use http::HttpArgs;
pub use kafka::{AckModeArg, AcksArg, CompressionArg, KafkaArgs, SinkKind};
pub use rest_proxy::RestProxyArgs;
pub use ring::RingArgs;
pub use runtime::RuntimeArgs;

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

    /// The policy these flags stand for.
    pub fn policy(&self) -> Policy {
        Policy {
            topic: self.kafka.topic.clone(),
            max_body_bytes: self.http.max_body_bytes,
            ack_mode: self.kafka.ack_mode.into(),
        }
    }

    /// What a raw-TCP server's [`runtime_common::serve`] needs: listener, workers,
    /// connection limit, grace period, and each connection's limits and timeouts.
    pub fn serve_settings(&self) -> runtime_common::ServeSettings {
        runtime_common::ServeSettings {
            listen: self.runtime.listen,
            workers: self.runtime.worker_count(),
            max_connections: self.runtime.max_connections,
            grace_period: self.runtime.grace_period(),
            connection: self.http.connection_config(),
        }
    }

    /// The REST Proxy settings these flags stand for, with the cluster's id.
    pub fn rest_proxy_settings(&self, cluster_id: String) -> RestProxySettings {
        self.rest_proxy.settings(&self.kafka.topic, cluster_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_sink::SinkConfig;

    const DEFAULTS: Defaults = Defaults {
        name: "gw",
        about: "test",
        listen: "0.0.0.0:8081",
        topic: "t_uring",
    };

    #[test]
    fn binary_defaults_apply_and_flags_override() {
        let args = GatewayArgs::parse_from_with(["gw"], DEFAULTS).unwrap();
        assert_eq!(args.runtime.listen, "0.0.0.0:8081".parse().unwrap());
        assert_eq!(args.kafka.topic, "t_uring");
        assert_eq!(args.kafka.brokers, "127.0.0.1:9092");
        assert!(args.kafka.idempotence);
        let args = GatewayArgs::parse_from_with(
            [
                "gw",
                "--topic",
                "x",
                "--idempotence",
                "false",
                "--producer-property",
                "a=b",
                "--sink",
                "null",
            ],
            DEFAULTS,
        )
        .unwrap();
        assert_eq!(args.kafka.topic, "x");
        assert!(!args.kafka.sink_config().idempotence);
        assert_eq!(
            args.kafka.sink_config().extra,
            vec![("a".to_owned(), "b".to_owned())]
        );
        assert_eq!(args.kafka.sink, SinkKind::Null);
        assert_eq!(
            args.rest_proxy_settings("c".into()).allow_topics,
            vec!["x".to_owned()]
        );
        let args = GatewayArgs::parse_from_with(
            [
                "gw",
                "--allow-topic",
                "a",
                "--allow-topic",
                "logs.*",
                "--max-batch-entries",
                "5",
            ],
            DEFAULTS,
        )
        .unwrap();
        let settings = args.rest_proxy_settings("c".into());
        assert_eq!(
            settings.allow_topics,
            vec!["a".to_owned(), "logs.*".to_owned()]
        );
        assert_eq!(settings.max_batch_entries, 5);
    }

    #[test]
    fn serve_settings_carry_the_runtime_and_http_flags() {
        let args = GatewayArgs::parse_from_with(
            [
                "gw",
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
            ],
            DEFAULTS,
        )
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
        let zero = GatewayArgs::parse_from_with(["gw", "--workers", "0"], DEFAULTS).unwrap();
        assert_eq!(zero.serve_settings().workers.get(), 1, "0 workers means 1");
    }

    #[test]
    fn ring_entries_is_not_a_shared_flag() {
        let error =
            GatewayArgs::parse_from_with(["gw", "--ring-entries", "64"], DEFAULTS).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn flag_defaults_are_the_library_defaults() {
        let args = GatewayArgs::parse_from_with(["gw"], DEFAULTS).unwrap();
        assert_eq!(args.http.limits(), http_parse::Limits::default());
        assert_eq!(args.http.connection_config(), http_conn::Config::default());
        let (flags, library) = (args.kafka.sink_config(), SinkConfig::default());
        assert_eq!(
            (
                flags.brokers,
                flags.acks,
                flags.idempotence,
                flags.linger,
                flags.batch_size_bytes
            ),
            (
                library.brokers,
                library.acks,
                library.idempotence,
                library.linger,
                library.batch_size_bytes
            )
        );
        assert_eq!(
            (
                flags.compression,
                flags.delivery_timeout,
                flags.max_in_flight_records,
                flags.max_in_flight_bytes
            ),
            (
                library.compression,
                library.delivery_timeout,
                library.max_in_flight_records,
                library.max_in_flight_bytes
            )
        );
    }

    #[test]
    fn help_lists_every_flag_with_its_default() {
        let help = GatewayArgs::command()
            .mut_arg("listen", |arg| arg.default_value("0.0.0.0:8081"))
            .mut_arg("topic", |arg| arg.default_value("t"))
            .render_long_help()
            .to_string();
        for flag in [
            "--listen",
            "--brokers",
            "--topic",
            "--embedded-broker",
            "--ack-mode",
            "--max-body-bytes",
            "--header-timeout-ms",
            "--body-timeout-ms",
            "--idle-timeout-ms",
            "--max-connections",
            "--workers",
            "--linger-ms",
            "--allow-topic",
            "--max-batch-entries",
            "--topic-refresh-ms",
        ] {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
        assert!(help.contains("0.0.0.0:8081"));
    }
}
