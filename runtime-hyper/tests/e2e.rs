//! The shared end-to-end suite ([`e2e::suite`]) against this crate's binary.

const BINARY: &str = env!("CARGO_BIN_EXE_runtime-hyper");

#[test]
fn load_with_bad_requests_mixed_in() {
    e2e::suite::load_with_bad_requests_mixed_in(BINARY);
}

#[test]
fn protocol_features() {
    e2e::suite::protocol_features(BINARY);
}

#[test]
fn smuggling_corpus_is_rejected() {
    e2e::suite::smuggling_corpus_is_rejected(BINARY);
}

#[test]
fn sigterm_under_load_loses_nothing() {
    e2e::suite::sigterm_under_load_loses_nothing(BINARY);
}

#[test]
fn unknown_topic_fails_at_startup() {
    e2e::suite::unknown_topic_fails_at_startup(BINARY);
}

#[test]
fn header_timeout_and_probes() {
    e2e::suite::header_timeout_and_probes(BINARY);
}

#[test]
fn connection_limit() {
    e2e::suite::connection_limit(BINARY);
}
