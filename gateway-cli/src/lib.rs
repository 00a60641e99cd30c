//! What a gateway binary needs and a policy library must not: the command line, start-up
//! and logging set-up.
//!
//! [`GatewayArgs`] is the command line every server shares, each flag with an
//! environment variable and a help line, grouped as `--help` shows it: [`RuntimeArgs`],
//! [`HttpArgs`], [`KafkaArgs`], [`RestProxyArgs`]. A binary's [`Defaults`] give its
//! name, listen address and topic. From the flags it builds the typed settings the
//! libraries take ([`ingest::Policy`], [`ingest::RestProxySettings`],
//! [`kafka_sink::SinkConfig`], [`http_conn::Config`], [`runtime_common::ServeSettings`]). [`start`] does the start-up I/O: it builds the sink, checks
//! (or creates) the topic, lists the cluster's topics and keeps that list fresh on a
//! thread of its own. [`init_tracing`] sets up the logs.
//!
//! ```
//! use gateway_cli::{Defaults, GatewayArgs};
//!
//! const DEFAULTS: Defaults = Defaults {
//!     name: "my-gateway",
//!     about: "an HTTP-to-Kafka gateway",
//!     listen: "127.0.0.1:8080",
//!     topic: "events",
//! };
//! let args = GatewayArgs::parse_from_with(["my-gateway", "--sink", "null"], DEFAULTS)?;
//! assert_eq!(args.policy().topic, "events");
//! let started = gateway_cli::start(&args)?; // the null sink: no broker needed
//! assert!(started.gateway.is_ready());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod args;
mod logging;
mod startup;
mod tls;

pub use args::{
    AckModeArg, AcksArg, ClientAuth, CompressionArg, Defaults, GatewayArgs, HttpArgs, KafkaArgs,
    KafkaSecurityError, RestProxyArgs, RingArgs, RuntimeArgs, SaslMechanismArg,
    SecurityProtocolArg, SinkKind, TlsArgs,
};
pub use logging::init_tracing;
pub use startup::{start, StartError, Started};
pub use tls::{TlsError, TlsSetup};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
