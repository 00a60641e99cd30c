//! The shutdown order every server follows: no request that reached the gateway is
//! left without an answer, and no record that got no answer is in Kafka. Each check
//! sends SIGTERM while records are still on their way and reads what every client got.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::suite::setup;
use crate::{post, Client};

const SIGTERM: i32 = 15;

/// Polls `/metrics` until the sink holds `records` records in flight (the requests
/// reached the producer and wait for Kafka); panics past a generous hang guard.
fn wait_for_records_in_flight(address: std::net::SocketAddr, records: usize) {
    let wanted = format!("kafka_sink_in_flight_records {records}\n");
    let guard = Instant::now() + Duration::from_secs(60);
    loop {
        let mut probe = Client::connect(address).expect("connect");
        let metrics = probe
            .request(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("metrics")
            .expect("metrics answered")
            .text();
        if metrics.contains(&wanted) {
            return;
        }
        assert!(
            Instant::now() < guard,
            "{records} records never in flight:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The grace period ends while every record is still queued in the producer (a linger
/// far longer than the grace period): each request is answered `503` (the record was
/// never sent, so a retry elsewhere cannot duplicate it), the process exits cleanly,
/// and none of those records is in Kafka. Before the shutdown order was fixed, the
/// connections were dropped unanswered at the end of the grace period and the flush
/// that followed delivered the records: answered nothing, stored anyway.
pub fn records_queued_past_the_grace_period_are_refused_not_dropped(binary: &str) {
    let mut setup = setup(
        binary,
        &[
            "--linger-ms",
            "20000",
            "--delivery-timeout-ms",
            "60000",
            "--grace-period-ms",
            "500",
        ],
    );
    let address = setup.gateway.address;
    let payloads: Vec<String> = (0..8).map(|n| format!(r#"{{"queued":{n}}}"#)).collect();
    let mut clients: Vec<Client> = payloads
        .iter()
        .map(|payload| {
            let mut client = Client::connect(address).expect("connect");
            client.set_read_timeout(Duration::from_secs(60)).unwrap();
            client.send(&post(payload.as_bytes(), &[])).expect("send");
            client
        })
        .collect();
    wait_for_records_in_flight(address, payloads.len());
    setup.gateway.signal(SIGTERM);
    let mut refused = HashSet::new();
    for (client, payload) in clients.iter_mut().zip(&payloads) {
        let response = client
            .read_response()
            .expect("an answer before the hang guard")
            .unwrap_or_else(|| panic!("{payload}: the connection closed without an answer"));
        assert_eq!(response.status, 503, "{payload}: {}", response.text());
        assert_eq!(response.header("retry-after"), Some("1"));
        refused.insert(payload.clone());
    }
    let status = setup.gateway.wait(Duration::from_secs(60));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "exit status; log:\n{}",
        setup.gateway.log()
    );
    // The old order flushed the records into Kafka before the process exited: they
    // would be readable at once. Nothing may arrive within a few idle seconds.
    let stored: HashSet<String> = setup
        .broker
        .consume_all(&setup.topic, payloads.len(), Duration::from_secs(3))
        .into_iter()
        .map(|record| String::from_utf8_lossy(&record.payload).into_owned())
        .collect();
    let leaked: Vec<_> = stored.intersection(&refused).collect();
    assert!(leaked.is_empty(), "answered 503 but in Kafka: {leaked:?}");
}
