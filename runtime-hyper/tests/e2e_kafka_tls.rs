//! The Kafka path of the shared suites ([`e2e::suite`], [`e2e::rest_proxy`],
//! [`e2e::reliability`], [`e2e::shutdown`]) against this crate's binary producing to a
//! secured broker ([`test_broker::Secured::EVERYTHING`]): mutual TLS terminated by
//! stunnel in front of tansu, and SASL SCRAM-SHA-512 inside it checked by tansu
//! (`--kafka-security-protocol sasl_ssl`). Left to `e2e.rs` and `reliability.rs`: the
//! checks about HTTP alone (timeouts, smuggling, slowloris, ...), where TLS to Kafka
//! changes nothing, and the 32,000-request mixed load (half a minute), whose Kafka side,
//! every 200 in Kafka exactly once, the SIGTERM and SIGKILL checks under load cover here.

use test_broker::{Mistake, Secured, TestBroker};

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-hyper");

/// The binary, once every broker this test binary starts is the secured one.
fn secured() -> &'static str {
    test_broker::secure_every_broker(Secured::EVERYTHING);
    BINARY
}

e2e::tests_calling!(secured(), [], suite: sigterm_under_load_loses_nothing,
    header_timeout_and_probes, record_over_kafka_limit_is_413);
e2e::tests_calling!(secured(), [], rest_proxy: rest_proxy_v2_documented_example,
    rest_proxy_v2_binary_to_a_partition, rest_proxy_v3_records_and_batch,
    rest_proxy_allowlist_and_unknown_topics, rest_proxy_timestamps_are_kept_or_refused);
e2e::tests_calling!(secured(), [], reliability: sigkill_under_load_loses_nothing,
    overload_sheds_with_503);
e2e::tests_calling!(secured(), [], shutdown:
    records_queued_past_the_grace_period_are_refused_not_dropped);

/// A wrong password stops start-up: a failure status, the broker and the cause named,
/// no password printed.
#[test]
fn a_wrong_password_stops_start_up_naming_the_broker_and_no_secret() {
    if let Some(broker) = TestBroker::start_secured(Secured::EVERYTHING) {
        broker.assert_gateway_refuses(secured(), Mistake::WrongPassword, "cannot authenticate");
    }
}
