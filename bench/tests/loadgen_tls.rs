//! The load generator over HTTPS against real gateways: this test binary re-executed
//! with `--serve NAME`, as the comparison runs its servers (`bench::server`), serving a
//! test CA's certificate for `localhost`. No libtest harness: the binary must answer
//! `--serve` before anything else parses its arguments.
//!
//! Each check asserts what its name says; none is decided by how long anything took.

use std::sync::Arc;
use std::time::Duration;

use bench::loadgen::{self, LoadResult, LoadSpec, Pacing, Resumption, Reuse, Tls};
use bench::server::{Server, ServerUnderTest};

/// A short closed-loop window: every connection slot sends at least its first request.
const WINDOW: Duration = Duration::from_millis(300);
const CONNECTIONS: usize = 4;

fn spec(sut: &ServerUnderTest, tls: &Tls, reuse: Reuse) -> LoadSpec {
    LoadSpec {
        tls: Some(tls.clone()),
        reuse,
        ..LoadSpec::keep_alive(
            sut.address(),
            CONNECTIONS,
            bench::corpus::post(&bench::corpus::json_payload(256)),
            Pacing::ClosedLoop,
            WINDOW,
        )
    }
}

/// Every request answered 200, no connection failed.
fn assert_all_200(result: &LoadResult, what: &str) {
    assert!(result.requests > 0, "{what}: no request answered");
    assert_eq!(result.non_2xx, 0, "{what}: non-2xx answers");
    assert_eq!(result.errors, 0, "{what}: connection errors");
}

fn keep_alive_answers_200_with_one_handshake_per_connection(sut: &ServerUnderTest, tls: &Tls) {
    let result = loadgen::run(&spec(sut, tls, Reuse::KeepAlive));
    assert_all_200(&result, "keep-alive");
    assert_eq!(result.handshakes.total(), CONNECTIONS as u64, "{result:?}");
    let negotiated = result.negotiated.as_deref().unwrap_or_default();
    assert!(negotiated.starts_with("TLSv1_3, "), "{negotiated}");
}

fn without_resumption_every_connection_is_a_full_handshake(sut: &ServerUnderTest, tls: &Tls) {
    let tls = tls.with_resumption(Resumption::Off);
    let result = loadgen::run(&spec(sut, &tls, Reuse::NewConnectionPerRequest));
    assert_all_200(&result, "resumption off");
    assert_eq!(result.handshakes.resumed, 0, "{:?}", result.handshakes);
    // One connection, so one full handshake, per request.
    assert_eq!(result.handshakes.full, result.requests, "{result:?}");
}

fn with_resumption_later_connections_resume(sut: &ServerUnderTest, tls: &Tls) {
    let tls = tls.with_resumption(Resumption::On);
    let spec = spec(sut, &tls, Reuse::NewConnectionPerRequest);
    let first = loadgen::run(&spec);
    assert_all_200(&first, "resumption on, first run");
    // Only connections begun before any ticket arrived can be full.
    assert!(
        (1..=CONNECTIONS as u64).contains(&first.handshakes.full),
        "{:?}",
        first.handshakes
    );
    assert_eq!(first.handshakes.total(), first.requests);
    // The same client again: its store holds tickets from the first run, and every
    // connection leaves two more before the next one starts.
    let later = loadgen::run(&spec);
    assert_all_200(&later, "resumption on, later run");
    assert_eq!(later.handshakes.full, 0, "{:?}", later.handshakes);
    assert_eq!(later.handshakes.resumed, later.requests, "{later:?}");
}

type Check = fn(&ServerUnderTest, &Tls);

const CHECKS: [(&str, Check); 3] = [
    (
        "keep_alive_answers_200_with_one_handshake_per_connection",
        keep_alive_answers_200_with_one_handshake_per_connection,
    ),
    (
        "without_resumption_every_connection_is_a_full_handshake",
        without_resumption_every_connection_is_a_full_handshake,
    ),
    (
        "with_resumption_later_connections_resume",
        with_resumption_later_connections_resume,
    ),
];

fn main() {
    if bench::server::serve_if_asked() {
        return;
    }
    let pki = e2e::tls::Pki::new("loadgen test CA");
    let files = e2e::tls::ServerFiles::new(&pki);
    let trust: Arc<rustls::ClientConfig> = pki.client_config(None);
    let tls = Tls::new(&trust, "localhost", Resumption::On).expect("a client");
    // Both TLS stacks: tokio-rustls (hyper) and http-conn's layer (the own loop).
    for server in [Server::Hyper, Server::LoopEpoll] {
        let mut flags: Vec<String> = ["--workers", "1", "--sink", "null", "--topic", "t"]
            .map(String::from)
            .to_vec();
        flags.extend(files.flags());
        let sut = ServerUnderTest::start(server, 0, &flags, Some(&trust))
            .unwrap_or_else(|error| panic!("{error}"));
        for (name, check) in CHECKS {
            print!("test {} {name} ... ", server.name());
            check(&sut, &tls);
            println!("ok");
        }
        sut.stop();
    }
    println!("\ntest result: ok. {} passed", CHECKS.len() * 2);
}
