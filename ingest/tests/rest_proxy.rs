//! The Kafka REST Proxy API through `Gateway::submit`, on the memory sink: every
//! request shape and every error.

use ingest::{AckMode, Gateway, GatewaySink, Incoming, Policy, Reply, RestProxySettings};
use kafka_sink::{MemorySink, SinkError, StoredRecord};
use serde_json::{json, Value};

const JSON_V2: &str = "application/vnd.kafka.json.v2+json";
const BINARY_V2: &str = "application/vnd.kafka.binary.v2+json";

fn gateway() -> Gateway {
    let gateway = Gateway::new(
        Policy {
            max_body_bytes: 4096,
            ack_mode: AckMode::Queued,
            ..Policy::new("events")
        },
        GatewaySink::Memory(MemorySink::default()),
    )
    .with_rest_proxy(RestProxySettings {
        allow_topics: vec!["events".into(), "logs.*".into()],
        cluster_id: "cluster-1".into(),
        max_batch_entries: 3,
    });
    gateway.topics().set_known([
        ("events".to_owned(), 3),
        ("logs.app".to_owned(), 1),
        ("secret".to_owned(), 1),
    ]);
    gateway
}

fn memory(gateway: &Gateway) -> &MemorySink {
    let GatewaySink::Memory(memory) = gateway.sink() else {
        unreachable!()
    };
    memory
}

fn send(gateway: &Gateway, method: &str, target: &str, content_type: &str, body: &str) -> Reply {
    let headers = [("Content-Type", content_type.as_bytes())];
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            gateway
                .submit(Incoming {
                    method,
                    path: target,
                    headers: headers.iter().copied().filter(|(_, v)| !v.is_empty()),
                    body: body.as_bytes(),
                    body_framed: true,
                })
                .reply(gateway)
                .await
        })
}

fn body(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&reply.body)))
}

fn records(gateway: &Gateway) -> Vec<StoredRecord> {
    memory(gateway).records()
}

#[test]
fn v2_json_records_are_produced_as_json_text_and_answered_in_order() {
    let gateway = gateway();
    let reply = send(
        &gateway,
        "POST",
        "/topics/events",
        JSON_V2,
        r#"{"records":[{"key":"somekey","value":{"foo": "bar"}},{"value":["foo","bar"],"partition":1},{"value":53.5}]}"#,
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "application/vnd.kafka.v2+json");
    assert_eq!(
        body(&reply),
        json!({"offsets":[
            {"partition":0,"offset":0,"error_code":null,"error":null},
            {"partition":1,"offset":1,"error_code":null,"error":null},
            {"partition":0,"offset":2,"error_code":null,"error":null}],
            "key_schema_id":null,"value_schema_id":null})
    );
    let stored = records(&gateway);
    assert_eq!(stored[0].key.as_deref(), Some(&b"\"somekey\""[..]));
    assert_eq!(stored[0].payload, br#"{"foo": "bar"}"#);
    assert_eq!(stored[1].payload, br#"["foo","bar"]"#);
    assert_eq!(stored[1].partition, Some(1));
    assert_eq!(stored[2].payload, b"53.5");
    assert!(stored.iter().all(|r| r.topic == "events"));
}

#[test]
fn v2_binary_is_base64_decoded_and_the_path_partition_wins() {
    let gateway = gateway();
    let reply = send(
        &gateway,
        "POST",
        "/topics/events/partitions/2",
        BINARY_V2,
        r#"{"records":[{"key":"a2V5","value":"Y29uZmx1ZW50","partition":0},{"value":"AP8="}]}"#,
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let stored = records(&gateway);
    assert_eq!(stored[0].key.as_deref(), Some(&b"key"[..]));
    assert_eq!(stored[0].payload, b"confluent");
    assert_eq!(stored[1].payload, [0, 255]);
    assert!(stored.iter().all(|r| r.partition == Some(2)));
}

#[test]
fn v2_per_record_failures_carry_rest_proxy_error_codes() {
    let gateway = gateway();
    memory(&gateway).fail_with(Some(SinkError::Rejected {
        reason: "no".into(),
    }));
    let reply = send(
        &gateway,
        "POST",
        "/topics/events",
        JSON_V2,
        r#"{"records":[{"value":1}]}"#,
    );
    assert_eq!(reply.status, 200);
    let offsets = &body(&reply)["offsets"];
    assert_eq!(offsets[0]["error_code"], 50002);
    assert!(offsets[0]["error"].as_str().unwrap().contains("no"));
    memory(&gateway).fail_with(Some(SinkError::TimedOut { timeout_ms: 5 }));
    let reply = send(
        &gateway,
        "POST",
        "/topics/events",
        JSON_V2,
        r#"{"records":[{"value":1}]}"#,
    );
    assert_eq!(body(&reply)["offsets"][0]["error_code"], 50003);
}

#[test]
fn overload_on_the_first_record_is_503_with_retry_after() {
    let gateway = gateway();
    memory(&gateway).fail_with(Some(SinkError::Overloaded {
        in_flight_records: 1,
        in_flight_bytes: 1,
    }));
    let reply = send(
        &gateway,
        "POST",
        "/topics/events",
        JSON_V2,
        r#"{"records":[{"value":1}]}"#,
    );
    assert_eq!(reply.status, 503);
    assert_eq!(reply.retry_after_secs(), Some(1));
    assert_eq!(body(&reply)["error_code"], 50003);
}

#[test]
fn v2_errors_have_the_rest_proxy_shape() {
    let gateway = gateway();
    for (target, content_type, request, status, code) in [
        (
            "/topics/events",
            JSON_V2,
            r#"{"records":[{"value":1}"#,
            400,
            400,
        ),
        ("/topics/events", JSON_V2, r#"{"records":[]}"#, 422, 422),
        (
            "/topics/events",
            JSON_V2,
            r#"{"records":[{"value":1,"nope":2}]}"#,
            422,
            422,
        ),
        (
            "/topics/events",
            JSON_V2,
            r#"{"records":[{}, {}, {}, {}]}"#,
            422,
            422,
        ),
        (
            "/topics/events",
            BINARY_V2,
            r#"{"records":[{"value":"!!"}]}"#,
            400,
            400,
        ),
        (
            "/topics/events",
            BINARY_V2,
            r#"{"records":[{"value":5}]}"#,
            422,
            422,
        ),
        (
            "/topics/events",
            "application/vnd.kafka.avro.v2+json",
            r#"{"records":[]}"#,
            415,
            415,
        ),
        (
            "/topics/events",
            "application/json",
            r#"{"records":[]}"#,
            415,
            415,
        ),
        ("/topics/events", "", r#"{"records":[]}"#, 415, 415),
        (
            "/topics/missing",
            JSON_V2,
            r#"{"records":[{"value":1}]}"#,
            404,
            40401,
        ),
        (
            "/topics/secret",
            JSON_V2,
            r#"{"records":[{"value":1}]}"#,
            404,
            40401,
        ),
        (
            "/topics/events/partitions/3",
            JSON_V2,
            r#"{"records":[{"value":1}]}"#,
            404,
            40402,
        ),
        (
            "/topics/events",
            JSON_V2,
            r#"{"records":[{"value":1,"partition":9}]}"#,
            404,
            40402,
        ),
    ] {
        let reply = send(&gateway, "POST", target, content_type, request);
        assert_eq!(reply.status, status, "{target} {content_type} {request}");
        let answer = body(&reply);
        assert_eq!(answer["error_code"], code, "{request}: {answer}");
        assert!(answer["message"].is_string());
    }
    let reply = send(
        &gateway,
        "POST",
        "/topics/events",
        JSON_V2,
        r#"{"records":[{}, {}, {}, {}, {}, {}]}"#,
    );
    assert!(
        body(&reply)["message"]
            .as_str()
            .unwrap()
            .contains("at most 3 are accepted"),
        "counting stops past the limit"
    );
    let reply = send(
        &gateway,
        "POST",
        "/topics/events",
        JSON_V2,
        r#"{"entries":[]}"#,
    );
    assert!(body(&reply)["message"]
        .as_str()
        .unwrap()
        .contains("expected `records`"));
    let big = format!(r#"{{"records":[{{"value":"{}"}}]}}"#, "x".repeat(5000));
    let reply = send(&gateway, "POST", "/topics/events", JSON_V2, &big);
    assert_eq!(
        (reply.status.as_u16(), body(&reply)["error_code"].clone()),
        (413, json!(413))
    );
    let reply = send(
        &gateway,
        "POST",
        "/topics/events/partitions/x",
        JSON_V2,
        "{}",
    );
    assert_eq!(reply.status, 404);
    let reply = send(&gateway, "GET", "/topics/events", JSON_V2, "");
    assert_eq!((reply.status.as_u16(), reply.allow), (405, Some("POST")));
    assert!(records(&gateway).is_empty(), "nothing produced");
    let message = body(&send(
        &gateway,
        "POST",
        "/topics/events",
        "application/vnd.kafka.protobuf.v2+json",
        "{}",
    ))["message"]
        .clone();
    assert!(message.as_str().unwrap().contains(JSON_V2), "{message}");
}

#[test]
fn v3_record_with_headers_types_partition_and_timestamp() {
    let gateway = gateway();
    let reply = send(
        &gateway,
        "POST",
        "/v3/clusters/cluster-1/topics/events/records",
        "application/json",
        r#"{"partition_id":1,"headers":[{"name":"h1","value":"dmFsdWU="}],
            "key":{"type":"STRING","data":"k\u00e9y"},"value":{"type":"JSON","data":{"a":[1,2]}},
            "timestamp":"2021-02-05T19:14:42.5Z"}"#,
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        body(&reply),
        json!({"error_code":200,"cluster_id":"cluster-1","topic_name":"events","partition_id":1,
            "offset":0,"timestamp":"2021-02-05T19:14:42.500Z",
            "key":{"type":"STRING","size":4},"value":{"type":"JSON","size":11}})
    );
    let stored = &records(&gateway)[0];
    assert_eq!(stored.key.as_deref(), Some("k\u{e9}y".as_bytes()));
    assert_eq!(stored.payload, br#"{"a":[1,2]}"#);
    assert_eq!(stored.headers, vec![("h1".to_owned(), b"value".to_vec())]);
    assert_eq!(stored.partition, Some(1));
    assert_eq!(stored.timestamp_ms, Some(1_612_552_482_500));
}

#[test]
fn v3_streamed_records_get_one_report_each_in_order() {
    let gateway = gateway();
    let reply = send(
        &gateway,
        "POST",
        "/v3/clusters/cluster-1/topics/logs.app/records",
        "application/json",
        r#"{"value":{"type":"BINARY","data":"AQI="}} {"value":{"data":"x"}}
           {"key":{"type":"STRING","data":"k"}}"#,
    );
    assert_eq!(reply.status, 200);
    let reports: Vec<Value> = serde_json::Deserializer::from_slice(&reply.body)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0]["value"], json!({"type":"BINARY","size":2}));
    assert_eq!(reports[1]["value"], json!({"type":"JSON","size":3}));
    assert_eq!(reports[2]["value"], Value::Null);
    assert_eq!(reports[2]["key"], json!({"type":"STRING","size":1}));
    assert!(reports
        .iter()
        .enumerate()
        .all(|(i, r)| r["offset"] == i && r["topic_name"] == "logs.app"));
}

#[test]
fn v3_single_failed_record_answers_with_its_status() {
    let gateway = gateway();
    memory(&gateway).fail_with(Some(SinkError::Rejected {
        reason: "no".into(),
    }));
    let reply = send(
        &gateway,
        "POST",
        "/v3/clusters/cluster-1/topics/events/records",
        "application/json",
        r#"{"value":{"data":1}}"#,
    );
    assert_eq!(reply.status, 502);
    assert_eq!(body(&reply)["error_code"], 50002);
}

#[test]
fn v3_batch_answers_207_with_successes_and_failures_by_id() {
    let gateway = gateway();
    let reply = send(
        &gateway,
        "POST",
        "/v3/clusters/cluster-1/topics/events/records:batch",
        "application/json",
        r#"{"entries":[{"id":"1","value":{"data":{"n":1}}},{"id":"b","partition_id":2,"value":{"type":"STRING","data":"two"}}]}"#,
    );
    assert_eq!(reply.status, 207);
    let answer = body(&reply);
    assert_eq!(answer["failures"], json!([]));
    assert_eq!(answer["successes"][0]["id"], "1");
    assert_eq!(answer["successes"][1]["id"], "b");
    assert_eq!(answer["successes"][1]["partition_id"], 2);
    assert_eq!(records(&gateway)[1].payload, b"two");

    memory(&gateway).fail_with(Some(SinkError::Rejected {
        reason: "no".into(),
    }));
    let reply = send(
        &gateway,
        "POST",
        "/v3/clusters/cluster-1/topics/events/records:batch",
        "application/json",
        r#"{"entries":[{"id":"x","value":{"data":1}}]}"#,
    );
    assert_eq!(reply.status, 207);
    let answer = body(&reply);
    assert_eq!(answer["successes"], json!([]));
    assert_eq!(answer["failures"][0]["id"], "x");
    assert_eq!(answer["failures"][0]["error_code"], 50002);
}

/// Each malformed, over-limit or unreachable v3 request gets its own status and a
/// message, and nothing of it is produced.
#[test]
fn v3_invalid_requests_get_their_status_and_a_message_and_produce_nothing() {
    let gateway = gateway();
    let batch = "/v3/clusters/cluster-1/topics/events/records:batch";
    let single = "/v3/clusters/cluster-1/topics/events/records";
    for (target, content_type, request, status) in [
        (batch, "application/json", r#"{"entries":[]}"#, 422),
        (
            batch,
            "application/json",
            r#"{"entries":[{"id":"a"},{"id":"a"}]}"#,
            422,
        ),
        (
            batch,
            "application/json",
            r#"{"entries":[{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d"}]}"#,
            422,
        ),
        (batch, "application/json", r#"{"entries":[{"id":""}]}"#, 422),
        (
            batch,
            "application/json",
            r#"{"entries":[{"value":{"data":1}}]}"#,
            422,
        ),
        (single, "application/json", "", 422),
        (
            single,
            "application/json",
            r#"{"value":{"type":"AVRO","data":1}}"#,
            422,
        ),
        (
            single,
            "application/json",
            r#"{"value":{"type":"BINARY","data":"%%"}}"#,
            400,
        ),
        (
            single,
            "application/json",
            r#"{"timestamp":"yesterday"}"#,
            422,
        ),
        (single, "application/json", r#"{"value": }"#, 400),
        (single, "text/plain", r#"{}"#, 415),
        (single, "application/json", r#"{"partition_id":5}"#, 404),
        (
            "/v3/clusters/other/topics/events/records",
            "application/json",
            "{}",
            404,
        ),
        (
            "/v3/clusters/cluster-1/topics/secret/records",
            "application/json",
            "{}",
            404,
        ),
    ] {
        let reply = send(&gateway, "POST", target, content_type, request);
        assert_eq!(reply.status, status, "{target} {request}");
        assert!(body(&reply)["message"].is_string());
    }
    assert!(records(&gateway).is_empty(), "nothing produced");
}

/// `GET /topics` lists the existing topics the allowlist lets through (not `secret`),
/// and `GET /v3/clusters` names the configured cluster.
#[test]
fn listings_show_only_allowed_topics_and_the_cluster_id() {
    let gateway = gateway();
    let reply = send(&gateway, "GET", "/topics", "", "");
    assert_eq!(body(&reply), json!(["events", "logs.app"]));
    let reply = send(&gateway, "GET", "/v3/clusters", "", "");
    assert_eq!(body(&reply)["data"][0]["cluster_id"], "cluster-1");
}

#[test]
fn the_single_record_api_is_unchanged() {
    let gateway = gateway();
    let reply = send(&gateway, "POST", "/", "application/json", r#"{"a":1}"#);
    assert_eq!(reply.status, 202);
    assert_eq!(records(&gateway)[0].payload, br#"{"a":1}"#);
    let reply = send(&gateway, "POST", "/nope", "application/json", "{}");
    assert_eq!(body(&reply)["error"], "no such path: /nope");
}
