//! The largest record the gateway takes: 413 for anything librdkafka's
//! `message.max.bytes` would refuse, on every path, and the count matches librdkafka's
//! own to the byte.

use ingest::{
    check_record_size, AckMode, Gateway, GatewaySink, Incoming, Policy, Rejection, Reply,
};
use kafka_sink::{EmbeddedBroker, KafkaSink, MemorySink, Record, Sink, SinkConfig, SinkError};

/// librdkafka's smallest `message.max.bytes`.
const LIMIT: usize = 1000;

/// A record of exactly `bytes` as librdkafka counts them, with a key and two headers,
/// so the count of every part is exercised.
fn record_of<'a>(
    bytes: usize,
    value: &'a mut Vec<u8>,
    headers: &'a [(&'a str, &'a [u8])],
) -> Record<'a> {
    let key: &'static [u8] = b"some-key";
    // Grow the value until the record is as large as asked (lengths change varints).
    value.clear();
    loop {
        let record = Record::new("t", value).with_key(key).with_headers(headers);
        let size = size_of(&record);
        if size >= bytes {
            assert_eq!(size, bytes, "no value length gives exactly {bytes}");
            break;
        }
        value.push(b'x');
    }
    Record::new("t", value).with_key(key).with_headers(headers)
}

fn size_of(record: &Record<'_>) -> usize {
    let policy = Policy {
        max_message_bytes: 0,
        ..Policy::new("t")
    };
    match check_record_size(record, &policy) {
        Err(Rejection::RecordTooLarge { bytes, .. }) => bytes,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_gateway_refuses_exactly_what_librdkafka_refuses() {
    let broker = EmbeddedBroker::start().expect("mock cluster");
    broker.create_topic("t", 1).expect("topic");
    let mut config = SinkConfig::new(broker.brokers());
    config
        .extra
        .push(("message.max.bytes".into(), LIMIT.to_string()));
    let policy = Policy {
        max_message_bytes: config.max_record_bytes(),
        ..Policy::new("t")
    };
    assert_eq!(policy.max_message_bytes, LIMIT);
    let sink = KafkaSink::new(config).expect("producer");
    // Lengths of 64 and more take two varint bytes each (zigzag doubles them).
    let (long_name, long_value) = ("h".repeat(70), vec![7; 200]);
    let headers = [
        ("trace", &b"abc"[..]),
        (long_name.as_str(), &long_value[..]),
    ];
    let mut value = Vec::new();

    let fits = record_of(LIMIT, &mut value, &headers);
    assert_eq!(check_record_size(&fits, &policy), Ok(()));
    assert!(sink.try_enqueue(&fits).is_ok(), "librdkafka takes it too");

    let mut value = Vec::new();
    let over = record_of(LIMIT + 1, &mut value, &headers);
    assert_eq!(
        check_record_size(&over, &policy),
        Err(Rejection::RecordTooLarge {
            bytes: LIMIT + 1,
            limit: LIMIT
        })
    );
    assert!(
        matches!(sink.try_enqueue(&over), Err(SinkError::TooLarge { .. })),
        "librdkafka refuses it too"
    );
}

#[test]
fn message_max_bytes_is_read_from_the_producer_properties() {
    let mut config = SinkConfig::default();
    assert_eq!(config.max_record_bytes(), 1_000_000, "librdkafka's default");
    config
        .extra
        .push(("message.max.bytes".into(), "5000".into()));
    config.extra.push(("linger.ms".into(), "2".into()));
    config
        .extra
        .push(("message.max.bytes".into(), " 7000".into()));
    assert_eq!(config.max_record_bytes(), 7000, "the last one wins");
}

fn send(gateway: &Gateway, target: &str, content_type: &str, body: &[u8]) -> Reply {
    let headers = [
        ("Content-Type", content_type.as_bytes()),
        ("X-Kafka-Key", b"k"),
    ];
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            gateway
                .submit(Incoming {
                    method: "POST",
                    path: target,
                    headers: headers.into_iter(),
                    body,
                    body_framed: true,
                })
                .reply(gateway)
                .await
        })
}

/// The review's case: a body under the body limit whose record is over
/// `message.max.bytes` was 502 ("larger than Kafka accepts"); it is 413 on every path,
/// and nothing of the request is produced.
#[test]
fn a_record_over_message_max_bytes_is_413_on_every_path_and_nothing_is_produced() {
    let gateway = Gateway::new(
        Policy {
            max_body_bytes: 1_048_576,
            ack_mode: AckMode::Delivered,
            ..Policy::new("t")
        },
        GatewaySink::Memory(MemorySink::default()),
    );
    let GatewaySink::Memory(memory) = gateway.sink() else {
        unreachable!()
    };
    let big = "x".repeat(1_040_000);
    let post = format!(r#"{{"p":"{big}"}}"#);
    let reply = send(&gateway, "/", "application/json", post.as_bytes());
    assert_eq!(reply.status, 413, "{:?}", reply.body);
    assert!(
        !reply.close,
        "the body was read whole: the connection stays usable"
    );
    let v2 = format!(r#"{{"records":[{{"value":1}},{{"value":"{big}"}}]}}"#);
    let reply = send(
        &gateway,
        "/topics/t",
        "application/vnd.kafka.json.v2+json",
        v2.as_bytes(),
    );
    assert_eq!(reply.status, 413);
    let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(answer["error_code"], 413, "{answer}");
    let v3 = format!(r#"{{"value":{{"data":1}}}}{{"value":{{"type":"STRING","data":"{big}"}}}}"#);
    let reply = send(
        &gateway,
        "/v3/clusters/gateway-null-sink/topics/t/records",
        "application/json",
        v3.as_bytes(),
    );
    assert_eq!(reply.status, 413);
    assert!(
        memory.records().is_empty(),
        "the small records were not produced either"
    );
    let reply = send(&gateway, "/", "application/json", br#"{"small":1}"#);
    assert_eq!(reply.status, 200);
}
