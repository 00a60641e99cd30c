//! REST Proxy batches: records/s through `Gateway::submit` and the reply, for v2 JSON
//! requests of 1, 10, 100 and 500 records of 256 B, with the null sink and with Kafka
//! on the embedded mock cluster. Measures the gateway's parse, enqueue, wait and
//! answer; no HTTP framing and no sockets.
//!
//! `cargo bench -p bench --bench batch` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ingest::{AckMode, Gateway, GatewaySink, Incoming, Policy, RestProxySettings};
use kafka_sink::{EmbeddedBroker, KafkaSink, NullSink, SinkConfig};

const RECORDS: [usize; 4] = [1, 10, 100, 500];
const VALUE_BYTES: usize = 256;
const TOPIC: &str = "bench-batch";

/// `{"records":[{"value":{...256 B...}}, ...]}`.
fn v2_body(records: usize) -> Vec<u8> {
    let value = bench::corpus::json_payload(VALUE_BYTES);
    let value = String::from_utf8(value).expect("corpus JSON is UTF-8");
    let records: Vec<String> = (0..records)
        .map(|_| format!(r#"{{"value":{value}}}"#))
        .collect();
    format!(r#"{{"records":[{}]}}"#, records.join(",")).into_bytes()
}

fn gateway(sink: GatewaySink) -> Gateway {
    Gateway::new(
        Policy {
            max_body_bytes: 1 << 20,
            ack_mode: AckMode::Delivered,
            ..Policy::new(TOPIC)
        },
        sink,
    )
    .with_rest_proxy(RestProxySettings {
        allow_topics: vec![TOPIC.into()],
        cluster_id: ingest::NULL_CLUSTER_ID.into(),
        max_batch_entries: 1000,
    })
}

async fn produce(gateway: &Gateway, body: &[u8]) {
    let headers = [("Content-Type", &b"application/vnd.kafka.json.v2+json"[..])];
    let reply = gateway
        .submit(Incoming {
            method: "POST",
            path: "/topics/bench-batch",
            headers: headers.into_iter(),
            body,
            body_framed: true,
        })
        .reply(gateway)
        .await;
    assert_eq!(reply.status, 200);
    black_box(reply);
}

fn batch(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let embedded = EmbeddedBroker::start().expect("mock cluster");
    embedded.create_topic(TOPIC, 3).expect("topic");
    let mock = KafkaSink::new(SinkConfig::new(embedded.brokers())).unwrap();
    let gateways = [
        ("null", gateway(GatewaySink::Null(NullSink::default()))),
        ("mock", gateway(GatewaySink::Kafka(mock))),
    ];
    for (_, gateway) in &gateways {
        gateway.refresh_topics().expect("topic list");
    }
    let mut group = c.benchmark_group("batch");
    for records in RECORDS {
        let body = v2_body(records);
        group.throughput(Throughput::Elements(records as u64));
        for (name, gateway) in &gateways {
            group.bench_function(format!("{name}/v2-{records}x{VALUE_BYTES}B"), |b| {
                b.iter(|| runtime.block_on(produce(gateway, &body)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
