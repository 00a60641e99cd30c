//! The Kafka REST Proxy API end to end: each documented request shape sent to a running
//! gateway, the records read back with the harness's own consumer, and the answers'
//! partitions and offsets checked against where the records really are.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use test_broker::{BrokerKind, ConsumedRecord, TestBroker};

use crate::suite::{setup, Setup};
use crate::{Client, Response};

fn request(setup: &Setup, method: &str, target: &str, content_type: &str, body: &str) -> Response {
    let mut client = Client::connect(setup.gateway.address).expect("connect");
    let raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: gateway\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client
        .request(raw.as_bytes())
        .expect("request")
        .expect("response")
}

fn json(response: &Response) -> Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|error| panic!("{error}: {}", response.text()))
}

/// The topic's records by (partition, offset).
fn in_kafka(setup: &Setup, topic: &str, expected: usize) -> HashMap<(i32, i64), ConsumedRecord> {
    let records = setup
        .broker
        .consume_all(topic, expected, Duration::from_secs(10));
    assert_eq!(records.len(), expected, "records in {topic}");
    records
        .into_iter()
        .map(|record| ((record.partition, record.offset), record))
        .collect()
}

fn at<'a>(
    records: &'a HashMap<(i32, i64), ConsumedRecord>,
    partition: &Value,
    offset: &Value,
) -> &'a ConsumedRecord {
    let key = (
        partition.as_i64().expect("partition") as i32,
        offset.as_i64().expect("offset"),
    );
    records
        .get(&key)
        .unwrap_or_else(|| panic!("no record at {key:?}"))
}

/// The v2 produce example of the REST Proxy documentation, as a stock client sends it:
/// a JSON key, an object, an array with an explicit partition, a number.
pub fn rest_proxy_v2_documented_example_lands_where_answered(binary: &str) {
    let setup = setup(binary, &[]);
    let body = r#"{
  "records": [
    {
      "key": "somekey",
      "value": {"foo": "bar"}
    },
    {
      "value": [ "foo", "bar" ],
      "partition": 1
    },
    {
      "value": 53.5
    }
  ]
}"#;
    let raw = format!(
        "POST /topics/{} HTTP/1.1\r\nHost: kafkaproxy.example.com\r\nContent-Type: application/vnd.kafka.json.v2+json\r\nAccept: application/vnd.kafka.v2+json, application/vnd.kafka+json, application/json\r\nContent-Length: {}\r\n\r\n{body}",
        setup.topic,
        body.len()
    );
    let mut client = Client::connect(setup.gateway.address).expect("connect");
    let response = client.request(raw.as_bytes()).unwrap().unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/vnd.kafka.v2+json")
    );
    let answer = json(&response);
    assert_eq!(answer["key_schema_id"], Value::Null);
    let offsets = answer["offsets"].as_array().expect("offsets");
    assert_eq!(offsets.len(), 3);
    assert!(
        offsets.iter().all(|o| o["error_code"].is_null()),
        "{answer}"
    );
    assert_eq!(offsets[1]["partition"], 1);
    let records = in_kafka(&setup, &setup.topic, 3);
    let expected: [(Option<&[u8]>, &[u8]); 3] = [
        (Some(b"\"somekey\""), br#"{"foo": "bar"}"#),
        (None, br#"[ "foo", "bar" ]"#),
        (None, b"53.5"),
    ];
    for (offset, (key, value)) in offsets.iter().zip(expected) {
        let record = at(&records, &offset["partition"], &offset["offset"]);
        assert_eq!(record.key.as_deref(), key);
        assert_eq!(record.payload, value);
    }
}

/// Binary (base64) records to a partition named in the path.
pub fn rest_proxy_v2_binary_records_land_decoded_in_the_path_partition(binary: &str) {
    let setup = setup(binary, &[]);
    let response = request(
        &setup,
        "POST",
        &format!("/topics/{}/partitions/2", setup.topic),
        "application/vnd.kafka.binary.v2+json",
        r#"{"records":[{"key":"a2V5","value":"Y29uZmx1ZW50"},{"value":"AP8="}]}"#,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let answer = json(&response);
    let records = in_kafka(&setup, &setup.topic, 2);
    let offsets = answer["offsets"].as_array().unwrap();
    assert!(offsets.iter().all(|o| o["partition"] == 2));
    let first = at(&records, &offsets[0]["partition"], &offsets[0]["offset"]);
    assert_eq!(
        (first.key.as_deref(), &first.payload[..]),
        (Some(&b"key"[..]), &b"confluent"[..])
    );
    let second = at(&records, &offsets[1]["partition"], &offsets[1]["offset"]);
    assert_eq!(second.payload, [0, 255]);
}

/// v3: the cluster id from `GET /v3/clusters`, a record with headers and typed key and
/// value, streamed records, and a batch.
pub fn rest_proxy_v3_records_and_batches_land_where_answered(binary: &str) {
    let setup = setup(binary, &[]);
    let clusters = json(&request(
        &setup,
        "GET",
        "/v3/clusters",
        "application/json",
        "",
    ));
    let cluster_id = clusters["data"][0]["cluster_id"]
        .as_str()
        .expect("cluster id")
        .to_owned();
    let records_path = format!("/v3/clusters/{cluster_id}/topics/{}/records", setup.topic);

    let single = request(
        &setup,
        "POST",
        &records_path,
        "application/json",
        r#"{"partition_id":1,"headers":[{"name":"trace","value":"YWJj"}],"key":{"type":"STRING","data":"user-1"},"value":{"type":"JSON","data":{"n":1}}}"#,
    );
    assert_eq!(single.status, 200, "{}", single.text());
    let single = json(&single);
    assert_eq!(single["error_code"], 200);
    assert_eq!(single["partition_id"], 1);
    assert_eq!(single["value"]["size"], 7);

    let streamed = request(
        &setup,
        "POST",
        &records_path,
        "application/json",
        r#"{"value":{"type":"BINARY","data":"AQI="}}{"value":{"type":"STRING","data":"two"},"partition_id":0}"#,
    );
    assert_eq!(streamed.status, 200, "{}", streamed.text());
    let reports: Vec<Value> = serde_json::Deserializer::from_slice(&streamed.body)
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("concatenated reports");
    assert_eq!(reports.len(), 2);

    let batch = request(
        &setup,
        "POST",
        &format!("{records_path}:batch"),
        "application/json",
        r#"{"entries":[{"id":"a","value":{"data":"x"}},{"id":"b","partition_id":2,"value":{"data":[2]}}]}"#,
    );
    assert_eq!(batch.status, 207, "{}", batch.text());
    let batch = json(&batch);
    assert_eq!(batch["failures"], Value::Array(vec![]));
    let successes = batch["successes"].as_array().unwrap();
    assert_eq!(
        (&successes[0]["id"], &successes[1]["id"]),
        (&"a".into(), &"b".into())
    );

    let records = in_kafka(&setup, &setup.topic, 5);
    let record = at(&records, &single["partition_id"], &single["offset"]);
    assert_eq!(record.key.as_deref(), Some(&b"user-1"[..]));
    assert_eq!(record.payload, br#"{"n":1}"#);
    assert_eq!(record.headers, vec![("trace".to_owned(), b"abc".to_vec())]);
    let first = at(&records, &reports[0]["partition_id"], &reports[0]["offset"]);
    assert_eq!(first.payload, [1, 2]);
    let second = at(&records, &reports[1]["partition_id"], &reports[1]["offset"]);
    assert_eq!((second.partition, &second.payload[..]), (0, &b"two"[..]));
    let a = at(
        &records,
        &successes[0]["partition_id"],
        &successes[0]["offset"],
    );
    assert_eq!(a.payload, br#""x""#);
    let b = at(
        &records,
        &successes[1]["partition_id"],
        &successes[1]["offset"],
    );
    assert_eq!((b.partition, &b.payload[..]), (2, &b"[2]"[..]));
}

/// Only allowed topics that exist are reachable: a missing topic and an existing one
/// off the allowlist both get 404 with 40401, and nothing is produced.
pub fn rest_proxy_unlisted_and_missing_topics_are_404_and_new_ones_appear(binary: &str) {
    let broker_topic = TestBroker::unique_topic("e2e-other");
    let setup = setup(
        binary,
        &["--allow-topic", "e2e-*", "--topic-refresh-ms", "200"],
    );
    // Created after start-up: reachable once the cache refreshed, and off the list
    // anyway for the second name.
    setup.broker.create_topic(&broker_topic, 1);
    let hidden = TestBroker::unique_topic("hidden");
    setup.broker.create_topic(&hidden, 1);
    let produce = |topic: &str| {
        request(
            &setup,
            "POST",
            &format!("/topics/{topic}"),
            "application/vnd.kafka.json.v2+json",
            r#"{"records":[{"value":1}]}"#,
        )
    };
    for topic in [hidden.as_str(), "e2e-does-not-exist"] {
        let response = produce(topic);
        assert_eq!(response.status, 404, "{topic}: {}", response.text());
        assert_eq!(json(&response)["error_code"], 40401);
    }
    let mut reachable = false;
    for _ in 0..100 {
        if produce(&broker_topic).status == 200 {
            reachable = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        reachable,
        "a topic created after start-up becomes reachable"
    );
    let listed = json(&request(&setup, "GET", "/topics", "application/json", ""));
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(listed.contains(&setup.topic.as_str()) && listed.contains(&broker_topic.as_str()));
    assert!(!listed.contains(&hidden.as_str()), "{listed:?}");
    assert!(setup
        .broker
        .consume_all(&hidden, 1, Duration::from_secs(2))
        .is_empty());
}

/// REST timestamps are stored as sent or refused: the epoch itself (which librdkafka
/// would turn into "now") and anything before it (which Kafka would store as "no
/// timestamp") are 422 and produce nothing; the earliest accepted, one millisecond
/// after the epoch, is reported back as sent.
pub fn rest_proxy_timestamps_are_kept_or_refused(binary: &str) {
    let setup = setup(binary, &[]);
    let clusters = json(&request(
        &setup,
        "GET",
        "/v3/clusters",
        "application/json",
        "",
    ));
    let cluster_id = clusters["data"][0]["cluster_id"]
        .as_str()
        .expect("cluster id");
    let records_path = format!("/v3/clusters/{cluster_id}/topics/{}/records", setup.topic);
    let produce = |timestamp: &str| {
        request(
            &setup,
            "POST",
            &records_path,
            "application/json",
            &format!(r#"{{"value":{{"data":{{"at":"{timestamp}"}}}},"timestamp":"{timestamp}"}}"#),
        )
    };
    for refused in [
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00Z",
    ] {
        let response = produce(refused);
        assert_eq!(response.status, 422, "{refused}: {}", response.text());
        assert_eq!(json(&response)["error_code"], 422);
    }
    let kept = produce("1970-01-01T00:00:00.001Z");
    assert_eq!(kept.status, 200, "{}", kept.text());
    // The report's timestamp is the one Kafka stored. librdkafka's mock cluster says
    // every record was appended at 1234 ms (LogAppendTime), whatever was sent, so only
    // a real broker shows the timestamp kept.
    if setup.broker.kind() != BrokerKind::Mock {
        assert_eq!(json(&kept)["timestamp"], "1970-01-01T00:00:00.001Z");
    }
    let records = in_kafka(&setup, &setup.topic, 1);
    assert_eq!(records.len(), 1, "only the accepted record was produced");
}
