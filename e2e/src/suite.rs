//! The end-to-end checks every gateway binary must pass. Each function starts its own
//! gateway against the harness broker (tansu in CI) and asserts on what clients saw
//! and on what is in Kafka afterwards.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use test_broker::{payload_counts, TestBroker};

use crate::{post, Client, GatewayProcess};

/// A broker, a fresh 3-partition topic, and a gateway producing to it.
pub struct Setup {
    /// The broker.
    pub broker: TestBroker,
    /// The topic.
    pub topic: String,
    /// The gateway.
    pub gateway: GatewayProcess,
}

/// Starts `binary` against a fresh topic with `extra` flags.
pub fn setup(binary: &str, extra: &[&str]) -> Setup {
    let broker = TestBroker::start();
    let topic = TestBroker::unique_topic("e2e");
    broker.create_topic(&topic, 3);
    let mut args = [broker.gateway_flags(), vec!["--topic", &topic]].concat();
    args.extend_from_slice(extra);
    let gateway = GatewayProcess::start(binary, &args).unwrap_or_else(|log| panic!("{log}"));
    eprintln!(
        "{binary} on {} against {:?} broker at {}",
        gateway.address,
        broker.kind(),
        broker.brokers()
    );
    Setup {
        broker,
        topic,
        gateway,
    }
}

impl Setup {
    /// Reads the topic back and returns the payloads as strings.
    pub fn payloads_in_kafka(&self, expected: usize) -> Vec<String> {
        self.broker
            .consume_all(&self.topic, expected, Duration::from_secs(10))
            .into_iter()
            .map(|record| String::from_utf8(record.payload).expect("utf-8 payload"))
            .collect()
    }

    /// Asserts that the topic holds exactly `acknowledged`, once each, and none of `rejected`.
    pub fn assert_exactly_once(&self, acknowledged: &HashSet<String>, rejected: &HashSet<String>) {
        let records =
            self.broker
                .consume_all(&self.topic, acknowledged.len(), Duration::from_secs(10));
        let counts = payload_counts(&records);
        let duplicates = counts.values().filter(|&&n| n > 1).count();
        assert_eq!(duplicates, 0, "duplicated records in Kafka");
        let found: HashSet<String> = records
            .iter()
            .map(|r| String::from_utf8(r.payload.clone()).unwrap())
            .collect();
        let missing: Vec<_> = acknowledged.difference(&found).take(5).collect();
        assert!(
            missing.is_empty(),
            "answered 200 but not in Kafka: {missing:?} (of {})",
            acknowledged.len()
        );
        let leaked: Vec<_> = found.intersection(rejected).take(5).collect();
        assert!(leaked.is_empty(), "rejected but in Kafka: {leaked:?}");
    }
}

/// 64 keep-alive connections x 500 requests, with invalid JSON, oversized bodies and
/// smuggling shapes mixed in; then every 200 is in Kafka exactly once and nothing
/// rejected is.
pub fn mixed_load_produces_every_200_once_and_nothing_rejected(binary: &str) {
    let setup = setup(binary, &["--max-body-bytes", "4096"]);
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let rejected = Arc::new(Mutex::new(HashSet::new()));
    let address = setup.gateway.address;
    let threads: Vec<_> = (0..64)
        .map(|connection| {
            let acknowledged = Arc::clone(&acknowledged);
            let rejected = Arc::clone(&rejected);
            std::thread::spawn(move || {
                let mut client = Client::connect(address).expect("connect");
                for i in 0..500 {
                    let id = format!("{connection}-{i}");
                    let (request, payload, expected) = match i % 50 {
                        7 => {
                            let payload = format!(r#"{{"id":"{id}","broken":"#);
                            (post(payload.as_bytes(), &[]), payload, 400)
                        }
                        23 => {
                            let payload = format!(r#"{{"id":"{id}","pad":"{}"}}"#, "x".repeat(5000));
                            (post(payload.as_bytes(), &[]), payload, 413)
                        }
                        41 => {
                            let payload = format!(r#"{{"id":"{id}"}}"#);
                            let request = format!(
                                "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{payload}",
                                payload.len()
                            );
                            (request.into_bytes(), payload, 400)
                        }
                        _ => {
                            let payload = format!(r#"{{"id":"{id}","n":{i}}}"#);
                            (post(payload.as_bytes(), &[("X-Kafka-Key", &id)]), payload, 200)
                        }
                    };
                    let response = client.request(&request).expect("request").expect("response");
                    assert_eq!(response.status, expected, "{id}: {}", response.text());
                    if expected == 200 {
                        acknowledged.lock().unwrap().insert(payload);
                    } else {
                        rejected.lock().unwrap().insert(payload);
                    }
                    if response.header("connection") == Some("close") {
                        assert_ne!(expected, 200);
                        client = Client::connect(address).expect("reconnect");
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("client thread");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let rejected = rejected.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), 64 * 470);
    assert_eq!(rejected.len(), 64 * 30);
    setup.assert_exactly_once(&acknowledged, &rejected);
}

/// Pipelining, bodies split across writes, chunked bodies, `Expect: 100-continue`,
/// HTTP/1.0 and `Connection: close`.
pub fn pipelined_split_chunked_continue_and_closing_requests_are_served(binary: &str) {
    let setup = setup(binary, &[]);
    let address = setup.gateway.address;
    let mut acknowledged = HashSet::new();

    // Three pipelined requests in one write: three responses, in order.
    let mut client = Client::connect(address).unwrap();
    let mut batch = Vec::new();
    for i in 0..3 {
        let payload = format!(r#"{{"pipelined":{i}}}"#);
        batch.extend(post(payload.as_bytes(), &[]));
        acknowledged.insert(payload);
    }
    batch.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    client.send(&batch).unwrap();
    for _ in 0..3 {
        let response = client.read_response().unwrap().unwrap();
        assert_eq!(
            (response.status, response.text().as_str()),
            (200, "Payload received")
        );
    }
    assert_eq!(
        client.read_response().unwrap().unwrap().text(),
        "OK",
        "probe answered last"
    );

    // A body split across many small writes.
    let payload = r#"{"split":"across many writes"}"#.to_owned();
    for piece in post(payload.as_bytes(), &[]).chunks(3) {
        client.send(piece).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(client.read_response().unwrap().unwrap().status, 200);
    acknowledged.insert(payload);

    // Chunked, with an extension and a trailer.
    let chunked = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext=1\r\n{\"chu\r\n8\r\nnked\":1}\r\n0\r\nX-Trailer: yes\r\n\r\n";
    assert_eq!(client.request(chunked).unwrap().unwrap().status, 200);
    acknowledged.insert(r#"{"chunked":1}"#.to_owned());

    // Expect: 100-continue: the interim response comes before the body is sent.
    let payload = r#"{"expect":"continue"}"#;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    client.send(head.as_bytes()).unwrap();
    assert_eq!(client.read_response().unwrap().unwrap().status, 100);
    client.send(payload.as_bytes()).unwrap();
    assert_eq!(client.read_response().unwrap().unwrap().status, 200);
    acknowledged.insert(payload.to_owned());

    // HTTP/1.0 without keep-alive: answered, then closed.
    let mut old = Client::connect(address).unwrap();
    let payload = r#"{"http":"1.0"}"#;
    let request = format!(
        "POST / HTTP/1.0\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    assert_eq!(
        old.request(request.as_bytes()).unwrap().unwrap().status,
        200
    );
    assert!(old.is_closed(), "HTTP/1.0 connection closes");
    acknowledged.insert(payload.to_owned());

    // Connection: close on HTTP/1.1.
    let mut closing = Client::connect(address).unwrap();
    let payload = r#"{"connection":"close"}"#;
    let response = closing
        .request(&post(payload.as_bytes(), &[("Connection", "close")]))
        .unwrap()
        .unwrap();
    assert_eq!(response.status, 200);
    assert!(closing.is_closed(), "Connection: close is honoured");
    acknowledged.insert(payload.to_owned());

    // Record key and headers reach Kafka.
    let payload = r#"{"with":"key and headers"}"#;
    let response = client
        .request(&post(
            payload.as_bytes(),
            &[("X-Kafka-Key", "user-7"), ("X-Kafka-Header-Source", "e2e")],
        ))
        .unwrap()
        .unwrap();
    assert_eq!(response.status, 200);
    acknowledged.insert(payload.to_owned());

    setup.assert_exactly_once(&acknowledged, &HashSet::new());
    let records =
        setup
            .broker
            .consume_all(&setup.topic, acknowledged.len(), Duration::from_secs(10));
    let keyed = records
        .iter()
        .find(|r| r.payload == payload.as_bytes())
        .expect("keyed record");
    assert_eq!(keyed.key.as_deref(), Some(&b"user-7"[..]));
    assert_eq!(keyed.headers, vec![("source".to_owned(), b"e2e".to_vec())]);
}

/// Request-smuggling and malformed-framing shapes that every server answers with 400
/// and a closed connection.
pub const SMUGGLING_CORPUS: &[(&str, &[u8])] = &[
    // hyper processes this one by Transfer-Encoding and closes (RFC 9112 §6.3); its 400
    // comes from the empty body. The servers framing with http-parse refuse the framing
    // itself.
    ("CL and TE", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("differing CL", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x"),
    ("CL list", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2, 2\r\n\r\n{}"),
    ("signed CL", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +2\r\n\r\n{}"),
    ("negative CL", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -2\r\n\r\n{}"),
    ("hex CL", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x2\r\n\r\n{}"),
    ("chunk size overflow", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n{}\r\n0\r\n\r\n"),
    ("negative chunk size", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n"),
    ("0x chunk size", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n"),
    ("chunk without CRLF", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n"),
    ("chunked not last", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
    ("TE from HTTP/1.0", b"POST / HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
    ("space before colon", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length : 2\r\n\r\n{}"),
    ("TE space before colon", b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
    ("obs-fold", b"POST / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  2\r\nContent-Length: 2\r\n\r\n{}"),
    ("bad method token", b"P@ST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}"),
    ("NUL in header", b"POST / HTTP/1.1\r\nHost: t\x00\r\nContent-Length: 2\r\n\r\n{}"),
];

/// Every [`SMUGGLING_CORPUS`] entry gets 400 and a closed connection, nothing reaches
/// Kafka, and a normal request right after still succeeds.
pub fn smuggling_corpus_is_rejected(binary: &str) {
    let setup = setup(binary, &[]);
    for (name, request) in SMUGGLING_CORPUS {
        let mut client = Client::connect(setup.gateway.address).unwrap();
        let response = client
            .request(request)
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: no response"));
        assert_eq!(response.status, 400, "{name}: {}", response.text());
        assert!(client.is_closed(), "{name}: connection left open");
    }
    let mut client = Client::connect(setup.gateway.address).unwrap();
    let ok = client
        .request(&post(br#"{"after":"corpus"}"#, &[]))
        .unwrap()
        .unwrap();
    assert_eq!(ok.status, 200);
    let acknowledged = HashSet::from([r#"{"after":"corpus"}"#.to_owned()]);
    setup.assert_exactly_once(&acknowledged, &HashSet::new());
    assert_eq!(
        setup.payloads_in_kafka(2).len(),
        1,
        "only the valid request was produced"
    );
}

/// SIGTERM while 16 clients send: every 200 is in Kafka, the process exits 0.
pub fn sigterm_under_load_loses_nothing(binary: &str) {
    let mut setup = setup(binary, &["--grace-period-ms", "5000"]);
    let address = setup.gateway.address;
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let threads: Vec<_> = (0..16)
        .map(|connection| {
            let acknowledged = Arc::clone(&acknowledged);
            std::thread::spawn(move || {
                let Ok(mut client) = Client::connect(address) else {
                    return;
                };
                for i in 0.. {
                    let payload = format!(r#"{{"c":{connection},"i":{i}}}"#);
                    match client.request(&post(payload.as_bytes(), &[])) {
                        Ok(Some(response)) if response.status == 200 => {
                            acknowledged.lock().unwrap().insert(payload);
                            if response.header("connection") == Some("close") {
                                return;
                            }
                        }
                        Ok(Some(response)) => {
                            assert_eq!(response.status, 503, "{}", response.text())
                        }
                        Ok(None) | Err(_) => return,
                    }
                }
            })
        })
        .collect();
    // Signal once the load has run, decided by what was acknowledged, not by time.
    let guard = std::time::Instant::now() + Duration::from_secs(120);
    while acknowledged.lock().unwrap().len() < 200 {
        assert!(
            std::time::Instant::now() < guard,
            "load never reached 200 acks"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    setup.gateway.signal(SIGTERM);
    let status = setup.gateway.wait(Duration::from_secs(30));
    for thread in threads {
        thread.join().expect("client thread");
    }
    let log = setup.gateway.log();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "exit status; log:\n{log}"
    );
    assert!(log.contains("producer flushed"), "flush logged:\n{log}");
    let acknowledged = acknowledged.lock().unwrap().clone();
    setup.assert_exactly_once(&acknowledged, &HashSet::new());
}

const SIGTERM: i32 = 15;

/// A missing topic stops start-up with a message that names it.
pub fn unknown_topic_fails_at_startup(binary: &str) {
    let broker = TestBroker::start();
    let (status, stderr) = GatewayProcess::run_to_exit(
        binary,
        &[
            "--brokers",
            broker.brokers(),
            "--topic",
            "no-such-topic-e2e",
            "--listen",
            "127.0.0.1:0",
        ],
        Duration::from_secs(30),
    );
    let status = status.expect("exits on its own");
    assert!(!status.success());
    assert!(
        stderr.contains("no-such-topic-e2e") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

/// A client that never finishes its head is closed at the header timeout, while other
/// clients are served meanwhile; probes and metrics answer.
pub fn probes_and_metrics_answer_while_a_stalled_head_is_cut(binary: &str) {
    let setup = setup(binary, &["--header-timeout-ms", "500"]);
    let mut slow = Client::connect(setup.gateway.address).unwrap();
    slow.send(b"POST / HTTP/1.1\r\nHost: t\r\n").unwrap();
    let mut client = Client::connect(setup.gateway.address).unwrap();
    assert_eq!(
        client.request(&post(b"{}", &[])).unwrap().unwrap().status,
        200
    );
    assert_eq!(
        client
            .request(b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap()
            .unwrap()
            .status,
        200
    );
    let metrics = client
        .request(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(
        metrics
            .text()
            .contains("http_requests_total{status=\"200\"}"),
        "{}",
        metrics.text()
    );
    assert!(
        metrics
            .text()
            .contains("kafka_sink_records_total{outcome=\"delivered\"} 1"),
        "{}",
        metrics.text()
    );
    // Blocks until the server acts (the client's read timeout only guards a hang).
    assert!(slow.is_closed(), "slow client closed at the header timeout");
}

/// Reads one gauge or counter from `/metrics` over `client`.
pub fn metric(client: &mut Client, name: &str) -> u64 {
    let response = client
        .request(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap()
        .expect("metrics answered");
    let text = response.text();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Polls `/metrics` over `client` until `name` reads `value`: the server frees a
/// closed connection's slot when it sees the close, not when the client closes.
pub fn wait_for_metric(client: &mut Client, name: &str, value: u64) {
    for _ in 0..2_000 {
        if metric(client, name) == value {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{name} never reached {value}");
}

/// Reads the refusal a connection over a connection limit gets: `503` with
/// `Retry-After: 1`, then the close.
fn assert_refused(client: &mut Client) -> crate::Response {
    let refused = client
        .read_response()
        .unwrap()
        .expect("a refusal, not a silent close");
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(client.is_closed());
    refused
}

/// Past `--max-connections`, a new connection gets 503 with Retry-After and is closed,
/// and the refusal is counted.
pub fn connections_past_the_limit_get_503_and_are_counted(binary: &str) {
    let setup = setup(
        binary,
        &[
            "--max-connections",
            "2",
            "--max-connections-per-client",
            "0",
            "--workers",
            "1",
        ],
    );
    let mut first = Client::connect(setup.gateway.address).unwrap();
    // The start-up probe's connection may not have been released yet: wait until the
    // server counts this connection alone.
    wait_for_metric(&mut first, "gateway_connections_open", 1);
    let mut second = Client::connect(setup.gateway.address).unwrap();
    assert_eq!(
        second
            .request(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap()
            .unwrap()
            .status,
        200
    );
    let mut third = Client::connect(setup.gateway.address).unwrap();
    assert_refused(&mut third);
    assert_eq!(
        metric(
            &mut first,
            "gateway_connections_refused_total{reason=\"limit\"}"
        ),
        1
    );
    assert_eq!(metric(&mut first, "gateway_connections_open"), 2);
}

/// Past `--max-connections-per-client`, a new connection from the same address gets
/// 503 with Retry-After and is closed, counted as a per-client refusal, while another
/// address is still served.
pub fn one_client_past_its_connection_bound_gets_503_and_others_are_served(binary: &str) {
    let setup = setup(
        binary,
        &["--max-connections-per-client", "2", "--workers", "1"],
    );
    let (this, other) = ([127, 0, 0, 1].into(), [127, 0, 0, 2].into());
    let address = setup.gateway.address;
    let mut first = Client::connect_from(this, address).unwrap();
    // The start-up probe's connection (also from 127.0.0.1) may not have been released
    // yet: wait until the server counts this connection alone.
    wait_for_metric(&mut first, "gateway_connections_open", 1);
    let mut second = Client::connect_from(this, address).unwrap();
    let health = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_eq!(second.request(health).unwrap().unwrap().status, 200);
    let mut third = Client::connect_from(this, address).unwrap();
    let refused = assert_refused(&mut third);
    assert!(
        refused.text().contains("from your address"),
        "{}",
        refused.text()
    );
    let mut elsewhere = Client::connect_from(other, address).unwrap();
    assert_eq!(elsewhere.request(health).unwrap().unwrap().status, 200);
    assert_eq!(
        metric(
            &mut first,
            "gateway_connections_refused_total{reason=\"per_client\"}"
        ),
        1
    );
    assert_eq!(metric(&mut first, "gateway_connections_open"), 3);
}

/// Shapes hyper tolerates or answers with a plain 400, which the servers framing with
/// `http-parse` answer with the status the RFCs name: bare LF, equal duplicate lengths
/// and a control byte in a chunk extension are refused, unknown transfer codings get
/// 501, other versions 505. Each closes the connection and produces nothing.
pub fn stricter_than_hyper_where_the_rfcs_allow(binary: &str) {
    let setup = setup(binary, &[]);
    for (request, status) in [
        (
            &b"POST / HTTP/1.1\nHost: t\nContent-Length: 2\n\n{}"[..],
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (
            b"POST / HTTP/2.0\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}",
            505,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2;\x01\r\n{}\r\n0\r\n\r\n",
            400,
        ),
    ] {
        let mut client = Client::connect(setup.gateway.address).unwrap();
        let response = client.request(request).unwrap().expect("response");
        assert_eq!(
            response.status,
            status,
            "{}",
            String::from_utf8_lossy(request)
        );
        assert!(client.is_closed());
    }
    assert!(setup.payloads_in_kafka(1).is_empty(), "nothing produced");
}

/// A body under the body limit whose record is over librdkafka's `message.max.bytes`
/// (1,000,000 by default): 413 on `POST /` and on the REST Proxy API, where it was a
/// 502 that invited retries; the connection stays usable and nothing is produced.
pub fn record_over_kafka_limit_is_413(binary: &str) {
    let setup = setup(binary, &[]);
    let mut client = Client::connect(setup.gateway.address).unwrap();
    let big = format!(r#"{{"p":"{}"}}"#, "x".repeat(1_040_002 - 8));
    assert_eq!(big.len(), 1_040_002);
    let response = client.request(&post(big.as_bytes(), &[])).unwrap().unwrap();
    assert_eq!(response.status, 413, "{}", response.text());
    let v2 = format!(r#"{{"records":[{{"value":{big}}}]}}"#);
    let request = format!(
        "POST /topics/{} HTTP/1.1\r\nHost: t\r\nContent-Type: application/vnd.kafka.json.v2+json\r\nContent-Length: {}\r\n\r\n{v2}",
        setup.topic,
        v2.len()
    );
    let response = client
        .request(request.as_bytes())
        .unwrap()
        .expect("same connection");
    assert_eq!(response.status, 413, "{}", response.text());
    let ok = client
        .request(&post(br#"{"after":"413"}"#, &[]))
        .unwrap()
        .unwrap();
    assert_eq!(ok.status, 200);
    let acknowledged = HashSet::from([r#"{"after":"413"}"#.to_owned()]);
    setup.assert_exactly_once(&acknowledged, &HashSet::from([big]));
}

/// JSON nested past `--max-json-depth` (default 64): the review's `[` x 100,000 then
/// `]` x 100,000, on `POST /` and as a REST Proxy value, is 400 naming line and column,
/// and nothing is produced; 64 deep is accepted.
pub fn deep_json_is_400_with_line_and_column(binary: &str) {
    let setup = setup(binary, &[]);
    let mut client = Client::connect(setup.gateway.address).unwrap();
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let deep = nested(100_000);
    let response = client
        .request(&post(deep.as_bytes(), &[]))
        .unwrap()
        .unwrap();
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(
        response.text().contains("line 1 column 65"),
        "{}",
        response.text()
    );
    let v2 = format!(r#"{{"records":[{{"value":{deep}}}]}}"#);
    let request = format!(
        "POST /topics/{} HTTP/1.1\r\nHost: t\r\nContent-Type: application/vnd.kafka.json.v2+json\r\nContent-Length: {}\r\n\r\n{v2}",
        setup.topic,
        v2.len()
    );
    let response = client.request(request.as_bytes()).unwrap().unwrap();
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(
        response.text().contains("\"error_code\":400"),
        "{}",
        response.text()
    );
    assert!(
        response.text().contains("line 1 column 86"),
        "{}",
        response.text()
    );
    let deepest = nested(64);
    let ok = client
        .request(&post(deepest.as_bytes(), &[]))
        .unwrap()
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    setup.assert_exactly_once(&HashSet::from([deepest]), &HashSet::from([deep]));
}

/// Browser pages cannot write cross-site: a form post (`application/x-www-form-urlencoded`,
/// which a browser sends to any origin without a preflight) from an origin that is not
/// `--allow-origin`, or with `Sec-Fetch-Site: cross-site`, is 403 and produces nothing;
/// a preflight from an allowed origin is answered with its CORS headers, and so is
/// its write; a client that is no browser (no `Origin`) is not affected.
pub fn cross_site_writes_are_refused(binary: &str) {
    let setup = setup(binary, &["--allow-origin", "https://app.example.com"]);
    let mut client = Client::connect(setup.gateway.address).unwrap();
    let form = |payload: &str, extra: &str| {
        format!(
            "POST / HTTP/1.1\r\nHost: gateway.internal\r\nContent-Type: application/x-www-form-urlencoded\r\n{extra}Content-Length: {}\r\n\r\n{payload}",
            payload.len()
        )
    };
    let refused = [
        (r#"{"from":"evil"}"#, "Origin: https://evil.example\r\n"),
        (r#"{"from":"null"}"#, "Origin: null\r\n"),
        (r#"{"from":"cross-site"}"#, "Sec-Fetch-Site: cross-site\r\n"),
    ];
    for (payload, extra) in refused {
        let response = client
            .request(form(payload, extra).as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(response.status, 403, "{extra}: {}", response.text());
        assert_eq!(response.header("access-control-allow-origin"), None);
    }
    let preflight = "OPTIONS / HTTP/1.1\r\nHost: gateway.internal\r\nOrigin: https://app.example.com\r\n\
        Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n";
    let response = client.request(preflight.as_bytes()).unwrap().unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        response.header("access-control-allow-methods"),
        Some("POST")
    );
    assert_eq!(
        response.header("access-control-allow-headers"),
        Some("content-type")
    );
    let allowed = r#"{"from":"app"}"#;
    let response = client
        .request(
            form(
                allowed,
                "Origin: https://app.example.com\r\nSec-Fetch-Site: cross-site\r\n",
            )
            .as_bytes(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let curl = r#"{"from":"curl"}"#;
    let response = client.request(form(curl, "").as_bytes()).unwrap().unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    let acknowledged = HashSet::from([allowed.to_owned(), curl.to_owned()]);
    let rejected = refused
        .iter()
        .map(|(payload, _)| (*payload).to_owned())
        .collect();
    setup.assert_exactly_once(&acknowledged, &rejected);
}

/// A ring the kernel refuses (more than its 32768 entries) stops an io_uring server's
/// start-up with a message naming io_uring, `--ring-entries` and every hint in
/// `also_names`, and a non-zero exit, before it ever says "listening".
pub fn refused_ring_fails_start_up(binary: &str, also_names: &[&str]) {
    let (status, stderr) = GatewayProcess::run_to_exit(
        binary,
        &[
            "--sink",
            "null",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--ring-entries",
            "65536",
        ],
        Duration::from_secs(60),
    );
    let status = status.expect("exits on its own instead of serving nothing");
    assert!(!status.success(), "{stderr}");
    for needle in ["cannot set up io_uring", "--ring-entries"]
        .iter()
        .chain(also_names)
    {
        assert!(stderr.contains(needle), "no {needle:?} in {stderr}");
    }
    assert!(!stderr.contains("listening on"), "{stderr}");
}

/// Against the secured broker (`test_broker::secure_every_broker`): a wrong password
/// stops start-up with a failure status, the broker and the cause named, and no
/// password printed. Without a secured broker (plaintext binaries) there is nothing
/// to check.
pub fn a_wrong_kafka_password_stops_start_up_naming_the_broker(binary: &str) {
    if let Some(broker) = TestBroker::start_secured(test_broker::Secured::EVERYTHING) {
        broker.assert_gateway_refuses(
            binary,
            test_broker::Mistake::WrongPassword,
            "cannot authenticate",
        );
    }
}
