//! End-to-end test support for the gateway binaries: start one as a child process
//! against a test broker ([`GatewayProcess`]), talk raw HTTP/1.1 to it ([`Client`]),
//! the suite both servers must pass ([`suite`]), and the fault and hostile-input
//! scenarios ([`reliability`]) with the corpus in `e2e/corpus/hostile/`.
//!
//! A crate of its own because cargo gives `CARGO_BIN_EXE_*` only to a package's own
//! tests: each server's `tests/e2e.rs` passes its binary here, so both face the same
//! checks.
//!
//! ```
//! let request = e2e::post(br#"{"a":1}"#, &[]);
//! assert!(request.starts_with(b"POST / HTTP/1.1\r\n"));
//! ```
#![forbid(unsafe_code)]

mod client;
mod process;
pub mod reliability;
pub mod suite;

pub use client::{post, Client, Response};
pub use process::GatewayProcess;

/// The hostile-input corpus directory (`e2e/corpus/hostile`).
pub fn hostile_corpus() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/hostile")
}
