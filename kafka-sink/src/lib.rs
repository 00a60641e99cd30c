//! The gateway's promise, kept once for both servers: when a request is answered 200,
//! its record is in Kafka.
//!
//! [`Sink`] is where records go: [`KafkaSink`] (one shared rdkafka producer per process,
//! `acks=all`, idempotent, small linger), [`NullSink`] (acknowledges at once, to measure
//! the HTTP layer alone) or [`MemorySink`] (unit tests). [`Sink::enqueue`] copies the
//! record into the producer queue and returns a [`Pending`] delivery; past the
//! in-flight bound it fails fast with [`SinkError::Overloaded`] instead of blocking or
//! growing memory. A full local queue is retried per [`RetryPolicy`]; nothing is resent
//! after it was queued (that could duplicate). [`Sink::flush`] drains at shutdown.
//!
//! [`EmbeddedBroker`] starts librdkafka's mock cluster for demos and machines with no
//! broker; it is a mock and says so.
//!
//! ```
//! use kafka_sink::{Record, Sink, MemorySink};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let sink = Sink::Memory(MemorySink::default());
//! let record = Record { topic: "events", key: Some(b"k"), payload: br#"{"a":1}"#, headers: &[] };
//! let delivery = sink.send(&record).await.unwrap();
//! assert_eq!(delivery.offset, 0);
//! assert_eq!(sink.stats().delivered, 1);
//! # });
//! ```
#![forbid(unsafe_code)]

mod admin;
mod config;
mod embedded;
mod error;
#[cfg(feature = "harness")]
pub mod harness;
mod inflight;
mod kafka;
mod retry;
mod sink;

pub use admin::create_topic;
pub use config::{Acks, Compression, SinkConfig};
pub use embedded::EmbeddedBroker;
pub use error::SinkError;
pub use inflight::SinkStats;
pub use kafka::{FlushReport, KafkaSink};
pub use retry::RetryPolicy;
pub use sink::{Delivery, MemorySink, NullSink, Pending, Record, Sink, StoredRecord};
