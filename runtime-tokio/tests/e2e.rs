//! The end-to-end checks every server runs ([`e2e::suite_tests!`]) and those of the
//! servers on `http-conn`'s driver ([`e2e::raw_tcp_tests!`]), against this crate's binary.

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-tokio");

e2e::suite_tests!(BINARY);

e2e::raw_tcp_tests!(BINARY);
