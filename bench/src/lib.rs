//! Benchmarks of the HTTP-to-Kafka gateway, layer by layer and end to end.
//!
//! `cargo bench -p bench` runs every criterion group. [`corpus`] holds the request
//! streams the parse benches share, so every contender parses the same bytes.
//!
//! ```
//! let corpus = bench::corpus::all();
//! assert!(corpus.iter().any(|case| case.name == "small_post"));
//! ```
#![forbid(unsafe_code)]

pub mod corpus;
pub mod raw_httparse;
