//! Benchmarks of the HTTP-to-Kafka gateway, layer by layer and end to end.
//!
//! `cargo bench -p bench` runs, in order: `batch` (REST Proxy v2 batches through the
//! policy, criterion), `parse` (raw httparse vs http-parse, criterion), `sink`
//! (NullSink, mock cluster, a real broker when `KAFKA_BROKERS` is set; criterion) and
//! `whole_path` ([`compare`]: every server, pinned, interleaved, null sink and Kafka,
//! closed and open loop, the ablation, batches, HTTPS against plaintext, TLS handshakes
//! and system calls), which writes
//! [`report`] to `target/bench-report/`. `-- --quick` runs everything briefly (CI).
//!
//! [`corpus`] holds the request streams the parse benches share; [`loadgen`] is the
//! load generator (plaintext or HTTPS, keep-alive or a connection per request); [`probe`] measures memory and readiness of any gateway binary
//! (`examples/probe.rs`).
//!
//! ```
//! let corpus = bench::corpus::all();
//! assert!(corpus.iter().any(|case| case.name == "small_post"));
//! assert_eq!(bench::stats::median(vec![3.0, 1.0, 2.0]), 2.0);
//! ```
#![forbid(unsafe_code)]

pub mod compare;
pub mod corpus;
mod error;
pub mod loadgen;
pub mod probe;
pub mod raw_httparse;
pub mod report;
pub mod server;
pub mod stats;

pub use error::Error;

/// The criterion settings of the layer benches: 1 s of warm-up and 2 s of measurement
/// per benchmark, so that the main job (`cargo bench -p bench`) stays short (about 20 minutes).
pub fn criterion_config() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(2))
}
