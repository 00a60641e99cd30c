//! A Kafka producer for services that answer a request only once its record is in
//! Kafka.
//!
//! [`KafkaSink`] is one librdkafka producer shared by the whole process (`acks=all`,
//! idempotent, small linger, topics never auto-created). Producing a record is one
//! call: [`Sink::send`] queues it and resolves once Kafka acknowledged it. Under
//! the hood, an enqueue copies the record into the producer's queue and returns a
//! [`Pending`] delivery, a plain future that any executor (or a hand-written event loop
//! with its own `Waker`) can await. Past the in-flight bound an enqueue fails at once
//! with [`SinkError::Overloaded`] instead of blocking or growing memory; nothing is
//! resent after it was queued (that could duplicate). [`Sink::flush`] drains at
//! shutdown.
//!
//! Runtimes: [`Sink::try_enqueue`] never waits and needs no runtime;
//! [`Sink::enqueue`] and [`Sink::send`] back off on a full local queue with
//! tokio's timer, so they need a tokio runtime with time enabled. Start-up
//! ([`KafkaSink::check_topic`], [`KafkaSink::create_topic`]) and shutdown
//! ([`Sink::flush`]) calls block the calling thread.
//!
//! The [`Sink`] trait is the interface every sink has: [`KafkaSink`], [`NullSink`]
//! (acknowledges at once, keeps nothing) and [`MemorySink`] (keeps records, for
//! tests); [`AnySink`] is one of them chosen at run time, with no dynamic dispatch.
//! [`EmbeddedBroker`] starts librdkafka's in-process mock cluster for demos and
//! machines with no broker; it is a mock and says so.
//!
//! ```
//! use kafka_sink::{EmbeddedBroker, KafkaSink, Record, Sink, SinkConfig};
//!
//! # fn main() -> Result<(), kafka_sink::SinkError> {
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let broker = EmbeddedBroker::start()?; // a mock; use your cluster's "host:9092"
//! broker.create_topic("events", 3)?;
//!
//! let sink = KafkaSink::new(SinkConfig::new(broker.brokers()))?;
//! sink.check_topic("events")?;
//! let delivery = sink.send(&Record::new("events", br#"{"a":1}"#).with_key(b"k")).await?;
//! println!("stored at partition {} offset {}", delivery.partition, delivery.offset);
//! assert_eq!(sink.stats().delivered, 1);
//! # Ok(()) }) }
//! ```
// `unsafe` only in `ffi` (one librdkafka call, see there).
#![deny(unsafe_code)]

mod admin;
mod any;
mod config;
mod embedded;
mod error;
#[allow(unsafe_code)]
mod ffi;
mod inflight;
mod kafka;
mod memory;
mod metadata;
mod retry;
mod security;
mod sink;

pub use any::AnySink;
pub use config::{Acks, Compression, SinkConfig};
pub use embedded::EmbeddedBroker;
pub use error::SinkError;
pub use inflight::SinkStats;
pub use kafka::{FlushReport, KafkaSink};
pub use memory::{MemorySink, StoredRecord};
pub use metadata::TopicListing;
pub use retry::RetryPolicy;
pub use security::{SaslCredentials, SaslMechanism, Secret, Security, SecurityProtocol, TlsFiles};
pub use sink::{Delivery, NullSink, Pending, Record, Sink};

/// The README's example, compiled and run as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
