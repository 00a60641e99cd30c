//! Sink layer: records/s through NullSink, the embedded mock cluster, and a real broker
//! when `KAFKA_BROKERS` is set, at payloads of 64 B, 1 KiB and 16 KiB. Each iteration
//! sends a batch of 256 records concurrently and awaits every acknowledgement.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_sink::{EmbeddedBroker, KafkaSink, NullSink, Record, Sink, SinkConfig};

const BATCH: usize = 256;

async fn send_batch(sink: &Sink, topic: &str, payload: &[u8]) {
    let mut pending = Vec::with_capacity(BATCH);
    for _ in 0..BATCH {
        let record = Record {
            topic,
            key: None,
            payload,
            headers: &[],
        };
        pending.push(sink.enqueue(&record).await.expect("enqueue"));
    }
    for delivery in pending {
        black_box(delivery.await.expect("delivery"));
    }
}

fn sink(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let embedded = EmbeddedBroker::start().expect("mock cluster");
    embedded.create_topic("bench-sink", 3).expect("topic");
    let mut contenders = vec![
        (
            "null",
            "bench-sink".to_owned(),
            Sink::Null(NullSink::default()),
        ),
        (
            "mock",
            "bench-sink".to_owned(),
            Sink::Kafka(
                KafkaSink::new(SinkConfig {
                    brokers: embedded.brokers().to_owned(),
                    ..SinkConfig::default()
                })
                .unwrap(),
            ),
        ),
    ];
    if let Ok(brokers) = std::env::var("KAFKA_BROKERS") {
        let topic = format!("bench-sink-{}", std::process::id());
        runtime
            .block_on(kafka_sink::create_topic(&brokers, &topic, 3))
            .expect("topic on the real broker");
        let sink = KafkaSink::new(SinkConfig {
            brokers,
            ..SinkConfig::default()
        })
        .unwrap();
        contenders.push(("broker", topic, Sink::Kafka(sink)));
    }
    let mut group = c.benchmark_group("sink");
    group.throughput(Throughput::Elements(BATCH as u64));
    for size in [64, 1024, 16 * 1024] {
        let payload = bench::corpus::json_payload(size);
        for (name, topic, sink) in &contenders {
            group.bench_function(format!("{name}/{size}B"), |b| {
                b.iter(|| runtime.block_on(send_batch(sink, topic, &payload)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, sink);
criterion_main!(benches);
