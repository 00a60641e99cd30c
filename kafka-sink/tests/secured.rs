//! The sink against secured brokers from `test-broker`: TLS by stunnel in front of
//! tansu, SASL SCRAM by tansu, each protocol there and back, and what a client that
//! gets the security wrong hears. Without tansu (or stunnel) each test says so and
//! passes; `REQUIRE_REAL_BROKER=1` (CI) makes that a failure.

use std::time::Duration;

use kafka_sink::{KafkaSink, Record, SaslMechanism, Sink, SinkError};
use test_broker::{Mistake, Secured, TestBroker, Tls};

/// Creates a topic through the broker's security (the admin client), produces one
/// record through it, and reads it back.
fn round_trip(secured: Secured) {
    let Some(broker) = TestBroker::start_secured(secured) else {
        return;
    };
    let topic = TestBroker::unique_topic("secured");
    broker.create_topic(&topic, 1);
    let sink = KafkaSink::new(broker.sink_config()).expect("producer");
    assert_eq!(sink.check_topic(&topic), Ok(1));
    let pending = sink
        .try_enqueue(&Record::new(&topic, br#"{"secured":true}"#))
        .expect("queued");
    sink.flush(Duration::from_secs(30));
    drop(pending);
    assert_eq!(sink.stats().delivered, 1, "{:?}", sink.stats());
    let records = broker.consume_all(&topic, 1, Duration::from_secs(10));
    let payloads: Vec<_> = records.iter().map(|record| &record.payload[..]).collect();
    assert_eq!(payloads, [br#"{"secured":true}"#]);
}

#[test]
fn ssl_reaches_a_tls_broker() {
    round_trip(Secured {
        tls: Tls::ServerOnly,
        scram: None,
    });
}

#[test]
fn ssl_with_a_client_certificate_reaches_a_mutual_tls_broker() {
    round_trip(Secured {
        tls: Tls::Mutual,
        scram: None,
    });
}

#[test]
fn sasl_plaintext_with_scram_sha_256_reaches_an_authenticating_broker() {
    round_trip(Secured {
        tls: Tls::Off,
        scram: Some(SaslMechanism::ScramSha256),
    });
}

#[test]
fn sasl_ssl_with_scram_sha_512_and_a_client_certificate_reaches_a_broker_that_checks_both() {
    round_trip(Secured::EVERYTHING);
}

/// The start-up calls of a sink making `mistake` against a broker that checks
/// everything: each fails, within the metadata timeout, with `expected`'s variant,
/// naming the broker and the cause, with no secret in it.
fn refused(mistake: Mistake, cause: &str, expected: fn(&SinkError) -> bool) {
    let Some(broker) = TestBroker::start_secured(Secured::EVERYTHING) else {
        return;
    };
    let (config, secrets) = broker.mistaken_sink_config(mistake);
    let sink = KafkaSink::new(config).expect("the producer is built: nothing is contacted yet");
    for error in [
        sink.check_topic("any-topic").unwrap_err(),
        sink.create_topic("any-topic", 1).unwrap_err(),
    ] {
        assert!(expected(&error), "{mistake:?}: {error:?}");
        let message = error.to_string();
        assert!(message.contains(broker.brokers()), "{message}");
        assert!(message.contains(cause), "{mistake:?}: {message}");
        assert!(!message.contains('\n'), "one line: {message}");
        for secret in &secrets {
            assert!(!message.contains(secret.as_str()), "{message}");
            assert!(!format!("{error:?}").contains(secret.as_str()), "{error:?}");
        }
    }
    assert!(!sink.brokers_reachable());
}

#[test]
fn a_wrong_password_is_an_authentication_error_naming_the_broker() {
    refused(
        Mistake::WrongPassword,
        "SASL authentication error",
        |error| matches!(error, SinkError::Authentication { .. }),
    );
}

#[test]
fn a_broker_certificate_from_an_unknown_ca_is_a_tls_error_naming_the_broker() {
    refused(
        Mistake::UntrustedBrokerCertificate,
        "certificate verify failed",
        |error| matches!(error, SinkError::Tls { .. }),
    );
}

#[test]
fn a_client_certificate_the_broker_refuses_is_a_tls_error_naming_the_broker() {
    refused(Mistake::ForeignClientCertificate, "alert", |error| {
        matches!(error, SinkError::Tls { .. })
    });
}
