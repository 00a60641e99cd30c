//! The shared end-to-end suite ([`e2e::suite`]) against this crate's binary.

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-tokio");

e2e::suite_tests!(BINARY);

e2e::raw_tcp_tests!(BINARY);
