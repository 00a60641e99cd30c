//! The end-to-end checks every server runs ([`e2e::suite_tests!`]) and those of the
//! servers on `http-conn`'s driver ([`e2e::raw_tcp_tests!`]), against this crate's binary.

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-uring");

e2e::suite_tests!(BINARY);

e2e::raw_tcp_tests!(BINARY);

/// A ring the kernel refuses stops start-up clearly, before "listening".
#[test]
fn a_ring_the_kernel_refuses_fails_start_up() {
    e2e::suite::refused_ring_fails_start_up(BINARY, &[]);
}
