//! The gateway policy every server shares, free of sockets: what a request becomes,
//! and what the client hears.
//!
//! A server frames HTTP its own way, then hands an [`Incoming`] view to
//! [`Gateway::submit`]: routing ([`route`]), the cross-site rules (`Origin` against
//! [`Policy::allow_origins`], CORS), validation (length, media type, JSON without
//! building a DOM and no deeper than [`Policy::max_json_depth`], the record within
//! librdkafka's `message.max.bytes`: [`check_record_size`]), the Kafka record (body
//! verbatim, key from `X-Kafka-Key`, headers from `X-Kafka-Header-*`), and the
//! enqueue. The returned
//! [`Ticket`] resolves to a [`Reply`] once Kafka acknowledged (or at once for errors and
//! probes); [`Reply`] encodes itself for either stack. Every status code is decided by
//! [`Rejection::status`], in one place.
//!
//! A raw-TCP server built on [`http_conn::ServerConnection`] needs no HTTP logic of its
//! own: a [`Dispatcher`] per connection turns the connection's events into submissions
//! and the replies into responses, with the `Date` header from [`DateCache`].
//!
//! The same entry point speaks the Kafka REST Proxy produce API (v2 `POST /topics/..`,
//! v3 `POST /v3/clusters/../records` and `records:batch`): a [`Ticket`] then holds one
//! pending delivery per record and its [`Reply`] reports each record's partition and
//! offset. Which topics it reaches is decided by [`TopicAccess`] (allowlist plus a cache
//! of the cluster's topics), before anything is produced.
//!
//! No command line, start-up I/O, threads or logging set-up live here: `gateway-cli`
//! builds [`Policy`] and [`RestProxySettings`] from the flags and starts the gateway.
//!
//! ```
//! use ingest::{AckMode, Gateway, Incoming, Policy};
//! use ingest::GatewaySink;
//! use kafka_sink::NullSink;
//!
//! let gateway = Gateway::new(
//!     Policy { max_body_bytes: 1 << 20, ack_mode: AckMode::Delivered, ..Policy::new("events") },
//!     GatewaySink::Null(NullSink::default()),
//! );
//! let request = Incoming {
//!     method: "POST",
//!     path: "/",
//!     headers: [("Content-Type", &b"application/json"[..])].into_iter(),
//!     body: br#"{"data":"test_payload"}"#,
//!     body_framed: true,
//! };
//! let ticket = gateway.submit(request); // never waits: no runtime needed to submit
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let reply = ticket.reply(&gateway).await;
//! assert_eq!(reply.status, 200);
//! assert_eq!(&reply.body[..], b"Payload received");
//! # });
//! ```
#![forbid(unsafe_code)]

mod connections;
mod cross_site;
mod date;
mod dispatch;
mod gateway;
mod json;
mod metrics;
mod policy;
mod rejection;
mod reply;
mod rest_proxy;
mod sink;
mod topics;

pub use connections::{ConnectionLimit, ConnectionSlot, Refused};
pub use cross_site::{parse_origin, Cors};
pub use date::DateCache;
pub use dispatch::{Dispatcher, DEFAULT_MAX_RECORDS_PER_CONNECTION};
pub use gateway::{AckMode, Gateway, Incoming, Policy, Ticket};
pub use http_parse::Version as HttpVersion;
pub use json::{validate_json, DEFAULT_MAX_JSON_DEPTH};
pub use metrics::Metrics;
pub use policy::{check_record_size, route, Route, RECORD_HEADER_PREFIX, RECORD_KEY_HEADER};
pub use rejection::Rejection;
pub use reply::Reply;
pub use rest_proxy::{RestProxySettings, DEFAULT_MAX_BATCH_ENTRIES, NULL_CLUSTER_ID};
pub use sink::GatewaySink;
pub use topics::TopicAccess;
