//! The end-to-end checks every server runs ([`e2e::suite_tests!`]) against this crate's
//! binary. (hyper does its own framing and connection handling: the checks of
//! `http-conn`'s driver, [`e2e::raw_tcp_tests!`], are not its.)

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-hyper");

e2e::suite_tests!(BINARY);
