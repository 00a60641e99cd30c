//! The Kafka path of the shared suites ([`e2e::suite`], [`e2e::rest_proxy`],
//! [`e2e::reliability`], [`e2e::shutdown`]; [`e2e::kafka_path_tests!`]) against this crate's binary producing to a
//! secured broker ([`test_broker::Secured::EVERYTHING`]): mutual TLS terminated by
//! stunnel in front of tansu, and SASL SCRAM-SHA-512 inside it checked by tansu
//! (`--kafka-security-protocol sasl_ssl`). Left to `e2e.rs` and `reliability.rs`: the
//! checks about HTTP alone (timeouts, smuggling, slowloris, ...), where TLS to Kafka
//! changes nothing, and the 32,000-request mixed load (half a minute), whose Kafka side,
//! every 200 in Kafka exactly once, the SIGTERM and SIGKILL checks under load cover here.

use test_broker::Secured;

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-hyper");

/// The binary, once every broker this test binary starts is the secured one.
fn secured() -> &'static str {
    test_broker::secure_every_broker(Secured::EVERYTHING);
    BINARY
}

e2e::kafka_path_tests!(secured());
