//! Each rule the gateway applies on several paths, asked on every one of them: `POST /`,
//! REST Proxy v2, v3 records and v3 batch. A copy of a rule that drifts on one path
//! fails here.

use ingest::{AckMode, Gateway, GatewaySink, Incoming, Policy, Reply, RestProxySettings};
use kafka_sink::{MemorySink, SinkError};
use serde_json::Value;

const MAX_BODY_BYTES: usize = 256;

fn gateway() -> Gateway {
    Gateway::new(
        Policy {
            max_body_bytes: MAX_BODY_BYTES,
            ack_mode: AckMode::Delivered,
            ..Policy::new("events")
        },
        GatewaySink::Memory(MemorySink::default()),
    )
    .with_rest_proxy(RestProxySettings {
        allow_topics: vec!["events".into()],
        cluster_id: "c".into(),
        max_batch_entries: 10,
    })
}

fn memory(gateway: &Gateway) -> &MemorySink {
    let GatewaySink::Memory(memory) = gateway.sink() else {
        unreachable!()
    };
    memory
}

/// One write path: where it is, the `Content-Type` it takes, and a valid body of
/// exactly `len` bytes (padded inside a JSON string).
struct Path {
    name: &'static str,
    target: &'static str,
    content_type: &'static str,
    body: fn(usize) -> String,
}

fn pad(template: &str, len: usize) -> String {
    let pad = len - (template.len() - 2);
    template.replace("{}", &"x".repeat(pad))
}

const PATHS: [Path; 4] = [
    Path {
        name: "POST /",
        target: "/",
        content_type: "application/json",
        body: |len| pad(r#"{"p":"{}"}"#, len),
    },
    Path {
        name: "v2",
        target: "/topics/events",
        content_type: "application/vnd.kafka.json.v2+json",
        body: |len| pad(r#"{"records":[{"value":"{}"}]}"#, len),
    },
    Path {
        name: "v3 records",
        target: "/v3/clusters/c/topics/events/records",
        content_type: "application/json",
        body: |len| pad(r#"{"value":{"data":"{}"}}"#, len),
    },
    Path {
        name: "v3 batch",
        target: "/v3/clusters/c/topics/events/records:batch",
        content_type: "application/json",
        body: |len| pad(r#"{"entries":[{"id":"a","value":{"data":"{}"}}]}"#, len),
    },
];

fn send(
    gateway: &Gateway,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
    body_framed: bool,
) -> Reply {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            gateway
                .submit(Incoming {
                    method: "POST",
                    path: target,
                    headers: headers
                        .iter()
                        .map(|(name, value)| (*name, value.as_bytes())),
                    body: body.as_bytes(),
                    body_framed,
                })
                .reply(gateway)
                .await
        })
}

fn statuses(send_one: impl Fn(&Path) -> Reply) -> Vec<(&'static str, u16)> {
    PATHS
        .iter()
        .map(|path| (path.name, send_one(path).status.as_u16()))
        .collect()
}

fn all(status: u16) -> Vec<(&'static str, u16)> {
    PATHS.iter().map(|path| (path.name, status)).collect()
}

#[test]
fn the_body_check_is_the_same_on_every_path() {
    let gateway = gateway();
    let accepted = |path: &Path| match path.name {
        "v3 batch" => 207,
        _ => 200,
    };
    for path in &PATHS {
        let at_limit = (path.body)(MAX_BODY_BYTES);
        assert_eq!(at_limit.len(), MAX_BODY_BYTES);
        let reply = send(
            &gateway,
            path.target,
            &[("Content-Type", path.content_type)],
            &at_limit,
            true,
        );
        assert_eq!(reply.status, accepted(path), "{}: at the limit", path.name);
    }
    let over_limit = statuses(|path| {
        let body = (path.body)(MAX_BODY_BYTES + 1);
        send(
            &gateway,
            path.target,
            &[("Content-Type", path.content_type)],
            &body,
            true,
        )
    });
    assert_eq!(over_limit, all(413), "one byte over the limit");
    let unframed = statuses(|path| {
        send(
            &gateway,
            path.target,
            &[("Content-Type", path.content_type)],
            "",
            false,
        )
    });
    assert_eq!(unframed, all(411), "no declared body");
    gateway.begin_shutdown();
    let shutting_down = statuses(|path| {
        let body = (path.body)(MAX_BODY_BYTES);
        send(
            &gateway,
            path.target,
            &[("Content-Type", path.content_type)],
            &body,
            true,
        )
    });
    assert_eq!(shutting_down, all(503), "shutting down");
    assert_eq!(memory(&gateway).records().len(), PATHS.len());
}

#[test]
fn content_type_is_found_and_parsed_alike_on_every_path() {
    let gateway = gateway();
    let twice = statuses(|path| {
        send(
            &gateway,
            path.target,
            &[
                ("Content-Type", path.content_type),
                ("content-type", path.content_type),
            ],
            &(path.body)(64),
            true,
        )
    });
    assert_eq!(twice, all(400), "a second Content-Type");
    for path in &PATHS {
        let loud = format!(
            " {} ; charset=utf-8",
            path.content_type.to_ascii_uppercase()
        );
        let reply = send(
            &gateway,
            path.target,
            &[("CONTENT-TYPE", &loud)],
            &(path.body)(64),
            true,
        );
        assert!(
            reply.status.is_success(),
            "{}: {loud}: {reply:?}",
            path.name
        );
    }
    let wrong = statuses(|path| {
        send(
            &gateway,
            path.target,
            &[("Content-Type", "text/plain")],
            &(path.body)(64),
            true,
        )
    });
    assert_eq!(wrong, all(415), "a type no path takes");
}

fn json(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap()
}

#[test]
fn every_rest_answer_reports_the_one_error_code() {
    let gateway = gateway();
    for error in [
        SinkError::Rejected {
            reason: "no".into(),
        },
        SinkError::TimedOut { timeout_ms: 5 },
        SinkError::TooLarge { bytes: 9 },
    ] {
        let code = ingest::Rejection::Sink(error.clone()).rest_error_code();
        memory(&gateway).fail_with(Some(error.clone()));
        let reported: Vec<Value> = PATHS[1..]
            .iter()
            .map(|path| {
                let reply = send(
                    &gateway,
                    path.target,
                    &[("Content-Type", path.content_type)],
                    &(path.body)(64),
                    true,
                );
                let answer = json(&reply);
                match path.name {
                    "v2" => answer["offsets"][0]["error_code"].clone(),
                    "v3 records" => answer["error_code"].clone(),
                    _ => answer["failures"][0]["error_code"].clone(),
                }
            })
            .collect();
        assert_eq!(reported, vec![Value::from(code); 3], "{error:?}");
    }
    memory(&gateway).fail_with(None);
    // A refused request (unknown topic) in either API's body.
    for target in ["/topics/other", "/v3/clusters/c/topics/other/records"] {
        let content_type = match target.starts_with("/v3") {
            true => "application/json",
            false => "application/vnd.kafka.json.v2+json",
        };
        let reply = send(
            &gateway,
            target,
            &[("Content-Type", content_type)],
            "{}",
            true,
        );
        assert_eq!(json(&reply)["error_code"], 40401, "{target}");
    }
}

#[test]
fn every_503_carries_retry_after_and_nothing_else_does() {
    let gateway = gateway();
    memory(&gateway).fail_with(Some(SinkError::Overloaded {
        in_flight_records: 1,
        in_flight_bytes: 1,
    }));
    for path in &PATHS {
        let reply = send(
            &gateway,
            path.target,
            &[("Content-Type", path.content_type)],
            &(path.body)(64),
            true,
        );
        assert_eq!(
            (reply.status.as_u16(), reply.retry_after_secs()),
            (503, Some(1)),
            "{}: overloaded",
            path.name
        );
    }
    memory(&gateway).fail_with(Some(SinkError::TimedOut { timeout_ms: 5 }));
    let reply = send(&gateway, "/", &[], "{}", true);
    assert_eq!(
        (reply.status.as_u16(), reply.retry_after_secs()),
        (504, None)
    );
}

/// Log lines, captured.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn clients_hear_no_broker_address_or_counter_and_the_log_has_the_whole_error() {
    let gateway = gateway();
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .finish();
    let internals = ["10.1.2.3", "12345", "67890", "s3cr3t"];
    tracing::subscriber::with_default(subscriber, || {
        for error in [
            SinkError::UnknownTopic {
                topic: "events".into(),
                brokers: "10.1.2.3:9092".into(),
            },
            SinkError::BrokerUnreachable {
                brokers: "10.1.2.3:9092".into(),
                reason: "Connect to ipv4#10.1.2.3:9092 failed".into(),
            },
            SinkError::Overloaded {
                in_flight_records: 12345,
                in_flight_bytes: 67890,
            },
            SinkError::Config {
                reason: "sasl.password=s3cr3t is invalid".into(),
            },
        ] {
            memory(&gateway).fail_with(Some(error.clone()));
            for path in &PATHS {
                let reply = send(
                    &gateway,
                    path.target,
                    &[("Content-Type", path.content_type)],
                    &(path.body)(64),
                    true,
                );
                let body = String::from_utf8_lossy(&reply.body);
                assert!(body.contains("rror"), "{}: {error:?}: {body}", path.name);
                for internal in internals {
                    assert!(!body.contains(internal), "{}: {error:?}: {body}", path.name);
                }
            }
        }
    });
    for rejection in [
        ingest::Rejection::TooManyConnections { limit: 12345 },
        ingest::Rejection::TooManyClientConnections { limit: 12345 },
    ] {
        let reply = Reply::rejected(&rejection);
        assert!(!String::from_utf8_lossy(&reply.body).contains("12345"));
    }
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for internal in ["10.1.2.3:9092", "12345 records", "67890 bytes"] {
        assert!(logs.contains(internal), "{internal} not logged:\n{logs}");
    }
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply
        .cors
        .iter()
        .flat_map(|cors| cors.fields())
        .find(|(field, _)| *field == name)
        .map(|(_, value)| value)
}

#[test]
fn the_cross_site_rules_are_the_same_on_every_path() {
    let gateway = Gateway::new(
        Policy {
            allow_origins: vec!["https://app.example.com".into()],
            ..Policy::new("events")
        },
        GatewaySink::Memory(MemorySink::default()),
    )
    .with_rest_proxy(RestProxySettings {
        allow_topics: vec!["events".into()],
        cluster_id: "c".into(),
        max_batch_entries: 10,
    });
    let form = |path: &Path, extra: (&'static str, &'static str)| {
        // What a page's form post sends: no preflight, whatever the path wants.
        let content_type = match path.name {
            "POST /" => "application/x-www-form-urlencoded",
            _ => path.content_type,
        };
        send(
            &gateway,
            path.target,
            &[("Content-Type", content_type), extra],
            &(path.body)(64),
            true,
        )
    };
    let foreign = statuses(|path| form(path, ("Origin", "https://evil.example")));
    assert_eq!(foreign, all(403), "another origin");
    let cross_site = statuses(|path| form(path, ("Sec-Fetch-Site", "cross-site")));
    assert_eq!(cross_site, all(403), "a cross-site fetch without an origin");
    assert!(memory(&gateway).records().is_empty(), "nothing produced");
    for path in &PATHS {
        let reply = form(path, ("Origin", "https://evil.example"));
        let answer = json(&reply);
        let shape = match path.name {
            "POST /" => answer["error"].is_string(),
            _ => answer["error_code"] == 403 && answer["message"].is_string(),
        };
        assert!(shape, "{}: the path's own error shape: {answer}", path.name);
        assert_eq!(reply.cors, None, "no CORS headers for a refused origin");

        let reply = form(path, ("Origin", "https://app.example.com"));
        assert!(reply.status.is_success(), "{}: {reply:?}", path.name);
        assert_eq!(
            header(&reply, "access-control-allow-origin"),
            Some("https://app.example.com"),
            "{}",
            path.name
        );
    }
    assert_eq!(memory(&gateway).records().len(), PATHS.len());

    let preflight = |target: &str, origin: &'static str| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                let headers = [
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "content-type,x-kafka-key"),
                ];
                gateway
                    .submit(Incoming {
                        method: "OPTIONS",
                        path: target,
                        headers: headers.iter().map(|(n, v)| (*n, v.as_bytes())),
                        body: b"",
                        body_framed: false,
                    })
                    .reply(&gateway)
                    .await
            })
    };
    for path in &PATHS {
        let reply = preflight(path.target, "https://app.example.com");
        assert_eq!(reply.status, 200, "{}", path.name);
        assert_eq!(header(&reply, "access-control-allow-methods"), Some("POST"));
        assert_eq!(
            header(&reply, "access-control-allow-headers"),
            Some("content-type,x-kafka-key")
        );
        assert_eq!(preflight(path.target, "https://evil.example").status, 403);
    }
    assert_eq!(preflight("/healthz", "https://app.example.com").status, 200);
    assert_eq!(preflight("/nope", "https://app.example.com").status, 404);
    assert_eq!(
        preflight("/topics/a/b", "https://app.example.com").status,
        404
    );
}
