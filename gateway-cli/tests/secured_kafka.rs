//! Start-up against a secured broker from `test-broker` (mutual TLS by stunnel, SCRAM
//! by tansu): the right flags start a ready gateway; a wrong password, a CA that did
//! not sign the broker's certificate, or a client certificate the broker refuses stop
//! start-up with one line that names the broker and the cause, and no secret. Without
//! tansu and stunnel each test says so and passes (`REQUIRE_REAL_BROKER=1`: fails).

use gateway_cli::{Defaults, GatewayArgs};
use test_broker::{Mistake, Secured, TestBroker};

const DEFAULTS: Defaults = Defaults {
    name: "gw",
    about: "test",
    listen: "127.0.0.1:0",
    topic: "unused",
};

fn args(flags: &[&str], topic: &str) -> GatewayArgs {
    let program = ["gw", "--topic", topic];
    GatewayArgs::parse_from_with(program.iter().chain(flags), DEFAULTS).expect("flags")
}

#[test]
fn the_flags_of_a_secured_broker_start_a_ready_gateway() {
    let Some(broker) = TestBroker::start_secured(Secured::EVERYTHING) else {
        return;
    };
    let topic = TestBroker::unique_topic("cli-secured");
    broker.create_topic(&topic, 2);
    let started = gateway_cli::start(&args(&broker.gateway_flags(), &topic)).expect("start");
    assert!(started.gateway.is_ready());
}

#[test]
fn create_topic_goes_through_the_same_security() {
    let Some(broker) = TestBroker::start_secured(Secured::EVERYTHING) else {
        return;
    };
    let topic = TestBroker::unique_topic("cli-secured-create");
    let mut flags = broker.gateway_flags();
    flags.push("--create-topic");
    let started = gateway_cli::start(&args(&flags, &topic)).expect("start");
    assert!(started.gateway.is_ready());
}

/// Start-up with `mistake` fails with one line naming the broker, `cause` and `hint`,
/// and neither the password given nor the right one.
fn refused(mistake: Mistake, cause: &str, hint: &str) {
    let Some(broker) = TestBroker::start_secured(Secured::EVERYTHING) else {
        return;
    };
    let topic = TestBroker::unique_topic("cli-refused");
    broker.create_topic(&topic, 1);
    let (flags, secrets) = broker.mistaken_gateway_flags(mistake);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let error = gateway_cli::start(&args(&flags, &topic)).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(broker.brokers()), "{message}");
    assert!(message.contains(cause), "{mistake:?}: {message}");
    assert!(message.contains(hint), "{mistake:?}: {message}");
    assert!(!message.contains('\n'), "one line: {message}");
    for secret in &secrets {
        assert!(!message.contains(secret.as_str()), "{message}");
        assert!(!format!("{error:?}").contains(secret.as_str()), "{error:?}");
    }
}

#[test]
fn a_wrong_password_stops_start_up_naming_the_broker_and_the_cause() {
    refused(
        Mistake::WrongPassword,
        "cannot authenticate",
        "--kafka-sasl-username",
    );
}

#[test]
fn an_unknown_ca_stops_start_up_naming_the_broker_and_the_cause() {
    refused(
        Mistake::UntrustedBrokerCertificate,
        "certificate verify failed",
        "--kafka-ca-file",
    );
}

#[test]
fn a_client_certificate_the_broker_refuses_stops_start_up_naming_the_broker_and_the_cause() {
    refused(
        Mistake::ForeignClientCertificate,
        "alert",
        "--kafka-cert-file",
    );
}
